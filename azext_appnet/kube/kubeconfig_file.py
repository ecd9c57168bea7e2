"""The one reader of kubeconfig files: bytes on disk -> a validated YAML document.

Every way a kubeconfig can be damaged (not a regular file, unreadable, too large, not
UTF-8, not YAML, not a mapping, entries of the wrong type, base64 fields that are not
base64, a context naming an undefined cluster or user, a token no API server accepts)
becomes an InvalidInputError that names the file, what is wrong and how to fix it, so no
decoding or parsing exception reaches az. Documents are cached per (path, size, mtime)
for the life of the process: a join reads the file once, however many times it looks.
"""

import base64
import binascii
import os
import stat
import threading

from ..errors import InvalidInputError

#: kubectl reads any size; a kubeconfig larger than this is not a kubeconfig someone wrote.
MAX_BYTES = 64 * 1024 * 1024
#: Kubernetes API servers (Go's net/http default) refuse request headers above 1 MiB.
MAX_TOKEN_BYTES = 1024 * 1024
_DATA_FIELDS = {"clusters": ("cluster", ("certificate-authority-data",)),
                "users": ("user", ("client-certificate-data", "client-key-data"))}

_CACHE = {}
_CACHE_LOCK = threading.Lock()


def _bad(path, what, fix="Pass a valid kubeconfig file with --kubeconfig."):
    return InvalidInputError(f"The kubeconfig {path} {what}.", fix)


def _kind_of(mode):
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_path(path):
    """Raise the right error when `path` cannot hold a kubeconfig; None when it is a
    regular file. A missing file is reported by the caller (it knows the other paths)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise _bad(path, "is a symbolic link to a file that does not exist") from None
        return False
    except OSError as e:
        # ELOOP (symlink loop), ENAMETOOLONG, EACCES on a parent directory, ...
        raise _bad(path, f"cannot be opened: {e.strerror or type(e).__name__}") from None
    if not stat.S_ISREG(st.st_mode):
        raise _bad(path, f"is {_kind_of(st.st_mode)}, not a kubeconfig file",
                   "Pass the path of the kubeconfig file itself with --kubeconfig.")
    return True


def read(path):
    """The YAML document of one kubeconfig file (a dict; None for a file holding only
    comments), validated for shape."""
    check_path(path)
    try:
        st = os.stat(path)
    except OSError as e:
        raise _bad(path, f"cannot be opened: {e.strerror or type(e).__name__}") from None
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns, st.st_ino)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    if st.st_size > MAX_BYTES:
        raise _bad(path, f"is {st.st_size // (1024 * 1024)} MB; a kubeconfig is far smaller (the "
                   f"limit is {MAX_BYTES // (1024 * 1024)} MB)",
                   "Check that --kubeconfig names the right file.")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except PermissionError:
        raise _bad(path, "cannot be read: permission denied",
                   "Make it readable by this user (chmod u+r), or pass another file.") from None
    except OSError as e:
        raise _bad(path, f"cannot be read: {e.strerror or type(e).__name__}") from None
    doc = parse(raw, path)
    with _CACHE_LOCK:
        if len(_CACHE) > 16:
            _CACHE.clear()
        _CACHE[key] = doc
    return doc


def _decode(raw, where):
    """Text of a kubeconfig as kubectl's YAML reader sees it: UTF-8, or UTF-16/32 with a
    byte-order mark."""
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
                       (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if raw.startswith(bom):
            try:
                return raw[len(bom):].decode(codec)
            except UnicodeDecodeError:
                raise _bad(where, f"starts with a {codec.upper()} byte-order mark but is not "
                           f"{codec.upper()} text") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b"\x00" in raw[:4096]:
        raise _bad(where, "is a binary file (it holds NUL bytes), not a YAML kubeconfig",
                   "Check that --kubeconfig names the kubeconfig, not another file.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _bad(where, f"is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start} cannot "
                   "be decoded)",
                   "A kubeconfig is UTF-8 YAML: convert it (e.g. iconv -f LATIN1 -t UTF-8) or "
                   "pass another file with --kubeconfig.") from None


def parse(raw, where):
    """A kubeconfig document from bytes (or text) named `where` in messages."""
    import yaml

    text = raw if isinstance(raw, str) else _decode(raw, where)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)    # libyaml: 8 MB in well under 1 s
    try:
        doc = yaml.load(text, Loader=loader)   # noqa: S506 - a safe loader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1}: {e.problem})" if mark else ""
        raise _bad(where, f"is not valid YAML{at}") from None
    except (RecursionError, MemoryError):
        raise _bad(where, "is nested too deeply to be a kubeconfig") from None
    check_shape(doc, where)
    return doc


def check_shape(doc, where):
    """Raise when `doc` is not shaped as a kubeconfig (kubectl's own checks, loosely)."""
    if doc is None:
        return
    if not isinstance(doc, dict):
        raise _bad(where, f"is not a kubeconfig: it holds a YAML {type(doc).__name__}, not a "
                   "mapping with clusters, users and contexts")
    for section in ("clusters", "users", "contexts"):
        entries = doc.get(section)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise _bad(where, f"has '{section}' that is not a list",
                       "Fix the kubeconfig (kubectl config view shows what it reads).")
        inner = section[:-1]
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
                raise _bad(where, f"has an entry {i + 1} of '{section}' without a name",
                           "Every cluster, user and context entry needs a name.")
            body = entry.get(inner)
            if body is not None and not isinstance(body, dict):
                raise _bad(where, f"has {inner} '{entry['name']}' whose '{inner}' is not a mapping",
                           "Fix that entry of the kubeconfig.")
    current = doc.get("current-context")
    if current is not None and not isinstance(current, str):
        raise _bad(where, "has a current-context that is not a string")


def check_context(doc, context, where):
    """The cluster and user entries of `context`, checked as kubectl checks them before
    it sends anything: both defined, base64 fields decodable, a token of a usable size."""
    ctx = next((c.get("context") or {} for c in doc.get("contexts") or []
                if c.get("name") == context), None)
    if ctx is None:
        return None
    found = {}
    for section, field in (("clusters", "cluster"), ("users", "user")):
        name = ctx.get(field)
        if name in (None, "") and section == "users":
            found[section] = None
            continue
        if not isinstance(name, str):
            raise _bad(where, f"has context '{context}' with no {field}",
                       f"Set the context's {field} to one of the kubeconfig's {section}.")
        entry = next((e for e in doc.get(section) or [] if e.get("name") == name), None)
        if entry is None:
            names = [e["name"] for e in doc.get(section) or []]
            defined = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "") \
                or "none"
            raise _bad(where, f"has context '{context}' naming {field} '{name}', which the kubeconfig "
                       f"does not define ({section} defined: {defined})",
                       f"Add that {field} entry, or point the context at one that exists.")
        body = entry.get(field) or {}
        _, data_keys = _DATA_FIELDS[section]
        for key in data_keys:
            if body.get(key) not in (None, ""):
                decode_data(body[key], where, f"{field} '{name}' {key}")
        found[section] = body
    user = found.get("users") or {}
    token = user.get("token")
    if token is not None and not isinstance(token, str):
        raise _bad(where, f"has user '{ctx.get('user')}' whose token is not a string")
    if token and len(token) > MAX_TOKEN_BYTES:
        raise _bad(where, f"has user '{ctx.get('user')}' whose token is {len(token)} bytes; Kubernetes "
                   "API servers refuse request headers over 1 MiB, so it can never be sent",
                   "Put the cluster's real token in the kubeconfig (e.g. az aks get-credentials).")
    return found


def decode_data(value, where, what):
    """The bytes of a kubeconfig `*-data` field (base64 of a PEM)."""
    if not isinstance(value, str):
        raise _bad(where, f"has {what} that is not a string")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _bad(where, f"has {what} that is not base64",
                   "Each *-data field holds the base64 of a PEM file (base64 -w0 FILE).") from None

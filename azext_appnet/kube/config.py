"""Kubeconfig -> connection settings (server URL, TLS context, credential source).

The kubeconfig is read at each call and nothing it holds is kept by us beyond the life of
the returned object: the az extension must never store a cluster credential.

Authentication is delegated to the kubernetes client's `KubeConfigLoader` (bearer token,
token file, client certificate/key, exec plugins, oidc/gcp auth-providers, basic auth), but
loaded into a private `Configuration` — never the client's global default — so two
clusters in one process never share credentials. We then build our own `ssl.SSLContext`
from it, once, which lets us delete the temporary files the client writes for inline
`*-data` certificates and keys right away instead of leaving them until process exit.
"""

import logging
import os
import shutil
import ssl
import tempfile
import threading
import time

from ..errors import InvalidInputError
from ..processes import pid_alive

DEFAULT_KUBECONFIG = "~/.kube/config"


_UNSET = object()


class ClusterConfig:  # pylint: disable=too-many-instance-attributes  # one kubeconfig context's settings
    """What a `Cluster` needs to talk to one API server.

    `auth_header()` returns the current `Authorization` header value (or None). Where the
    credential can expire (`auth_expires`: an exec plugin, an auth-provider, a token source
    handed in) it asks again on every request, which may run the plugin anew; a static token
    cannot change, so its header is made once: the client's refresh hook would otherwise
    reload the whole context (and scan the proxy environment) for each request.
    """

    def __init__(self, server, ssl_context, context, kubeconfig, proxy=None,
                 server_hostname=None, auth=None, ca_fingerprint=None,
                 client_cert=False, auth_expires=True):
        self.server = server
        #: Whether a client certificate authenticates us (for a clear 401 message).
        self.client_cert = client_cert
        #: SHA-256 of the CA certificate the kubeconfig pins (openssl's format), or None
        #: when it names none (the system store is trusted then): the cluster's identity.
        self.ca_fingerprint = ca_fingerprint
        self.ssl_context = ssl_context
        self.context = context
        self.kubeconfig = kubeconfig
        self.proxy = proxy
        self.server_hostname = server_hostname
        self._auth = auth                  # kubernetes Configuration, or None
        self._auth_expires = auth_expires
        self._header = _UNSET
        self._lock = threading.Lock()       # the refresh hook is not thread-safe

    def auth_header(self):
        if self._auth is None:
            return None
        header = self._header
        if header is not _UNSET:
            return header
        with self._lock:
            header = self._auth.get_api_key_with_prefix("BearerToken", alias="authorization")
            if not self._auth_expires:
                self._header = header
            return header

    def use_auth(self, auth):
        """Authenticate with `auth` (see load_dict), asked on every request: it may renew."""
        with self._lock:
            self._auth, self._auth_expires, self._header = auth, True, _UNSET

    def __repr__(self):                     # never show the credential
        return f"ClusterConfig(server={self.server!r}, context={self.context!r})"


def kubeconfig_paths(kubeconfig=None):
    """The kubeconfig file(s) to read, as kubectl would: the argument, else $KUBECONFIG
    (a list separated by os.pathsep), else ~/.kube/config."""
    if kubeconfig:
        return [os.path.expanduser(kubeconfig)]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [os.path.expanduser(p) for p in env.split(os.pathsep) if p]
    return [os.path.expanduser(DEFAULT_KUBECONFIG)]


def _read_contexts(paths):
    """Context names and the current context of the merged kubeconfig files (first file
    wins, as kubectl merges); each file read and checked by kubeconfig_file."""
    from . import kubeconfig_file

    names, current = [], None
    for path in paths:
        current = _collect_contexts(kubeconfig_file.read(path), path, names, current)
    return names, current


def _collect_contexts(doc, where, names, current):
    """Add the context names of one kubeconfig document to `names`; return the current
    context (the one already found wins)."""
    if doc is None:
        return current
    if not isinstance(doc, dict):
        raise InvalidInputError(
            f"The kubeconfig {where} is not a kubeconfig (a YAML mapping with clusters, users and "
            "contexts).", "Pass a valid kubeconfig file with --kubeconfig.")
    seen = set(names)           # a set: kubeconfigs with 100 000 contexts exist
    for ctx in doc.get("contexts") or []:
        if isinstance(ctx, dict) and ctx.get("name") and ctx["name"] not in seen:
            names.append(ctx["name"])
            seen.add(ctx["name"])
    if current is None and doc.get("current-context"):
        current = doc["current-context"]
    return current


def _some(names, limit=20):
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def resolve(kubeconfig=None, context=None):
    """The kubeconfig file(s) that exist and the context to use (default: the current
    context), reading only names: no kubernetes import, no credential touched. This is what
    a join checks up front. InvalidInputError for a missing file or an unknown context."""
    from . import kubeconfig_file

    paths = kubeconfig_paths(kubeconfig)
    # A directory, FIFO, device or symlink loop is named as such, not "not found".
    existing = [p for p in paths if kubeconfig_file.check_path(p)]
    if not existing:
        shown = ", ".join(paths)
        raise InvalidInputError(
            f"Kubeconfig file not found: {shown} does not exist.",
            "Pass the path of an existing kubeconfig with --kubeconfig (for AKS: az aks "
            "get-credentials --file FILE).")

    names, current = _read_contexts(existing)
    files = ", ".join(existing)
    if not names:
        raise InvalidInputError(f"The kubeconfig {files} has no contexts.",
                                "Pass a kubeconfig that defines the cluster's context.")
    if context is None:
        if not current:
            raise InvalidInputError(
                f"The kubeconfig {files} has no current-context; contexts defined: {_some(names)}.",
                "Name one with --context.")
        context = current
    if context not in names:
        raise InvalidInputError(
            f"The kubeconfig {files} has no context named '{context}'. Contexts defined: {_some(names)}.",
            "Pass one of them with --context.")
    return existing, context


def load(kubeconfig=None, context=None):
    """Read the kubeconfig and return a `ClusterConfig` for `context` (default: the
    current context). InvalidInputError for a missing file or an unknown context."""
    existing, context = resolve(kubeconfig, context)
    return _config_from(_merge(existing), context, ", ".join(existing))


def _merge(paths):
    """The kubeconfig files merged as kubectl merges them (the first file to define a
    name or a current-context wins), as the client's ConfigNode tree so that relative
    certificate and token paths resolve against the file that names them."""
    import copy
    from kubernetes.config.kube_config import ConfigNode

    from . import kubeconfig_file

    merged = None
    for path in paths:
        doc = kubeconfig_file.read(path) or {}
        if merged is None:
            first = copy.deepcopy(doc)
            first.pop("current-context", None)
            for item in ("clusters", "contexts", "users"):
                first[item] = []
            merged = ConfigNode(path, first, path)
        for item in ("clusters", "contexts", "users"):
            have = {e["name"] for e in merged.value[item]}
            for entry in doc.get(item) or []:
                if entry["name"] not in have:
                    # Not copied: the cached document is shared, so _take_tls_data copies
                    # the two entries it changes (a deep copy of 100 000 entries takes seconds).
                    merged.value[item].append(ConfigNode(f"{path}/{entry['name']}", entry, path))
                    have.add(entry["name"])
        if doc.get("current-context") and "current-context" not in merged.value:
            merged.value["current-context"] = doc["current-context"]
    return merged


def load_dict(config_dict, context=None, source="in-memory kubeconfig", auth=None):
    """A `ClusterConfig` from a kubeconfig document held in memory (e.g. one fetched from
    Azure Resource Manager for an AKS cluster): nothing is read from or written to disk but
    the short-lived copies of inline certificates, removed before this returns.

    `context`: default the document's current-context. `source` names the document in
    messages. `auth`, when given, replaces the credentials of the context's user: an object
    with the kubernetes `Configuration` method `get_api_key_with_prefix(identifier,
    alias=None)` returning the `Authorization` header value; the user entry's token, exec
    plugin or auth-provider is then neither loaded nor run."""
    import copy

    from .kubeconfig_file import check_shape

    check_shape(config_dict, source)
    names = []
    current = _collect_contexts(config_dict, source, names, None)
    if not names:
        raise InvalidInputError(f"{source[:1].upper()}{source[1:]} has no contexts.")
    if context is None:
        if not current:
            raise InvalidInputError(f"{source[:1].upper()}{source[1:]} has no current-context; "
                                    f"contexts defined: {', '.join(names)}.", "Name one of them.")
        context = current
    if context not in names:
        raise InvalidInputError(f"Context '{context}' not found in {source}. Contexts defined: "
                                f"{', '.join(names)}.", "Name one of them.")
    doc = copy.deepcopy(config_dict)
    if auth is not None:
        user_name = next((c.get("context") or {}).get("user") for c in doc.get("contexts")
                         if isinstance(c, dict) and c.get("name") == context)
        for user in doc.get("users") or []:
            if isinstance(user, dict) and user.get("name") == user_name:
                user["user"] = {k: v for k, v in (user.get("user") or {}).items()
                                if k in ("client-certificate", "client-certificate-data",
                                         "client-key", "client-key-data")}
    config = _config_from(doc, context, source)
    if auth is not None:
        config.use_auth(auth)
    return config


def _config_from(config_dict, context, where):
    """Load `context` of a kubeconfig document (dict or the client's ConfigNode) into a
    private client Configuration and build the `ClusterConfig`. `where` names it in
    messages."""
    with _LOADER_LOCK:
        return _config_from_locked(config_dict, context, where)


# The client caches the temporary files it writes (for an exec plugin's client
# certificate) in a module-wide dict keyed by content; we delete ours right after loading,
# so loads must not interleave and our entries must leave the cache with the files.
_LOADER_LOCK = threading.Lock()
_TMP_PREFIX = "appnet-kube-"


def _entries(config_dict, section):
    """(name, body dict) of every entry of a section, for a dict or a ConfigNode tree."""
    value = getattr(config_dict, "value", config_dict) or {}
    out = []
    for entry in value.get(section) or []:
        entry = getattr(entry, "value", entry)
        out.append(entry)
    return out


def _plain(config_dict):
    value = getattr(config_dict, "value", config_dict) or {}
    plain = {k: v for k, v in value.items() if k not in ("clusters", "users", "contexts")}
    for section in ("clusters", "users", "contexts"):
        plain[section] = _entries(config_dict, section)
    return plain


def _take_tls_data(config_dict, context, where):
    """Remove the inline TLS material of `context`'s cluster and user from the document the
    client's loader sees (it would write each to a temporary file) and return it decoded:
    {"ca": bytes|None, "cert": bytes|None, "key": bytes|None}. A `*-data` field wins over
    its file field, as in kubectl, so the file field goes too when both are set."""
    from .kubeconfig_file import decode_data

    plain = _plain(config_dict)
    ctx = next(c.get("context") or {} for c in plain["contexts"] if c.get("name") == context)
    out = {"ca": None, "cert": None, "key": None}
    for section, field, pairs in (
            ("clusters", "cluster", (("ca", "certificate-authority"),)),
            ("users", "user", (("cert", "client-certificate"), ("key", "client-key")))):
        entry = _own_copy(config_dict, section, ctx.get(field))
        body = (entry or {}).get(field)
        if not isinstance(body, dict):
            continue
        for slot, key in pairs:
            data = body.get(key + "-data")
            if data not in (None, ""):
                out[slot] = decode_data(data, where, f"{field} '{entry['name']}' {key}-data")
                body.pop(key + "-data", None)
                body.pop(key, None)
    return out


def _own_copy(config_dict, section, name):
    """The entry `name` of `section`, replaced in the document by a deep copy first, so that
    changing it leaves the cached kubeconfig document as it was read."""
    import copy
    value = getattr(config_dict, "value", config_dict) or {}
    entries = value.get(section) or []
    for i, entry in enumerate(entries):
        body = getattr(entry, "value", entry)
        if isinstance(body, dict) and body.get("name") == name:
            mine = copy.deepcopy(body)
            if hasattr(entry, "value"):
                entry.value = mine
            else:
                entries[i] = mine
            return mine
    return None


def _check_exec_plugin(user, context, where):
    """kubectl names a missing credential plugin; the client only logs it and goes on
    without a credential, which the server then answers with 401."""
    spec = (user or {}).get("exec")
    if not isinstance(spec, dict):
        return
    command = spec.get("command")
    if not isinstance(command, str) or not command:
        raise InvalidInputError(
            f"Kubeconfig {where}, context '{context}': the user's exec credential plugin names no "
            "command.", "Fix the user's exec entry.")
    found = (os.path.isfile(command) and os.access(command, os.X_OK)) if os.sep in command \
        else shutil.which(command)
    if not found:
        raise InvalidInputError(
            f"Kubeconfig {where}, context '{context}': the exec credential plugin '{command}' is "
            f"not installed (not found{'' if os.sep in command else ' on PATH'}).",
            "Install it (e.g. kubelogin for AKS: az aks install-cli), or use a kubeconfig with "
            "another credential.")


class _CaptureLoaderErrors:
    """The client logs an exec plugin's failure (to the root logger) instead of raising;
    keep those lines for our own message instead of letting them reach the terminal."""

    def __init__(self):
        self.lines = []

    def filter(self, record):
        if record.name == "root" and record.levelno >= logging.ERROR:
            self.lines.append(record.getMessage())
            return False
        return True

    def __enter__(self):
        logging.getLogger().addFilter(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger().removeFilter(self)


def _private_tmpdir():
    """A 0700 directory for what the client must write (an exec plugin's client
    certificate), named after our pid so a later run can remove one a killed process left."""
    _remove_stale_tmpdirs()
    return tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-")


def _remove_stale_tmpdirs():
    base = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(base) if n.startswith(_TMP_PREFIX)]
    except OSError:
        return
    for name in names:
        path = os.path.join(base, name)
        try:
            pid = int(name[len(_TMP_PREFIX):].split("-", 1)[0])
        except ValueError:
            pid = None          # an older appnet's directory: no owner to ask
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if info.st_uid != os.getuid():
            continue
        if pid is not None and pid_alive(pid):
            continue
        if pid is None and time.time() - info.st_mtime < 600:
            continue            # an older appnet's, maybe in use right now: only once it is old
        shutil.rmtree(path, ignore_errors=True)


def _config_from_locked(config_dict, context, where):
    # Imported here: the kubernetes package is slow to import and az loads us lazily.
    from kubernetes.client import Configuration
    from kubernetes.config import kube_config
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KubeConfigLoader

    from .kubeconfig_file import check_context

    found = check_context(_plain(config_dict), context, where) or {}
    _check_exec_plugin(found.get("users"), context, where)
    # Only these make the client's loader renew the token (when it expires); any other
    # credential stays as loaded.
    user = found.get("users")
    renews = isinstance(user, dict) and bool({"exec", "auth-provider"} & set(user))
    tls = _take_tls_data(config_dict, context, where)
    _install_exec_env_filter(kube_config)
    tmpdir = _private_tmpdir()
    try:
        # config_persister=None: a refreshed token is never written back to the file.
        loader = KubeConfigLoader(config_dict=config_dict, active_context=context,
                                  config_base_path=None, temp_file_path=tmpdir)
        cfg = Configuration()
        with _CaptureLoaderErrors() as captured:
            loader.load_and_set(cfg)
        server = (cfg.host or "").rstrip("/")
        if not server or server == "http://localhost":
            raise InvalidInputError(
                f"Context '{context}' of kubeconfig {where} names no cluster server.",
                "Fix the cluster entry of that context.")
        has_auth = bool(cfg.api_key) or cfg.refresh_api_key_hook is not None
        if captured.lines and not has_auth and not (cfg.cert_file or tls["cert"]):
            raise InvalidInputError(
                f"Kubeconfig {where}, context '{context}': the user's exec credential plugin gave "
                f"no credential ({_scrub('; '.join(captured.lines))[:300]}).",
                "Run the plugin's login, or check its exec entry.")
        ca = tls["ca"]
        if ca is None and cfg.ssl_ca_cert:
            ca = _read_tls_file(cfg.ssl_ca_cert, where, context, "certificate-authority")
        ssl_context = _ssl_context(cfg, tls, ca, context, where) if server.startswith("https") else None
        ca_fingerprint = _fingerprint(ca) if ca else None
    except ConfigException as e:
        raise InvalidInputError(
            f"Kubeconfig {where}, context '{context}': {_scrub(str(e))}.",
            "Fix the kubeconfig or pick another context with --context.") from None
    except (OSError, ssl.SSLError, ValueError) as e:
        why = getattr(e, "strerror", None) or getattr(e, "reason", None) or type(e).__name__
        raise InvalidInputError(
            f"Kubeconfig {where}, context '{context}': cannot load its TLS certificates ({why}).",
            "Fix the certificate-authority / client-certificate / client-key entries.") from None
    finally:
        # Anything the client wrote here is in the SSL context now.
        shutil.rmtree(tmpdir, ignore_errors=True)
        cache = getattr(kube_config, "_temp_files", {})
        for key in [k for k, path in cache.items() if str(path).startswith(tmpdir)]:
            cache.pop(key, None)

    return ClusterConfig(
        server=server, ssl_context=ssl_context, context=context,
        kubeconfig=where, proxy=cfg.proxy or None,
        server_hostname=cfg.tls_server_name or None,
        auth=cfg if has_auth else None, ca_fingerprint=ca_fingerprint,
        client_cert=bool(tls["cert"] or cfg.cert_file), auth_expires=renews)


def _read_tls_file(path, where, context, what):
    try:
        with open(path, "rb") as f:
            return f.read(16 * 1024 * 1024)
    except OSError as e:
        raise InvalidInputError(
            f"Kubeconfig {where}, context '{context}': the {what} file {path} cannot be read "
            f"({e.strerror or type(e).__name__}).", "Fix that entry.") from None


def _fingerprint(ca_pem):
    """SHA-256 fingerprint of the first certificate of a PEM bundle, as `openssl x509
    -fingerprint -sha256` prints it."""
    import base64
    import binascii
    import hashlib
    import re
    match = re.search(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", ca_pem, re.S)
    if not match:
        return None
    try:
        der = base64.b64decode(b"".join(match.group(1).split()))
    except (binascii.Error, ValueError):
        return None
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _install_exec_env_filter(kube_config):
    """Exec credential plugins (kubelogin, aws, gke-gcloud-auth-plugin, ...) are programs
    named by the kubeconfig: they get the environment as kubectl would give it, minus
    appnet's own secrets (key store passphrase, state connection string). The client builds
    its ExecProvider from os.environ on each (re)run; ours drops those before it starts."""
    from kubernetes.config.exec_provider import ExecProvider

    if getattr(kube_config.ExecProvider, "appnet_filtered", False):
        return

    class _SecretFreeExecProvider(ExecProvider):
        appnet_filtered = True

        def __init__(self, exec_config, cwd, cluster=None):
            super().__init__(exec_config, cwd, cluster)
            # What the kubeconfig's exec `env` sets on purpose is kept.
            wanted = {item.get("name") for item in (exec_config.safe_get("env") or [])
                      if hasattr(item, "get")}
            from ..redact import SECRET_ENV
            for name in SECRET_ENV:
                if name not in wanted:
                    self.env.pop(name, None)

    kube_config.ExecProvider = _SecretFreeExecProvider


def _ssl_context(cfg, tls, ca, context, where):
    """One SSLContext per cluster, holding the CA and client certificate in memory: inline
    material never touches the disk (the client key goes through an anonymous memory file).

    As kubectl: a kubeconfig that names a CA trusts that CA alone, never the OS store (or
    SSL_CERT_FILE), which could let a public or TLS-inspecting CA receive the cluster's
    admin credential; the OS store is used only when the kubeconfig names no CA."""
    if not cfg.verify_ssl and ca:
        # kubectl: "specifying a root certificates file with the insecure flag is not allowed"
        raise InvalidInputError(
            f"Kubeconfig {where}, context '{context}': the cluster sets both "
            "insecure-skip-tls-verify and a certificate authority; kubectl refuses that "
            "combination and so does appnet.",
            "Remove insecure-skip-tls-verify (keep the CA) from the cluster entry.")
    if ca:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)   # verifies, checks the host name
        try:
            ctx.load_verify_locations(cadata=ca.decode("ascii"))
        except (ssl.SSLError, ValueError, TypeError):   # UnicodeDecodeError is a ValueError
            raise InvalidInputError(
                f"Kubeconfig {where}, context '{context}': the cluster's certificate authority "
                "holds no PEM certificate.",
                "Fix certificate-authority(-data) of the cluster entry (kubectl config view --raw "
                "shows it).") from None
    else:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    cert = tls["cert"] or (_read_tls_file(cfg.cert_file, where, context, "client-certificate")
                           if cfg.cert_file else None)
    key = tls["key"] or (_read_tls_file(cfg.key_file, where, context, "client-key")
                         if cfg.key_file else None)
    if cert and key:
        _load_client_pair(ctx, cert, key, context, where)
    elif cert or key:
        have, lack = ("certificate", "key") if cert else ("key", "certificate")
        raise InvalidInputError(
            f"Kubeconfig {where}, context '{context}': the user has a client {have} but no "
            f"client {lack}.",
            "Set both client-certificate(-data) and client-key(-data), or neither.")
    if not cfg.verify_ssl:                       # insecure-skip-tls-verify: true
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        _warn_unverified(cfg.host, context, where)
    return ctx


def _load_client_pair(ctx, cert, key, context, where):
    """ssl loads a certificate chain only from files: hand it anonymous memory files
    (memfd, /proc/self/fd/N), which have no name on any file system and vanish with the
    process, killed or not."""
    fds = []
    try:
        paths = []
        for name, data in (("cert", cert), ("key", key)):
            fd = os.memfd_create("appnet-client-" + name, getattr(os, "MFD_CLOEXEC", 0))
            fds.append(fd)
            os.write(fd, data)
            paths.append(f"/proc/self/fd/{fd}")
        ctx.load_cert_chain(paths[0], paths[1])
    except ssl.SSLError:
        raise InvalidInputError(
            f"Kubeconfig {where}, context '{context}': the user's client certificate and key "
            "cannot be loaded (not PEM, or the key does not match the certificate).",
            "Fix client-certificate(-data) and client-key(-data).") from None
    finally:
        for fd in fds:
            os.close(fd)


_WARNED_UNVERIFIED = set()


def _warn_unverified(server, context, where):
    """Once per cluster and process: every request to it could be read or altered."""
    key = (server, context)
    if key in _WARNED_UNVERIFIED:
        return
    _WARNED_UNVERIFIED.add(key)
    logging.getLogger("azext_appnet.kube").warning(
        "The TLS certificate of %s (context '%s' of %s) is not verified "
        "(insecure-skip-tls-verify): anyone on the network path can read or change what is sent, "
        "including the cluster credential. Set certificate-authority-data for that cluster "
        "instead.", server, context, where)


def _scrub(text):
    """Config errors quote kubeconfig fragments; cut anything that looks like a secret."""
    from ..redact import scrub
    return scrub(text)

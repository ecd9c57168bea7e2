"""Damaged inputs, generated, each run through the real az.

Kubeconfigs (encodings, truncation, sizes, wrong types, bad base64, special files, symlink
loops, missing users, missing exec plugins, a server that is not Kubernetes), state stores,
key stores, APPNET_* settings and arguments. Every case must end with a non-zero exit, an
`ERROR:` line naming the cause, no traceback, and the state and key store byte for byte as
they were. Each case runs in its own copy of the az config dir, so cases run in parallel;
the count per category is printed (pytest -s shows it).
"""

import base64
import collections
import concurrent.futures
import hashlib
import http.server
import json
import os
import pathlib
import shutil
import sqlite3
import subprocess
import threading
import time

import pytest
import yaml

from tests.e2e.conftest import Az
from tests.fixtures import gateway_api
from tests.kubesim import KubeSim

pytestmark = pytest.mark.e2e

NET = ["-g", "rg1", "--appnet-name", "net-01"]
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


class _NotKubernetes(http.server.BaseHTTPRequestHandler):
    """A web server that is not a Kubernetes API server (404 with an empty JSON body)."""

    def do_GET(self):                           # noqa: N802 - http.server's naming
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_):
        pass


@pytest.fixture(scope="module")
def world(az_extension_dir, tmp_path_factory):
    """One network with one joined member; the template config dir every case copies."""
    tmp = tmp_path_factory.mktemp("fuzz")
    base = tmp / "base"
    az = Az(az_extension_dir, base, extra_env={"APPNET_ARM_ENDPOINT": "https://127.0.0.1:9"})
    sim = KubeSim(name="good").start()
    gateway_api.install(sim)
    kubeconfig = tmp / "kubeconfig"
    sim.write_kubeconfig(str(kubeconfig))
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotKubernetes)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    az("appnet", "member", "join", *NET, "--member-name", "member-01", "--kubeconfig", kubeconfig,
       "--context", "good", "--version", "1.4")
    yield {"ext": az_extension_dir, "base": base, "tmp": tmp, "kubeconfig": kubeconfig,
           "doc": yaml.safe_load(kubeconfig.read_text()), "web": "http://127.0.0.1:%d" % web.server_port}
    web.shutdown()
    sim.stop()


def _snapshot(config_dir):
    """Every file of appnet's state and key store, hashed (logs are not state)."""
    root = pathlib.Path(config_dir) / "appnet"
    out = {}
    for path in sorted(root.rglob("*")) if root.exists() else []:
        rel = path.relative_to(root)
        if rel.parts[0] == "logs":
            continue
        if path.is_symlink():
            out[str(rel)] = "link:" + os.readlink(path)
        elif path.is_file():
            out[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir():
            out[str(rel)] = "dir"
        else:
            out[str(rel)] = "special"
    return out


# ---- the cases ---------------------------------------------------------------------------
# Each: (category, id, prepare(w, d) -> (az args, extra env), words the error must contain).
# `d` is the case's own directory; its config dir is d/"azure" (a copy of the world's).

def _kc(w, d, doc=None, raw=None, name="kubeconfig"):
    path = d / name
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text(yaml.safe_dump(doc if doc is not None else w["doc"]))
    return path


def _join(path, context="good", *extra):
    args = ["appnet", "member", "join", *NET, "--member-name", "member-02", "--kubeconfig", str(path)]
    return args + (["--context", context] if context else []) + list(extra)


def _edit(w, change):
    doc = json.loads(json.dumps(w["doc"]))
    change(doc)
    return doc


def kubeconfig_cases():
    text = lambda w: yaml.safe_dump(w["doc"])
    cases = []
    add = lambda cid, make, words: cases.append(("kubeconfig", cid, make, words))

    add("latin-1", lambda w, d: (_join(_kc(w, d, raw=("# Zoë's cluster\n" + text(w)).encode("latin-1"))), {}),
        ["not UTF-8"])
    add("utf-16-no-bom", lambda w, d: (_join(_kc(w, d, raw=text(w).encode("utf-16-le"))), {}),
        ["binary"])
    add("utf-16-bad", lambda w, d: (_join(_kc(w, d, raw=b"\xff\xfe" + b"\x00\xd8" * 3)), {}),
        ["byte-order mark"])
    add("binary", lambda w, d: (_join(_kc(w, d, raw=bytes(range(256)) * 64)), {}), ["binary"])
    add("random-high-bytes", lambda w, d: (_join(_kc(w, d, raw=bytes(range(128, 256)) * 8)), {}),
        ["not UTF-8"])
    add("empty", lambda w, d: (_join(_kc(w, d, raw=b"")), {}), ["no contexts"])
    add("only-comments", lambda w, d: (_join(_kc(w, d, raw=b"# nothing\n")), {}), ["no contexts"])
    for cut in (0.1, 0.35, 0.5, 0.8, 0.97):
        add("truncated-%d%%" % (cut * 100),
            lambda w, d, cut=cut: (_join(_kc(w, d, raw=text(w).encode()[:int(len(text(w)) * cut)])), {}),
            ["kubeconfig"])
    add("not-yaml", lambda w, d: (_join(_kc(w, d, raw=b"{{{ this is : not [ yaml")), {}), ["not valid YAML"])
    add("yaml-list", lambda w, d: (_join(_kc(w, d, raw=b"- a\n- b\n")), {}), ["not a mapping"])
    add("yaml-scalar", lambda w, d: (_join(_kc(w, d, raw=b"just a string\n")), {}), ["not a mapping"])
    add("deep-nesting", lambda w, d: (_join(_kc(w, d, raw=b"[" * 20000 + b"]" * 20000)), {}), ["kubeconfig"])
    add("contexts-a-string", lambda w, d: (_join(_kc(w, d, _edit(w, lambda c: c.update(contexts="x")))), {}),
        ["'contexts' that is not a list"])
    add("cluster-entry-no-name",
        lambda w, d: (_join(_kc(w, d, _edit(w, lambda c: c["clusters"][0].pop("name")))), {}), ["without a name"])
    add("user-a-list",
        lambda w, d: (_join(_kc(w, d, _edit(w, lambda c: c["users"][0].update(user=[1])))), {}), ["not a mapping"])
    add("current-context-a-number",
        lambda w, d: (_join(_kc(w, d, _edit(w, lambda c: c.update({"current-context": 5}))), None), {}),
        ["current-context"])
    add("token-a-number",
        lambda w, d: (_join(_kc(w, d, _edit(w, lambda c: c["users"][0]["user"].update(token=12345)))), {}),
        ["token is not a string"])
    add("ca-data-not-base64", lambda w, d: (_join(_kc(w, d, _edit(
        w, lambda c: c["clusters"][0]["cluster"].update({"certificate-authority-data": "@@not base64@@"})))), {}),
        ["certificate-authority-data", "not base64"])
    add("ca-data-not-pem", lambda w, d: (_join(_kc(w, d, _edit(
        w, lambda c: c["clusters"][0]["cluster"].update(
            {"certificate-authority-data": base64.b64encode(b"hello").decode()})))), {}),
        ["no PEM certificate"])
    add("client-key-data-not-base64", lambda w, d: (_join(_kc(w, d, _edit(
        w, lambda c: c["users"][0]["user"].update({"client-certificate-data": "QUJD",
                                                    "client-key-data": "%%%"})))), {}),
        ["client-key-data", "not base64"])
    add("client-cert-not-pem", lambda w, d: (_join(_kc(w, d, _edit(
        w, lambda c: c["users"][0]["user"].update({"client-certificate-data": "QUJD",
                                                    "client-key-data": "QUJD"})))), {}),
        ["client certificate and key"])
    add("context-missing-user", lambda w, d: (_join(_kc(w, d, _edit(
        w, lambda c: c["contexts"][0]["context"].update(user="nobody")))), {}), ["user 'nobody'", "does not"])
    add("context-missing-cluster", lambda w, d: (_join(_kc(w, d, _edit(
        w, lambda c: c["contexts"][0]["context"].update(cluster="nowhere")))), {}), ["cluster 'nowhere'"])
    add("unknown-context", lambda w, d: (_join(_kc(w, d), "nope"), {}), ["no context named 'nope'"])
    add("no-credentials", lambda w, d: (_join(_kc(w, d, _edit(
        w, lambda c: c["users"][0].update(user={})))), {}), ["has no credentials"])
    add("exec-plugin-missing", lambda w, d: (_join(_kc(w, d, _edit(
        w, lambda c: c["users"][0].update(user={"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": "kubelogin-not-installed",
            "interactiveMode": "Never"}})))), {}), ["kubelogin-not-installed", "not installed"])
    add("exec-plugin-fails", lambda w, d: (_join(_kc(w, d, _edit(
        w, lambda c: c["users"][0].update(user={"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": "false",
            "interactiveMode": "Never"}})))), {}), ["exec credential plugin gave no credential"])
    add("token-4mb", lambda w, d: (_join(_kc(w, d, _edit(
        w, lambda c: c["users"][0]["user"].update(token="x" * (4 * 1024 * 1024))))), {}), ["1 MiB"])
    add("not-kubernetes", lambda w, d: (_join(_kc(w, d, _edit(
        w, lambda c: c["clusters"][0]["cluster"].update(server=w["web"])))), {}),
        ["not a Kubernetes API server"])
    add("no-server", lambda w, d: (_join(_kc(w, d, _edit(
        w, lambda c: c["clusters"][0]["cluster"].pop("server")))), {}), ["server"])
    add("huge-8mb-unknown-context", lambda w, d: (_join(_kc(w, d, raw=_huge(w["doc"])), "nope"), {}),
        ["no context named 'nope'"])
    add("over-64mb", lambda w, d: (_join(_sparse(d / "big", 65 * 1024 * 1024)), {}), ["MB"])
    add("directory", lambda w, d: (_join(_mkdir(d / "kcdir")), {}), ["is a directory"])
    add("fifo", lambda w, d: (_join(_fifo(d / "kcfifo")), {}), ["named pipe"])
    add("dev-null", lambda w, d: (_join("/dev/null"), {}), ["is a device"])
    add("symlink-loop", lambda w, d: (_join(_loop(d)), {}), ["symbolic links"])
    add("dangling-symlink", lambda w, d: (_join(_link(d / "gone", d / "dangling")), {}),
        ["symbolic link to a file that does not exist"])
    add("missing", lambda w, d: (_join(d / "absent.yaml"), {}), ["not found"])
    add("under-a-file", lambda w, d: (_join(_kc(w, d) / "sub"), {}), ["not a directory"])
    if not AS_ROOT:
        add("unreadable", lambda w, d: (_join(_chmod(_kc(w, d), 0)), {}), ["permission denied"])
    return cases


def _huge(doc, size=8 * 1024 * 1024):
    """The kubeconfig with clusters and contexts added (each cluster with the real CA) until
    it is about `size` bytes: an 8 MB file as one with many clusters is."""
    doc = json.loads(json.dumps(doc))
    cluster = doc["clusters"][0]["cluster"]
    count = size // (len(cluster["certificate-authority-data"]) + 200)
    doc["clusters"] += [{"name": "c%d" % i, "cluster": dict(cluster)} for i in range(count)]
    doc["contexts"] += [{"name": "x%d" % i, "context": {"cluster": "c%d" % i, "user": "good"}}
                        for i in range(count)]
    return yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper)).encode()


def _sparse(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def _mkdir(path):
    path.mkdir(exist_ok=True)
    return path


def _fifo(path):
    os.mkfifo(path)
    return path


def _loop(d):
    os.symlink(d / "loop-b", d / "loop-a")
    os.symlink(d / "loop-a", d / "loop-b")
    return d / "loop-a"


def _link(target, path):
    os.symlink(target, path)
    return path


def _chmod(path, mode):
    os.chmod(path, mode)
    return path


def _cfg(d):
    return d / "azure" / "appnet"


def _state_env(path):
    return {"APPNET_STATE_PATH": str(path)}


def store_cases():
    cases = []
    add = lambda cid, make, words: cases.append(("state", cid, make, words))
    listing = ["appnet", "list"]

    def damaged(content):
        def make(w, d):
            path = d / "damaged.db"
            path.write_bytes(content(w) if callable(content) else content)
            return listing, _state_env(path)
        return make

    add("zero-length", damaged(b""), ["backup"])
    add("garbage", damaged(b"\x00garbage\xff" * 512), ["state"])
    add("text-file", damaged(b"hello, this is a note\n"), ["state"])
    add("truncated-db", damaged(lambda w: (_cfg_base(w) / "state.db").read_bytes()[:1500]), ["state"])
    add("directory", lambda w, d: (listing, _state_env(_mkdir(d / "statedir"))), ["directory"])
    add("symlink-loop", lambda w, d: (listing, _state_env(_loop(d))), ["state"])
    add("foreign-sqlite", lambda w, d: (listing, _state_env(_foreign_db(d / "other.db"))), ["state"])

    def crafted(body):
        def make(w, d):
            db = _cfg(d) / "state.db"
            with sqlite3.connect(db) as conn:
                key = conn.execute("SELECT key FROM resources WHERE kind='appLink'").fetchone()[0]
                conn.execute("UPDATE resources SET body=? WHERE key=?", (body, key))
            conn.close()
            return ["appnet", "member", "list", *NET], {}
        return make

    add("row-not-json", crafted('{"id": "/subscriptions'), ["damaged record"])
    add("row-a-list", crafted("[1, 2, 3]"), ["damaged record"])
    add("row-binary", crafted(b"\xff\xfe\x00\x01".decode("latin-1")), ["damaged record"])
    if not AS_ROOT:
        add("read-only", lambda w, d: (["appnet", "update", "-g", "rg1", "-n", "net-01", "--tags", "a=b"],
                                       _state_env(_chmod(_copy(_cfg(d) / "state.db", d / "ro.db"), 0o400))),
            ["read"])
    return cases


def _cfg_base(w):
    return pathlib.Path(w["base"]) / "appnet"


def _copy(src, dst):
    shutil.copy(src, dst)
    return dst


def _foreign_db(path):
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER, data BLOB)")
    conn.close()
    return path


def _network_keys(d):
    (entry,) = (_cfg(d) / "keys").iterdir()
    return entry


def _files(d, prefix, suffix=".key.pem"):
    return [p for p in _network_keys(d).iterdir() if p.name.startswith(prefix) and p.name.endswith(suffix)]


def keystore_cases():
    cases = []
    add = lambda cid, make, words: cases.append(("keystore", cid, make, words))
    create = ["appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2"]
    ca_show = ["appnet", "ca", "show", "-g", "rg1", "-n", "net-01"]
    update = ["appnet", "member", "update", *NET, "--member-name", "member-01", "--east-west-gateway", "Internal"]
    rotate = ["appnet", "member", "rotate-ca", *NET, "--member-name", "member-01"]

    def join_new(w, d):
        return _join(w["kubeconfig"])

    def gone(make_args, what):
        def make(w, d):
            if what == "store":
                shutil.rmtree(_cfg(d) / "keys")
            elif what == "manifest":
                (_network_keys(d) / "manifest.json").unlink()
            elif what == "root-key":
                _files(d, "root-")[0].unlink()
            elif what == "member-key":
                _files(d, "member-")[0].unlink()
            elif what == "manifest-garbage":
                (_network_keys(d) / "manifest.json").write_bytes(b"\x00\xff not json")
            elif what == "root-key-garbage":
                _files(d, "root-")[0].write_bytes(  # markers split: no committed file looks like a key
                    b"-----BEGIN " + b"PRIVATE KEY-----\nAAAA\n-----END " + b"PRIVATE KEY-----\n")
            elif what == "member-key-directory":
                key = _files(d, "member-")[0]
                key.unlink()
                key.mkdir()
            elif what == "root-cert-missing":
                _files(d, "root-", ".crt.pem")[0].unlink()
            return (make_args(w, d) if callable(make_args) else make_args), {}
        return make

    for what, words in (("store", ["no PKI manifest"]), ("manifest", ["no PKI manifest"])):
        add(f"{what}-deleted/create", gone(create, what), words + ["will not create a new root"])
        add(f"{what}-deleted/join", gone(join_new, what), words)
        add(f"{what}-deleted/ca-show", gone(ca_show, what), words)
        add(f"{what}-deleted/member-update", gone(update, what), words)
        add(f"{what}-deleted/rotate-ca", gone(rotate, what), words)
    add("root-key-deleted/join", gone(join_new, "root-key"), ["missing", "root CA"])
    add("root-key-deleted/rotate-ca", gone(rotate, "root-key"), ["missing", "root CA"])
    add("root-key-garbage/join", gone(join_new, "root-key-garbage"), ["damaged"])
    add("member-key-deleted/member-update", gone(update, "member-key"), ["missing"])
    add("member-key-a-directory/member-update", gone(update, "member-key-directory"), ["cannot be read"])
    add("manifest-garbage/ca-show", gone(ca_show, "manifest-garbage"), ["manifest", "damaged"])
    add("manifest-garbage/create", gone(create, "manifest-garbage"), ["manifest", "damaged"])
    add("root-cert-missing/join", gone(join_new, "root-cert-missing"), ["certificate", "missing"])
    return cases


def setting_cases():
    cases = []
    add = lambda cid, env, words, args=("appnet", "list"): cases.append(
        ("settings", cid, lambda w, d: (list(args), env), words))
    add("STATE_URL-ftp", {"APPNET_STATE_URL": "ftp://x"}, ["APPNET_STATE_URL", "https://"])
    add("STATE_URL-no-host", {"APPNET_STATE_URL": "https:///container"}, ["APPNET_STATE_URL"])
    add("STATE_URL-plain-word", {"APPNET_STATE_URL": "mystate"}, ["APPNET_STATE_URL"])
    add("STATE_PATH-a-url", {"APPNET_STATE_PATH": "s3://bucket/state"}, ["APPNET_STATE_PATH", "URL"])
    add("READY_TIMEOUT-word", {"APPNET_READY_TIMEOUT": "ten"}, ["APPNET_READY_TIMEOUT", "seconds"])
    add("READY_TIMEOUT-negative", {"APPNET_READY_TIMEOUT": "-5"}, ["APPNET_READY_TIMEOUT", "range"])
    add("READY_TIMEOUT-float", {"APPNET_READY_TIMEOUT": "1.5"}, ["APPNET_READY_TIMEOUT"])
    add("ARM_ENDPOINT-ftp", {"APPNET_ARM_ENDPOINT": "ftp://management"}, ["APPNET_ARM_ENDPOINT"])
    add("STATE_CONTAINER-bad", {"APPNET_STATE_CONNECTION_STRING": "UseDevelopmentStorage=true",
                                "APPNET_STATE_CONTAINER": "Bad_Name!"}, ["APPNET_STATE_CONTAINER"])
    return cases


def argument_cases():
    cases = []
    add = lambda cid, args, words: cases.append(("arguments", cid, lambda w, d: (
        [a.format(**w) if isinstance(a, str) else a for a in args], {}), words))
    add("wait-custom-invalid", ["appnet", "wait", "-g", "rg1", "-n", "net-01", "--custom", "[?"],
        ["JMESPath"])
    add("wait-custom-wrong-type", ["appnet", "wait", "-g", "rg1", "-n", "net-01", "--custom", "abs(name)",
                                   "--timeout", "5"], ["cannot be evaluated"])
    add("location-punctuation", ["appnet", "create", "-g", "rg1", "-n", "net-02", "-l", "west us 2!!"],
        ["location"])
    add("empty-version", ["appnet", "member", "update", *NET, "--member-name", "member-01", "--version", ""],
        ["--version"])
    add("kubeconfig-and-resource-id", ["appnet", "member", "join", *NET, "--member-name", "member-02",
                                       "--kubeconfig", "{kubeconfig}", "--member-resource-id",
                                       "/subscriptions/s/resourceGroups/r/providers/"
                                       "Microsoft.ContainerService/managedClusters/aks1"],
        ["--member-resource-id"])
    add("empty-tag-key", ["appnet", "update", "-g", "rg1", "-n", "net-01", "--tags", "=v"], ["tag name"])
    add("empty-name", ["appnet", "show", "-g", "rg1", "-n", ""], ["name"])
    return cases


CASES = kubeconfig_cases() + store_cases() + keystore_cases() + setting_cases() + argument_cases()
# FUZZ_CASES=word runs only the cases whose id holds it (while working on one).
_ONLY = os.environ.get("FUZZ_CASES")


def _run_case(world, case):
    category, cid, make, words = case
    d = pathlib.Path(world["tmp"]) / "cases" / category / cid.replace("/", "__")
    d.mkdir(parents=True)
    shutil.copytree(world["base"], d / "azure", symlinks=True)
    args, env = make(world, d)
    before = _snapshot(d / "azure")
    state_file = pathlib.Path(env["APPNET_STATE_PATH"]) if "APPNET_STATE_PATH" in env else None
    state_before = _file_state(state_file)
    az = Az(world["ext"], d / "azure", extra_env=dict(env, APPNET_ARM_ENDPOINT="https://127.0.0.1:9"))
    az.env.update(env)
    started = time.monotonic()
    try:
        result = az(*args, rc=None, timeout=120, cwd=d)
    except subprocess.TimeoutExpired:
        return category, cid, ["az did not end within 120 s"], ""
    except AssertionError as e:         # the Az helper's own check: a traceback
        return category, cid, ["traceback"], str(e)[-300:]
    took = time.monotonic() - started
    problems = []
    if result.rc == 0:
        problems.append("exit code 0")
    if "Traceback" in result.err or "unexpected error" in result.err:
        problems.append("traceback")
    error_lines = [line for line in result.err.splitlines() if line.startswith("ERROR:")]
    if not error_lines:
        problems.append("no ERROR: line")
    text = result.err.lower()
    missing = [word for word in words if word.lower() not in text]
    if missing:
        problems.append("error does not name %s" % missing)
    if _snapshot(d / "azure") != before:
        problems.append("state or key store changed")
    if state_file is not None and _file_state(state_file) != state_before:
        problems.append("the state file named by APPNET_STATE_PATH changed")
    if (d / "ftp:").exists():
        problems.append("created ./ftp:")
    return category, cid, problems, "%.1fs %s" % (took, (error_lines[:1] or [result.err[-300:]])[0])


def _file_state(path):
    if path is None:
        return None
    try:
        if path.is_dir():
            return sorted(p.name for p in path.iterdir())
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else os.path.lexists(path)
    except OSError as e:
        return type(e).__name__


def test_every_damaged_input_is_a_clean_error_and_changes_nothing(world, capsys):
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        cases = [c for c in CASES if not _ONLY or _ONLY in "%s/%s" % (c[0], c[1])]
        results = list(pool.map(lambda c: _run_case(world, c), cases))
    counts = collections.Counter(category for category, *_ in results)
    failures = [(cat, cid, problems, line) for cat, cid, problems, line in results if problems]
    with capsys.disabled():
        print("\nfuzzed inputs through az: %d cases (%s); %d clean" % (
            len(results), ", ".join("%s %d" % kv for kv in sorted(counts.items())),
            len(results) - len(failures)))
        if AS_ROOT:
            print("  (running as root: the unreadable-file cases cannot be made and are not counted)")
        if os.environ.get("FUZZ_VERBOSE"):
            for cat, cid, problems, line in results:
                print("  %s/%s: %s" % (cat, cid, line[:200]))
    assert not failures, "\n".join("%s/%s: %s -- %s" % f for f in failures)
    assert _ONLY or len(results) >= 80

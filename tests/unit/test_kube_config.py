"""connect(): kubeconfig reading, errors for a missing file / unknown context, the
credential kinds, and that importing the package stays light."""

import base64
import datetime
import os
import ssl
import subprocess
import sys

import pytest
import yaml

from azext_appnet.errors import InvalidInputError
from azext_appnet.kube import connect
from azext_appnet.kube.config import load


def _kubeconfig(tmp_path, users, contexts, current="a", server="https://127.0.0.1:6443",
                cluster_extra=None):
    cluster = {"server": server, "insecure-skip-tls-verify": True}
    cluster.update(cluster_extra or {})
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": n, "user": u} for n, u in users.items()],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": u}}
                     for n, u in contexts.items()],
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_missing_file(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(InvalidInputError) as e:
        connect(kubeconfig=missing)
    assert missing in e.value.message and "--kubeconfig" in e.value.recommendation


def test_missing_default_file_uses_KUBECONFIG(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "x") + os.pathsep + str(tmp_path / "y"))
    with pytest.raises(InvalidInputError) as e:
        connect()
    assert str(tmp_path / "x") in e.value.message


def test_unknown_context_lists_the_existing_ones(tmp_path):
    kc = _kubeconfig(tmp_path, {"u": {"token": "abc"}}, {"a": "u", "b": "u"})
    with pytest.raises(InvalidInputError) as e:
        connect(kubeconfig=kc, context="zzz")
    msg = e.value.message
    assert "'zzz'" in msg and "a, b" in msg and "--context" in e.value.recommendation


def test_not_a_kubeconfig(tmp_path):
    p = tmp_path / "k"
    p.write_text("- just\n- a list\n")
    with pytest.raises(InvalidInputError):
        connect(kubeconfig=str(p))


def test_token_context(tmp_path):
    kc = _kubeconfig(tmp_path, {"u": {"token": "tok-123"}, "v": {"token": "tok-456"}},
                     {"a": "u", "b": "v"})
    ca = load(kc)
    cb = load(kc, "b")
    assert ca.context == "a" and cb.context == "b"
    # each connect has its own credential; the client's global default is untouched
    assert ca.auth_header() == "Bearer tok-123" and cb.auth_header() == "Bearer tok-456"
    assert "tok" not in repr(ca) and "tok" not in repr(connect(kubeconfig=kc))
    from kubernetes.client import Configuration
    assert not Configuration.get_default_copy().api_key
    assert ca.ssl_context.verify_mode == ssl.CERT_NONE      # insecure-skip-tls-verify


def test_kubeconfig_is_read_at_each_call(tmp_path):
    kc = _kubeconfig(tmp_path, {"u": {"token": "one"}}, {"a": "u"})
    assert load(kc).auth_header() == "Bearer one"
    _kubeconfig(tmp_path, {"u": {"token": "two"}}, {"a": "u"})
    assert load(kc).auth_header() == "Bearer two"


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert_pem, key_pem


def test_client_certificate_data_leaves_no_file_behind(tmp_path, monkeypatch):
    cert_pem, key_pem = _self_signed(tmp_path)
    b64 = lambda b: base64.b64encode(b).decode()
    kc = _kubeconfig(tmp_path, {"u": {"client-certificate-data": b64(cert_pem),
                                      "client-key-data": b64(key_pem)}}, {"a": "u"},
                     cluster_extra={"insecure-skip-tls-verify": False,
                                    "certificate-authority-data": b64(cert_pem)})
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp))
    cfg = load(kc)
    assert cfg.auth_header() is None                    # the certificate authenticates
    assert cfg.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert list(tmp.iterdir()) == []                    # the key is not left on disk


def test_exec_plugin_token(tmp_path):
    script = tmp_path / "plugin.py"
    script.write_text(
        "import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1',"
        " 'kind': 'ExecCredential', 'status': {'token': 'from-exec'}}))\n")
    kc = _kubeconfig(tmp_path, {"u": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
        "args": [str(script)], "interactiveMode": "Never"}}}, {"a": "u"})
    assert load(kc).auth_header() == "Bearer from-exec"


def test_static_token_is_not_reloaded_per_request_but_an_expired_exec_credential_is(tmp_path, monkeypatch):
    from kubernetes.config.kube_config import KubeConfigLoader
    static = load(_kubeconfig(tmp_path, {"u": {"token": "tok"}}, {"a": "u"}))
    reloads = []
    reload = KubeConfigLoader._set_config             # what the client's refresh hook runs
    monkeypatch.setattr(KubeConfigLoader, "_set_config", lambda *a: (reloads.append(1), reload(*a)))
    assert [static.auth_header() for _ in range(3)] == ["Bearer tok"] * 3
    assert len(reloads) == 1                         # the first request's header, kept
    # A plugin credential that has expired is fetched again for the next request.
    runs = tmp_path / "runs"
    script = tmp_path / "plugin.py"
    script.write_text(
        f"import json\nwith open({str(runs)!r}, 'a') as f: f.write('x')\n"
        f"n = len(open({str(runs)!r}).read())\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential', "
        "'status': {'token': 'call-%d' % n, 'expirationTimestamp': '2000-01-01T00:00:00Z'}}))\n")
    renewing = load(_kubeconfig(tmp_path, {"u": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
        "args": [str(script)], "interactiveMode": "Never"}}}, {"a": "u"}))
    assert [renewing.auth_header() for _ in range(2)] == ["Bearer call-2", "Bearer call-3"]


_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_package_import_is_light():
    # Measured as a delta over the parent package, which az imports anyway.
    code = ("import sys, azext_appnet; before = set(sys.modules); import azext_appnet.kube; "
            "print(sorted(m for m in set(sys.modules) - before "
            "if m.split('.')[0] in ('kubernetes', 'urllib3', 'yaml', 'ssl')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=_ROOT)
    assert out.stdout.strip() == "[]", out.stderr


def test_engine_does_not_import_az():
    import re
    pkg = os.path.join(_ROOT, "azext_appnet", "kube")
    for name in os.listdir(pkg):
        if name.endswith(".py"):
            with open(os.path.join(pkg, name), encoding="utf-8") as f:
                src = f.read()
            assert not re.search(r"^\s*(from|import)\s+(azure\.cli|knack)\b", src, re.M), name


def test_exec_plugin_environment_holds_no_appnet_secret(tmp_path, monkeypatch):
    # The plugin reports the environment it was given (as a token, the only thing it returns).
    script = tmp_path / "plugin.py"
    script.write_text(
        "import json, os\nleaked = sorted(k for k in os.environ if k.startswith('APPNET_'))\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': "
        "'ExecCredential', 'status': {'token': ','.join(leaked) or 'none'}}))\n")
    monkeypatch.setenv("APPNET_KEYSTORE_PASSPHRASE", "p4ss")
    monkeypatch.setenv("APPNET_STATE_CONNECTION_STRING", "AccountKey=k3y")
    monkeypatch.setenv("APPNET_STATE_CONTAINER", "state")
    kc = _kubeconfig(tmp_path, {"u": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
        "args": [str(script)], "interactiveMode": "Never"}}}, {"a": "u"})
    # Not a secret, so kept: the plugin sees the ordinary environment, just not the secrets.
    assert load(kc).auth_header() == "Bearer APPNET_STATE_CONTAINER"

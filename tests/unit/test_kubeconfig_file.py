"""The kubeconfig reader: inline TLS material stays in memory, a file is parsed once, and
relative paths and merging behave as kubectl's."""

import base64
import ssl

import pytest
import yaml

from azext_appnet.errors import InvalidInputError
from azext_appnet.kube import config, kubeconfig_file
from tests.unit.test_kube_config import _self_signed


def _write(path, doc):
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _doc(cluster, user, name="a"):
    return {"apiVersion": "v1", "kind": "Config", "current-context": name,
            "clusters": [{"name": name, "cluster": cluster}], "users": [{"name": name, "user": user}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}]}


def test_inline_key_and_ca_are_never_written_to_a_file(tmp_path, monkeypatch):
    cert_pem, key_pem = _self_signed(tmp_path)
    b64 = lambda b: base64.b64encode(b).decode()
    from kubernetes.config import kube_config

    def refuse(*_a, **_k):
        raise AssertionError("the client was handed inline TLS material to write to disk")

    monkeypatch.setattr(kube_config.FileOrData, "_write_file", refuse)
    path = _write(tmp_path / "kc", _doc({"server": "https://127.0.0.1:6443",
                                         "certificate-authority-data": b64(cert_pem)},
                                        {"client-certificate-data": b64(cert_pem),
                                         "client-key-data": b64(key_pem)}))
    cfg = config.load(path)
    assert cfg.ssl_context.verify_mode == ssl.CERT_REQUIRED and cfg.client_cert
    assert cfg.ca_fingerprint and cfg.auth_header() is None
    # The cached document still holds the data fields: the next load sees them again.
    assert config.load(path).client_cert


def test_relative_certificate_paths_resolve_against_the_kubeconfig(tmp_path):
    cert_pem, key_pem = _self_signed(tmp_path)
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_bytes(cert_pem)
    path = _write(tmp_path / "kc", _doc({"server": "https://127.0.0.1:6443",
                                         "certificate-authority": "certs/ca.pem"}, {"token": "t"}))
    assert config.load(path).ca_fingerprint


def test_resolve_and_load_parse_the_file_once(tmp_path, monkeypatch):
    path = _write(tmp_path / "kc", _doc({"server": "https://127.0.0.1:6443",
                                         "insecure-skip-tls-verify": True}, {"token": "t"}))
    calls = []
    real = kubeconfig_file.parse
    monkeypatch.setattr(kubeconfig_file, "parse", lambda raw, where: calls.append(where) or real(raw, where))
    kubeconfig_file._CACHE.clear()
    config.resolve(path)
    config.load(path)
    assert calls == [path]


def test_first_file_wins_when_merging(tmp_path, monkeypatch):
    one = _write(tmp_path / "one", _doc({"server": "https://one:6443", "insecure-skip-tls-verify": True},
                                        {"token": "1"}))
    two = _write(tmp_path / "two", _doc({"server": "https://two:6443", "insecure-skip-tls-verify": True},
                                        {"token": "2"}))
    monkeypatch.setenv("KUBECONFIG", one + ":" + two)
    cfg = config.load()
    assert cfg.server == "https://one:6443" and cfg.auth_header() == "Bearer 1"


@pytest.mark.parametrize("raw", [b"\xef\xbb\xbfapiVersion: v1\ncontexts: []\n",
                                 b"\xff\xfe" + "apiVersion: v1\ncontexts: []\n".encode("utf-16-le")],
                         ids=["utf-8-bom", "utf-16-bom"])
def test_byte_order_marks_are_read_as_kubectl_reads_them(tmp_path, raw):
    path = tmp_path / "kc"
    path.write_bytes(raw)
    with pytest.raises(InvalidInputError, match="has no contexts"):   # read, not "not UTF-8"
        config.resolve(str(path))


def test_a_killed_runs_private_directory_is_removed_by_the_next_load(tmp_path, monkeypatch):
    import os
    import subprocess
    import sys
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    left = tmp_path / ("appnet-kube-%s-abc" % dead)
    left.mkdir()
    (left / "ca.crt").write_text("left by a killed run")
    mine = tmp_path / ("appnet-kube-%d-def" % os.getpid())
    mine.mkdir()
    path = _write(tmp_path / "kc", _doc({"server": "https://127.0.0.1:6443",
                                         "insecure-skip-tls-verify": True}, {"token": "t"}))
    config.load(path)
    assert not left.exists() and mine.exists()

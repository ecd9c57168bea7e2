"""TLS to an API server as kubectl does it: a kubeconfig that names a CA trusts that CA
alone (not the OS store, not SSL_CERT_FILE); insecure-skip-tls-verify with a CA is refused;
an unverified cluster is warned about once."""

import base64
import json
import logging

import pytest
import yaml

from azext_appnet.errors import ClusterError, InvalidInputError
from azext_appnet.kube import connect
from tests.kvsim.https import LoopbackHandler, LoopbackHttpsServer
from tests.kvsim.tls import make_server_tls

ADMIN_TOKEN = "admin-token-must-stay-home"


class FakeApiServer(LoopbackHttpsServer):
    """Answers /version and records every Authorization header it is sent."""

    name = "fake-apiserver"

    def __init__(self):
        super().__init__()
        self.authorizations = []

    def handler_class(self):
        server = self

        class Handler(LoopbackHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                server.authorizations.append(self.headers.get("Authorization"))
                body = json.dumps({"major": "1", "minor": "31", "gitVersion": "v1.31.0"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def apiserver():
    with FakeApiServer() as server:
        yield server


@pytest.fixture
def other_ca(tmp_path):
    """A CA that did not sign the server's certificate: the one the kubeconfig pins."""
    paths = make_server_tls(str(tmp_path))
    with open(paths["ca.pem"], "rb") as f:
        return f.read()


def _kubeconfig(tmp_path, server, **cluster):
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "a",
           "clusters": [{"name": "c", "cluster": dict(server=server, **cluster)}],
           "users": [{"name": "u", "user": {"token": ADMIN_TOKEN}}],
           "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _b64(data):
    return base64.b64encode(data).decode()


def _version(kubeconfig):
    cluster = connect(kubeconfig=kubeconfig)
    try:
        return cluster.request("GET", "/version")
    finally:
        cluster.close()


def test_pinned_ca_alone_is_trusted_not_ssl_cert_file(tmp_path, monkeypatch, apiserver, other_ca):
    # The server's CA is trusted by the "OS store" (SSL_CERT_FILE) but not the kubeconfig's.
    monkeypatch.setenv("SSL_CERT_FILE", apiserver.ca_file)
    kc = _kubeconfig(tmp_path, apiserver.url, **{"certificate-authority-data": _b64(other_ca)})
    with pytest.raises(ClusterError):
        _version(kc)
    assert apiserver.authorizations == []          # the admin token never left

    # Control: pinning the server's own CA works, so the refusal above is the pin's doing.
    with open(apiserver.ca_file, "rb") as f:
        kc = _kubeconfig(tmp_path, apiserver.url, **{"certificate-authority-data": _b64(f.read())})
    assert _version(kc)["gitVersion"] == "v1.31.0"
    assert apiserver.authorizations == ["Bearer " + ADMIN_TOKEN]


def test_no_ca_in_kubeconfig_uses_the_system_store(tmp_path, monkeypatch, apiserver):
    monkeypatch.setenv("SSL_CERT_FILE", apiserver.ca_file)
    assert _version(_kubeconfig(tmp_path, apiserver.url))["major"] == "1"


def test_insecure_with_a_ca_is_refused(tmp_path, apiserver):
    with open(apiserver.ca_file, "rb") as f:
        kc = _kubeconfig(tmp_path, apiserver.url, **{"certificate-authority-data": _b64(f.read()),
                                                     "insecure-skip-tls-verify": True})
    with pytest.raises(InvalidInputError) as e:
        connect(kubeconfig=kc)
    assert "insecure-skip-tls-verify" in e.value.message and kc in e.value.message
    assert apiserver.authorizations == []


def test_insecure_is_warned_once_per_cluster(tmp_path, apiserver, caplog):
    kc = _kubeconfig(tmp_path, apiserver.url, **{"insecure-skip-tls-verify": True})
    with caplog.at_level(logging.WARNING, logger="azext_appnet.kube"):
        _version(kc)
        _version(kc)
    warned = [r for r in caplog.records if "not verified" in r.getMessage()]
    assert len(warned) == 1 and apiserver.url in warned[0].getMessage()

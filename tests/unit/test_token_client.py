"""The remote secret's kubeconfig (server, pinned CA, bearer token) read without the
kubernetes loader, and every other shape refused without being loaded."""

import base64
import datetime

import pytest

from azext_appnet.errors import ClusterError
from azext_appnet.kube import token_client
from azext_appnet.kube.config import load_dict


def _ca_pem():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cluster-ca")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def _reader_doc(ca, token="tok-123", server="https://10.0.0.1:6443", **cluster_extra):
    cluster = {"server": server, "certificate-authority-data": base64.b64encode(ca).decode()}
    cluster.update(cluster_extra)
    return {"apiVersion": "v1", "kind": "Config", "current-context": "m1",
            "clusters": [{"name": "m1", "cluster": cluster}],
            "contexts": [{"name": "m1", "context": {"cluster": "m1", "user": "m1"}}],
            "users": [{"name": "m1", "user": {"token": token}}]}


def test_a_reader_kubeconfig_gives_the_same_client_settings_as_the_loader():
    ca = _ca_pem()
    doc = _reader_doc(ca)
    fast = token_client.token_config(doc, "the remote secret for m1")
    slow = load_dict(doc, source="the remote secret for m1")
    assert fast is not None
    assert (fast.server, fast.context, fast.ca_fingerprint, fast.auth_header()) == \
        (slow.server, slow.context, slow.ca_fingerprint, slow.auth_header())
    assert fast.auth_header() == "Bearer tok-123"
    assert "tok-123" not in repr(fast)
    # One SSL context per CA, shared by every token of that cluster.
    assert token_client.token_config(_reader_doc(ca, token="other"), "x").ssl_context is fast.ssl_context


@pytest.mark.parametrize("change", [
    lambda d: d["users"][0].update(user={"exec": {"command": "evil", "apiVersion": "client.authentication.k8s.io/v1"}}),
    lambda d: d["users"][0]["user"].update({"client-certificate-data": "eA=="}),
    lambda d: d["clusters"][0]["cluster"].update({"proxy-url": "http://proxy:3128"}),
    lambda d: d["clusters"][0]["cluster"].update(server="http://10.0.0.1:6443"),
    lambda d: d["clusters"].append({"name": "m2", "cluster": {"server": "https://x"}}),
    lambda d: d["clusters"][0]["cluster"].update({"certificate-authority-data": "not base64!"}),
])
def test_any_other_shape_is_refused_without_being_loaded(change):
    doc = _reader_doc(_ca_pem())
    change(doc)
    assert token_client.token_config(doc, "x") is None
    with pytest.raises(ClusterError) as e:
        token_client.token_client(doc, "the remote secret for m1")
    assert "not a kubeconfig of the shape appnet writes" in e.value.message
    assert "rotate-credentials" in e.value.recommendation


def test_an_exec_plugin_planted_in_a_remote_secret_never_runs(tmp_path):
    # Whoever controls a member cluster can rewrite the remote secrets on it; `check` reads
    # them on the admin's machine.
    ran = tmp_path / "ran"
    doc = _reader_doc(_ca_pem())
    doc["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                        "command": "sh", "args": ["-c", f"touch {ran}"]}}
    with pytest.raises(ClusterError):
        token_client.token_client(doc, "the remote secret for m1")
    assert not ran.exists()


def test_a_damaged_ca_is_refused():
    doc = _reader_doc(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(ClusterError) as e:
        token_client.token_client(doc, "the remote secret for m1")
    assert "not a kubeconfig of the shape appnet writes" in e.value.message


def test_token_tries_share_connections_only_with_the_same_server_and_ca(kubesim):
    from azext_appnet.kube.client import Unauthorized
    (sim,) = kubesim(1)
    clients = token_client.TokenClients(retry=None)
    try:
        admin = clients.client(_reader_doc(sim.pki.ca_pem, token=sim.admin_token, server=sim.url), "a")
        assert admin.request("GET", "/api/v1/namespaces/default")["metadata"]["name"] == "default"
        stranger = clients.client(_reader_doc(sim.pki.ca_pem, token="not-a-token", server=sim.url), "b")
        with pytest.raises(Unauthorized):        # the token is the request's, not the connection's
            stranger.request("GET", "/api/v1/namespaces/default")
        # Two tries with two tokens, one TLS connection (and one handshake) between them.
        assert admin._http.connection_from_url(sim.url).num_connections == 1
        # A kubeconfig that pins another CA for that server is never sent over that connection:
        # its own is verified against its CA, which did not sign the server's certificate.
        other_ca = clients.client(_reader_doc(_ca_pem(), token=sim.admin_token, server=sim.url), "c")
        with pytest.raises(ClusterError) as e:
            other_ca.request("GET", "/api/v1/namespaces/default")
        assert "certificate" in e.value.message
    finally:
        clients.close()

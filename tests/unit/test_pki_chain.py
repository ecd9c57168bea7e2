"""Workload certificates issued with a member's cacerts verify across the network, and only there.

Every chain is checked two independent ways: cryptography's RFC 5280 verifier and
`openssl verify -CAfile root.pem -untrusted intermediate.pem leaf.pem`.
"""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import VerificationError

from azext_appnet.errors import ConflictError
from azext_appnet.pki import NetworkPKI
from tests.fixtures import workload_certs as testing

NET1 = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.AppLink/appLinks/net1"
NET2 = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.AppLink/appLinks/net2"


def certs_of(pem):
    return x509.load_pem_x509_certificates(pem.encode())


def verifies(tmp_path, bundle_pem, intermediate_pem, leaf):
    """Both verifiers must agree; returns their common answer."""
    try:
        testing.verify_with_cryptography(leaf, certs_of(intermediate_pem), certs_of(bundle_pem))
        by_cryptography = True
    except VerificationError:
        by_cryptography = False
    by_openssl, output = testing.verify_with_openssl(bundle_pem, intermediate_pem, testing.pem_of(leaf),
                                                     str(tmp_path))
    assert by_cryptography == by_openssl, f"cryptography says {by_cryptography}, openssl says: {output}"
    return by_openssl


@pytest.fixture
def net1(tmp_path):
    pki = NetworkPKI(NET1, tmp_path / "keys")
    pki.create_root("net1 root CA")
    pki.ensure_intermediate("cluster-a")
    pki.ensure_intermediate("cluster-b")
    return pki


def test_spiffe_leaf_from_a_member_intermediate_verifies(tmp_path, net1):
    material = net1.cacerts("cluster-a")
    leaf = testing.issue_workload_cert(material, "shop", "checkout")

    assert leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
        .get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://cluster.local/ns/shop/sa/checkout"]
    assert leaf.cert.not_valid_after_utc - leaf.cert.not_valid_before_utc == datetime.timedelta(hours=24, minutes=2)
    chain = testing.verify_with_cryptography(leaf.cert, certs_of(material["ca-cert.pem"]),
                                             certs_of(material["root-cert.pem"]))
    assert [c.subject.rfc4514_string() for c in chain[1:]] == [
        "CN=cluster-a intermediate CA,L=cluster-a,OU=net1,O=appnet", "CN=net1 root CA,OU=net1,O=appnet"]
    ok, output = testing.verify_with_openssl(material["root-cert.pem"], material["ca-cert.pem"],
                                             testing.pem_of(leaf.cert), str(tmp_path))
    assert ok, output
    ok, output = testing.verify_with_openssl(material["root-cert.pem"], material["ca-cert.pem"],
                                             testing.pem_of(leaf.cert), str(tmp_path),
                                             ["-x509_strict", "-purpose", "sslclient"])
    assert ok, output


def test_leaf_of_one_member_verifies_in_another_member_of_the_same_network(tmp_path, net1):
    # Cluster B's istiod/ztunnel only has B's root-cert.pem; A's workload sends its chain.
    leaf = testing.issue_workload_cert(net1.cacerts("cluster-a"), "shop", "checkout")
    trust_in_b = net1.cacerts("cluster-b")["root-cert.pem"]
    assert verifies(tmp_path, trust_in_b, net1.cacerts("cluster-a")["ca-cert.pem"], leaf.cert)


def test_leaf_of_another_network_does_not_verify(tmp_path, net1):
    other = NetworkPKI(NET2, tmp_path / "keys")
    other.create_root("net2 root CA")
    other.ensure_intermediate("cluster-a")  # same member name, different network
    foreign = other.cacerts("cluster-a")
    leaf = testing.issue_workload_cert(foreign, "shop", "checkout")

    assert verifies(tmp_path, foreign["root-cert.pem"], foreign["ca-cert.pem"], leaf.cert)  # sanity
    assert not verifies(tmp_path, net1.root_pem(), foreign["ca-cert.pem"], leaf.cert)
    # Nor with net1's own intermediate offered as the untrusted chain.
    assert not verifies(tmp_path, net1.root_pem(), net1.cacerts("cluster-a")["ca-cert.pem"], leaf.cert)


def test_cacerts_is_what_istiod_expects(net1):
    material = net1.cacerts("cluster-a")
    assert set(material) == {"ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem"}
    ca_cert = certs_of(material["ca-cert.pem"])
    assert len(ca_cert) == 1
    assert material["root-cert.pem"] == net1.root_pem()
    # cert-chain.pem: the intermediate, then the root it chains to (as tools/certs writes it).
    assert certs_of(material["cert-chain.pem"]) == ca_cert + certs_of(net1.root_pem())
    # ca-key.pem parses and matches ca-cert.pem (istiod's tls.X509KeyPair check).
    assert material["ca-key.pem"].startswith("-----BEGIN PRIVATE" " KEY-----")
    key = serialization.load_pem_private_key(material["ca-key.pem"].encode(), password=None)
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key.public_key().public_bytes(*spki) == ca_cert[0].public_key().public_bytes(*spki)
    # Each member has its own intermediate key.
    assert net1.cacerts("cluster-b")["ca-key.pem"] != material["ca-key.pem"]


def test_rotating_an_intermediate_keeps_old_leaves_valid(tmp_path, net1):
    old = net1.cacerts("cluster-a")
    old_leaf = testing.issue_workload_cert(old, "shop", "checkout")

    info = net1.rotate_intermediate("cluster-a")
    new = net1.cacerts("cluster-a")
    new_leaf = testing.issue_workload_cert(new, "shop", "checkout")

    assert new["ca-cert.pem"] == info["certificatePem"] != old["ca-cert.pem"]
    assert new["ca-key.pem"] != old["ca-key.pem"]
    assert new["root-cert.pem"] == old["root-cert.pem"]  # root unchanged: istiod reloads, no restarts
    assert verifies(tmp_path, new["root-cert.pem"], new["ca-cert.pem"], new_leaf.cert)
    # A workload not yet re-issued still presents the old intermediate in its chain.
    assert verifies(tmp_path, new["root-cert.pem"], old["ca-cert.pem"], old_leaf.cert)


def test_root_rotation_follows_the_multi_root_procedure(tmp_path, net1):
    before = net1.cacerts("cluster-a")
    old_root_pem = net1.root_pem()
    old_leaf = testing.issue_workload_cert(before, "shop", "checkout")

    # Step 1: trust both roots, keep the old intermediate.
    new_root = net1.rotate_root()
    step1 = net1.cacerts("cluster-a")
    assert certs_of(step1["root-cert.pem"]) == certs_of(old_root_pem) + certs_of(new_root["certificatePem"])
    assert step1["ca-cert.pem"] == before["ca-cert.pem"]
    assert net1.rotate_root() == new_root  # resumed operation: no second rotation
    assert net1.describe()["rootRotationInProgress"] is True
    # The old root cannot be dropped while intermediates still chain to it.
    with pytest.raises(ConflictError) as err:
        net1.finish_root_rotation()
    assert "cluster-a" in err.value.message and "cluster-b" in err.value.message

    # Step 2: new intermediates, signed by the new root; both roots still trusted.
    for member in ("cluster-a", "cluster-b"):
        net1.rotate_intermediate(member)
    step2 = net1.cacerts("cluster-a")
    assert certs_of(step2["cert-chain.pem"])[1] == certs_of(new_root["certificatePem"])[0]
    new_leaf = testing.issue_workload_cert(step2, "shop", "checkout")
    bundle = step2["root-cert.pem"]
    assert verifies(tmp_path, bundle, step2["ca-cert.pem"], new_leaf.cert)
    assert verifies(tmp_path, bundle, before["ca-cert.pem"], old_leaf.cert)
    # Cross-member during overlap: B (new intermediate) and A's old leaf.
    assert verifies(tmp_path, net1.cacerts("cluster-b")["root-cert.pem"], before["ca-cert.pem"], old_leaf.cert)

    # Step 3: only the new root.
    net1.finish_root_rotation()
    final = net1.cacerts("cluster-a")
    assert certs_of(final["root-cert.pem"]) == certs_of(new_root["certificatePem"])
    assert net1.describe()["rootRotationInProgress"] is False
    assert verifies(tmp_path, final["root-cert.pem"], final["ca-cert.pem"], new_leaf.cert)
    assert not verifies(tmp_path, final["root-cert.pem"], before["ca-cert.pem"], old_leaf.cert)

"""The root and intermediate certificates, field by field, against the rules of issue 4."""

import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID, NameOID, SignatureAlgorithmOID

from azext_appnet.errors import ConflictError, InvalidInputError
from azext_appnet.pki import KEY_TYPES, NetworkPKI
from tests.fixtures import workload_certs as testing
from tests.unit.pki_support import NET, T0


def load(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_root_is_a_self_signed_ca_naming_the_network(tmp_path, clock):
    info = NetworkPKI(NET, tmp_path, clock=clock).create_root("net1 root CA")
    root = load(info["certificatePem"])

    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "net1 root CA"
    assert root.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "net1"
    assert root.issuer == root.subject
    root.verify_directly_issued_by(root)  # self-signed: its own key verifies it

    bc = ext(root, x509.BasicConstraints)
    assert bc.critical and bc.value.ca is True and bc.value.path_length is None
    ku = ext(root, x509.KeyUsage)
    assert ku.critical
    assert ku.value.key_cert_sign and ku.value.crl_sign
    assert not (ku.value.digital_signature or ku.value.key_encipherment or ku.value.content_commitment)
    with pytest.raises(x509.ExtensionNotFound):
        ext(root, x509.ExtendedKeyUsage)
    ski = ext(root, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(root.public_key())
    assert ext(root, x509.AuthorityKeyIdentifier).value.key_identifier == ski.digest

    assert root.not_valid_before_utc == T0 - datetime.timedelta(minutes=5)
    assert root.not_valid_after_utc - root.not_valid_before_utc == datetime.timedelta(days=365)
    assert root.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey)


def test_root_info_dict_describes_the_certificate(tmp_path, clock):
    info = NetworkPKI(NET, tmp_path, clock=clock).create_root("net1 root CA")
    root = load(info["certificatePem"])

    assert set(info) >= {"certificatePem", "subject", "serialNumber", "notBefore", "notAfter", "rotateAfter",
                         "sha256Fingerprint", "keyType", "keyLocation", "keyId"}
    assert info["subject"] == "CN=net1 root CA,OU=net1,O=appnet"
    assert info["serialNumber"] == format(root.serial_number, "X")
    assert info["notBefore"] == iso(root.not_valid_before_utc)
    assert info["notAfter"] == iso(root.not_valid_after_utc)
    # Due for rotation at half of 12 months.
    assert info["rotateAfter"] == iso(root.not_valid_before_utc + datetime.timedelta(days=182, hours=12))
    assert info["sha256Fingerprint"] == root.fingerprint(hashes.SHA256()).hex(":").upper()
    assert info["keyType"] == "ec-p256"
    assert info["keyLocation"] == "local"
    assert info["keyId"].startswith("local:") and info["keyId"].endswith(".key.pem")
    assert json.loads(json.dumps(info)) == info


def test_intermediate_is_a_path_length_zero_ca_without_eku(tmp_path, clock):
    pki = NetworkPKI(NET, tmp_path, clock=clock)
    root = load(pki.create_root("net1 root CA")["certificatePem"])
    info = pki.ensure_intermediate("cluster-a")
    inter = load(info["certificatePem"])

    assert inter.issuer == root.subject
    inter.verify_directly_issued_by(root)
    assert inter.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)[0].value == "cluster-a"

    bc = ext(inter, x509.BasicConstraints)
    assert bc.critical and bc.value.ca is True and bc.value.path_length == 0
    ku = ext(inter, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not (ku.value.digital_signature or ku.value.key_encipherment)
    # Go's x509.Verify (istiod) requires ServerAuth-compatible EKU along the chain: none at all.
    assert ExtensionOID.EXTENDED_KEY_USAGE not in [e.oid for e in inter.extensions]
    assert ext(inter, x509.SubjectKeyIdentifier).value == x509.SubjectKeyIdentifier.from_public_key(
        inter.public_key())
    assert ext(inter, x509.AuthorityKeyIdentifier).value.key_identifier == \
        ext(root, x509.SubjectKeyIdentifier).value.digest
    san = ext(inter, x509.SubjectAlternativeName)
    assert not san.critical
    assert san.value.get_values_for_type(x509.DNSName) == ["istiod.applink-system.svc"]
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == []

    assert inter.not_valid_before_utc == T0 - datetime.timedelta(minutes=5)
    assert inter.not_valid_after_utc - inter.not_valid_before_utc == datetime.timedelta(days=90)
    assert info["rotateAfter"] == iso(inter.not_valid_before_utc + datetime.timedelta(days=45))
    assert info["member"] == "cluster-a"
    assert info["keyType"] == "ec-p256"


def test_intermediate_never_outlives_the_root(tmp_path, clock):
    pki = NetworkPKI(NET, tmp_path, clock=clock)
    root = load(pki.create_root("net1 root CA")["certificatePem"])
    clock.now = T0 + datetime.timedelta(days=330)  # 35 days of root validity left
    inter = load(pki.ensure_intermediate("cluster-a")["certificatePem"])

    assert inter.not_valid_after_utc == root.not_valid_after_utc
    assert inter.not_valid_after_utc - inter.not_valid_before_utc < datetime.timedelta(days=90)


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_every_key_type_gives_a_chain_that_verifies(tmp_path, key_type):
    pki = NetworkPKI(NET, tmp_path)
    info = pki.create_root("net1 root CA", key_type=key_type)
    pki.ensure_intermediate("cluster-a")
    material = pki.cacerts("cluster-a")
    root, inter = load(info["certificatePem"]), load(material["ca-cert.pem"])

    for cert in (root, inter):
        key = cert.public_key()
        if key_type == "ec-p256":
            assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
            assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
        else:
            assert isinstance(key, rsa.RSAPublicKey) and key.key_size == int(key_type[4:])
            assert cert.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    assert info["keyType"] == key_type

    leaf = testing.issue_workload_cert(material, "default", "sleep")
    testing.verify_with_cryptography(leaf.cert, [inter], [root])
    ok, output = testing.verify_with_openssl(material["root-cert.pem"], material["ca-cert.pem"],
                                             testing.pem_of(leaf.cert), str(tmp_path), ["-x509_strict"])
    assert ok, output


def test_unknown_key_type_is_refused_with_the_list_of_valid_ones(tmp_path):
    with pytest.raises(InvalidInputError) as err:
        NetworkPKI(NET, tmp_path).create_root("net1 root CA", key_type="ed25519")
    assert "ed25519" in err.value.message
    assert "ec-p256" in err.value.recommendation and "rsa-4096" in err.value.recommendation


def test_create_root_is_idempotent_and_refuses_a_different_key_type(tmp_path):
    pki = NetworkPKI(NET, tmp_path)
    first = pki.create_root("net1 root CA")
    again = NetworkPKI(NET, tmp_path).create_root("net1 root CA")
    assert again == first
    with pytest.raises(ConflictError) as err:
        pki.create_root("net1 root CA", key_type="rsa-2048")
    assert "ec-p256" in err.value.message

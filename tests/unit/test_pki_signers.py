"""Certificates signed through the Signer interface, as a remote (Key Vault style) signer does."""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import NameOID

from azext_appnet.errors import KeyStoreError
from azext_appnet.pki.signers import Signer, raw_ecdsa_to_der, sign_certificate


class RemoteLikeSigner(Signer):
    """Signs digests the way Key Vault answers: ES256 as raw r||s, RS256 as PKCS#1 v1.5."""

    location = "keyvault"
    key_id = "https://vault.example/keys/root/1"

    def __init__(self, key, key_type, tamper=False):
        self._key, self.key_type, self._tamper = key, key_type, tamper
        self.digests = []

    def public_key(self):
        return self._key.public_key()

    def sign_digest(self, digest):
        self.digests.append(digest)
        if self._tamper:
            digest = bytes(32)
        prehashed = utils.Prehashed(hashes.SHA256())
        if self.key_type == "ec-p256":
            r, s = utils.decode_dss_signature(self._key.sign(digest, ec.ECDSA(prehashed)))
            return raw_ecdsa_to_der(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        return self._key.sign(digest, padding.PKCS1v15(), prehashed)


def builder_for(public_key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "remote root")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public_key)
            .serial_number(12345).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))


@pytest.mark.parametrize("key_type", ["ec-p256", "rsa-2048"])
def test_remote_signature_is_assembled_into_a_valid_certificate(key_type):
    key = ec.generate_private_key(ec.SECP256R1()) if key_type == "ec-p256" else rsa.generate_private_key(65537, 2048)
    signer = RemoteLikeSigner(key, key_type)
    cert = sign_certificate(builder_for(key.public_key()), signer)

    cert.verify_directly_issued_by(cert)
    # Exactly one digest was sent to the "vault": the SHA-256 of the final TBSCertificate.
    digest = hashes.Hash(hashes.SHA256())
    digest.update(cert.tbs_certificate_bytes)
    assert signer.digests == [digest.finalize()]
    assert cert.serial_number == 12345
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()


def test_a_bad_remote_signature_is_caught_before_anyone_uses_the_certificate():
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(KeyStoreError) as err:
        sign_certificate(builder_for(key.public_key()), RemoteLikeSigner(key, "ec-p256", tamper=True))
    assert "does not verify" in err.value.message
    assert "vault.example/keys/root/1" in err.value.message


def test_raw_ecdsa_signature_is_converted_to_der():
    r, s = 2**255 + 7, 1  # leading zero handling on both sides
    der = raw_ecdsa_to_der(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    assert utils.decode_dss_signature(der) == (r, s)

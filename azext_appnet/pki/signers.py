"""Signers: the one way certificates get signed, whether the key is here or in Key Vault.

A `Signer` only has to produce a signature over a SHA-256 digest. `sign_certificate`
turns any signer into an X.509 certificate without ever touching the private key:

1. build the certificate with a throwaway key of the same type, so that cryptography
   writes a TBSCertificate naming the right signature algorithm (the TBS does not depend
   on the signing key itself: the AuthorityKeyIdentifier is set by the caller from the
   real issuer's public key);
2. have the real signer sign the digest of those TBS bytes;
3. assemble `SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING signature }` by hand.

Local keys go through the same path on purpose: every test of a local CA also exercises
the code that signs with Key Vault.
"""

import abc
import hashlib
import threading

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from ..errors import KeyStoreError


class Signer(abc.ABC):
    """Something that signs SHA-256 digests with a CA key and says nothing about the key."""

    #: One of policy.KEY_TYPES.
    key_type = None
    #: "local" or "keyvault".
    location = None
    #: Where the key lives (a Key Vault key id or a local reference); never key material.
    key_id = None

    @abc.abstractmethod
    def public_key(self):
        """The public key (a cryptography public key object)."""

    @abc.abstractmethod
    def sign_digest(self, digest):
        """Sign a SHA-256 digest; return the signature as X.509 carries it.

        That is a DER ECDSA-Sig-Value for EC keys and a PKCS#1 v1.5 signature for RSA keys.
        """

    def __repr__(self):
        return f"{type(self).__name__}(key_type={self.key_type!r}, key_id={self.key_id!r})"


class LocalSigner(Signer):
    """A private key held in this process (loaded from the local key store)."""

    location = "local"

    def __init__(self, private_key, key_type, key_id):
        self._private_key = private_key
        self.key_type = key_type
        self.key_id = key_id

    def public_key(self):
        return self._private_key.public_key()

    def sign_digest(self, digest):
        prehashed = utils.Prehashed(hashes.SHA256())
        if isinstance(self._private_key, ec.EllipticCurvePrivateKey):
            return self._private_key.sign(digest, ec.ECDSA(prehashed))
        return self._private_key.sign(digest, padding.PKCS1v15(), prehashed)


def generate_private_key(key_type):
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type.startswith("rsa-"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[4:]))
    raise ValueError(f"unknown key type {key_type!r}")


def key_type_of(public_key):
    if isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name == "secp256r1":
        return "ec-p256"
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size in (2048, 3072, 4096):
        return f"rsa-{public_key.key_size}"
    raise KeyStoreError("A CA key is of a type appnet does not use (expected EC P-256 or RSA 2048/3072/4096).")


# The throwaway keys only decide the signature algorithm written into the TBS
# (ecdsa-with-SHA256 or sha256WithRSAEncryption, whatever the RSA size), so one of each
# family per process is enough; generating an RSA key per certificate would be slow.
_throwaway = {}
_throwaway_lock = threading.Lock()


def _throwaway_key(key_type):
    family = "ec" if key_type.startswith("ec-") else "rsa"
    with _throwaway_lock:
        if family not in _throwaway:
            _throwaway[family] = generate_private_key("ec-p256" if family == "ec" else "rsa-2048")
        return _throwaway[family]


def _der_length(n):
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag, content):
    return bytes([tag]) + _der_length(len(content)) + content


def _der_elements(data):
    """Split the content of a DER SEQUENCE into its top-level elements (tag+length+value)."""
    out, i = [], 0
    while i < len(data):
        start = i
        i += 1  # tag: certificates only use single-byte tags at this level
        first = data[i]
        i += 1
        if first & 0x80:
            count = first & 0x7F
            length = int.from_bytes(data[i:i + count], "big")
            i += count
        else:
            length = first
        i += length
        out.append(data[start:i])
    return out


def _sequence_content(der):
    if der[0] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    header = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)
    return der[header:]


def sign_certificate(builder, signer):
    """Sign a CertificateBuilder with `signer`; return the certificate.

    The result is checked against the signer's public key before it is returned, so a
    wrong key version in Key Vault or a malformed signature fails here, not in istiod.
    """
    draft = builder.sign(_throwaway_key(signer.key_type), hashes.SHA256())
    tbs = draft.tbs_certificate_bytes
    elements = _der_elements(_sequence_content(draft.public_bytes(serialization.Encoding.DER)))
    # cannot happen with a well-formed certificate; never sign bytes we did not check
    if len(elements) != 3 or elements[0] != tbs:
        raise KeyStoreError("Internal error: could not locate the TBSCertificate in the draft certificate.")
    algorithm_identifier = elements[1]

    signature = signer.sign_digest(hashlib.sha256(tbs).digest())
    der = _der(0x30, tbs + algorithm_identifier + _der(0x03, b"\x00" + signature))
    cert = x509.load_der_x509_certificate(der)
    try:
        _verify(signer.public_key(), cert)
    except InvalidSignature:
        raise KeyStoreError(
            f"The signature made with CA key {signer.key_id} does not verify with its public key.",
            recommendation="Check that the key has not been replaced or re-versioned outside appnet.",
        ) from None
    return cert


def sign_crl(builder, signer):
    """Sign a CertificateRevocationListBuilder with `signer`, as `sign_certificate` does a
    certificate: a CertificateList has the same outer shape (TBS, algorithm, signature)."""
    draft = builder.sign(_throwaway_key(signer.key_type), hashes.SHA256())
    tbs = draft.tbs_certlist_bytes
    elements = _der_elements(_sequence_content(draft.public_bytes(serialization.Encoding.DER)))
    if len(elements) != 3 or elements[0] != tbs:
        raise KeyStoreError("Internal error: could not locate the TBSCertList in the draft CRL.")
    algorithm_identifier = elements[1]
    signature = signer.sign_digest(hashlib.sha256(tbs).digest())
    crl = x509.load_der_x509_crl(_der(0x30, tbs + algorithm_identifier + _der(0x03, b"\x00" + signature)))
    if not crl.is_signature_valid(signer.public_key()):
        raise KeyStoreError(
            f"The revocation list signed with CA key {signer.key_id} does not verify with its public key.",
            recommendation="Check that the key has not been replaced or re-versioned outside appnet.")
    return crl


def _verify(public_key, cert):
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    else:
        public_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())


def raw_ecdsa_to_der(raw):
    """Key Vault returns ES256 signatures as raw r||s (JWS style); X.509 wants DER."""
    half = len(raw) // 2
    return utils.encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

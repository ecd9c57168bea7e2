"""Certificate builders for the network's CAs, and their public description.

What each certificate must carry comes from what istiod and Go's x509 check
(reference §9.2): CA:TRUE, keyCertSign, and no ExtendedKeyUsage on a CA, because Go
verifies the chain with the default ServerAuth usage and rejects a CA whose EKU excludes it.
"""

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from . import policy
from .signers import key_type_of, sign_certificate, sign_crl

_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False, content_commitment=False, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
    encipher_only=False, decipher_only=False,
)


def _name(*parts):
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts if value])


def _cn(text):
    # X.509 caps a CN at 64 characters (ub-common-name); longer names are cut, not refused.
    return text[:64]


def build_root(signer, network_name, common_name, now):
    """A self-signed root CA for one Application Network, signed by `signer`."""
    subject = _name(
        (NameOID.ORGANIZATION_NAME, policy.SUBJECT_ORGANIZATION),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, _cn(network_name)),
        (NameOID.COMMON_NAME, _cn(common_name)),
    )
    not_before = now - policy.CLOCK_SKEW
    public_key = signer.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + policy.ROOT_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
    )
    return sign_certificate(builder, signer)


def build_intermediate(root_signer, root_cert, public_key, network_name, member_name, now):
    """An intermediate CA for one member cluster: what istiod signs workload certificates with.

    Valid 90 days, but never past the root: a chain is only as valid as its shortest link,
    and a CA that outlives its issuer would look healthy in `ca show` while failing in the mesh.
    """
    not_before = now - policy.CLOCK_SKEW
    not_after = min(not_before + policy.INTERMEDIATE_LIFETIME, root_cert.not_valid_after_utc)
    subject = _name(
        (NameOID.ORGANIZATION_NAME, policy.SUBJECT_ORGANIZATION),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, _cn(network_name)),
        (NameOID.LOCALITY_NAME, _cn(member_name)),  # tools/certs puts the cluster in L=
        (NameOID.COMMON_NAME, _cn(f"{member_name} intermediate CA")),
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_signer.public_key()), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(policy.INTERMEDIATE_DNS_SAN)]), critical=False)
    )
    cert = sign_certificate(builder, root_signer)
    cert.verify_directly_issued_by(root_cert)
    return cert


def build_crl(root_signer, root_cert, revoked, number, last_update):
    """The root's revocation list: `revoked` is [(serial number, revocation time)]. It is
    valid until the root expires (nothing reissues it on a schedule), and names the root by
    its key (AuthorityKeyIdentifier), as verifiers match a CRL to its issuer."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root_cert.subject)
        .last_update(last_update)
        .next_update(root_cert.not_valid_after_utc)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_signer.public_key()), critical=False)
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
            .add_extension(x509.CRLReason(x509.ReasonFlags.cessation_of_operation), critical=False)
            .build())
    return sign_crl(builder, root_signer)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def load_pem_chain(text):
    return x509.load_pem_x509_certificates(text.encode("ascii"))


def _iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fingerprint(cert):
    # Same format as `openssl x509 -noout -fingerprint -sha256`, so users can compare.
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def describe(cert, key_location, key_id, now=None):
    """The public facts about a CA certificate, as a JSON-serialisable camelCase dict."""
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    rotate = policy.rotate_after(nb, na)
    info = {
        "certificatePem": pem(cert),
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serialNumber": format(cert.serial_number, "X"),
        "notBefore": _iso(nb),
        "notAfter": _iso(na),
        "rotateAfter": _iso(rotate),
        "sha256Fingerprint": fingerprint(cert),
        "keyType": key_type_of(cert.public_key()),
        "keyLocation": key_location,
        "keyId": key_id,
    }
    if now is not None:
        info["rotationDue"] = now >= rotate
        info["expired"] = now >= na
    return info

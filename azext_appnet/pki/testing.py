"""Test helpers: issue workload certificates the way istiod does.

Not used by the extension itself. Tests (ours and the operations layer's) use it to prove
that what `NetworkPKI.cacerts()` hands to istiod really issues SPIFFE certificates that the
other clusters of the network accept. It mirrors istiod's CA (reference §9.4): SPIFFE URI
SAN (critical, as the subject is empty), KeyUsage digitalSignature + keyEncipherment, EKU
serverAuth + clientAuth, CA:FALSE, notBefore = now - 2 min, notAfter = now + TTL, and the
response chain = leaf + `cert-chain.pem`.
"""

import collections
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from . import policy
from .signers import generate_private_key

WorkloadCert = collections.namedtuple("WorkloadCert", "cert key chain_pem spiffe_id")


def spiffe_id(namespace, service_account, trust_domain=policy.TRUST_DOMAIN):
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"


def issue_workload_cert(cacerts, namespace, service_account, *, ttl=policy.WORKLOAD_LIFETIME, now=None,
                        key_type="ec-p256", trust_domain=policy.TRUST_DOMAIN):
    """Sign a workload certificate with the intermediate in `cacerts` (a `NetworkPKI.cacerts()` dict)."""
    ca_cert = x509.load_pem_x509_certificate(cacerts["ca-cert.pem"].encode())
    ca_key = serialization.load_pem_private_key(cacerts["ca-key.pem"].encode(), password=None)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    key = generate_private_key(key_type)
    identity = spiffe_id(namespace, service_account, trust_domain)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=2))
        .not_valid_after(now + ttl)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=True, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
        ), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]), critical=True)
    )
    cert = builder.sign(ca_key, hashes.SHA256())
    chain = cert.public_bytes(serialization.Encoding.PEM).decode() + cacerts["cert-chain.pem"]
    return WorkloadCert(cert, key, chain, identity)


def verify_with_cryptography(leaf, intermediates, roots, now=None):
    """Verify `leaf` to one of `roots` with cryptography's RFC 5280 path builder.

    Returns the verified chain (leaf first); raises
    `cryptography.x509.verification.VerificationError` when it does not verify. A client
    verifier is used because workload certificates carry a SPIFFE URI, not a DNS name.
    """
    from cryptography.x509.verification import PolicyBuilder, Store

    verifier = (PolicyBuilder().store(Store(list(roots)))
                .time(now or datetime.datetime.now(datetime.timezone.utc))
                .build_client_verifier())
    return verifier.verify(leaf, list(intermediates)).chain


def verify_with_openssl(root_pem, intermediate_pem, leaf_pem, workdir, extra_args=()):
    """`openssl verify -CAfile root.pem -untrusted intermediate.pem leaf.pem`; returns (ok, output)."""
    import os
    import subprocess

    paths = {}
    for name, text in (("root.pem", root_pem), ("intermediate.pem", intermediate_pem), ("leaf.pem", leaf_pem)):
        paths[name] = os.path.join(workdir, name)
        with open(paths[name], "w") as handle:
            handle.write(text)
    proc = subprocess.run(
        ["openssl", "verify", *extra_args, "-CAfile", paths["root.pem"], "-untrusted", paths["intermediate.pem"],
         paths["leaf.pem"]],
        capture_output=True, text=True, check=False)
    output = (proc.stdout + proc.stderr).strip()
    return proc.returncode == 0 and output.endswith(": OK"), output


def pem_of(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()

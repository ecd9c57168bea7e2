"""Per-cluster certificate authority and serving certificate, generated at run time.

EC P-256 keys: generating them takes milliseconds, so every KubeSim gets its own CA without
slowing tests. Nothing here is ever written to the repository.
"""
import datetime
import ipaddress
import os
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class ClusterPKI:
    def __init__(self, cluster_name):
        now = datetime.datetime.now(datetime.timezone.utc)
        start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=30)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name("kubesim-ca-%s" % cluster_name)
        self.ca_cert = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
            .public_key(self.ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(self.ca_key, hashes.SHA256()))
        self.server_key = ec.generate_private_key(ec.SECP256R1())
        # SANs cover what clients dial: 127.0.0.1 (kubeconfig), localhost, and the names an
        # in-cluster client would use.
        sans = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost"),
                x509.DNSName("kubernetes"), x509.DNSName("kubernetes.default.svc"),
                x509.DNSName("kubernetes.default.svc.cluster.local")]
        self.server_cert = (
            x509.CertificateBuilder().subject_name(_name("kube-apiserver"))
            .issuer_name(ca_name).public_key(self.server_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(self.ca_key, hashes.SHA256()))
        # A separate key signs ServiceAccount JWTs, like the apiserver's service-account key.
        self.sa_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_pem = self.ca_cert.public_bytes(serialization.Encoding.PEM)

    def ssl_context(self):
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # ssl can only load certificates from files: write them to a private temp dir,
        # load, and remove at once.
        d = tempfile.mkdtemp(prefix="kubesim-tls-")
        cert, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
        try:
            with open(cert, "wb") as f:
                f.write(self.server_cert.public_bytes(serialization.Encoding.PEM) + self.ca_pem)
            fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(_pem_key(self.server_key))
            ctx.load_cert_chain(cert, key)
        finally:
            for p in (cert, key):
                if os.path.exists(p):
                    os.unlink(p)
            os.rmdir(d)
        ctx.set_alpn_protocols(["http/1.1"])  # no h2: Go clients would otherwise try it
        return ctx

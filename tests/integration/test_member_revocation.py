"""Removing a member revokes its intermediate CA on every member that stays.

The revocation list is taken from the `cacerts` Secret actually on a remaining cluster and
checked with openssl. openssl (like BoringSSL with CRL_CHECK_ALL) wants a CRL from every CA of
a chain; ztunnel accepts an unknown status and checks the whole chain. So each leaf is given,
besides the network's list, an empty CRL signed by its own intermediate: what a member's own
key can vouch for. The removed member's leaf fails even so, at depth 1, as revoked by the root.
"""

import base64
import datetime
import os
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from azext_appnet.manifests.istiod import CACERTS_HASH_ANNOTATION
from tests.fixtures.workload_certs import issue_workload_cert, pem_of
from tests.integration.conftest import join

NS = "applink-system"


def _cacerts(sim):
    data = sim.get_object("v1", "secrets", NS, "cacerts")["data"]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def _own_empty_crl(cacerts):
    ca = x509.load_pem_x509_certificate(cacerts["ca-cert.pem"].encode())
    key = serialization.load_pem_private_key(cacerts["ca-key.pem"].encode(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject).last_update(now)
           .next_update(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return crl.public_bytes(serialization.Encoding.PEM).decode()


def _openssl(workdir, *args, **files):
    for name, text in files.items():
        with open(os.path.join(workdir, name), "w") as handle:
            handle.write(text)
    proc = subprocess.run(["openssl", "verify", *args], cwd=workdir, capture_output=True, text=True, check=False)
    out = (proc.stdout + proc.stderr).strip()
    return proc.returncode == 0 and out.endswith(": OK"), out


def _leaf_verdict(workdir, trusted, network_crl, issuer_cacerts):
    leaf = issue_workload_cert(issuer_cacerts, "default", "app")
    return _openssl(str(workdir), "-crl_check_all", "-CAfile", "root.pem", "-CRLfile", "crl.pem",
                    "-untrusted", "inter.pem", "leaf.pem",
                    **{"root.pem": trusted, "crl.pem": network_crl + _own_empty_crl(issuer_cacerts),
                       "inter.pem": issuer_cacerts["ca-cert.pem"], "leaf.pem": pem_of(leaf.cert)})


def test_remove_publishes_a_root_signed_crl_to_every_remaining_member(engine, network, clusters, tmp_path):
    east, west, north = clusters(3)
    for sim, name in ((east, "east"), (west, "west"), (north, "north")):
        join(engine, sim, name)
    north_cacerts = _cacerts(north)  # what a compromised cluster keeps
    assert "ca-crl.pem" not in _cacerts(east)
    hash_before = east.get_object("apps/v1", "deployments", NS, "istiod")["spec"]["template"]["metadata"][
        "annotations"][CACERTS_HASH_ANNOTATION]

    engine.remove_member("rg1", "net-01", "north")

    for sim in (east, west):
        here = _cacerts(sim)
        crl = x509.load_pem_x509_crl(here["ca-crl.pem"].encode())
        root = x509.load_pem_x509_certificate(here["root-cert.pem"].encode())
        assert crl.issuer == root.subject and crl.is_signature_valid(root.public_key())
        revoked_serial = x509.load_pem_x509_certificate(north_cacerts["ca-cert.pem"].encode()).serial_number
        assert crl.get_revoked_certificate_by_serial_number(revoked_serial) is not None
    # istiod rolls, so it loads the list (it looks for ca-crl.pem when it starts).
    assert east.get_object("apps/v1", "deployments", NS, "istiod")["spec"]["template"]["metadata"][
        "annotations"][CACERTS_HASH_ANNOTATION] != hash_before

    east_cacerts = _cacerts(east)
    trusted, network_crl = east_cacerts["root-cert.pem"], east_cacerts["ca-crl.pem"]
    ok, out = _leaf_verdict(tmp_path, trusted, network_crl, north_cacerts)
    assert not ok and "error 23 at 1 depth lookup: certificate revoked" in out, out
    ok, out = _leaf_verdict(tmp_path, trusted, network_crl, _cacerts(west))
    assert ok, out
    # With the network's list alone, openssl refuses the removed intermediate itself and not
    # a remaining one: the check ztunnel makes at that depth.
    ok, out = _openssl(str(tmp_path), "-crl_check", "-CAfile", "root.pem", "-CRLfile", "crl.pem", "inter.pem",
                       **{"root.pem": trusted, "crl.pem": network_crl, "inter.pem": north_cacerts["ca-cert.pem"]})
    assert not ok and "certificate revoked" in out, out
    ok, out = _openssl(str(tmp_path), "-crl_check", "-CAfile", "root.pem", "-CRLfile", "crl.pem", "inter.pem",
                       **{"root.pem": trusted, "crl.pem": network_crl, "inter.pem": east_cacerts["ca-cert.pem"]})
    assert ok, out

    report = engine.check_network("rg1", "net-01")
    failed = [(r["member"], c["name"], c["message"]) for r in report["members"] for c in r["checks"]
              if c["status"] == "Failed"] + [c["name"] for c in report["checks"] if c["status"] == "Failed"]
    assert failed == [], failed

    shown = engine.show_ca("rg1", "net-01")
    (revoked,) = shown["revokedIntermediates"]
    assert revoked["member"] == "north"
    assert int(revoked["serialNumber"], 16) == revoked_serial
    assert [i["member"] for i in shown["intermediates"]] == ["east", "west"]


def test_a_member_joining_after_a_removal_gets_the_crl(engine, network, clusters):
    east, north, south = clusters(3)
    join(engine, east, "east")
    join(engine, north, "north")
    engine.remove_member("rg1", "net-01", "north")
    join(engine, south, "south")
    assert _cacerts(south)["ca-crl.pem"] == _cacerts(east)["ca-crl.pem"]


def test_remove_with_rotate_root_starts_a_root_rotation(engine, network, clusters):
    east, west, north = clusters(3)
    for sim, name in ((east, "east"), (west, "west"), (north, "north")):
        join(engine, sim, name)
    old_root = engine.show_ca("rg1", "net-01")["roots"][0]["sha256Fingerprint"]
    result = engine.remove_member("rg1", "net-01", "north", rotate_root=True)
    assert result["properties"]["operation"]["name"] == "rotateRoot"
    assert result["properties"]["provisioningState"] == "Succeeded"
    assert [m["name"] for m in engine.list_members("rg1", "net-01")] == ["east", "west"]
    shown = engine.show_ca("rg1", "net-01")
    assert shown["rootRotationInProgress"] and shown["roots"][0]["sha256Fingerprint"] == old_root
    assert all(i["signedByActiveRoot"] for i in shown["intermediates"])
    assert [r["member"] for r in shown["revokedIntermediates"]] == ["north"]  # the old root is still trusted
    assert "ca-crl.pem" in _cacerts(east)
    engine.finish_root_rotation("rg1", "net-01")
    shown = engine.show_ca("rg1", "net-01")
    # The root that signed north's intermediate is no longer trusted at all: nothing left to list.
    assert shown["revokedIntermediates"] == [] and len(shown["roots"]) == 1
    assert "ca-crl.pem" not in _cacerts(east)

"""CA commands through the engine, against emulated clusters: ca show, member rotate-ca,
ca rotate / ca finish-rotation (Istio's multi-root procedure, reference §9.5).

Workload certificates are issued the way istiod does, from the `cacerts` Secret actually in
each cluster, and verified with openssl against the trust bundle actually in each cluster.
"""

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from azext_appnet.errors import ClusterError, ConflictError, NotFoundError, UsageError
from azext_appnet.manifests.istiod import CACERTS_HASH_ANNOTATION, cacerts_hash
from tests.fixtures.workload_certs import issue_workload_cert, pem_of, verify_with_openssl
from tests.integration.conftest import join

NS = "applink-system"


def _cacerts(sim):
    data = sim.get_object("v1", "secrets", NS, "cacerts")["data"]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def _istiod(sim):
    return sim.get_object("apps/v1", "deployments", NS, "istiod")


def _fingerprint(cert):
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _roots(pem):
    return x509.load_pem_x509_certificates(pem.encode())


def _verifies(bundle, leaf, tmp_path):
    """openssl verify of a workload leaf against a cluster's trust bundle; the leaf's own
    chain (leaf + cert-chain.pem, as istiod answers) supplies the intermediate."""
    chain = x509.load_pem_x509_certificates(leaf.chain_pem.encode())
    ok, output = verify_with_openssl(bundle, pem_of(chain[1]), pem_of(leaf.cert), str(tmp_path))
    return ok, output


def test_ca_show_lists_roots_and_intermediates_without_keys(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim)
    shown = engine.show_ca("rg1", "net-01")
    assert shown["networkName"] == "net-01" and shown["rootRotationInProgress"] is False
    (root,) = shown["roots"]
    (inter,) = shown["intermediates"]
    assert root["active"] is True and root["rotationDue"] is False
    assert inter["member"] == "member-01" and inter["signedByActiveRoot"] is True
    assert inter["issuerSha256Fingerprint"] == root["sha256Fingerprint"]
    cacerts = _cacerts(sim)
    assert inter["sha256Fingerprint"] == _fingerprint(x509.load_pem_x509_certificate(cacerts["ca-cert.pem"].encode()))
    text = str(shown)
    assert "PRIVATE KEY" not in text
    assert cacerts["ca-key.pem"].splitlines()[1] not in text
    with pytest.raises(NotFoundError):
        engine.show_ca("rg1", "no-such-net")


def test_rotate_ca_pushes_a_new_intermediate_and_keeps_old_leaves_valid(engine, network, clusters, tmp_path):
    (sim,) = clusters(1)
    join(engine, sim)
    before = _cacerts(sim)
    istiod_before = _istiod(sim)
    old_leaf = issue_workload_cert(before, "default", "web")
    assert istiod_before["spec"]["template"]["metadata"]["annotations"][CACERTS_HASH_ANNOTATION] == \
        cacerts_hash(before)

    member = engine.rotate_member_ca("rg1", "net-01", "member-01")
    assert member["properties"]["provisioningState"] == "Succeeded"
    assert member["properties"]["operation"]["name"] == "rotateCa"

    after = _cacerts(sim)
    assert after["ca-cert.pem"] != before["ca-cert.pem"] and after["ca-key.pem"] != before["ca-key.pem"]
    assert after["root-cert.pem"] == before["root-cert.pem"]  # same root: nothing else to trust
    assert after["cert-chain.pem"] == after["ca-cert.pem"] + after["root-cert.pem"]
    new_fp = member["properties"]["certificateAuthority"]["intermediate"]["sha256Fingerprint"]
    assert new_fp == engine.show_ca("rg1", "net-01")["intermediates"][0]["sha256Fingerprint"]

    # The new intermediate chains to the root, by openssl; leaves of both intermediates verify.
    new_leaf = issue_workload_cert(after, "default", "api")
    for leaf in (old_leaf, new_leaf):
        ok, output = _verifies(after["root-cert.pem"], leaf, tmp_path)
        assert ok, output

    # istiod rolled onto it: its pod template names the new material, and it is ready.
    istiod = _istiod(sim)
    assert istiod["spec"]["template"]["metadata"]["annotations"][CACERTS_HASH_ANNOTATION] == cacerts_hash(after)
    assert istiod["metadata"]["generation"] > istiod_before["metadata"]["generation"]
    assert istiod["status"]["observedGeneration"] == istiod["metadata"]["generation"]
    root_cm = sim.get_object("v1", "configmaps", NS, "istio-root-cert")["data"]["root-cert.pem"]
    assert root_cm == after["root-cert.pem"]

    # A later plain re-apply of the data plane keeps what the rotation pushed.
    secret_version = sim.get_object("v1", "secrets", NS, "cacerts")["metadata"]["resourceVersion"]
    engine.update_member("rg1", "net-01", "member-01", east_west_gateway="Internal")
    assert sim.get_object("v1", "secrets", NS, "cacerts")["metadata"]["resourceVersion"] == secret_version
    assert _istiod(sim)["metadata"]["generation"] == istiod["metadata"]["generation"]


def test_rotate_ca_refuses_a_missing_member(engine, network):
    with pytest.raises(NotFoundError):
        engine.rotate_member_ca("rg1", "net-01", "nobody")


def test_root_rotation_overlap_then_finish(engine, network, clusters, tmp_path):
    east, west = clusters(2)
    join(engine, east, "member-east")
    join(engine, west, "member-west")
    old_root = engine.show_network("rg1", "net-01")["properties"]["certificateAuthority"]["root"]
    old_leaves = {sim.name: issue_workload_cert(_cacerts(sim), "default", "web") for sim in (east, west)}
    with pytest.raises(UsageError):
        engine.finish_root_rotation("rg1", "net-01")  # nothing to finish yet

    network = engine.rotate_root_ca("rg1", "net-01")
    ca = network["properties"]["certificateAuthority"]
    assert network["properties"]["provisioningState"] == "Succeeded"
    assert ca["previousRoot"]["sha256Fingerprint"] == old_root["sha256Fingerprint"]
    assert ca["root"]["sha256Fingerprint"] != old_root["sha256Fingerprint"]
    shown = engine.show_ca("rg1", "net-01")
    assert shown["rootRotationInProgress"] is True
    assert all(i["signedByActiveRoot"] for i in shown["intermediates"])

    # Overlap: every member trusts old + new (old first), runs an intermediate of the new root,
    # and leaves of old and new intermediates of either member verify in both.
    new_leaves = {}
    for sim in (east, west):
        cacerts = _cacerts(sim)
        roots = _roots(cacerts["root-cert.pem"])
        assert [_fingerprint(r) for r in roots] == [old_root["sha256Fingerprint"], ca["root"]["sha256Fingerprint"]]
        intermediate = x509.load_pem_x509_certificate(cacerts["ca-cert.pem"].encode())
        assert intermediate.issuer == roots[1].subject
        intermediate.verify_directly_issued_by(roots[1])
        assert sim.get_object("v1", "configmaps", NS, "istio-root-cert")["data"]["root-cert.pem"] == \
            cacerts["root-cert.pem"]
        assert _istiod(sim)["spec"]["template"]["metadata"]["annotations"][CACERTS_HASH_ANNOTATION] == \
            cacerts_hash(cacerts)
        new_leaves[sim.name] = issue_workload_cert(cacerts, "default", "api")
    for sim in (east, west):
        bundle = _cacerts(sim)["root-cert.pem"]
        for leaf in list(old_leaves.values()) + list(new_leaves.values()):
            ok, output = _verifies(bundle, leaf, tmp_path)
            assert ok, output

    # Running it again while the rotation is open converges: no third root.
    again = engine.rotate_root_ca("rg1", "net-01")
    assert again["properties"]["certificateAuthority"]["root"] == ca["root"]
    assert len(_roots(_cacerts(east)["root-cert.pem"])) == 2

    finished = engine.finish_root_rotation("rg1", "net-01")
    ca = finished["properties"]["certificateAuthority"]
    assert finished["properties"]["provisioningState"] == "Succeeded"
    assert "previousRoot" not in ca
    assert any("less than 24 hours" in w for w in finished["properties"]["operation"]["warnings"])
    shown = engine.show_ca("rg1", "net-01")
    assert shown["rootRotationInProgress"] is False and len(shown["roots"]) == 1
    assert shown["roots"][0]["sha256Fingerprint"] == ca["root"]["sha256Fingerprint"]
    for sim in (east, west):
        bundle = _cacerts(sim)["root-cert.pem"]
        (root,) = _roots(bundle)
        assert _fingerprint(root) == ca["root"]["sha256Fingerprint"]
        assert sim.get_object("v1", "configmaps", NS, "istio-root-cert")["data"]["root-cert.pem"] == bundle
        for leaf in new_leaves.values():
            ok, output = _verifies(bundle, leaf, tmp_path)
            assert ok, output
        for leaf in old_leaves.values():
            ok, output = _verifies(bundle, leaf, tmp_path)
            assert not ok, output
    with pytest.raises(UsageError):
        engine.finish_root_rotation("rg1", "net-01")


def test_root_rotation_names_unreachable_members_and_resumes(engine, network, clusters):
    east, west = clusters(2)
    join(engine, east, "member-east")
    join(engine, west, "member-west")
    west.stop()
    with pytest.raises(ClusterError) as err:
        engine.rotate_root_ca("rg1", "net-01")
    assert "member-west" in err.value.message and "member-east" not in err.value.message
    assert "run the same command again" in err.value.recommendation
    failed = engine.show_network("rg1", "net-01")
    assert failed["properties"]["provisioningState"] == "Failed"
    assert failed["properties"]["operation"]["step"] == "trustBoth"
    # The reachable member already trusts both roots; none switched intermediates yet.
    assert len(_roots(_cacerts(east)["root-cert.pem"])) == 2
    assert not any(i["signedByActiveRoot"] for i in engine.show_ca("rg1", "net-01")["intermediates"])
    # Nothing else may start on the half-rotated network until the rotation is resumed.
    with pytest.raises(ConflictError) as busy:
        engine.finish_root_rotation("rg1", "net-01")
    assert "az appnet ca rotate" in busy.value.recommendation

    west.start()
    network = engine.rotate_root_ca("rg1", "net-01")
    assert network["properties"]["provisioningState"] == "Succeeded"
    assert network["properties"]["operation"]["completedSteps"] == ["newRoot", "trustBoth", "reissue"]
    for sim in (east, west):
        assert len(_roots(_cacerts(sim)["root-cert.pem"])) == 2
    assert all(i["signedByActiveRoot"] for i in engine.show_ca("rg1", "net-01")["intermediates"])
    assert len(engine.show_ca("rg1", "net-01")["roots"]) == 2  # the resume made no third root

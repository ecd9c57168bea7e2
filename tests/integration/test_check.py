"""`az appnet member check` / `az appnet check` through the engine, against emulated clusters:
a healthy member passes every check; each kind of damage makes the check that looks at it
fail, naming what is wrong and the fix; an unreachable member fails alone."""

import base64
import copy
import json

import yaml

from azext_appnet.pki import NetworkPKI
from tests.integration.conftest import join

NS = "applink-system"


def _by_name(report):
    return {c["name"]: c for c in report["checks"]}


def _failed(report):
    return {c["name"]: c for c in report["checks"] if c["status"] == "Failed"}


def test_a_joined_member_passes_every_check(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim)
    report = engine.check_member("rg1", "net-01", "member-01")
    assert report["member"] == "member-01"
    assert report["installedVersion"]
    assert report["cluster"]["context"] == sim.context
    checks = _by_name(report)
    assert {"provisioningState", "apiReachable", "kubernetesVersion", "objectsPresent", "ownershipLabels",
            "istiod", "ztunnel", "istioCni", "imageDrift", "cacerts", "trustBundle", "eastWestGateway",
            "networkLabel", "intermediateCa", "remoteSecrets"} <= set(checks)
    assert all(c["status"] == "Passed" for c in report["checks"]), report["checks"]
    assert report["summary"] == {"passed": len(checks), "failed": 0, "warnings": 0}
    assert "ready on 3 of 3 Linux nodes" in checks["ztunnel"]["message"]
    assert all(set(c) == {"name", "status", "message", "recommendation"} for c in report["checks"])
    text = json.dumps(report)
    assert "PRIVATE KEY" not in text and sim.admin_token not in text


def test_a_deleted_daemonset_fails_with_the_fix(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim)
    sim.delete_object("apps/v1", "daemonsets", NS, "ztunnel")
    failed = _failed(engine.check_member("rg1", "net-01", "member-01"))
    assert set(failed) == {"objectsPresent", "ztunnel"}, failed
    assert "DaemonSet applink-system/ztunnel" in failed["objectsPresent"]["message"]
    for check in failed.values():
        fix = check["recommendation"]
        assert "az appnet member update -g rg1 --appnet-name net-01 --member-name member-01" in fix
        assert "join again" in fix


def test_a_daemonset_never_ready_fails_with_counts(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim)
    sim.never_ready("apps/v1", "daemonsets", NS, "istio-cni-node")
    # A new generation the emulator's controller will not make ready.
    ds = sim.get_object("apps/v1", "daemonsets", NS, "istio-cni-node")
    ds["spec"]["template"]["metadata"].setdefault("annotations", {})["test/restart"] = "1"
    del ds["status"]
    sim.put_object(ds)
    failed = _failed(engine.check_member("rg1", "net-01", "member-01"))
    assert set(failed) == {"istioCni"}, failed
    assert "istio-cni-node ready on 0 of 3 Linux nodes" in failed["istioCni"]["message"]
    # The hint runs against this member's cluster when pasted: it names its kubeconfig and context.
    assert (f"kubectl --kubeconfig {sim.kubeconfig_path} --context {sim.context} -n applink-system "
            "describe daemonset istio-cni-node") in failed["istioCni"]["recommendation"]


def test_a_changed_image_is_drift(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim)
    ds = sim.get_object("apps/v1", "daemonsets", NS, "ztunnel")
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "example.com/ztunnel:patched"
    del ds["status"]
    sim.put_object(ds)
    failed = _failed(engine.check_member("rg1", "net-01", "member-01"))
    assert set(failed) == {"imageDrift"}, failed
    assert "example.com/ztunnel:patched" in failed["imageDrift"]["message"]
    assert "az appnet member update" in failed["imageDrift"]["recommendation"]


def test_a_foreign_cacerts_fails(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim)
    other = engine.create_network("rg1", "net-02", "westus2")
    pki = NetworkPKI(other["id"], engine.keys_dir)
    pki.ensure_intermediate("member-01")
    foreign = pki.cacerts("member-01")
    secret = sim.get_object("v1", "secrets", NS, "cacerts")
    secret["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in foreign.items()}
    sim.put_object(secret)
    report = engine.check_member("rg1", "net-01", "member-01")
    failed = _failed(report)
    assert set(failed) == {"cacerts"}, failed
    message = failed["cacerts"]["message"]
    assert "not the member's current intermediate" in message
    assert "does not chain to the network's root CA" in message
    assert "PRIVATE KEY" not in json.dumps(report)


def test_a_wrong_network_label_fails(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim)
    ns = sim.get_object("v1", "namespaces", None, NS)
    ns["metadata"]["labels"]["topology.istio.io/network"] = "elsewhere"
    sim.put_object(ns)
    failed = _failed(engine.check_member("rg1", "net-01", "member-01"))
    assert set(failed) == {"networkLabel"}, failed
    assert "elsewhere" in failed["networkLabel"]["message"]


def test_network_check_reports_an_unreachable_member_and_checks_the_others(engine, network, clusters):
    a, b = clusters(2)
    join(engine, a, "member-01")
    join(engine, b, "member-02")
    healthy = engine.check_network("rg1", "net-01")
    assert [m["member"] for m in healthy["members"]] == ["member-01", "member-02"]
    assert {c["name"] for c in healthy["checks"]} == {
        "rootCa", "trustBundles", "meshId", "networkNames", "remoteSecretMesh", "globalServiceScope",
        "globalServiceEndpoints", "waypointsGlobal", "useWaypoint", "ambientNamespaces"}
    assert _by_name(healthy)["remoteSecretMesh"]["status"] == "Passed"  # join exchanged them
    assert healthy["summary"]["failed"] == 0, [c for m in healthy["members"] for c in m["checks"]
                                                if c["status"] == "Failed"] + healthy["checks"]

    b.stop()
    report = engine.check_network("rg1", "net-01")
    first, second = report["members"]
    assert first["summary"]["failed"] == 0 and first["summary"]["passed"] > 5
    failed = _failed(second)
    assert set(failed) == {"apiReachable"}, failed
    assert "cannot reach" in failed["apiReachable"]["message"].lower()
    assert failed["apiReachable"]["recommendation"]
    assert report["summary"]["membersFailed"] == 1
    checks = _by_name(report)
    assert "member-02" in checks["trustBundles"]["message"]  # named as not checked


def test_remote_secrets_count_by_any_naming(engine, network, clusters):
    a, b = clusters(2)
    join(engine, a, "member-01")
    join(engine, b, "member-02")
    for sim in (a, b):
        for s in sim.list_objects("v1", "secrets", NS, label_selector="istio/multiCluster=true"):
            sim.delete_object("v1", "secrets", NS, s["metadata"]["name"])
    report = engine.check_network("rg1", "net-01")
    assert _by_name(report)["remoteSecretMesh"]["status"] == "Warning"
    assert _by_name(report["members"][0])["remoteSecrets"]["status"] == "Warning"

    # member-01 holds a secret for member-02 named only by its data key (what istiod reads).
    a.put_object({"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "peer-b", "namespace": NS, "labels": {"istio/multiCluster": "true"}},
        "data": {"member-02": base64.b64encode(b"secret-kubeconfig-value").decode()}})
    report = engine.check_network("rg1", "net-01")
    assert _by_name(report["members"][0])["remoteSecrets"]["status"] == "Passed"
    mesh = _by_name(report)["remoteSecretMesh"]
    assert mesh["status"] == "Failed" and "member-02 -> member-01" in mesh["message"]
    assert "secret-kubeconfig-value" not in json.dumps(report)


def test_a_stray_unlabelled_object_is_reported(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim)
    cm = sim.get_object("v1", "configmaps", NS, "istio")
    cm = copy.deepcopy(cm)
    del cm["metadata"]["labels"]["appnet.azure.com/member"]
    sim.put_object(cm)
    failed = _failed(engine.check_member("rg1", "net-01", "member-01"))
    assert set(failed) == {"ownershipLabels"}, failed
    assert "ConfigMap applink-system/istio" in failed["ownershipLabels"]["message"]


def test_an_intermediate_due_for_rotation_is_a_warning_with_rotate_ca(engine, network, clusters):
    from azext_appnet.operations import diagnostics
    (sim,) = clusters(1)
    join(engine, sim)
    (target,), _, _ = engine._check_targets(engine.store.get(network["id"]), [
        engine.store.get(engine.member_id("rg1", "net-01", "member-01"))])
    target.intermediate = dict(target.intermediate, rotationDue=True)
    due = diagnostics.check_intermediate_ca(target)
    assert due["status"] == "Warning"
    assert "az appnet member rotate-ca -g rg1 --appnet-name net-01 --member-name member-01" in due["recommendation"]
    target.intermediate = dict(target.intermediate, expired=True)
    assert diagnostics.check_intermediate_ca(target)["status"] == "Failed"


def test_reader_tokens_report_expiry_and_whether_they_authenticate(engine, network, clusters):
    a, b = clusters(2)
    join(engine, a, "member-01")
    join(engine, b, "member-02")
    held = a.get_object("v1", "secrets", NS, "istio-remote-secret-member-02")
    expires = held["metadata"]["annotations"]["appnet.azure.com/token-expires-on"]
    check = _by_name(engine.check_member("rg1", "net-01", "member-01"))["readerTokens"]
    assert check["status"] == "Passed", check
    assert f"member-02: expires {expires}, authenticates" in check["message"]
    token = yaml.safe_load(base64.b64decode(next(iter(held["data"].values()))))["users"][0]["user"]["token"]

    b.advance_clock(8 * 86400)  # member-02's API server is a week and a day later: the token expired
    check = _by_name(engine.check_member("rg1", "net-01", "member-01"))["readerTokens"]
    assert check["status"] == "Failed" and "member-02 (refused)" in check["message"], check
    assert "rotate-credentials" in check["recommendation"]
    engine.rotate_member_credentials("rg1", "net-01", "member-02")
    check = _by_name(engine.check_member("rg1", "net-01", "member-01"))["readerTokens"]
    assert check["status"] == "Passed", check
    report = json.dumps(engine.check_network("rg1", "net-01"))
    assert token not in report and "eyJ" not in report


def test_a_legacy_token_without_expiry_is_a_warning(engine, network, clusters):
    a, b = clusters(2)
    join(engine, a, "member-01")
    join(engine, b, "member-02")
    held = a.get_object("v1", "secrets", NS, "istio-remote-secret-member-02")
    del held["metadata"]["annotations"]["appnet.azure.com/token-expires-on"]
    a.put_object(held)
    check = _by_name(engine.check_member("rg1", "net-01", "member-01"))["readerTokens"]
    assert check["status"] == "Warning" and "never-expiring" in check["message"], check


def test_a_network_check_sends_each_read_once_per_member(engine, network, clusters):
    import collections
    sims = clusters(3)
    for i, sim in enumerate(sims):
        join(engine, sim, "member-%02d" % (i + 1))
    marks = [len(s.request_log) for s in sims]
    report = engine.check_network("rg1", "net-01")
    assert report["summary"]["failed"] == 0, report
    probe = ("GET", f"/api/v1/namespaces/{NS}")
    for sim, n in zip(sims, marks):
        sent = collections.Counter((r.method, r.path) for r in sim.request_log[n:])
        # A member's tokens held by its two peers are tried once each; the address check of
        # the member uses one of those tries (same server, CA and token) instead of its own.
        assert sent.pop(probe) == 2, sent
        assert all(count == 1 for count in sent.values()), [r for r, count in sent.items() if count > 1]
        paths = [path.split("?")[0] for _, path in sent]
        # The Secrets and Namespaces are listed once, whole: the remote secrets, the data plane's
        # Namespaces and the peers' copies come out of those lists.
        assert paths.count(f"/api/v1/namespaces/{NS}/secrets") == 1 and paths.count("/api/v1/namespaces") == 1
        assert paths.count("/apis/gateway.networking.k8s.io/v1/gateways") == 1
        assert f"/apis/gateway.networking.k8s.io/v1/namespaces/{NS}/gateways" not in paths
        assert not [p for p in paths if p.startswith(f"/api/v1/namespaces/{NS}/secrets/")], paths
    # What the lists were filtered for is still found: every link has its remote secret.
    assert _by_name(report)["remoteSecretMesh"]["status"] == "Passed"
    for member in report["members"]:
        checks = _by_name(member)
        assert checks["remoteSecrets"]["status"] == checks["objectsPresent"]["status"] == "Passed"
        assert checks["eastWestGateway"]["status"] == checks["networkLabel"]["status"] == "Passed"
        assert checks["readerTokens"]["status"] == "Passed" and "(2) authenticates" in checks["readerTokens"]["message"]


def test_a_member_check_reads_one_remote_secret_of_a_peer_not_its_secrets(engine, network, clusters):
    a, b = clusters(2)
    join(engine, a, "member-01")
    join(engine, b, "member-02")
    n = len(b.request_log)
    checks = _by_name(engine.check_member("rg1", "net-01", "member-01"))
    assert checks["apiServerAddress"]["status"] in ("Passed", "Warning"), checks["apiServerAddress"]
    # The peer holds its CA key in the same namespace: only the one copy is read there.
    read = [r.path.split("?")[0] for r in b.request_log[n:] if "/secrets" in r.path]
    assert read == [f"/api/v1/namespaces/{NS}/secrets/istio-remote-secret-member-01"], read

"""Join, re-join, update, remove against emulated clusters, through the engine."""

import base64
import subprocess

import pytest

from azext_appnet.engine import AppNet
from azext_appnet.errors import ClusterError, UsageError
from azext_appnet.versions import load_catalog
from tests.integration.conftest import join, ours

NS = "applink-system"


def _snapshot(sim):
    """resourceVersion of every object we own, to prove an apply changed nothing."""
    out = {}
    for api_version, plural, namespaced in [("v1", "configmaps", True), ("v1", "secrets", True),
                                            ("apps/v1", "deployments", True), ("apps/v1", "daemonsets", True),
                                            ("v1", "namespaces", False),
                                            ("apiextensions.k8s.io/v1", "customresourcedefinitions", False)]:
        for obj in ours(sim, api_version, plural, NS if namespaced else None):
            out[(plural, obj["metadata"]["name"])] = obj["metadata"]["resourceVersion"]
    return out


def test_join_installs_the_data_plane(engine, network, clusters, tmp_path):
    (sim,) = clusters(1)
    member = join(engine, sim)
    props = member["properties"]
    assert props["provisioningState"] == "Succeeded"
    catalog = load_catalog()
    assert props["installedVersion"] == catalog.names()[-2]  # SelfManaged without --version: N-1
    assert props["clusterType"] == "Kubernetes"
    assert props["cluster"]["context"] == sim.context
    assert "token" not in str(props["cluster"]).lower()

    version = catalog.get(props["installedVersion"])
    ztunnel = sim.get_object("apps/v1", "daemonsets", NS, "ztunnel")
    cni = sim.get_object("apps/v1", "daemonsets", NS, "istio-cni-node")
    istiod = sim.get_object("apps/v1", "deployments", NS, "istiod")
    for ds in (ztunnel, cni):
        assert ds["spec"]["template"]["spec"]["nodeSelector"]["kubernetes.io/os"] == "linux"
        assert ds["status"]["numberReady"] == ds["status"]["desiredNumberScheduled"] > 0
    assert ztunnel["spec"]["template"]["spec"]["containers"][0]["image"] == version.images["ztunnel"]
    assert istiod["spec"]["template"]["spec"]["containers"][0]["image"] == version.images["pilot"]
    env = {e["name"]: e.get("value") for e in ztunnel["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["NETWORK"] == "member-01-network"
    namespace = sim.get_object("v1", "namespaces", None, NS)
    assert namespace["metadata"]["labels"]["topology.istio.io/network"] == "member-01-network"
    gateway = sim.get_object("gateway.networking.k8s.io/v1", "gateways", NS, "istio-eastwestgateway")
    assert gateway["status"]["addresses"], gateway.get("status")

    # cacerts chains to the network's root, checked by openssl.
    cacerts = sim.get_object("v1", "secrets", NS, "cacerts")["data"]
    files = {k: base64.b64decode(v) for k, v in cacerts.items()}
    (tmp_path / "root.pem").write_bytes(files["root-cert.pem"])
    (tmp_path / "ca.pem").write_bytes(files["ca-cert.pem"])
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "root.pem"), str(tmp_path / "ca.pem")],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    root_cm = sim.get_object("v1", "configmaps", NS, "istio-root-cert")
    assert root_cm["data"]["root-cert.pem"].strip() == files["root-cert.pem"].decode().strip()


def test_rejoin_is_a_noop(engine, network, clusters):
    (sim,) = clusters(1)
    first = join(engine, sim)
    before = _snapshot(sim)
    assert before
    again = join(engine, sim)
    assert again["properties"]["operation"] == first["properties"]["operation"]
    assert _snapshot(sim) == before


def test_reapply_changes_nothing(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim)
    before = _snapshot(sim)
    engine.update_member("rg1", "net-01", "member-01", east_west_gateway="Internal")
    assert _snapshot(sim) == before


def test_remove_leaves_nothing_of_ours_and_nothing_else_touched(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim)
    sim.put_object({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "not-ours", "namespace": "default"}, "data": {"a": "b"}})
    sim.put_object({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                             "template": {"metadata": {"labels": {"app": "web"}},
                                          "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    foreign_cm = sim.get_object("v1", "configmaps", "default", "not-ours")
    foreign_deploy = sim.get_object("apps/v1", "deployments", "default", "web")

    assert engine.remove_member("rg1", "net-01", "member-01") is None
    for api_version, plural in [("v1", "namespaces"), ("apiextensions.k8s.io/v1", "customresourcedefinitions"),
                                ("rbac.authorization.k8s.io/v1", "clusterroles"),
                                ("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations")]:
        assert sim.list_objects(api_version, plural,
                                label_selector="app.kubernetes.io/managed-by=az-appnet") == [], plural
    assert sim.get_object("v1", "namespaces", None, NS) is None
    assert sim.get_object("v1", "configmaps", "default", "not-ours")["metadata"]["resourceVersion"] == \
        foreign_cm["metadata"]["resourceVersion"]
    assert sim.get_object("apps/v1", "deployments", "default", "web")["metadata"]["uid"] == \
        foreign_deploy["metadata"]["uid"]
    assert engine.list_members("rg1", "net-01") == []
    assert engine.show_network("rg1", "net-01")["properties"]["provisioningState"] == "Succeeded"


def test_remove_finishes_when_the_cluster_is_gone(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim)
    sim.stop()
    assert engine.remove_member("rg1", "net-01", "member-01") is None
    assert engine.list_members("rg1", "net-01") == []
    left = next(m for m in engine.messages if "Could not clean the cluster" in m)
    # The warning keeps the unreachable cluster's fix, not only what went wrong.
    assert "Cannot reach the API server" in left and "Check that the cluster is running" in left, left


def test_network_with_members_cannot_be_deleted(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim)
    with pytest.raises(UsageError) as err:
        engine.delete_network("rg1", "net-01")
    assert "member-01" in err.value.message
    engine.remove_member("rg1", "net-01", "member-01")
    engine.delete_network("rg1", "net-01")
    assert engine.list_networks() == []


def test_two_members_share_the_root(engine, network, clusters):
    east, west = clusters(2)
    join(engine, east, "member-east")
    join(engine, west, "member-west")
    roots = {sim.get_object("v1", "configmaps", NS, "istio-root-cert")["data"]["root-cert.pem"] for sim in (east, west)}
    assert len(roots) == 1
    chains = {sim.get_object("v1", "secrets", NS, "cacerts")["data"]["ca-cert.pem"] for sim in (east, west)}
    assert len(chains) == 2  # one intermediate each


@pytest.mark.parametrize("setup, expected", [
    (dict(version="1.29"), "older than 1.31"),
    (dict(version="1.30"), "older than 1.31"),
    (dict(nodes=[{"os": "windows"}, {"os": "windows"}]), "only Windows nodes"),
])
def test_preflight_refuses_and_records_nothing(engine, network, clusters, setup, expected):
    (sim,) = clusters(1, **setup)
    with pytest.raises(ClusterError) as err:
        join(engine, sim)
    assert expected in err.value.message
    assert engine.list_members("rg1", "net-01") == []


def test_missing_gateway_api_says_how_to_install_it(engine, network, clusters):
    (sim,) = clusters(1, gateway_api_crds=False)
    with pytest.raises(ClusterError) as err:
        join(engine, sim)
    assert "Gateway API" in err.value.message and "standard-install.yaml" in err.value.recommendation
    assert engine.list_members("rg1", "net-01") == []


def test_unreachable_cluster(engine, network, clusters):
    (sim,) = clusters(1)
    sim.stop()
    with pytest.raises(ClusterError) as err:
        join(engine, sim)
    assert sim.url.split("//")[1] in err.value.message
    assert engine.list_members("rg1", "net-01") == []


def test_member_of_another_network_is_refused(engine, clusters):
    engine.create_network("rg1", "net-01", "westus2")
    engine.create_network("rg1", "net-02", "westus2")
    (sim,) = clusters(1)
    join(engine, sim)
    with pytest.raises(ClusterError) as err:
        engine.join_member("rg1", "net-02", "member-02", kubeconfig=sim.kubeconfig_path, context=sim.context)
    assert "another Application Network" in err.value.message


def test_join_survives_transient_api_errors(engine, network, clusters):
    (sim,) = clusters(1)
    # The client's waits are recorded, not spent: each 429/503 says Retry-After: 1.
    waits = []
    patient = AppNet(engine.config_dir, progress=engine.messages.append, retry_sleep=waits.append)
    sim.faults.set(error_rate=0.2, codes=(503, 429), latency=0.01, seed=3)
    member = join(patient, sim)
    sim.faults.clear()
    assert [r for r in sim.requests if r[2] in (503, 429)], "no fault was sent: the test proves nothing"
    assert waits and min(waits) >= 1, waits          # it retried, as long as the server asked
    assert member["properties"]["provisioningState"] == "Succeeded"
    assert sim.get_object("apps/v1", "daemonsets", NS, "ztunnel") is not None


def test_never_ready_fails_naming_the_object_and_rerun_converges(engine, network, clusters, monkeypatch):
    monkeypatch.setenv("APPNET_READY_TIMEOUT", "3")
    (sim,) = clusters(1)
    sim.never_ready("apps/v1", "daemonsets", NS, "ztunnel")
    with pytest.raises(ClusterError) as err:
        join(engine, sim)
    assert "ztunnel" in err.value.message
    # The kubectl hint, pasted as given, runs against this cluster.
    assert (f"kubectl --kubeconfig {sim.kubeconfig_path} --context {sim.context} -n applink-system "
            "describe daemonset ztunnel") in err.value.recommendation
    failed = engine.show_member("rg1", "net-01", "member-01")
    assert failed["properties"]["provisioningState"] == "Failed"
    assert "ztunnel" in failed["properties"]["error"]["message"]
    sim.make_ready("apps/v1", "daemonsets", NS, "ztunnel")
    member = join(engine, sim)
    assert member["properties"]["provisioningState"] == "Succeeded"
    assert "error" not in member["properties"]


def test_upgrade_one_minor_and_refuse_skipping(engine, network, clusters):
    (sim,) = clusters(1)
    catalog = load_catalog()
    first, second, third = catalog.names()[:3]
    join(engine, sim, version=first)
    image = lambda: sim.get_object("apps/v1", "daemonsets", NS, "ztunnel")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image() == catalog.get(first).images["ztunnel"]
    with pytest.raises(UsageError):
        engine.update_member("rg1", "net-01", "member-01", version=third)
    updated = engine.update_member("rg1", "net-01", "member-01", version=second)
    assert updated["properties"]["installedVersion"] == second
    assert updated["properties"]["previousVersion"] == first
    assert image() == catalog.get(second).images["ztunnel"]
    istiod = sim.get_object("apps/v1", "deployments", NS, "istiod")
    assert istiod["spec"]["template"]["spec"]["containers"][0]["image"] == catalog.get(second).images["pilot"]
    # One rollback to the version installed before, then no more.
    engine.update_member("rg1", "net-01", "member-01", version=first)
    assert image() == catalog.get(first).images["ztunnel"]
    engine.update_member("rg1", "net-01", "member-01", version=second)
    with pytest.raises(UsageError):
        engine.update_member("rg1", "net-01", "member-01", version=first)


def test_upgrade_mode_cannot_switch(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim)
    with pytest.raises(UsageError) as err:
        engine.update_member("rg1", "net-01", "member-01", release_channel="Rapid")
    assert "cannot be switched" in err.value.recommendation


def test_fully_managed_follows_the_channel(engine, network, clusters):
    (sim,) = clusters(1)
    catalog = load_catalog()
    member = join(engine, sim, upgrade_mode="FullyManaged", release_channel="Stable")
    assert member["properties"]["installedVersion"] == catalog.release_channels["Stable"]
    member = engine.update_member("rg1", "net-01", "member-01", release_channel="Rapid")
    assert member["properties"]["installedVersion"] == catalog.release_channels["Rapid"]


def test_one_cluster_cannot_join_twice(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim, "member-01")
    with pytest.raises(ClusterError) as err:
        join(engine, sim, "member-02")
    assert "already joined this Application Network as member 'member-01'" in err.value.message
    assert [m["name"] for m in engine.list_members("rg1", "net-01")] == ["member-01"]


def test_upgrade_history_is_recorded(engine, network, clusters):
    (sim,) = clusters(1)
    first, second = load_catalog().names()[:2]
    join(engine, sim, version=first)
    member = engine.update_member("rg1", "net-01", "member-01", version=second)
    history = member["properties"]["upgradeHistory"]
    assert [(h["fromVersion"], h["toVersion"]) for h in history] == [(None, first), (first, second)]
    assert all(h["startTimestamp"] <= h["endTimestamp"] and h["initiatedBy"] for h in history)
    # an update that changes no version adds nothing
    member = engine.update_member("rg1", "net-01", "member-01", tags={"a": "b"})
    assert len(member["properties"]["upgradeHistory"]) == 2

"""After a join, kubectl (a client we did not write) sees the data plane as configured."""

import json
import subprocess

import pytest

from tests.integration.conftest import join

pytestmark = pytest.mark.kubectl
NS = "applink-system"


@pytest.fixture
def kubectl(require_kubectl):

    def run(sim, *args):
        proc = subprocess.run([require_kubectl, "--kubeconfig", sim.kubeconfig_path, "--context", sim.context, *args],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout
    return run


def test_kubectl_sees_the_data_plane(engine, network, clusters, kubectl):
    (sim,) = clusters(1)
    join(engine, sim, east_west_gateway="Internal", network_name="east-net")
    items = json.loads(kubectl(sim, "get", "deployments,daemonsets,services,configmaps,secrets,serviceaccounts",
                               "-n", NS, "-o", "json"))["items"]
    names = {(o["kind"], o["metadata"]["name"]) for o in items}
    for expected in [("Deployment", "istiod"), ("DaemonSet", "ztunnel"), ("DaemonSet", "istio-cni-node"),
                     ("Service", "istiod"), ("ConfigMap", "istio"), ("ConfigMap", "istio-sidecar-injector"),
                     ("ConfigMap", "istio-root-cert"), ("Secret", "cacerts"),
                     ("ServiceAccount", "ztunnel"), ("Service", "istio-eastwestgateway")]:
        assert expected in names, expected

    by_name = {(o["kind"], o["metadata"]["name"]): o for o in items}
    istiod_env = {e["name"]: e.get("value") for e in
                  by_name[("Deployment", "istiod")]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert istiod_env["PILOT_ENABLE_AMBIENT"] == "true"
    assert istiod_env["AMBIENT_ENABLE_MULTI_NETWORK"] == "true"
    assert istiod_env["CLUSTER_ID"] == "member-01"
    ztunnel_env = {e["name"]: e.get("value") for e in
                   by_name[("DaemonSet", "ztunnel")]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert ztunnel_env["NETWORK"] == "east-net"
    assert ztunnel_env["CA_ADDRESS"] == "istiod.applink-system.svc:15012"
    mesh = by_name[("ConfigMap", "istio")]["data"]["mesh"]
    assert "serviceScopeConfigs" in mesh and "istio.io/global" in mesh and "applink-system" in mesh

    gateway = json.loads(kubectl(sim, "get", "gateways.gateway.networking.k8s.io", "-n", NS, "-o", "json"))["items"][0]
    assert gateway["spec"]["gatewayClassName"] == "istio-east-west"
    assert gateway["metadata"]["labels"]["topology.istio.io/network"] == "east-net"
    listener = gateway["spec"]["listeners"][0]
    assert listener["port"] == 15008 and listener["tls"]["mode"] == "Terminate"
    assert gateway["spec"]["infrastructure"]["annotations"][
        "service.beta.kubernetes.io/azure-load-balancer-internal"] == "true"
    assert gateway["status"]["addresses"]

    ready = kubectl(sim, "get", "daemonsets", "-n", NS, "-o",
                    "jsonpath={range .items[*]}{.metadata.name}={.status.numberReady}/{.status.desiredNumberScheduled} {end}")
    for entry in ready.split():
        name, counts = entry.split("=")
        have, want = counts.split("/")
        assert have == want and int(want) > 0, entry

    crds = kubectl(sim, "get", "crd", "-l", "app.kubernetes.io/managed-by=az-appnet", "-o", "name").split()
    # The CRDs of the installed release: 15 from Istio 1.30 (TrafficExtension), 14 before.
    from azext_appnet.manifests.crds import crd_table
    from azext_appnet.manifests.profile import Profile
    from azext_appnet.versions import load_catalog
    installed = engine.show_member("rg1", "net-01", "member-01")["properties"]["installedVersion"]
    assert len(crds) == len(crd_table(Profile(load_catalog().get(installed))))
    # what the emulator's schema validation accepted, kubectl reads back the same way
    assert "peerauthentications.security.istio.io" in " ".join(crds)

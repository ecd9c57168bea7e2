"""The data plane a join installs fits a real cluster (issue 9), against emulated clusters,
read back with kubectl as a user would: ingress Gateways have their template, pods labelled
for injection are not refused, Istio config can be written right after a join, a foreign
Istio is refused with its owner named, remote secrets carry --api-server-url, and members
on one flat network pass check."""

import base64
import json
import subprocess

import pytest
import yaml

from azext_appnet.errors import ClusterError
from tests.integration.conftest import join

NS = "applink-system"


@pytest.fixture
def kubectl(require_kubectl):

    def run(sim, *args, stdin=None, ok=True):
        proc = subprocess.run([require_kubectl, "--kubeconfig", sim.kubeconfig_path, "--context", sim.context, *args],
                              input=stdin, capture_output=True, text=True, timeout=60)
        if ok:
            assert proc.returncode == 0, proc.stderr
            return proc.stdout
        return proc
    return run


def _apply(kubectl, sim, *docs):
    return kubectl(sim, "apply", "-f", "-", stdin="\n---\n".join(yaml.safe_dump(d) for d in docs))


def test_an_ingress_gateway_of_class_istio_is_accepted_and_istiod_has_its_template(
        engine, network, clusters, kubectl):
    (sim,) = clusters(1)
    join(engine, sim)
    _apply(kubectl, sim,
           {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "bookinfo", "labels": {"istio.io/dataplane-mode": "ambient"}}},
           {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "bookinfo-gateway", "namespace": "bookinfo"},
            "spec": {"gatewayClassName": "istio",
                     "listeners": [{"name": "http", "port": 80, "protocol": "HTTP",
                                    "allowedRoutes": {"namespaces": {"from": "Same"}}}]}})
    gw = json.loads(kubectl(sim, "get", "gateways.gateway.networking.k8s.io", "-n", "bookinfo",
                            "bookinfo-gateway", "-o", "json"))
    assert gw["spec"]["gatewayClassName"] == "istio"
    # istiod renders class istio from "kube-gateway" and waypoints / east-west from "waypoint".
    config = json.loads(kubectl(sim, "get", "configmap", "istio-sidecar-injector", "-n", NS,
                                "-o", "jsonpath={.data.config}"))
    assert {"kube-gateway", "waypoint"} <= set(config["templates"])
    assert "proxy\n        - router" in config["templates"]["kube-gateway"]


def test_a_pod_labelled_for_sidecar_injection_is_not_refused(engine, network, clusters, kubectl):
    (sim,) = clusters(1)
    join(engine, sim)
    hooks = json.loads(kubectl(sim, "get", "mutatingwebhookconfigurations", "-o", "json"))["items"]
    assert not [h for h in hooks if any("/inject" in json.dumps(w.get("clientConfig")) for w in h["webhooks"])]
    _apply(kubectl, sim,
           {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "legacy", "labels": {"istio-injection": "enabled"}}},
           {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "app", "namespace": "legacy",
                         "labels": {"sidecar.istio.io/inject": "true", "istio.io/rev": "default"}},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]}})
    pod = json.loads(kubectl(sim, "get", "pod", "app", "-n", "legacy", "-o", "json"))
    assert [c["name"] for c in pod["spec"]["containers"]] == ["app"]   # created, not injected


def test_istio_config_writes_succeed_right_after_join(engine, network, clusters, kubectl):
    (sim,) = clusters(1)
    join(engine, sim)
    hooks = json.loads(kubectl(sim, "get", "validatingwebhookconfigurations", "-o", "json"))["items"]
    ours = {h["metadata"]["name"]: h for h in hooks}
    assert set(ours) >= {"istio-validator-applink-system", "istiod-default-validator-applink-system"}
    # Installed as Ignore; once its Pods are ready istiod takes them over (CA bundle, Fail).
    for name in ("istio-validator-applink-system", "istiod-default-validator-applink-system"):
        assert {w["failurePolicy"] for w in ours[name]["webhooks"]} == {"Fail"}
        assert all(w["clientConfig"].get("caBundle") for w in ours[name]["webhooks"])
    _apply(kubectl, sim,
           {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": "default", "namespace": NS}, "spec": {"mtls": {"mode": "STRICT"}}},
           {"apiVersion": "extensions.istio.io/v1alpha1", "kind": "TrafficExtension",
            "metadata": {"name": "headers", "namespace": NS}, "spec": {}})
    assert "STRICT" in kubectl(sim, "get", "peerauthentications.security.istio.io", "-n", NS, "default",
                               "-o", "jsonpath={.spec.mtls.mode}")


def test_a_cluster_with_a_foreign_istios_crds_is_refused_with_the_owner_named(engine, network, clusters):
    (sim,) = clusters(1)
    sim.put_object({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "peerauthentications.security.istio.io",
                     "labels": {"app.kubernetes.io/managed-by": "Helm"},
                     "annotations": {"meta.helm.sh/release-name": "istio-base",
                                     "meta.helm.sh/release-namespace": "mesh"}},
        "spec": {"group": "security.istio.io", "scope": "Namespaced",
                 "names": {"kind": "PeerAuthentication", "plural": "peerauthentications"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                     "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}})
    with pytest.raises(ClusterError) as e:
        join(engine, sim)
    assert "Helm release 'istio-base' in namespace mesh" in e.value.message
    assert "helm uninstall istio-base -n mesh" in e.value.recommendation
    # Refused before anything was recorded or applied.
    assert engine.list_members("rg1", "net-01") == []
    assert sim.get_object("v1", "namespaces", None, NS) is None
    crd = sim.get_object("apiextensions.k8s.io/v1", "customresourcedefinitions", None,
                         "peerauthentications.security.istio.io")
    assert crd["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "Helm"}


def _remote_server(sim, of_member):
    secret = sim.get_object("v1", "secrets", NS, f"istio-remote-secret-{of_member}")
    config = yaml.safe_load(base64.b64decode(secret["data"][of_member]))
    return config["clusters"][0]["cluster"]["server"]


def _check(engine, member):
    return {c["name"]: c for c in engine.check_member("rg1", "net-01", member)["checks"]}


def test_remote_secrets_carry_the_api_server_url_and_check_tries_it(engine, network, clusters):
    a, b = clusters(2)
    joined = join(engine, a, "member-01", api_server_url="https://east.invalid:6443")
    assert joined["properties"]["connectivityProfile"]["apiServerUrl"] == "https://east.invalid:6443"
    join(engine, b, "member-02")
    assert _remote_server(b, "member-01") == "https://east.invalid:6443"
    assert _remote_server(a, "member-02") == b.url.rstrip("/")
    # check reads member-02's copy and tries it: that name answers nowhere.
    address = _check(engine, "member-01")["apiServerAddress"]
    assert address["status"] == "Failed" and "east.invalid" in address["message"]
    assert "--api-server-url" in address["recommendation"]
    # update rewrites the secret on every peer; the emulator's own (loopback) address
    # answers from here, which is a Warning: only istiods on this host could use it.
    updated = engine.update_member("rg1", "net-01", "member-01", api_server_url=a.url)
    assert any("loopback" in w for w in updated["properties"]["operation"]["warnings"])
    assert _remote_server(b, "member-01") == a.url.rstrip("/")
    assert _check(engine, "member-01")["apiServerAddress"]["status"] == "Warning"


def test_join_warns_when_the_published_address_is_loopback(engine, network, clusters):
    (sim,) = clusters(1)   # the emulator listens on 127.0.0.1, as a kind kubeconfig says
    joined = join(engine, sim)
    warnings = joined["properties"]["operation"].get("warnings") or []
    assert any("loopback" in w and "--api-server-url" in w for w in warnings), warnings


def test_a_bad_api_server_url_is_refused_before_anything_happens(engine, network, clusters):
    from azext_appnet.errors import InvalidInputError
    (sim,) = clusters(1)
    for bad in ("http://10.0.0.4:6443", "10.0.0.4:6443", "https://:6443", "https://h:99999"):
        with pytest.raises(InvalidInputError) as e:
            join(engine, sim, api_server_url=bad)
        assert "--api-server-url" in e.value.message
    assert engine.list_members("rg1", "net-01") == []


def test_two_members_on_one_flat_network_pass_check(engine, network, clusters, kubectl):
    a, b = clusters(2)
    join(engine, a, "member-01", network_name="flat")
    join(engine, b, "member-02", network_name="flat")
    for sim in (a, b):
        assert kubectl(sim, "get", "namespace", NS, "-o",
                       "jsonpath={.metadata.labels.topology\\.istio\\.io/network}") == "flat"
    report = engine.check_network("rg1", "net-01")
    failed = [c for m in report["members"] for c in m["checks"] if c["status"] == "Failed"] + [
        c for c in report["checks"] if c["status"] == "Failed"]
    assert report["summary"]["failed"] == 0, failed
    names = {c["name"]: c for c in report["checks"]}["networkNames"]
    assert names["status"] == "Passed"
    assert "flat" in names["message"] and "member-01, member-02" in names["message"]
    # One mesh config for both, as for any members of one network.
    meshes = {kubectl(sim, "get", "configmap", "istio", "-n", NS, "-o", "jsonpath={.data.mesh}") for sim in (a, b)}
    assert len(meshes) == 1


def test_the_real_cluster_demo_workloads_deploy_on_members(engine, network, clusters, kubectl):
    # scripts/try-on-kind.sh and tests/realcluster deploy these; the emulator runs no
    # containers, so only their acceptance and rollout are checked here, not the traffic.
    from tests.realcluster import crosscluster
    a, b = clusters(2)
    join(engine, a, "east")
    join(engine, b, "west")
    crosscluster.deploy(a.kubeconfig_path, {"east": a.context})
    crosscluster.deploy(b.kubeconfig_path, {"west": b.context})
    for sim, member in ((a, "east"), (b, "west")):
        svc = json.loads(kubectl(sim, "get", "service", "echo", "-n", crosscluster.DEMO, "-o", "json"))
        assert svc["metadata"]["labels"]["istio.io/global"] == "true"
        assert kubectl(sim, "get", "namespace", crosscluster.DEMO, "-o",
                       "jsonpath={.metadata.labels.istio\\.io/dataplane-mode}") == "ambient"
        args = kubectl(sim, "get", "deployment", "echo", "-n", crosscluster.DEMO, "-o",
                       "jsonpath={.spec.template.spec.containers[0].args[0]}")
        assert args == f"-text=hello from {member}"

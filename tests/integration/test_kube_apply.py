"""apply_phases / wait_ready / prune against the Kubernetes API emulator."""

import threading

import pytest

from azext_appnet.errors import ClusterError
from azext_appnet.kube import connect
from azext_appnet.kube.apply import apply_phases, identity, prune, wait_ready
from azext_appnet.kube.client import RetryPolicy

NS = "applink-system"
OURS = {"app.kubernetes.io/managed-by": "az-appnet", "appnet.azure.com/member": "m1"}
SELECTOR = "app.kubernetes.io/managed-by=az-appnet,appnet.azure.com/member=m1"


class Phase:
    def __init__(self, name, objects):
        self.name, self.objects = name, objects


def _meta(name, namespace=None, labels=OURS):
    m = {"name": name, "labels": dict(labels)}
    if namespace:
        m["namespace"] = namespace
    return m


def crd():
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": _meta("widgets.test.appnet.io"),
        "spec": {
            "group": "test.appnet.io", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget",
                      "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                "openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "size": {"type": "integer"}, "color": {"type": "string"}}}}}}}],
        },
    }


def _pod_template(app):
    return {"metadata": {"labels": {"app": app}},
            "spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                     "containers": [{"name": app, "image": "docker.io/istio/%s:1.26.0" % app}]}}


def deployment(name="istiod", labels=OURS, namespace=NS):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": _meta(name, namespace, labels),
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": _pod_template(name)}}


def daemonset(name="ztunnel"):
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _meta(name, NS),
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": _pod_template(name)}}


def configmap(name, namespace=NS, labels=OURS):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name, namespace, labels),
            "data": {"k": "v"}}


def phases():
    return [
        Phase("CustomResourceDefinitions", [crd()]),
        Phase("namespace and config", [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(NS)},
            configmap("istio"),
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("istiod", NS)},
            {"apiVersion": "test.appnet.io/v1", "kind": "Widget",
             "metadata": _meta("w1", NS), "spec": {"size": 3, "color": "blue"}},
        ]),
        Phase("workloads", [deployment(), daemonset()]),
    ]


def _all_objects():
    return [o for p in phases() for o in p.objects]


def _one(kubesim, **kw):
    sims = kubesim(1, **kw) if kw else kubesim(1)
    return sims[0] if isinstance(sims, (list, tuple)) else sims


def _connect(sim):
    return connect(kubeconfig=sim.kubeconfig_path, context=sim.context)


def _versions(cluster):
    return {identity(o): cluster.get(o["apiVersion"], o["kind"], o["metadata"]["name"],
                                     o["metadata"].get("namespace"))
            ["metadata"]["resourceVersion"] for o in _all_objects()}


def test_apply_in_phases_then_ready_then_idempotent(kubesim):
    sim = _one(kubesim)
    cluster = _connect(sim)
    msgs = []
    applied = apply_phases(cluster, phases(), progress=msgs.append)
    assert len(applied) == len(_all_objects())
    # The Namespace goes with the CRD (nothing they need is ours), then the rest.
    assert msgs[0] == "Applying CustomResourceDefinitions, namespace and config (2 objects)"

    w = sim.get_object("test.appnet.io/v1", "widgets", NS, "w1")
    assert w["spec"] == {"size": 3, "color": "blue"}
    managers = {m["manager"] for m in w["metadata"]["managedFields"]}
    assert managers == {"az-appnet"}
    assert sim.get_object("v1", "configmaps", NS, "istio")["data"] == {"k": "v"}

    wait_ready(cluster, applied, timeout=60, poll=0.1, progress=msgs.append)
    assert any(m.startswith("DaemonSet applink-system/ztunnel ready") for m in msgs)

    before = _versions(cluster)
    n = cluster.request_count
    apply_phases(cluster, phases())
    sent = cluster.request_count - n
    assert _versions(cluster) == before                 # nothing changed: idempotent
    # One PATCH per object, plus one discovery request for the CRD's group-version (the
    # CRD came back Established from the apply: no wait request). Built-in kinds cost
    # no discovery request.
    assert sent == len(_all_objects()) + 1


def test_apply_survives_503_and_429_with_latency(kubesim):
    sim = _one(kubesim)
    waits = []      # recorded, not spent: each 429/503 says Retry-After: 1
    cluster = connect(kubeconfig=sim.kubeconfig_path, context=sim.context,
                      retry=RetryPolicy(sleep=waits.append))
    # Seeded, so the same requests fail each run and some always do.
    sim.faults.set(error_rate=0.2, codes=(503, 429), latency=0.01, seed=8)
    try:
        applied = apply_phases(cluster, phases())
        wait_ready(cluster, applied, timeout=60, poll=0.1)
    finally:
        sim.faults.clear()
    failed = [r for r in sim.requests if r[2] in (503, 429)]
    assert failed, "the fault injection sent no error: the test proves nothing"
    assert waits and min(waits) >= 1, waits          # it retried, as long as the server asked
    for o in _all_objects():
        plural = {"CustomResourceDefinition": "customresourcedefinitions",
                  "Namespace": "namespaces", "ConfigMap": "configmaps",
                  "ServiceAccount": "serviceaccounts", "Widget": "widgets",
                  "Deployment": "deployments", "DaemonSet": "daemonsets"}[o["kind"]]
        assert sim.get_object(o["apiVersion"], plural, o["metadata"].get("namespace"),
                              o["metadata"]["name"]) is not None


def test_daemonset_never_ready_is_named(kubesim):
    sim = _one(kubesim)
    cluster = _connect(sim)
    sim.never_ready("apps/v1", "daemonsets", NS, "ztunnel")
    applied = apply_phases(cluster, phases())
    with pytest.raises(ClusterError) as e:
        wait_ready(cluster, applied, timeout=2, poll=0.2)
    msg = e.value.message
    assert "DaemonSet applink-system/ztunnel: 0 of 3 pods ready after 2s" in msg
    assert "istiod" not in msg                         # the Deployment did get ready
    # once the fault is gone, a re-run succeeds
    sim.make_ready("apps/v1", "daemonsets", NS, "ztunnel")
    assert wait_ready(cluster, applied, timeout=30, poll=0.1)


def test_invalid_object_fails_at_once_with_server_message(kubesim):
    sim = _one(kubesim)
    cluster = _connect(sim)
    bad = deployment("broken", namespace="default")
    del bad["spec"]["selector"]
    n = cluster.request_count
    with pytest.raises(ClusterError) as e:
        apply_phases(cluster, [Phase("bad", [bad])])
    assert "Deployment default/broken" in e.value.message
    assert "selector" in e.value.message               # the server's own words
    assert cluster.request_count - n == 1              # a 4xx is not retried


def test_prune_deletes_only_ours(kubesim):
    sim = _one(kubesim)
    cluster = _connect(sim)
    apply_phases(cluster, phases())
    apply_phases(cluster, [Phase("extra", [configmap("old-config")])])
    # Foreign objects: in our namespace and elsewhere, one carrying only part of our
    # labels (another member's), none must be touched.
    sim.put_object(configmap("user-config", NS, labels={"app": "user"}))
    sim.put_object(configmap("other-member", "default", labels={
        "app.kubernetes.io/managed-by": "az-appnet", "appnet.azure.com/member": "m2"}))
    sim.put_object(deployment("user-app", labels={"app": "user"}, namespace="default"))

    kinds = [("apiextensions.k8s.io/v1", "customresourcedefinitions", False),
             ("v1", "namespaces", False),
             ("networking.istio.io/v1", "virtualservices", True),   # not served: skipped
             ("test.appnet.io/v1", "widgets", True),
             ("v1", "configmaps", True), ("v1", "serviceaccounts", True),
             ("apps/v1", "deployments", True), ("apps/v1", "daemonsets", True)]
    keep = {identity(configmap("istio"))}
    msgs = []
    deleted = prune(cluster, SELECTOR, kinds, keep=keep, progress=msgs.append)
    assert set(deleted) == {
        "Widget applink-system/w1", "ConfigMap applink-system/old-config",
        "ServiceAccount applink-system/istiod", "Deployment applink-system/istiod",
        "DaemonSet applink-system/ztunnel", "CustomResourceDefinition widgets.test.appnet.io"}
    assert deleted[-1] == "CustomResourceDefinition widgets.test.appnet.io"
    # applink-system holds a ConfigMap that is not ours, and one we keep: it stays
    assert any(m.startswith("Kept namespace applink-system") for m in msgs)
    assert sim.get_object("v1", "namespaces", None, NS) is not None
    for ns, name in ((NS, "user-config"), ("default", "other-member"), (NS, "istio")):
        assert sim.get_object("v1", "configmaps", ns, name) is not None
    assert sim.get_object("apps/v1", "deployments", "default", "user-app") is not None
    assert sim.get_object("apps/v1", "deployments", NS, "istiod") is None

    # Once only ours is left, the namespace goes too; a second prune finds nothing more.
    sim.delete_object("v1", "configmaps", NS, "user-config")
    assert prune(cluster, SELECTOR, kinds) == ["ConfigMap applink-system/istio",
                                               "Namespace applink-system"]
    assert prune(cluster, SELECTOR, kinds) == []


def test_prune_keeps_crd_with_custom_resources_left(kubesim):
    sim = _one(kubesim)
    cluster = _connect(sim)
    apply_phases(cluster, phases()[:2])
    sim.put_object({"apiVersion": "test.appnet.io/v1", "kind": "Widget",
                    "metadata": {"name": "users-widget", "namespace": "default"},
                    "spec": {"size": 1}})
    msgs = []
    deleted = prune(cluster, SELECTOR, [
        ("test.appnet.io/v1", "widgets", True),
        ("apiextensions.k8s.io/v1", "customresourcedefinitions", False)],
        progress=msgs.append)
    assert deleted == ["Widget applink-system/w1"]
    assert any("Kept CustomResourceDefinition widgets.test.appnet.io" in m
               and "default/users-widget" in m for m in msgs)


def test_two_clusters_in_parallel_keep_their_own_credentials(kubesim):
    sims = kubesim(2)
    clusters = [_connect(s) for s in sims]
    assert clusters[0].server != clusters[1].server
    errors = []

    def run(c):
        try:
            apply_phases(c, phases())
        except Exception as e:            # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c,)) for c in clusters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for s in sims:
        assert s.get_object("test.appnet.io/v1", "widgets", NS, "w1") is not None


def gateway_api_crd():
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gateways.gateway.networking.k8s.io"},
        "spec": {"group": "gateway.networking.k8s.io", "scope": "Namespaced",
                 "names": {"kind": "Gateway", "plural": "gateways", "singular": "gateway",
                           "listKind": "GatewayList"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {
                                   "type": "object",
                                   "x-kubernetes-preserve-unknown-fields": True}}}]}}


def east_west_gateway():
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": _meta("istio-eastwestgateway", NS),
            "spec": {"gatewayClassName": "istio-east-west", "listeners": [{
                "name": "mesh", "port": 15008, "protocol": "HBONE",
                "tls": {"mode": "Terminate"}}]}}


def test_wait_for_gateway_address(kubesim):
    sim = _one(kubesim)
    sim.put_object(gateway_api_crd())      # a prerequisite the user installs, not ours
    cluster = _connect(sim)
    applied = apply_phases(cluster, phases() + [Phase("gateway", [east_west_gateway()])])
    msgs = []
    wait_ready(cluster, applied, timeout=30, poll=0.1, progress=msgs.append)
    assert any(m.startswith("Gateway applink-system/istio-eastwestgateway ready (address ")
               for m in msgs), msgs


def test_gateway_without_address_is_named(kubesim):
    sim = _one(kubesim)
    sim.put_object(gateway_api_crd())
    cluster = _connect(sim)
    sim.never_ready("gateway.networking.k8s.io/v1", "gateways", NS, "istio-eastwestgateway")
    applied = apply_phases(cluster, [Phase("ns", [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(NS)},
        east_west_gateway()])])
    with pytest.raises(ClusterError) as e:
        wait_ready(cluster, applied, timeout=1, poll=0.2)
    assert "Gateway applink-system/istio-eastwestgateway: " in e.value.message

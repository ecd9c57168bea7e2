"""Deletion as on a real API server: finalizers, propagation policies, Terminating
namespaces and CRDs."""
import pytest
from kubernetes import client

from tests.kubesim import KubeSim

from .helpers import api_client, deployment, kubectl, make_ns, needs_kubectl, raw

HOLD = "example.com/hold"
WIDGETS = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                 "openAPIV3Schema": {"type": "object",
                                     "x-kubernetes-preserve-unknown-fields": True}}}]}}


def _gone(fn):
    try:
        fn()
    except client.ApiException as e:
        return e.status == 404
    return False


def _wait_gone(sim, api_version, plural, ns, name):
    """Wait (on the store's change notifications, no sleeps) until the object is gone."""
    with sim.store.lock:
        while sim.get_object(api_version, plural, ns, name) is not None:
            assert sim.store.changed.wait(30), "%s %s still there" % (plural, name)


def test_finalizers_keep_an_object_until_they_are_removed(v1):
    ns = make_ns(v1)
    v1.create_namespaced_config_map(ns, {"metadata": {"name": "held", "finalizers": [HOLD]}})
    v1.delete_namespaced_config_map("held", ns)
    cm = v1.read_namespaced_config_map("held", ns)
    assert cm.metadata.deletion_timestamp is not None and cm.metadata.finalizers == [HOLD]
    with pytest.raises(client.ApiException) as e:
        v1.patch_namespaced_config_map("held", ns, {"metadata": {
            "finalizers": [HOLD, "example.com/more"]}})
    assert e.value.status == 422 and "no new finalizers" in e.value.body
    v1.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})
    assert _gone(lambda: v1.read_namespaced_config_map("held", ns))


def test_a_namespace_with_a_finalized_object_stays_terminating_until_it_is_released():
    with KubeSim(name="nsdel") as sim:
        api = api_client(sim)
        v1 = client.CoreV1Api(api)
        v1.create_namespace({"metadata": {"name": "shop"}})
        v1.create_namespaced_config_map("shop", {"metadata": {"name": "held",
                                                              "finalizers": [HOLD]}})
        v1.create_namespaced_config_map("shop", {"metadata": {"name": "free"}})
        v1.delete_namespace("shop")
        ns = v1.read_namespace("shop")
        assert ns.status.phase == "Terminating" and ns.spec.finalizers == ["kubernetes"]
        conds = {c.type: c for c in ns.status.conditions}
        assert conds["NamespaceContentRemaining"].status == "True"
        assert "configmaps has 1 resource instances" in conds["NamespaceContentRemaining"].message
        assert HOLD in conds["NamespaceFinalizersRemaining"].message
        # The content without finalizers is gone; the held object is being deleted.
        assert _gone(lambda: v1.read_namespaced_config_map("free", "shop"))
        assert v1.read_namespaced_config_map("held", "shop").metadata.deletion_timestamp
        # New content is refused as the NamespaceLifecycle admission plugin refuses it.
        code, st = raw(api, "POST", "/api/v1/namespaces/shop/configmaps",
                       {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new"}})
        assert (code, st["reason"]) == (403, "Forbidden")
        assert st["message"] == ('configmaps "new" is forbidden: unable to create new content '
                                 'in namespace shop because it is being terminated')
        assert st["details"]["causes"][0]["reason"] == "NamespaceTerminating"
        with pytest.raises(client.ApiException) as e:
            v1.create_namespace({"metadata": {"name": "shop"}})
        assert e.value.status == 409
        v1.patch_namespaced_config_map("held", "shop", {"metadata": {"finalizers": None}})
        assert _gone(lambda: v1.read_namespace("shop"))
        v1.create_namespace({"metadata": {"name": "shop"}})


def test_namespaces_take_the_configured_time_to_go():
    with KubeSim(name="slowns", namespace_delete_delay=0.3) as sim:
        v1 = client.CoreV1Api(api_client(sim))
        v1.create_namespace({"metadata": {"name": "shop"}})
        client.AppsV1Api(v1.api_client).create_namespaced_deployment(
            "shop", deployment("web", "shop"))
        v1.delete_namespace("shop")
        assert v1.read_namespace("shop").status.phase == "Terminating"
        # The content goes at once; the namespace after the delay.
        assert v1.list_namespaced_pod("shop").items == []
        _wait_gone(sim, "v1", "namespaces", None, "shop")
        assert _gone(lambda: v1.read_namespace("shop"))


@needs_kubectl
def test_kubectl_delete_namespace_waits_until_it_is_gone():
    with KubeSim(name="kdel", namespace_delete_delay=0.5) as sim:
        kubectl(sim, "create", "namespace", "shop")
        kubectl(sim, "-n", "shop", "create", "configmap", "c", "--from-literal=a=b")
        r = kubectl(sim, "delete", "namespace", "shop", "--timeout=30s")
        assert 'namespace "shop" deleted' in r.stdout
        assert sim.get_object("v1", "namespaces", None, "shop") is None


def test_foreground_deletion_waits_for_blocking_dependents(v1, apps):
    ns = make_ns(v1)
    apps.create_namespaced_deployment(ns, deployment("web", ns))
    (pod,) = v1.list_namespaced_pod(ns).items
    v1.patch_namespaced_pod(pod.metadata.name, ns, {"metadata": {"finalizers": [HOLD]}})
    apps.delete_namespaced_deployment("web", ns, propagation_policy="Foreground")
    d = apps.read_namespaced_deployment("web", ns)
    assert d.metadata.deletion_timestamp and "foregroundDeletion" in d.metadata.finalizers
    (rs,) = apps.list_namespaced_replica_set(ns).items
    assert "foregroundDeletion" in rs.metadata.finalizers
    v1.patch_namespaced_pod(pod.metadata.name, ns, {"metadata": {"finalizers": None}})
    assert _gone(lambda: apps.read_namespaced_deployment("web", ns))
    assert apps.list_namespaced_replica_set(ns).items == []


def test_orphan_deletion_keeps_the_replicaset_and_pods(v1, apps):
    ns = make_ns(v1)
    apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=2))
    apps.delete_namespaced_deployment("web", ns, propagation_policy="Orphan")
    assert _gone(lambda: apps.read_namespaced_deployment("web", ns))
    (rs,) = apps.list_namespaced_replica_set(ns).items
    assert not rs.metadata.owner_references
    assert len(v1.list_namespaced_pod(ns).items) == 2


def test_background_deletion_collects_replicasets_and_pods(sim, v1, apps):
    ns = make_ns(v1)
    apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=2))
    apps.delete_namespaced_deployment("web", ns)
    assert apps.list_namespaced_replica_set(ns).items == []
    pods = v1.list_namespaced_pod(ns).items
    assert len(pods) == 2 and all(p.metadata.deletion_timestamp for p in pods)  # stopping
    for p in pods:
        _wait_gone(sim, "v1", "pods", ns, p.metadata.name)
    assert v1.list_namespaced_pod(ns).items == []


def test_a_crd_goes_after_its_custom_resources():
    with KubeSim(name="crddel") as sim:
        api = api_client(sim)
        ext, co = client.ApiextensionsV1Api(api), client.CustomObjectsApi(api)
        ext.create_custom_resource_definition(WIDGETS)
        for name, fins in (("held", [HOLD]), ("free", [])):
            co.create_namespaced_custom_object("example.com", "v1", "default", "widgets", {
                "apiVersion": "example.com/v1", "kind": "Widget",
                "metadata": {"name": name, "finalizers": fins}})
        ext.delete_custom_resource_definition("widgets.example.com")
        crd = ext.read_custom_resource_definition("widgets.example.com")
        assert "customresourcecleanup.apiextensions.k8s.io" in crd.metadata.finalizers
        term = next(c for c in crd.status.conditions if c.type == "Terminating")
        assert (term.status, term.reason) == ("True", "InstanceDeletionInProgress")
        items = co.list_namespaced_custom_object("example.com", "v1", "default",
                                                 "widgets")["items"]
        assert [i["metadata"]["name"] for i in items] == ["held"]
        with pytest.raises(client.ApiException) as e:
            co.create_namespaced_custom_object("example.com", "v1", "default", "widgets", {
                "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "n"}})
        assert e.value.status == 405
        co.patch_namespaced_custom_object("example.com", "v1", "default", "widgets", "held",
                                          {"metadata": {"finalizers": None}})
        assert _gone(lambda: ext.read_custom_resource_definition("widgets.example.com"))
        code, _ = raw(api, "GET", "/apis/example.com/v1/widgets")
        assert code == 404


def test_a_terminating_namespace_refuses_what_a_controller_would_recreate():
    # A Deployment in a terminating namespace does not bring back the Pods it loses.
    with KubeSim(name="nsrace", namespace_delete_delay=3600) as sim:
        v1 = client.CoreV1Api(api_client(sim))
        apps = client.AppsV1Api(v1.api_client)
        v1.create_namespace({"metadata": {"name": "shop"}})
        apps.create_namespaced_deployment("shop", deployment("web", "shop", replicas=2))
        v1.delete_namespace("shop")
        assert v1.list_namespaced_pod("shop").items == []
        assert apps.list_namespaced_replica_set("shop").items == []
        assert v1.read_namespace("shop").status.phase == "Terminating"


def _pods(v1, ns):
    return {p.metadata.name: p for p in v1.list_namespaced_pod(ns).items}


def test_a_deleted_pod_stays_terminating_while_its_containers_stop():
    with KubeSim(name="podgrace", pod_termination_delay=0.5) as sim:
        api = api_client(sim)
        v1, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        ns = make_ns(v1)
        apps.create_namespaced_deployment(ns, deployment("web", ns))
        v1.create_namespaced_service(ns, {"metadata": {"name": "web"}, "spec": {
            "selector": {"app": "web"}, "ports": [{"port": 80}]}})
        (old,) = _pods(v1, ns)
        v1.delete_namespaced_pod(old, ns)
        # Endpoints drop a stopping Pod at once; its EndpointSlice entry says it terminates.
        addresses = [a.target_ref.name for a in v1.read_namespaced_endpoints("web", ns).subsets[0].addresses]
        assert old not in addresses and len(addresses) == 1
        (sl,) = client.DiscoveryV1Api(api).list_namespaced_endpoint_slice(ns).items
        conditions = {e.target_ref.name: e.conditions for e in sl.endpoints}
        assert conditions[old].terminating and not conditions[old].ready
        # Still there, marked with when its grace period ends; its ReplicaSet has already
        # started a replacement, which counts while the old one does not.
        pods = _pods(v1, ns)
        stopping = pods[old].metadata
        assert stopping.deletion_timestamp is not None and stopping.deletion_grace_period_seconds == 30
        assert len(pods) == 2 and not pods[next(n for n in pods if n != old)].metadata.deletion_timestamp
        _wait_gone(sim, "v1", "pods", ns, old)
        d = apps.read_namespaced_deployment("web", ns)
        assert d.status.replicas == 1 and d.status.ready_replicas == 1


def test_grace_period_zero_and_unscheduled_pods_are_deleted_at_once():
    with KubeSim(name="podnow", pod_termination_delay=30) as sim:
        api = api_client(sim)
        v1 = client.CoreV1Api(api)
        ns = make_ns(v1)
        v1.create_namespaced_pod(ns, {"metadata": {"name": "bound"}, "spec": {
            "containers": [{"name": "c", "image": "x"}]}})
        v1.create_namespaced_pod(ns, {"metadata": {"name": "nowhere"}, "spec": {
            "nodeSelector": {"no-such": "label"}, "containers": [{"name": "c", "image": "x"}]}})
        v1.delete_namespaced_pod("nowhere", ns)     # no kubelet runs it: nothing to stop
        assert _gone(lambda: v1.read_namespaced_pod("nowhere", ns))
        v1.delete_namespaced_pod("bound", ns)
        assert v1.read_namespaced_pod("bound", ns).metadata.deletion_timestamp is not None
        # kubectl delete --grace-period=0 --force: a second delete may shorten the grace.
        v1.delete_namespaced_pod("bound", ns, grace_period_seconds=0)
        assert _gone(lambda: v1.read_namespaced_pod("bound", ns))


@needs_kubectl
def test_kubectl_delete_pod_waits_until_it_is_gone():
    with KubeSim(name="podctl", pod_termination_delay=0.5) as sim:
        v1 = client.CoreV1Api(api_client(sim))
        ns = make_ns(v1)
        v1.create_namespaced_pod(ns, {"metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "c", "image": "x"}]}})
        out = kubectl(sim, "delete", "pod", "p", "-n", ns).stdout
        assert 'pod "p" deleted' in out
        assert _gone(lambda: v1.read_namespaced_pod("p", ns))


def test_a_namespace_of_many_objects_is_deleted_in_one_pass():
    # Each removal asks the namespace controller for another pass; they must follow each
    # other, not nest (a data plane's worth of objects used to exhaust the stack).
    with KubeSim(name="bigns", namespace_delete_delay=0.2) as sim:
        v1 = client.CoreV1Api(api_client(sim))
        v1.create_namespace({"metadata": {"name": "big"}})
        for i in range(600):
            sim.put_object({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "cm-%d" % i, "namespace": "big"}})
        sim.delete_object("v1", "namespaces", None, "big")
        _wait_gone(sim, "v1", "namespaces", "", "big")
        assert _gone(lambda: v1.read_namespace("big"))
        assert v1.list_namespaced_config_map("big").items == []

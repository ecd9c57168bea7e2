"""Pure logic of apply/prune/wait: phase ordering, readiness rules, prune order,
selector matching, and apply_phases/prune/wait_ready driven against an in-memory fake."""

import threading

import pytest

from azext_appnet.errors import ClusterError
from azext_appnet.kube import apply as kapply
from azext_appnet.kube.apply import apply_phases, prune, prune_order, readiness, wait_ready
from azext_appnet.kube.discovery import Discovery


def _obj(kind, name, namespace=None, api_version=None, **extra):
    api_version = api_version or {"Deployment": "apps/v1", "DaemonSet": "apps/v1",
                                  "CustomResourceDefinition": "apiextensions.k8s.io/v1",
                                  "Gateway": "gateway.networking.k8s.io/v1"}.get(kind, "v1")
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    o = {"apiVersion": api_version, "kind": kind, "metadata": meta}
    o.update(extra)
    return o


class Phase:
    def __init__(self, name, objects):
        self.name, self.objects = name, objects


def _crd(group, kind, plural, scope="Namespaced"):
    return _obj("CustomResourceDefinition", "%s.%s" % (plural, group), spec={
        "group": group, "scope": scope, "names": {"kind": kind, "plural": plural},
        "versions": [{"name": "v1", "served": True, "storage": True}]})


class FakeCluster:
    """Records applies; CRDs become Established at once; the GV is then served."""

    server, context = "https://fake", "fake"
    kubectl = "kubectl --context fake"

    def __init__(self, fail=None):
        self.discovery = Discovery(self)
        self.applied, self.lock = [], threading.Lock()
        self.store = {}
        self.fail = fail or {}
        self.served_gvs = {}

    def request(self, method, path, **kw):
        gv = path[len("/apis/"):] if path.startswith("/apis/") else "v1"
        res = self.served_gvs.get(gv)
        return None if res is None else {"resources": res}

    def apply(self, obj, field_manager="az-appnet", force=True):
        name = obj["metadata"]["name"]
        if name in self.fail:   # a message, or (message, recommendation)
            fail = self.fail[name]
            raise ClusterError(*fail) if isinstance(fail, tuple) else ClusterError(fail)
        res = self.discovery.resolve(obj["apiVersion"], obj["kind"])
        if res is None:
            raise ClusterError("%s not served" % obj["kind"])
        with self.lock:
            self.applied.append((obj["kind"], name))
        if obj["kind"] == "CustomResourceDefinition":
            live = dict(obj, status={"conditions": [{"type": "Established",
                                                     "status": "True"}]})
            self.store[name] = live
            spec = obj["spec"]
            self.served_gvs.setdefault(spec["group"] + "/v1", []).append(
                {"name": spec["names"]["plural"], "kind": spec["names"]["kind"],
                 "namespaced": spec["scope"] == "Namespaced"})
        return obj

    def get(self, api_version, kind, name, namespace=None):
        return self.store.get(name)

    def list(self, api_version, plural, namespace=None, label_selector=None):
        return []                      # no Pods to look at


def test_apply_phases_order_and_crd_wait():
    c = FakeCluster()
    phases = [
        Phase("CRDs", [_crd("x.io", "Foo", "foos")]),
        Phase("core", [_obj("Namespace", "ns"), _obj("ConfigMap", "c", "ns"),
                       _obj("Foo", "f", "ns", api_version="x.io/v1")]),
        Phase("workloads", [_obj("Deployment", "d", "ns")]),
    ]
    msgs = []
    out = apply_phases(c, phases, progress=msgs.append)
    assert len(out) == 5
    kinds = [k for k, _ in c.applied]
    # The Namespaces and CRDs of every phase together, then the rest, then what runs.
    assert set(kinds[0:2]) == {"CustomResourceDefinition", "Namespace"}
    assert set(kinds[2:4]) == {"ConfigMap", "Foo"} and kinds[4] == "Deployment"
    assert msgs[0] == "Applying CRDs, core (2 objects)"
    assert any("established" in m for m in msgs)


def test_crd_and_its_instance_in_one_phase():
    c = FakeCluster()
    apply_phases(c, [{"name": "all", "objects": [
        _obj("Foo", "f", "ns", api_version="x.io/v1"), _crd("x.io", "Foo", "foos"),
        _obj("Namespace", "ns")]}])
    kinds = [k for k, _ in c.applied]
    assert kinds.index("Foo") > kinds.index("CustomResourceDefinition")


def test_apply_phases_reports_failures_and_stops():
    c = FakeCluster(fail={"bad": "ConfigMap ns/bad: the API server refused it (HTTP 422)"})
    with pytest.raises(ClusterError) as e:
        apply_phases(c, [Phase("one", [_obj("ConfigMap", "bad", "ns"),
                                       _obj("ConfigMap", "good", "ns")]),
                         Phase("two", [_obj("Deployment", "later", "ns")])])
    assert "ConfigMap ns/bad" in e.value.message
    # What would start with the configuration that failed is not applied.
    assert ("Deployment", "later") not in c.applied


def test_schedule_keeps_only_the_barriers_of_real_dependencies():
    phases = [Phase("crds", [_crd("x.io", "Foo", "foos")]),
              Phase("namespace", [_obj("Namespace", "ns")]),
              Phase("config", [_obj("Secret", "cacerts", "ns"), _obj("ConfigMap", "mesh", "ns")]),
              Phase("istiod", [_obj("ServiceAccount", "istiod", "ns"), _obj("Deployment", "istiod", "ns")]),
              Phase("cni", [_obj("DaemonSet", "cni", "ns")]),
              Phase("ztunnel", [_obj("DaemonSet", "ztunnel", "ns")]),
              Phase("gateway", [_obj("Gateway", "east-west", "ns")])]
    plan = [[(o["kind"], o["metadata"]["name"]) for o in wave] for _, wave in kapply.schedule(phases)]
    assert plan == [
        [("CustomResourceDefinition", "foos.x.io"), ("Namespace", "ns")],
        [("Secret", "cacerts"), ("ConfigMap", "mesh"), ("ServiceAccount", "istiod")],
        # istiod starts after cacerts exists; CNI, ztunnel and the gateway need no barrier
        # between them (nothing waits for readiness there).
        [("Deployment", "istiod"), ("DaemonSet", "cni"), ("DaemonSet", "ztunnel"),
         ("Gateway", "east-west")]]
    assert [names for names, _ in kapply.schedule(phases)][2] == ["istiod", "cni", "ztunnel", "gateway"]


def test_a_wave_failing_on_several_objects_names_each_cause_once_with_their_fixes():
    outage = ("Cannot reach the API server at https://fake: connection refused.",
              "Check that the cluster is running.")
    c = FakeCluster(fail={"a": outage, "b": outage,
                          "c": ("ConfigMap ns/c: conflict (409): owned by kubectl.", "Apply with force.")})
    with pytest.raises(ClusterError) as e:
        apply_phases(c, [Phase("one", [_obj("ConfigMap", n, "ns") for n in "abc"])])
    assert e.value.message == (
        "3 objects of one could not be applied: Cannot reach the API server at https://fake: connection "
        "refused (ConfigMap ns/a, ConfigMap ns/b); conflict (409): owned by kubectl (ConfigMap ns/c).")
    assert e.value.recommendation == "Check that the cluster is running. Apply with force."


def test_readiness_rules():
    dep = _obj("Deployment", "d", "ns", spec={"replicas": 2},
               status={"observedGeneration": 1, "availableReplicas": 2, "updatedReplicas": 2})
    dep["metadata"]["generation"] = 1
    assert readiness(dep) == (True, "2 of 2 replicas available")
    dep["metadata"]["generation"] = 2                   # spec changed, not observed yet
    assert readiness(dep)[0] is False
    ds = _obj("DaemonSet", "z", "ns", status={"desiredNumberScheduled": 3, "numberReady": 0,
                                              "updatedNumberScheduled": 3})
    assert readiness(ds) == (False, "0 of 3 pods ready")
    ds["status"]["numberReady"] = 3
    assert readiness(ds)[0] is True
    gw = _obj("Gateway", "g", "ns", status={})
    assert readiness(gw) == (False, "no address yet")
    gw["status"]["addresses"] = [{"type": "IPAddress", "value": "10.0.0.7"}]
    assert readiness(gw) == (True, "address 10.0.0.7")
    gw["status"]["conditions"] = [{"type": "Programmed", "status": "False",
                                   "reason": "AddressNotAssigned"}]
    assert readiness(gw) == (False, "not programmed (AddressNotAssigned)")
    # Programmed for the spec before the one just applied (an apply's answer): not yet.
    gw["metadata"]["generation"] = 2
    gw["status"]["conditions"] = [{"type": "Programmed", "status": "True", "observedGeneration": 1}]
    assert readiness(gw) == (False, "not programmed yet for its latest spec")
    gw["status"]["conditions"][0]["observedGeneration"] = 2
    assert readiness(gw) == (True, "address 10.0.0.7")
    assert readiness(_obj("ConfigMap", "c", "ns"))[0] is True


def test_wait_ready_times_out_naming_the_object(monkeypatch):
    c = FakeCluster()
    c.store["ztunnel"] = _obj("DaemonSet", "ztunnel", "applink-system", status={
        "desiredNumberScheduled": 3, "numberReady": 0, "updatedNumberScheduled": 0})
    c.store["istiod"] = _obj("Deployment", "istiod", "applink-system", spec={"replicas": 1},
                             status={"availableReplicas": 1, "updatedReplicas": 1})
    msgs = []
    with pytest.raises(ClusterError) as e:
        wait_ready(c, [c.store["ztunnel"], c.store["istiod"], _obj("ConfigMap", "x", "n")],
                   timeout=0.2, poll=0.05, progress=msgs.append)
    assert "DaemonSet applink-system/ztunnel: 0 of 3 pods ready after 0s" in e.value.message
    assert "istiod" not in e.value.message
    assert any("Deployment applink-system/istiod ready" in m for m in msgs)


def test_prune_order_puts_namespaces_then_crds_last():
    kinds = [("apiextensions.k8s.io/v1", "customresourcedefinitions", False),
             ("v1", "namespaces", False), ("v1", "configmaps", True),
             ("apps/v1", "deployments", True), ("rbac.authorization.k8s.io/v1",
                                                "clusterroles", False)]
    assert [k[1] for k in prune_order(kinds)] == [
        "configmaps", "deployments", "clusterroles", "namespaces",
        "customresourcedefinitions"]


@pytest.mark.parametrize("selector,labels,expected", [
    ("a=b", {"a": "b"}, True), ("a=b", {"a": "c"}, False), ("a==b", {"a": "b"}, True),
    ("a=b,c=d", {"a": "b"}, False), ("a", {"a": ""}, True), ("!a", {"a": "x"}, False),
    ("a!=b", {"a": "c"}, True), ("a!=b", {}, True), ("", {}, True),
])
def test_selector_matches(selector, labels, expected):
    assert kapply._selector_matches(selector, labels) is expected


class PruneFake:
    """list/delete over a dict of objects; used to check what prune deletes."""

    def __init__(self, objects):
        self.objects = objects
        self.deleted = []

    def list(self, api_version, plural, namespace=None, label_selector=None):
        out = []
        for o in self.objects:
            if o["_plural"] != plural:
                continue
            if namespace and o["metadata"].get("namespace") != namespace:
                continue
            if label_selector and not kapply._selector_matches(
                    label_selector, o["metadata"].get("labels") or {}):
                continue
            out.append(o)
        return out

    def delete(self, api_version, plural, name, namespace=None):
        self.deleted.append((plural, namespace, name))
        self.objects = [o for o in self.objects
                        if not (o["_plural"] == plural and o["metadata"]["name"] == name)]
        return True

    def request(self, method, path, **kw):
        return {"items": []}


def _lab(o, plural, labels):
    o["metadata"]["labels"] = labels
    o["_plural"] = plural
    return o


def test_prune_keeps_keep_and_foreign_objects():
    ours = {"app.kubernetes.io/managed-by": "az-appnet"}
    c = PruneFake([
        _lab(_obj("ConfigMap", "mine", "applink-system"), "configmaps", ours),
        _lab(_obj("ConfigMap", "kept", "applink-system"), "configmaps", ours),
        _lab(_obj("ConfigMap", "theirs", "applink-system"), "configmaps", {}),
        _lab(_obj("Namespace", "applink-system"), "namespaces", ours),
        _lab(_crd("x.io", "Foo", "foos"), "customresourcedefinitions", ours),
    ])
    msgs = []
    deleted = prune(c, "app.kubernetes.io/managed-by=az-appnet",
                    [("apiextensions.k8s.io/v1", "customresourcedefinitions", False),
                     ("v1", "namespaces", False), ("v1", "configmaps", True)],
                    keep={("v1", "ConfigMap", "applink-system", "kept")},
                    progress=msgs.append)
    assert deleted == ["ConfigMap applink-system/mine",
                       "CustomResourceDefinition foos.x.io"]
    # the namespace holds a foreign ConfigMap (and one we keep): not deleted
    assert any("Kept namespace applink-system" in m and "theirs" in m for m in msgs)

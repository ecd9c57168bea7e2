"""Discovery: built-in kinds cost nothing, CRDs we apply teach their kinds, unknown kinds
cost one request per group-version."""

from azext_appnet.kube.discovery import Discovery


class Fake:
    def __init__(self, docs):
        self.docs, self.paths = docs, []

    def request(self, method, path, **kw):
        self.paths.append(path)
        return self.docs.get(path)


def test_builtin_kinds_need_no_request():
    f = Fake({})
    d = Discovery(f)
    for gv, key, plural, ns in [("v1", "Namespace", "namespaces", False),
                                ("v1", "configmaps", "configmaps", True),
                                ("apps/v1", "DaemonSet", "daemonsets", True),
                                ("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                                 "customresourcedefinitions", False),
                                ("admissionregistration.k8s.io/v1",
                                 "MutatingWebhookConfiguration",
                                 "mutatingwebhookconfigurations", False),
                                ("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets",
                                 True),
                                ("autoscaling/v2", "HorizontalPodAutoscaler",
                                 "horizontalpodautoscalers", True)]:
        r = d.resolve(gv, key)
        assert (r.plural, r.namespaced) == (plural, ns)
    assert f.paths == [] and d.fetches == 0


def test_unknown_kind_fetches_its_group_version_once():
    f = Fake({"/apis/gateway.networking.k8s.io/v1": {"resources": [
        {"name": "gateways", "kind": "Gateway", "namespaced": True},
        {"name": "gateways/status", "kind": "Gateway", "namespaced": True},
        {"name": "gatewayclasses", "kind": "GatewayClass", "namespaced": False}]}})
    d = Discovery(f)
    assert d.resolve("gateway.networking.k8s.io/v1", "Gateway").plural == "gateways"
    assert d.resolve("gateway.networking.k8s.io/v1", "gatewayclasses").namespaced is False
    assert d.resolve("gateway.networking.k8s.io/v1", "Gateway").kind == "Gateway"
    assert f.paths == ["/apis/gateway.networking.k8s.io/v1"]
    assert d.resolve("x.io/v1", "Foo") is None                  # not served
    assert d.fetches == 2


def test_resolves_that_miss_together_share_one_discovery_read():
    import threading
    gv, started, release = "gateway.networking.k8s.io/v1", threading.Event(), threading.Event()

    class Slow(Fake):
        def request(self, method, path, **kw):
            started.set()
            release.wait(10)
            return super().request(method, path, **kw)

    class Gate:  # the group-version's lock, telling who came to it
        def __init__(self):
            self.lock, self.arrived = threading.Lock(), threading.Semaphore(0)

        def __enter__(self):
            self.arrived.release()
            self.lock.acquire()     # pylint: disable=consider-using-with

        def __exit__(self, *exc):
            self.lock.release()

    f = Slow({"/apis/" + gv: {"resources": [{"name": "gateways", "kind": "Gateway", "namespaced": True}]}})
    d = Discovery(f)
    gate = d._gates[gv] = Gate()    # pylint: disable=protected-access
    found = []
    first = threading.Thread(target=lambda: found.append(d.resolve(gv, "gateways")))
    first.start()
    started.wait(10)
    # Both miss while the first read is out: the second waits for it and takes its answer.
    second = threading.Thread(target=lambda: found.append(d.resolve(gv, "Gateway")))
    second.start()
    assert gate.arrived.acquire(timeout=10) and gate.arrived.acquire(timeout=10)
    release.set()
    first.join(10)
    second.join(10)
    assert [r.plural for r in found] == ["gateways", "gateways"]
    assert f.paths == ["/apis/" + gv]
    # A kind still missing after that answer is asked for again (a CRD installed since).
    assert d.resolve(gv, "HTTPRoute") is None and f.paths == ["/apis/" + gv] * 2


def test_registered_crd_resolves_without_request_and_served_asks():
    f = Fake({})
    d = Discovery(f)
    d.register_crd({"spec": {"group": "security.istio.io", "scope": "Namespaced",
                             "names": {"kind": "PeerAuthentication",
                                       "plural": "peerauthentications"},
                             "versions": [{"name": "v1", "served": True},
                                          {"name": "v1beta1", "served": True},
                                          {"name": "v1alpha1", "served": False}]}})
    assert d.resolve("security.istio.io/v1beta1", "PeerAuthentication").plural == \
        "peerauthentications"
    assert f.paths == []
    assert d.served("security.istio.io/v1", {"peerauthentications"}) is False  # asks
    assert f.paths == ["/apis/security.istio.io/v1"]
    f.docs["/apis/security.istio.io/v1"] = {"resources": [
        {"name": "peerauthentications", "kind": "PeerAuthentication", "namespaced": True}]}
    assert d.served("security.istio.io/v1", "peerauthentications") is True

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

"""check_reads.SharedLists: a list the check reads whole serves the narrower lists of the same
collection (by label equalities, by namespace) without another request; any other list goes to
the cluster as asked."""

from azext_appnet.kube.discovery import Discovery
from azext_appnet.operations.check_reads import SharedLists, equalities


class Fake:
    def __init__(self, objects):
        self.objects, self.asked = objects, []
        self.discovery = Discovery(self)

    def list(self, api_version, plural, namespace=None, label_selector=None):
        self.asked.append((plural, namespace, label_selector))
        return [o for o in self.objects if namespace is None or o["metadata"].get("namespace") == namespace]


def _obj(name, namespace=None, **labels):
    meta = {"name": name, "labels": labels}
    if namespace:
        meta["namespace"] = namespace
    return {"metadata": meta}


def test_narrower_lists_come_out_of_the_whole_one():
    cluster = Fake([_obj("a", "ns1", role="x"), _obj("b", "ns2", role="x"), _obj("c", "ns1")])
    shared = SharedLists(cluster, {("v1", "secrets", None)})
    names = lambda items: [o["metadata"]["name"] for o in items]
    assert names(shared.list("v1", "Secret", namespace="ns1")) == ["a", "c"]
    assert names(shared.list("v1", "secrets", label_selector="role=x")) == ["a", "b"]
    assert names(shared.list("v1", "secrets", namespace="ns1", label_selector={"role": "x"})) == ["a"]
    assert names(shared.list("v1", "secrets", label_selector="role==y")) == []
    assert cluster.asked == [("secrets", None, None)]
    # A selector that is not only equalities, and another collection, are the server's to answer.
    shared.list("v1", "secrets", label_selector="role!=x")
    shared.list("v1", "configmaps", namespace="ns1", label_selector="role=x")
    assert cluster.asked[1:] == [("secrets", None, "role!=x"), ("configmaps", "ns1", "role=x")]


def test_equalities():
    assert equalities(None) == {} and equalities("a=b, c==d") == {"a": "b", "c": "d"}
    assert equalities({"a": "b"}) == {"a": "b"}
    for other in ("a!=b", "a", "a in (b)", "!a", {"a": None}, {"a": "!b"}):
        assert equalities(other) is None, other

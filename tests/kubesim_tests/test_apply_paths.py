"""managedFields bookkeeping looks many paths up at once (apply._Values); it must find what
value_at finds one path at a time, list items addressed by keys included."""
import json

from tests.kubesim import apply
from tests.kubesim.schemas import Node

_PORTS = [
    {"containerPort": 80, "protocol": "TCP", "name": "a"},
    {"containerPort": 80, "name": "no-protocol"},
    {"containerPort": 80, "protocol": "UDP", "name": "b"},
    {"containerPort": 80, "protocol": "TCP", "name": "duplicate"},
    "not a map",
    {"containerPort": 1.0, "protocol": "TCP"},
    {"containerPort": {"a": 1}, "protocol": "TCP"},
]
_OBJ = {"spec": {"containers": [{"name": "c", "ports": _PORTS,
                                 "env": [{"name": "A", "value": "1"}, {"name": "A"}]}],
                 "finalizers": ["x", "y"], "scalar": 3}}


def _paths():
    c = 'k:{"name":"c"}'
    out = [("f:spec", "f:scalar"), ("f:spec", "f:scalar", "f:below"),
           ("f:spec", "f:finalizers", 'v:"y"'), ("f:spec", "f:finalizers", 'v:"z"'),
           ("f:spec", "f:containers", 'k:{"name":"missing"}', "f:ports"),
           ("f:spec", "f:missing", 'k:{"name":"c"}')]
    keys = [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 80},
            {"containerPort": 80, "protocol": "UDP"}, {"protocol": "TCP"},
            {"containerPort": 80, "protocol": None}, {"containerPort": 1},
            {"containerPort": True}, {"containerPort": {"a": 1}, "protocol": "TCP"},
            {"containerPort": 443}, {}]
    for k in keys:
        item = ("f:spec", "f:containers", c, "f:ports",
                "k:" + json.dumps(k, separators=(",", ":")))
        out += [item, item + ("f:name",), item + ("f:protocol",)]
    for k in ({"name": "A"}, {"name": None}, {"value": "1"}):
        out.append(("f:spec", "f:containers", c, "f:env",
                    "k:" + json.dumps(k, separators=(",", ":")), "f:value"))
    return out


def test_values_found_together_are_those_found_one_by_one():
    values = apply._Values(_OBJ)
    from_schema = apply.fieldset(_OBJ, _node())
    assert any(p[-1].startswith("k:") for p in from_schema)
    for p in _paths() + sorted(from_schema):
        want = apply.value_at(_OBJ, p)
        got = values.at(p)
        assert got is want or (p[-1].startswith("v:") and got == want), p


def test_an_item_is_found_by_its_keys_as_the_first_that_has_them():
    values = apply._Values(_OBJ)
    base = ("f:spec", "f:containers", 'k:{"name":"c"}', "f:ports")
    assert values.at(base + ('k:{"containerPort":80,"protocol":"TCP"}', "f:name")) == "a"
    assert values.at(base + ('k:{"containerPort":80,"protocol":"UDP"}', "f:name")) == "b"
    assert values.at(base + ('k:{"containerPort":80,"protocol":null}', "f:name")) == \
        "no-protocol"
    assert values.at(base + ('k:{"containerPort":443}',)) is apply.MISSING


def _node():
    def map_list(keys, items=None):
        return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": keys,
                "items": items or {}}
    container = {"properties": {"ports": map_list(["containerPort", "protocol"]),
                                "env": map_list(["name"])}}
    return Node({"properties": {"spec": {"properties": {
        "containers": map_list(["name"], container),
        "finalizers": {"x-kubernetes-list-type": "set"}}}}}, None)


def test_unchanged_paths_are_those_whose_values_compare_equal():
    new = json.loads(json.dumps(_OBJ))
    c = new["spec"]["containers"][0]
    c["ports"][2]["name"] = "renamed"           # one field of one item
    c["ports"][5]["containerPort"] = 1          # equal to 1.0, as value_at compares
    c["env"].insert(0, {"name": "B"})
    new["spec"]["finalizers"].append("z")
    same = apply._Same(_OBJ, new)
    paths = _paths() + sorted(apply.fieldset(_OBJ, _node()) | apply.fieldset(new, _node()))
    changed = set()
    for p in paths:
        want = apply.value_at(_OBJ, p) == apply.value_at(new, p)
        assert same(p) == want, p
        if not want:
            changed.add(p)
    port = ("f:spec", "f:containers", 'k:{"name":"c"}', "f:ports",
            'k:{"containerPort":80,"protocol":"UDP"}', "f:name")
    assert port in changed and ("f:spec", "f:scalar") not in changed

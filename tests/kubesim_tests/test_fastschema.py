"""The compiled schema check validation asks first (fastschema): it lets a write skip
jsonschema only when jsonschema would find nothing, so clients see the same errors."""
import copy
import json
import random

from tests.kubesim import schemas, validation

from .helpers import deployment, make_ns, raw

# Values of every JSON type, and of the shapes the built-in schemas most often expect.
_VALUES = [None, True, False, 0, 1, -3, 1.5, 2.0, "", "x", "TCP", "80", [], {}, {"a": 1},
           ["x"], [1], [{}], {"name": "n"}]


def _positions(o, path=()):
    yield path, o
    if isinstance(o, dict):
        for k, v in o.items():
            yield from _positions(v, path + (k,))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from _positions(v, path + (i,))


def _mutate(obj, rng):
    """obj with one to three random changes: a value replaced by one of another type, a
    field removed or added, a list item added."""
    o = json.loads(json.dumps(obj))
    for _ in range(rng.choice((1, 1, 2, 3))):
        path, val = rng.choice(list(_positions(o))[1:])
        parent = o
        for p in path[:-1]:
            parent = parent[p]
        r = rng.random()
        if r < 0.2 and isinstance(path[-1], str):
            del parent[path[-1]]
        elif r < 0.35 and isinstance(val, dict):
            val[rng.choice(("bogus", "name", "type", "port"))] = copy.deepcopy(rng.choice(_VALUES))
        elif r < 0.45 and isinstance(val, list):
            val.append(copy.deepcopy(val[0] if val and rng.random() < 0.5
                                     else rng.choice(_VALUES)))
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(_VALUES))
    return o


def _seeds(sim, api, v1):
    """Objects of many built-in kinds as the emulator stores them: a Deployment with its
    ReplicaSet, Pod and Events, a Service and its Endpoints, the seeded Nodes and RBAC."""
    ns = make_ns(v1)
    d = deployment("web", ns, ports=[{"containerPort": 8080, "name": "http"}],
                   env=[{"name": "A", "value": "1"}],
                   resources={"limits": {"cpu": "500m", "memory": "128Mi"}},
                   readinessProbe={"httpGet": {"port": "http", "path": "/"}})
    assert raw(api, "POST", "/apis/apps/v1/namespaces/%s/deployments" % ns, d)[0] == 201
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    assert raw(api, "POST", "/api/v1/namespaces/%s/services" % ns, svc)[0] == 201
    ver = schemas.schema_version(sim.version)
    out = []
    with sim.store.lock:
        for key in sim.store.list_keys():
            rt = sim.registry.lookup_plural_any_version(*key)
            if rt is None or rt.crd_schema is not None:
                continue
            compiled = validation._builtin_validator(ver, rt.group, rt.version, rt.kind)
            for o in sim.store.list(key)[:3] if compiled else []:
                out.append((rt.kind, compiled, json.loads(json.dumps(o))))
    return out


def test_compiled_check_agrees_with_jsonschema_on_mutated_objects(sim, api, v1):
    seeds = _seeds(sim, api, v1)
    kinds = {k for k, _, _ in seeds}
    assert {"Deployment", "ReplicaSet", "Pod", "Event", "Service", "Node"} <= kinds
    rng = random.Random(14)
    verdicts = {True: 0, False: 0}
    for kind, (validator, valid), obj in seeds:
        assert valid is not None, "%s: its schema should compile" % kind
        for o in [obj] + [_mutate(obj, rng) for _ in range(12)]:
            errors = [e.message for e in validator.iter_errors(o)]
            assert valid(o) == (not errors), (kind, errors, o)
            verdicts[not errors] += 1
    # Both answers were exercised, many times each.
    assert min(verdicts.values()) > 50, verdicts


def test_a_bad_write_is_reported_after_good_writes_of_its_kind(api, v1):
    ns = make_ns(v1)
    path = "/apis/apps/v1/namespaces/%s/deployments" % ns
    for i in range(3):
        assert raw(api, "POST", path, deployment("ok%d" % i, ns))[0] == 201
    d = deployment("bad", ns, readinessProbe={"tcpSocket": {"port": True}})
    code, st = raw(api, "POST", path, d)
    assert (code, st["reason"]) == (422, "Invalid")
    assert {"field": "spec.template.spec.containers[0].readinessProbe.tcpSocket.port",
            "reason": "FieldValueTypeInvalid",
            "message": "Invalid value: true: must be an integer or a string"} \
        in st["details"]["causes"]
    d = deployment("bad", ns, bogus=1)
    code, st = raw(api, "POST", path, d, query={"fieldValidation": "Strict"})
    assert (code, st["message"]) == (400, 'strict decoding error: unknown field '
                                          '"spec.template.spec.containers[0].bogus"')


def test_replicaset_written_strict_gets_no_field_its_kind_lacks(api, v1):
    # The defaults of Deployments are not ReplicaSets': revisionHistoryLimit is not a
    # ReplicaSet field, so Strict refused every ReplicaSet.
    ns = make_ns(v1)
    d = deployment("rs", ns)
    rs = dict(d, kind="ReplicaSet")
    code, obj = raw(api, "POST", "/apis/apps/v1/namespaces/%s/replicasets" % ns, rs,
                    query={"fieldValidation": "Strict"})
    assert code == 201, obj
    assert "revisionHistoryLimit" not in obj["spec"]

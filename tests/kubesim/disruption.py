"""PodDisruptionBudgets and evictions: the disruption controller's status (computed from
the Pods a budget selects) and the pods/eviction subresource that `kubectl drain` uses,
refused with 429 while a budget allows no disruption, as the real API server does."""
import math

from .errors import ApiError
from .selectors import labels_match, selector_object_to_reqs
from .util import deep_copy, now

PDB_KEY = ("policy", "poddisruptionbudgets")


def _ready(pod):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _value(v, total, round_up):
    if isinstance(v, str) and v.endswith("%"):
        f = float(v[:-1]) * total / 100.0
        return int(math.ceil(f)) if round_up else int(math.floor(f))
    return int(v)


def _selected(store, pdb):
    sel = (pdb.get("spec") or {}).get("selector")
    if sel is None:
        return []
    reqs = selector_object_to_reqs(sel)
    return [p for p in store.list(("", "pods"), pdb["metadata"]["namespace"])
            if not p["metadata"].get("deletionTimestamp") and
            (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed") and
            labels_match(reqs, p["metadata"].get("labels"))]


def budget_status(store, pdb):
    spec = pdb.get("spec") or {}
    pods = _selected(store, pdb)
    expected = len(pods)
    healthy = sum(1 for p in pods if _ready(p))
    if spec.get("maxUnavailable") is not None:
        desired = max(0, expected - _value(spec["maxUnavailable"], expected, False))
    else:
        desired = _value(spec.get("minAvailable", 1), expected, True)
    allowed = max(0, healthy - desired)
    old = {c.get("type"): c for c in (pdb.get("status") or {}).get("conditions") or []}
    cond = {"type": "DisruptionAllowed", "status": "True" if allowed else "False",
            "reason": "SufficientPods" if allowed else "InsufficientPods", "message": "",
            "observedGeneration": pdb["metadata"].get("generation", 1),
            "lastTransitionTime": now()}
    prev = old.get("DisruptionAllowed")
    if prev and prev.get("status") == cond["status"]:
        cond["lastTransitionTime"] = prev.get("lastTransitionTime", cond["lastTransitionTime"])
    return {"observedGeneration": pdb["metadata"].get("generation", 1),
            "disruptionsAllowed": allowed, "currentHealthy": healthy,
            "desiredHealthy": desired, "expectedPods": expected, "conditions": [cond]}


def refresh(api, namespace, pod=None):
    """Recompute the budgets of `namespace` (those selecting `pod`, when given)."""
    rt = api.registry.lookup_plural_any_version(*PDB_KEY)
    for pdb in api.store.list(PDB_KEY, namespace):
        sel = (pdb.get("spec") or {}).get("selector")
        if pod is not None and (sel is None or not labels_match(
                selector_object_to_reqs(sel), pod["metadata"].get("labels"))):
            continue
        st = budget_status(api.store, pdb)
        if pdb.get("status") != st:
            new = deep_copy(pdb)
            new["status"] = st
            api.put_internal(rt, new, pdb)


def evict(api, namespace, name):
    """POST pods/NAME/eviction: delete the Pod unless a budget forbids it. Returns the
    Status answer (201)."""
    with api.store.lock:
        pod = api.store.get(("", "pods"), namespace, name)
        if pod is None:
            raise ApiError(404, "NotFound", 'pods "%s" not found' % name,
                           {"name": name, "kind": "pods"})
        terminal = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        if not terminal:
            reqs_labels = pod["metadata"].get("labels")
            for pdb in api.store.list(PDB_KEY, namespace):
                sel = (pdb.get("spec") or {}).get("selector")
                if sel is None or not labels_match(selector_object_to_reqs(sel), reqs_labels):
                    continue
                st = budget_status(api.store, pdb)
                if _ready(pod) and st["disruptionsAllowed"] < 1:
                    raise ApiError(
                        429, "TooManyRequests",
                        "Cannot evict pod as it would violate the pod's disruption budget.",
                        {"causes": [{"reason": "DisruptionBudget", "message":
                                     "The disruption budget %s needs %d healthy pods and has "
                                     "%d currently" % (pdb["metadata"]["name"],
                                                       st["desiredHealthy"],
                                                       st["currentHealthy"])}]})
        rt = api.registry.lookup_plural_any_version("", "pods")
        api.delete_object(rt, pod, "Background")
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "code": 201}

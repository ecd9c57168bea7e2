"""A small kube-scheduler: which node a Pod may run on, and why none when it may not.

The filters run in the order of the default profile (NodeUnschedulable, NodeName,
TaintToleration, NodeAffinity, NodeResourcesFit), a node failing at the first one that
rejects it; the message of an unschedulable Pod has the real scheduler's shape:
"0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.
preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
"""
import re
from decimal import Decimal, InvalidOperation

_SUFFIX = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
           "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
           "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
           "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
           "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60}
_QTY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$")


def quantity(value):
    """A resource.Quantity ("250m", "2", "128Mi", "1e3") as a Decimal; 0 if unparsable."""
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    m = _QTY.match(str(value or "").strip())
    if not m:
        return Decimal(0)
    try:
        return Decimal(m.group(1)) * _SUFFIX[m.group(2)]
    except InvalidOperation:
        return Decimal(0)


def pod_requests(spec):
    """What a Pod asks of a node: the containers' requests summed, at least the largest
    init container's, plus overhead; a limit without a request counts as the request
    (the API server defaults it so)."""
    def of(c):
        res = c.get("resources") or {}
        out = {k: quantity(v) for k, v in (res.get("limits") or {}).items()}
        out.update({k: quantity(v) for k, v in (res.get("requests") or {}).items()})
        return out
    total = {}
    for c in spec.get("containers") or []:
        for k, v in of(c).items():
            total[k] = total.get(k, 0) + v
    for c in spec.get("initContainers") or []:
        for k, v in of(c).items():
            total[k] = max(total.get(k, 0), v)
    for k, v in (spec.get("overhead") or {}).items():
        total[k] = total.get(k, 0) + quantity(v)
    return total


# ---------------------------------------------------------------------------- matching

def _expr_matches(value_of, e):
    k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
    v = value_of(k)
    if op == "In":
        return v is not None and v in vals
    if op == "NotIn":
        return v is None or v not in vals
    if op == "Exists":
        return v is not None
    if op == "DoesNotExist":
        return v is None
    if op in ("Gt", "Lt"):
        try:
            lv, rv = int(v), int(vals[0])
        except (TypeError, ValueError, IndexError):
            return False
        return lv > rv if op == "Gt" else lv < rv
    return False


def _term_matches(node, term):
    labels = node["metadata"].get("labels") or {}
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False                     # an empty term matches no node
    name = node["metadata"]["name"]
    return all(_expr_matches(labels.get, e) for e in exprs) and \
        all(_expr_matches(lambda k: name if k == "metadata.name" else None, e)
            for e in fields)


def node_matches(node, pod_spec):
    """nodeSelector and required node affinity (NodeAffinity's filter)."""
    labels = node["metadata"].get("labels") or {}
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    req = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = req.get("nodeSelectorTerms")
    if terms is not None:
        return any(_term_matches(node, t) for t in terms)
    return True


def tolerates(tolerations, taint):
    for t in tolerations or []:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        op = t.get("operator") or "Equal"
        if not t.get("key"):
            if op == "Exists":
                return True
            continue
        if t["key"] != taint.get("key"):
            continue
        if op == "Exists" or (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def node_taints(node):
    """The node's taints, with the ones the node lifecycle controller adds for a cordoned
    or not-ready node."""
    taints = list((node.get("spec") or {}).get("taints") or [])
    if (node.get("spec") or {}).get("unschedulable"):
        taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"})
    ready = [c for c in (node.get("status") or {}).get("conditions") or []
             if c.get("type") == "Ready"]
    if ready and ready[0].get("status") != "True":
        taints.append({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"})
    return taints


def untolerated_taint(node, tolerations):
    """The first NoSchedule/NoExecute taint of the node the tolerations do not cover."""
    for taint in node_taints(node):
        if taint.get("effect") in ("NoSchedule", "NoExecute") and \
                not tolerates(tolerations, taint):
            return taint
    return None


# ---------------------------------------------------------------------------- placing

def _allocatable(node):
    alloc = (node.get("status") or {}).get("allocatable") or {}
    return {k: quantity(v) for k, v in alloc.items()}


def _bound_pods(pods, node_name):
    return [p for p in pods if (p.get("spec") or {}).get("nodeName") == node_name and
            (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]


def _fits(node, want, bound):
    """Resource reasons the node cannot take the Pod ([] if it can)."""
    alloc = _allocatable(node)
    used = {}
    for p in bound:
        for k, v in pod_requests(p.get("spec") or {}).items():
            used[k] = used.get(k, 0) + v
    reasons = []
    if len(bound) + 1 > alloc.get("pods", Decimal(110)):
        reasons.append("Too many pods")
    for k in sorted(want):
        if want[k] <= 0:
            continue
        if used.get(k, 0) + want[k] > alloc.get(k, Decimal(0)):
            reasons.append("Insufficient %s" % k)
    return reasons


def filter_node(node, pod, bound):
    """(reason, resolvable) why `pod` cannot go to `node`, or (None, None) if it can.
    resolvable: whether preempting other Pods could help (only for resources)."""
    spec = pod.get("spec") or {}
    tol = spec.get("tolerations") or []
    nspec = node.get("spec") or {}
    if nspec.get("unschedulable") and not tolerates(tol, {
            "key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}):
        return ["node(s) were unschedulable"], False
    taint = untolerated_taint(node, tol)
    if taint is not None and taint["key"] != "node.kubernetes.io/unschedulable":
        return ["node(s) had untolerated taint {%s: %s}" % (taint.get("key"), taint.get("value") or "")], False
    if not node_matches(node, spec):
        return ["node(s) didn't match Pod's node affinity/selector"], False
    reasons = _fits(node, pod_requests(spec), bound)
    if reasons:
        return reasons, True
    return None, None


def _histogram(counts):
    return ", ".join(sorted("%d %s" % (n, r) for r, n in counts.items()))


def place(pod, nodes, pods):
    """(node name, None) for the node the Pod goes to, or (None, message) saying why no
    node fits, worded as kube-scheduler's FailedScheduling message."""
    reasons, preempt = {}, {}
    fits = []
    for node in nodes:
        bound = _bound_pods(pods, node["metadata"]["name"])
        why, resolvable = filter_node(node, pod, bound)
        if why is None:
            fits.append((node, bound))
            continue
        for r in why:
            reasons[r] = reasons.get(r, 0) + 1
        p = "No preemption victims found for incoming pod." if resolvable else \
            "Preemption is not helpful for scheduling."
        preempt[p] = preempt.get(p, 0) + 1
    if fits:
        return _best(pod, fits), None
    n = len(nodes)
    if not n:
        return None, "no nodes available to schedule pods"
    return None, ("0/%d nodes are available: %s. preemption: 0/%d nodes are available: %s"
                  % (n, _histogram(reasons), n, _histogram(preempt)))


def _best(pod, fits):
    """Spread a workload's Pods over nodes, then prefer the least requested node."""
    owner = [r.get("uid") for r in pod["metadata"].get("ownerReferences") or []]

    def score(item):
        node, bound = item
        siblings = sum(1 for p in bound if [r.get("uid") for r in
                                            p["metadata"].get("ownerReferences") or []] == owner)
        alloc = _allocatable(node)
        cpu = sum(pod_requests(p.get("spec") or {}).get("cpu", 0) for p in bound)
        frac = cpu / alloc["cpu"] if alloc.get("cpu") else Decimal(0)
        return (siblings if owner else 0, frac, node["metadata"]["name"])
    return min(fits, key=score)[0]["metadata"]["name"]

"""What the API server fills into new Pods and workloads (defaulting and the admission
plugins that add to every Pod), and a Pod's QoS class."""
from . import scheduler

#: What the DefaultTolerationSeconds admission plugin adds to every Pod.
DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
     "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
     "tolerationSeconds": 300},
]


def qos_class(spec):
    cs = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    reqs = [(c.get("resources") or {}) for c in cs]
    if not any(r.get("requests") or r.get("limits") for r in reqs):
        return "BestEffort"
    for r in reqs:
        lim, req = r.get("limits") or {}, r.get("requests") or {}
        for k in ("cpu", "memory"):
            if k not in lim or scheduler.quantity(req.get(k, lim[k])) != \
                    scheduler.quantity(lim[k]):
                return "Burstable"
    return "Guaranteed"


# ---------------------------------------------------------------------------- defaulting

def _image_pull_policy(image):
    tail = (image or "").rsplit("/", 1)[-1]
    if "@" in tail:
        return "IfNotPresent"
    if ":" not in tail or tail.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def pod_defaults(spec):
    """What the API server and its admission plugins fill into a new Pod's spec."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    tol = spec.setdefault("tolerations", [])
    for t in DEFAULT_TOLERATIONS:
        if not any(x.get("key") == t["key"] and x.get("effect") in (None, "", t["effect"])
                   for x in tol):
            tol.append(dict(t))
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(c, dict):
            continue
        c.setdefault("imagePullPolicy", _image_pull_policy(c.get("image")))
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        res = c.setdefault("resources", {})
        if res.get("limits") and not res.get("requests"):
            res["requests"] = dict(res["limits"])
        elif res.get("limits"):
            for k, v in res["limits"].items():
                res["requests"].setdefault(k, v)


def defaults(rt, obj):
    """Defaults of the workload kinds (called from the API server's defaulting)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    p = rt.plural
    if p == "pods":
        pod_defaults(spec)
    elif p == "statefulsets":
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                           "rollingUpdate": {"partition": 0}})
        spec.setdefault("persistentVolumeClaimRetentionPolicy",
                        {"whenDeleted": "Retain", "whenScaled": "Retain"})
    elif p == "replicationcontrollers":
        spec.setdefault("replicas", 1)
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not spec.get("selector") and labels:
            spec["selector"] = dict(labels)
        if labels and not obj["metadata"].get("labels"):
            obj["metadata"]["labels"] = dict(labels)
    elif p == "jobs":
        spec.setdefault("parallelism", 1)
        if "completions" not in spec and spec.get("parallelism", 1) == 1:
            spec["completions"] = 1
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        uid = obj["metadata"].get("uid")
        if uid and not spec.get("manualSelector") and not spec.get("selector"):
            spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            tm = spec.setdefault("template", {}).setdefault("metadata", {})
            lab = tm.setdefault("labels", {})
            lab.update({"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
                        "batch.kubernetes.io/job-name": obj["metadata"]["name"],
                        "job-name": obj["metadata"]["name"]})
    elif p == "cronjobs":
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)

"""Why a workload's Pods are not ready, in the words a person needs: a Pod the scheduler
cannot place (and the scheduler's reason), a container that cannot start (and why).

A Deployment or DaemonSet only says "1 of 3 ready"; the cause is on its Pods: their
PodScheduled condition, their container states, their FailedScheduling Events.
"""

from .client import ApiError, build_label_selector

#: Waiting reasons that are only a Pod starting normally, not a problem.
_STARTING = {"ContainerCreating", "PodInitializing"}


def _condition(pod, ctype):
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def _scheduling_event(cluster, pod):
    meta = pod.get("metadata") or {}
    try:
        page = cluster.request("GET", f"/api/v1/namespaces/{meta.get('namespace')}/events",
                               query={"fieldSelector": f"involvedObject.name={meta.get('name')},"
                                                       "reason=FailedScheduling"},
                               ok_missing=True)
    except ApiError:
        return None
    items = sorted((page or {}).get("items") or [],
                   key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return items[-1].get("message") if items else None


def pod_problem(cluster, pod):
    """What keeps this Pod from being ready, or None if nothing stands out (yet)."""
    name = (pod.get("metadata") or {}).get("name")
    sched = _condition(pod, "PodScheduled")
    if sched is not None and sched.get("status") == "False":
        why = sched.get("message") or _scheduling_event(cluster, pod) or \
            sched.get("reason") or "no reason given"
        return f"pod {name} cannot be scheduled: {why}"
    status = pod.get("status") or {}
    for cs in (status.get("initContainerStatuses") or []) + \
            (status.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason and reason not in _STARTING:
            msg = waiting.get("message")
            return f"pod {name} container {cs.get('name')} is waiting: {reason}" + (f" ({msg})" if msg else "")
        term = (cs.get("lastState") or {}).get("terminated") or {}
        if cs.get("restartCount") and term.get("reason"):
            return (f"pod {name} container {cs.get('name')} restarted {cs['restartCount']} times "
                    f"(last exit: {term['reason']})")
    return None


def workload_pod_problems(cluster, workload, limit=3):
    """Problems of the Pods a Deployment or DaemonSet selects (at most `limit`; Pods with
    the same problem are named once, with a count)."""
    meta, spec = workload.get("metadata") or {}, workload.get("spec") or {}
    match = (spec.get("selector") or {}).get("matchLabels")
    if not match:
        return []
    try:
        pods = cluster.list("v1", "pods", namespace=meta.get("namespace"),
                            label_selector=build_label_selector(match))
    except ApiError:
        return []
    seen = {}
    for pod in pods:
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        problem = pod_problem(cluster, pod)
        if problem is None:
            continue
        # The same cause on many Pods: name the first, count the others.
        key = problem.split(": ", 1)[-1]
        if key in seen:
            seen[key][1] += 1
        else:
            seen[key] = [problem, 0]
    out = []
    for problem, more in list(seen.values())[:limit]:
        out.append(problem + (f" (and {more} more pods)" if more else ""))
    return out

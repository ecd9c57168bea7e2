"""Workload controllers and the kubelet: what kube-controller-manager, kube-scheduler and
the kubelets of a cluster do with Deployments, ReplicaSets, ReplicationControllers,
DaemonSets, StatefulSets, Jobs and Pods.

Deployments own ReplicaSets (one per pod-template hash) which own Pods; DaemonSets own one
Pod per eligible node; StatefulSets own ordinal Pods; Jobs own Pods that run to
completion. Every Pod is placed by scheduler.place; a bound Pod starts (Running, Ready)
after the cluster's ready_delay, unless its workload is marked never-ready. Workload
status is computed from the Pods, never assumed.

Reconciles are queued and drained at the outermost write, so a write that causes more
writes (a Pod becoming ready updates its ReplicaSet, which updates its Deployment)
converges within the request when ready_delay is 0.

`ready_pods_for_service(sim, namespace, name)` answers "is there a ready Pod behind this
Service" for other parts of the emulator (admission webhooks).
"""
import collections
import hashlib
import json
import math
import time

from . import disruption, endpoints, scheduler
from .workload_defaults import qos_class
from .util import deep_copy, now, random_suffix

APPS, BATCH = "apps", "batch"
HASH_CHARS = "bcdfghjklmnpqrstvwxz2456789"
#: Tolerations the DaemonSet controller adds to every daemon Pod.
DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists",
     "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
WORKLOADS = {("", "pods"), ("", "replicationcontrollers"), (APPS, "replicasets"),
             (APPS, "deployments"), (APPS, "daemonsets"), (APPS, "statefulsets"),
             (BATCH, "jobs")}


# ---------------------------------------------------------------------------- helpers

def _normal(v):
    """The template as the server's typed object sees it: nulls and empty maps/lists are
    the same as absent (creationTimestamp: null from kubectl, for one)."""
    if isinstance(v, dict):
        out = {k: _normal(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x not in (None, {}, [])}
    if isinstance(v, list):
        return [_normal(x) for x in v]
    return v


def template_hash(template, collision=0):
    """A stable short hash of a pod template (the pod-template-hash label's role)."""
    h = hashlib.sha256((json.dumps(_normal(template), sort_keys=True) +
                        str(collision)).encode())
    n = int.from_bytes(h.digest()[:8], "big")
    out = ""
    for _ in range(10):
        n, r = divmod(n, len(HASH_CHARS))
        out += HASH_CHARS[r]
    return out


def _int_or_percent(v, total, round_up):
    if isinstance(v, str) and v.endswith("%"):
        try:
            f = float(v[:-1]) * total / 100.0
        except ValueError:
            return 0
        return int(math.ceil(f)) if round_up else int(math.floor(f))
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def surge_unavailable(strategy, desired, default_surge="25%", default_unavail="25%"):
    ru = (strategy or {}).get("rollingUpdate") or {}
    surge = _int_or_percent(ru.get("maxSurge", default_surge), desired, True)
    unavail = _int_or_percent(ru.get("maxUnavailable", default_unavail), desired, False)
    if surge == 0 and unavail == 0:
        unavail = 1
    return surge, unavail


def _cond_map(obj):
    return {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []}


def pod_ready(pod):
    c = _cond_map(pod).get("Ready")
    return bool(c and c.get("status") == "True" and
                not pod["metadata"].get("deletionTimestamp"))


def controller_uid(obj):
    for r in obj["metadata"].get("ownerReferences") or []:
        if r.get("controller"):
            return r.get("uid")
    return None


def _owner_ref(owner, block=True):
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": block}


def merge_conditions(old, new):
    """New conditions, keeping lastTransitionTime (and lastProbeTime) of those whose
    status did not change, so a reconcile that changes nothing writes nothing."""
    prev = {c.get("type"): c for c in old or []}
    out = []
    for c in new:
        p = prev.get(c["type"])
        c = dict(c)
        if p is not None and p.get("status") == c.get("status"):
            for k in ("lastTransitionTime", "lastProbeTime"):
                if k in p:
                    c[k] = p[k]
            if "lastUpdateTime" in p and p.get("reason") == c.get("reason") and \
                    p.get("message") == c.get("message"):
                c["lastUpdateTime"] = p["lastUpdateTime"]
        out.append(c)
    return out


def _cond(ctype, status, reason=None, message=None, update_time=False):
    c = {"type": ctype, "status": status, "lastTransitionTime": now()}
    if update_time:
        c["lastUpdateTime"] = c["lastTransitionTime"]
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _compact(status, keep=()):
    """Drop zero counters, as the real types' omitempty fields are dropped."""
    return {k: v for k, v in status.items() if k in keep or v not in (0, None)}


def ready_pods_for_service(sim, namespace, name):
    """The ready Pods (not being deleted) a Service in `namespace` selects: what its
    Endpoints would list. [] when the Service is missing or has no selector."""
    with sim.store.lock:
        svc = sim.store.get(("", "services"), namespace, name)
        sel = ((svc or {}).get("spec") or {}).get("selector")
        if not sel:
            return []
        return [p for p in sim.store.list(("", "pods"), namespace)
                if pod_ready(p) and all((p["metadata"].get("labels") or {}).get(k) == v
                                        for k, v in sel.items())]


# ---------------------------------------------------------------------------- controller

class Workloads:
    """The workload controllers of one cluster, driven by Controllers.on_write."""

    def __init__(self, controllers):
        self.ctl = controllers
        self.sim = controllers.sim
        self.api = controllers.api
        self.store = controllers.store
        self.queue = collections.deque()
        self.queued = set()
        self.draining = False
        self.ready_at = {}               # pod uid -> monotonic time its containers start
        self._ip_next = {}
        self._event_names = {}
        self._hashes = {}

    def _rt(self, group, plural):
        return self.ctl._rt(group, plural)

    def _template_hash(self, owner, collision=0):
        """template_hash of a workload's template, remembered by the template's plain JSON
        (cheap to make): a roll reconciles its Deployment several times, and each time
        normalising and hashing the whole template cost most of that reconcile."""
        tmpl = (owner.get("spec") or {}).get("template") or {}
        key = (json.dumps(tmpl), collision)
        h = self._hashes.get(key)
        if h is None:
            if len(self._hashes) > 256:
                self._hashes.clear()
            h = self._hashes[key] = template_hash(tmpl, collision)
        return h

    # ------------------------------------------------------------------ queue
    def kick(self, group, plural, ns, name):
        key = (group, plural, ns or "", name)
        if key not in self.queued:
            self.queued.add(key)
            self.queue.append(key)
        self.drain()

    def drain(self):
        if self.draining:
            return
        self.draining = True
        try:
            budget = 20000            # a bug must not spin forever under the store lock
            while self.queue and budget:
                budget -= 1
                key = self.queue.popleft()
                self.queued.discard(key)
                self._reconcile(*key)
        finally:
            self.draining = False

    def _reconcile(self, group, plural, ns, name):
        if plural == "pods":
            self._pod(ns, name)
        elif plural in ("replicasets", "replicationcontrollers"):
            self._replicaset(group, plural, ns, name)
        elif plural == "deployments":
            self._deployment(ns, name)
        elif plural == "daemonsets":
            self._daemonset(ns, name)
        elif plural == "statefulsets":
            self._statefulset(ns, name)
        elif plural == "jobs":
            self._job(ns, name)

    # ------------------------------------------------------------------ hooks
    def on_write(self, rt, obj, old):
        """True if the write was a workload's (handled here)."""
        key = rt.key
        m = obj["metadata"]
        if key == ("", "nodes"):
            self._nodes_changed()
            return True
        if key == disruption.PDB_KEY:
            disruption.refresh(self.api, m["namespace"])
            return True
        if key not in WORKLOADS:
            return False
        self.kick(rt.group, rt.plural, m.get("namespace"), m["name"])
        if key == ("", "pods"):
            self._kick_owner(obj)
            disruption.refresh(self.api, m["namespace"], obj)
            endpoints.sync_namespace(self.api, m["namespace"], obj)
        return True

    def on_delete(self, rt, obj):
        if rt.key == ("", "pods"):
            self.ready_at.pop(obj["metadata"].get("uid"), None)
            self._kick_owner(obj)
            disruption.refresh(self.api, obj["metadata"]["namespace"], obj)
            endpoints.sync_namespace(self.api, obj["metadata"]["namespace"], obj)
            # Freed resources: Pods waiting for room may fit now.
            for p in self.store.list(("", "pods")):
                if not (p.get("spec") or {}).get("nodeName"):
                    self.kick("", "pods", p["metadata"]["namespace"], p["metadata"]["name"])
        elif rt.key == ("", "nodes"):
            self._nodes_changed()

    def refresh(self):
        """Re-evaluate every Pod and workload (never-ready marks changed, make_ready)."""
        for group, plural in sorted(WORKLOADS):
            for o in self.store.list((group, plural)):
                self.kick(group, plural, o["metadata"].get("namespace"), o["metadata"]["name"])

    def _nodes_changed(self):
        for ds in self.store.list((APPS, "daemonsets")):
            self.kick(APPS, "daemonsets", ds["metadata"]["namespace"], ds["metadata"]["name"])
        for p in self.store.list(("", "pods")):
            if not (p.get("spec") or {}).get("nodeName"):
                self.kick("", "pods", p["metadata"]["namespace"], p["metadata"]["name"])

    def _kick_owner(self, obj):
        ns = obj["metadata"].get("namespace")
        for r in obj["metadata"].get("ownerReferences") or []:
            if not r.get("controller"):
                continue
            group = (r.get("apiVersion") or "").rpartition("/")[0]
            rt = self.sim.registry.lookup_kind(r.get("apiVersion", ""), r.get("kind", ""))
            if rt is not None and (group, rt.plural) in WORKLOADS:
                self.kick(group, rt.plural, ns, r.get("name"))

    # ------------------------------------------------------------------ shared plumbing
    def _terminating(self, ns):
        nsobj = self.store.get(("", "namespaces"), "", ns)
        return nsobj is None or bool(nsobj["metadata"].get("deletionTimestamp"))

    def _write_status(self, group, plural, cur, status):
        if cur.get("status") == status:
            return cur
        new = deep_copy(cur)
        new["status"] = status
        return self.api.put_internal(self._rt(group, plural), new, cur)

    def _owned(self, plural_key, owner):
        uid = owner["metadata"]["uid"]
        return [o for o in self.store.list(plural_key, owner["metadata"]["namespace"])
                if controller_uid(o) == uid]

    def _never_ready(self, obj):
        """Whether obj or a controller above it is marked never-ready."""
        seen = 0
        cur = obj
        while cur is not None and seen < 5:
            seen += 1
            m = cur["metadata"]
            group = cur["apiVersion"].rpartition("/")[0]
            rt = self.sim.registry.lookup_kind(cur["apiVersion"], cur["kind"])
            if rt is not None and (group, rt.plural, m.get("namespace", ""), m["name"]) in \
                    self.ctl.never_ready:
                return True
            ref = next((r for r in m.get("ownerReferences") or [] if r.get("controller")),
                       None)
            if ref is None:
                return False
            ort = self.sim.registry.lookup_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
            if ort is None:
                return False
            cur = self.store.get(ort.key, m.get("namespace", ""), ref.get("name"))
        return False

    def event(self, obj, etype, reason, message, component):
        """Record an Event about obj (a repeat bumps the count of the earlier one)."""
        m = obj["metadata"]
        ns = m.get("namespace") or "default"
        if self._terminating(ns):
            return
        rt = self._rt("", "events")
        key = (m.get("uid"), reason, message)
        ts = now()
        name = self._event_names.get(key)
        cur = self.store.get(rt.key, ns, name) if name else None
        if cur is not None:
            new = deep_copy(cur)
            new["count"] = cur.get("count", 1) + 1
            new["lastTimestamp"] = ts
            self.api.put_internal(rt, new, cur)
            return
        name = "%s.%x" % (m["name"], time.time_ns())
        self._event_names[key] = name
        self.api.create_internal(rt, {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                               "name": m["name"], "namespace": m.get("namespace"),
                               "uid": m.get("uid"),
                               "resourceVersion": m.get("resourceVersion")},
            "reason": reason, "message": message, "type": etype,
            "source": {"component": component}, "firstTimestamp": ts, "lastTimestamp": ts,
            "count": 1, "reportingComponent": component, "reportingInstance": ""})

    def _new_pod(self, owner, template, name, labels=None, extra_spec=None):
        tm = template.get("metadata") or {}
        lab = dict(tm.get("labels") or {})
        lab.update(labels or {})
        spec = deep_copy(template.get("spec") or {})
        spec.update(extra_spec or {})
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": owner["metadata"]["namespace"],
                            "labels": lab, "ownerReferences": [_owner_ref(owner)]},
               "spec": spec, "status": {"phase": "Pending", "qosClass": qos_class(spec)}}
        if tm.get("annotations"):
            pod["metadata"]["annotations"] = dict(tm["annotations"])
        out = self.api.create_internal(self._rt("", "pods"), pod)
        if out is not None:
            self.event(owner, "Normal", "SuccessfulCreate", "Created pod: %s" % name,
                       _component(owner))
        return out

    def _delete_pod(self, owner, pod):
        self.api.delete_object(self._rt("", "pods"), pod, "Background")
        if owner is not None:
            self.event(owner, "Normal", "SuccessfulDelete",
                       "Deleted pod: %s" % pod["metadata"]["name"], _component(owner))

    # ------------------------------------------------------------------ pods
    def _pod(self, ns, name):
        pod = self.store.get(("", "pods"), ns, name)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        st = pod.get("status") or {}
        if st.get("phase") in ("Succeeded", "Failed"):
            return
        spec = pod.get("spec") or {}
        if not spec.get("nodeName"):
            pod = self._schedule(pod)
            if pod is None:
                return
            spec = pod["spec"]
        self._kubelet(pod)

    def _schedule(self, pod):
        nodes = self.store.list(("", "nodes"))
        node, message = scheduler.place(pod, nodes, self.store.list(("", "pods")))
        m = pod["metadata"]
        if node is None:
            st = deep_copy(pod.get("status") or {})
            conds = [_cond("PodScheduled", "False", "Unschedulable", message)]
            st["conditions"] = merge_conditions(st.get("conditions"), conds)
            st["phase"] = "Pending"
            if st != pod.get("status"):
                self._write_status("", "pods", pod, st)
                self.event(pod, "Warning", "FailedScheduling", message, "default-scheduler")
            return None
        new = deep_copy(pod)
        new["spec"]["nodeName"] = node
        st = new.setdefault("status", {})
        st["phase"] = "Pending"
        st["conditions"] = merge_conditions(st.get("conditions"),
                                            [_cond("PodScheduled", "True")])
        out = self.api.put_internal(self._rt("", "pods"), new, pod)
        self.event(out, "Normal", "Scheduled", "Successfully assigned %s/%s to %s"
                   % (m["namespace"], m["name"], node), "default-scheduler")
        return self.store.get(("", "pods"), m["namespace"], m["name"])

    def _pod_ip(self, node, host_network):
        addrs = ((node or {}).get("status") or {}).get("addresses") or []
        host_ip = next((a["address"] for a in addrs if a.get("type") == "InternalIP"),
                       "10.224.0.4")
        if host_network:
            return host_ip, host_ip
        cidr = ((node or {}).get("spec") or {}).get("podCIDR") or "10.244.0.0/24"
        base = cidr.split("/")[0].rsplit(".", 1)[0]
        n = self._ip_next.get(base, 1) + 1
        self._ip_next[base] = n if n < 254 else 1
        return host_ip, "%s.%d" % (base, n)

    def _kubelet(self, pod):
        """Start the bound Pod's containers: after ready_delay they run and are ready (a
        Job's run to completion); a never-ready workload's run but never get ready."""
        m, spec = pod["metadata"], pod["spec"]
        uid = m["uid"]
        delay = self.sim.ready_delay
        if delay > 0 and uid not in self.ready_at:
            self.ready_at[uid] = time.monotonic() + delay
            ns, name = m["namespace"], m["name"]
            self.ctl.scheduler.call_later(delay + 0.01,
                                          lambda: self.kick("", "pods", ns, name))
        started = delay <= 0 or time.monotonic() >= self.ready_at.get(uid, 0)
        never = self._never_ready(pod)
        old = pod.get("status") or {}
        node = self.store.get(("", "nodes"), "", spec["nodeName"])
        st = {k: v for k, v in old.items() if k in ("hostIP", "hostIPs", "podIP", "podIPs",
                                                    "startTime", "qosClass")}
        if "podIP" not in st:
            host_ip, pod_ip = self._pod_ip(node, spec.get("hostNetwork"))
            st.update(hostIP=host_ip, hostIPs=[{"ip": host_ip}], podIP=pod_ip,
                      podIPs=[{"ip": pod_ip}], startTime=now())
        st.setdefault("qosClass", qos_class(spec))
        containers = spec.get("containers") or []
        names = [c.get("name") for c in containers]
        prev = {c.get("name"): c for c in old.get("containerStatuses") or []}
        job = _is_job_pod(pod)

        def cstatus(c, state, ready):
            p = prev.get(c.get("name")) or {}
            running = "running" in state
            s = {"name": c.get("name"), "image": c.get("image"),
                 "imageID": "", "ready": ready, "restartCount": 0,
                 "started": running, "state": state}
            if running or "terminated" in state:
                s["containerID"] = p.get("containerID") or "containerd://%s" % hashlib.sha256(
                    (uid + c.get("name", "")).encode()).hexdigest()
                s["imageID"] = p.get("imageID") or c.get("image", "")
            return s

        if not started:
            st["phase"] = "Pending"
            st["containerStatuses"] = [cstatus(c, {"waiting": {"reason": "ContainerCreating"}},
                                               False) for c in containers]
            ready_c = _cond("Ready", "False", "ContainersNotReady",
                            "containers with unready status: [%s]" % " ".join(names))
            conds = [_cond("PodReadyToStartContainers", "False"), _cond("Initialized", "True"),
                     ready_c, dict(ready_c, type="ContainersReady"),
                     _cond("PodScheduled", "True")]
        elif job and not never:
            st["phase"] = "Succeeded"
            fin = {"terminated": {"exitCode": 0, "reason": "Completed",
                                  "startedAt": st["startTime"], "finishedAt": now()}}
            st["containerStatuses"] = [cstatus(c, fin, False) for c in containers]
            done = _cond("Ready", "False", "PodCompleted")
            conds = [_cond("PodReadyToStartContainers", "False"),
                     _cond("Initialized", "True", "PodCompleted"), done,
                     dict(done, type="ContainersReady"), _cond("PodScheduled", "True")]
        else:
            st["phase"] = "Running"
            run = {"running": {"startedAt": st["startTime"]}}
            st["containerStatuses"] = [cstatus(c, run, not never) for c in containers]
            if never:
                ready_c = _cond("Ready", "False", "ContainersNotReady",
                                "containers with unready status: [%s]" % " ".join(names))
            else:
                ready_c = _cond("Ready", "True")
            conds = [_cond("PodReadyToStartContainers", "True"), _cond("Initialized", "True"),
                     ready_c, dict(ready_c, type="ContainersReady"),
                     _cond("PodScheduled", "True")]
        # Timestamps of unchanged container states are kept, so a no-op stays a no-op.
        for cs in st["containerStatuses"]:
            p = prev.get(cs["name"])
            if p and set(p.get("state") or {}) == set(cs["state"]):
                cs["state"] = p["state"]
        st["conditions"] = merge_conditions(old.get("conditions"), conds)
        self._write_status("", "pods", pod, st)

    # ------------------------------------------------------------------ replica sets
    def _replicaset(self, group, plural, ns, name):
        rs = self.store.get((group, plural), ns, name)
        if rs is None:
            return
        spec = rs.get("spec") or {}
        want = spec.get("replicas", 1)
        pods = [p for p in self._owned(("", "pods"), rs)
                if not p["metadata"].get("deletionTimestamp")]
        deleting = bool(rs["metadata"].get("deletionTimestamp"))
        if not deleting and len(pods) < want and not self._terminating(ns):
            tmpl = spec.get("template") or {}
            for _ in range(want - len(pods)):
                self._new_pod(rs, tmpl, "%s-%s" % (name, random_suffix()))
        elif not deleting and len(pods) > want:
            # The real controller deletes the least useful Pods first.
            order = sorted(pods, key=lambda p: (bool((p.get("spec") or {}).get("nodeName")),
                                                pod_ready(p),
                                                p["metadata"].get("creationTimestamp", "")))
            for p in order[:len(pods) - want]:
                self._delete_pod(rs, p)
        rs = self.store.get((group, plural), ns, name)
        if rs is None:
            return
        pods = [p for p in self._owned(("", "pods"), rs)
                if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in pods if pod_ready(p))
        st = {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
              "availableReplicas": ready,
              "observedGeneration": rs["metadata"].get("generation", 1)}
        self._write_status(group, plural, rs, _compact(st, keep=("replicas",)))
        self._kick_owner(rs)

    # ------------------------------------------------------------------ deployments
    def _deployment(self, ns, name):
        d = self.store.get((APPS, "deployments"), ns, name)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        spec = d.get("spec") or {}
        desired = spec.get("replicas", 1)
        tmpl = spec.get("template") or {}
        h = self._template_hash(d, (d.get("status") or {}).get("collisionCount", 0))
        rs_rt = self._rt(APPS, "replicasets")
        rss = sorted(self._owned(rs_rt.key, d),
                     key=lambda r: int((r["metadata"].get("annotations") or {})
                                       .get("deployment.kubernetes.io/revision", "0")))
        new = next((r for r in rss if (r["metadata"].get("labels") or {})
                    .get("pod-template-hash") == h), None)
        olds = [r for r in rss if r is not new]
        strategy = spec.get("strategy") or {}
        surge, unavail = surge_unavailable(strategy, desired)
        if strategy.get("type") == "Recreate":
            surge, unavail = 0, desired
        paused = spec.get("paused")
        if new is None and not paused and not self._terminating(ns):
            revs = [int((r["metadata"].get("annotations") or {})
                        .get("deployment.kubernetes.io/revision", "0")) for r in rss]
            total = sum((r.get("spec") or {}).get("replicas", 0) for r in olds)
            if strategy.get("type") == "Recreate":
                start = 0 if any((r.get("spec") or {}).get("replicas") for r in olds) or \
                    any(self._owned(("", "pods"), r) for r in olds) else desired
            else:
                start = desired if not total else max(0, min(desired, desired + surge - total))
            new = self._create_rs(d, tmpl, h, (max(revs) if revs else 0) + 1, start, surge)
        elif new is not None and not paused:
            ann = new["metadata"].get("annotations") or {}
            top = max([int((r["metadata"].get("annotations") or {})
                           .get("deployment.kubernetes.io/revision", "0")) for r in olds] + [0])
            if int(ann.get("deployment.kubernetes.io/revision", "0")) <= top:
                # A rollback to an earlier template: that ReplicaSet gets the next revision.
                upd = deep_copy(new)
                upd["metadata"].setdefault("annotations", {})[
                    "deployment.kubernetes.io/revision"] = str(top + 1)
                new = self.api.put_internal(rs_rt, upd, new)
        if new is not None and not paused:
            self._roll(d, new, olds, desired, surge, unavail, strategy.get("type"))
            # The controller marks the Deployment with its current revision (kubectl
            # rollout undo patches that annotation).
            rev = (new["metadata"].get("annotations") or {}).get(
                "deployment.kubernetes.io/revision")
            d = self.store.get((APPS, "deployments"), ns, name)
            if rev and d is not None and (d["metadata"].get("annotations") or {}).get(
                    "deployment.kubernetes.io/revision") != rev:
                upd = deep_copy(d)
                upd["metadata"].setdefault("annotations", {})[
                    "deployment.kubernetes.io/revision"] = rev
                self.api.put_internal(self._rt(APPS, "deployments"), upd, d)
        self._deployment_status(ns, name, h, unavail)

    def _create_rs(self, d, tmpl, h, revision, replicas, surge):
        tmpl = deep_copy(tmpl)
        tmpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
        sel = deep_copy((d.get("spec") or {}).get("selector") or {})
        sel.setdefault("matchLabels", {})["pod-template-hash"] = h
        name = "%s-%s" % (d["metadata"]["name"], h)
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": name, "namespace": d["metadata"]["namespace"],
                           "labels": dict(tmpl["metadata"]["labels"]),
                           "annotations": {
                               "deployment.kubernetes.io/desired-replicas":
                                   str((d.get("spec") or {}).get("replicas", 1)),
                               "deployment.kubernetes.io/max-replicas":
                                   str((d.get("spec") or {}).get("replicas", 1) + surge),
                               "deployment.kubernetes.io/revision": str(revision)},
                           "ownerReferences": [_owner_ref(d)]},
              "spec": {"replicas": replicas, "selector": sel, "template": tmpl,
                       "minReadySeconds": (d.get("spec") or {}).get("minReadySeconds", 0)}}
        out = self.api.create_internal(self._rt(APPS, "replicasets"), rs)
        self.event(d, "Normal", "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d"
                   % (name, replicas), "deployment-controller")
        return out or self.store.get((APPS, "replicasets"), d["metadata"]["namespace"], name)

    def _scale_rs(self, d, rs, n):
        cur = (rs.get("spec") or {}).get("replicas", 0)
        if n == cur:
            return rs
        upd = deep_copy(rs)
        upd["spec"]["replicas"] = n
        upd["metadata"].setdefault("annotations", {})[
            "deployment.kubernetes.io/desired-replicas"] = str(
                (d.get("spec") or {}).get("replicas", 1))
        out = self.api.put_internal(self._rt(APPS, "replicasets"), upd, rs)
        self.event(d, "Normal", "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d"
                   % ("up" if n > cur else "down", rs["metadata"]["name"], cur, n),
                   "deployment-controller")
        return out

    def _roll(self, d, new, olds, desired, surge, unavail, stype):
        def reps(r):
            return (r.get("spec") or {}).get("replicas", 0)

        def avail(r):
            return (r.get("status") or {}).get("availableReplicas", 0)
        ns = d["metadata"]["namespace"]
        olds = [self.store.get((APPS, "replicasets"), ns, r["metadata"]["name"]) for r in olds]
        olds = [r for r in olds if r is not None]
        active_old = [r for r in olds if reps(r) > 0]
        if stype == "Recreate":
            for r in active_old:
                self._scale_rs(d, r, 0)
            if not any(self._owned(("", "pods"), r) for r in olds):
                self._scale_rs(d, new, desired)
            return
        if not active_old:
            self._scale_rs(d, new, desired)
            return
        total = reps(new) + sum(reps(r) for r in active_old)
        if reps(new) < desired:
            up = min(desired + surge - total, desired - reps(new))
            if up > 0:
                new = self._scale_rs(d, new, reps(new) + up)
                total += up
        min_avail = desired - unavail
        new_unavail = reps(new) - avail(new)
        # Old Pods that are not available go first, then available ones while enough stay.
        budget = total - min_avail - new_unavail
        for r in active_old:
            if budget <= 0:
                break
            c = min(reps(r) - avail(r), budget)
            if c > 0:
                self._scale_rs(d, r, reps(r) - c)
                budget -= c
        active_old = [self.store.get((APPS, "replicasets"), ns, r["metadata"]["name"])
                      for r in active_old]
        active_old = [r for r in active_old if r is not None and reps(r) > 0]
        all_avail = avail(new) + sum(avail(r) for r in active_old)
        budget = all_avail - min_avail - new_unavail
        for r in active_old:
            if budget <= 0:
                break
            c = min(reps(r), budget)
            self._scale_rs(d, r, reps(r) - c)
            budget -= c

    def _deployment_status(self, ns, name, h, unavail):
        d = self.store.get((APPS, "deployments"), ns, name)
        if d is None:
            return
        desired = (d.get("spec") or {}).get("replicas", 1)
        rss = [r for r in self._owned((APPS, "replicasets"), d)]
        new = next((r for r in rss if (r["metadata"].get("labels") or {})
                    .get("pod-template-hash") == h), None)
        sts = [r.get("status") or {} for r in rss]
        replicas = sum(s.get("replicas", 0) for s in sts)
        ready = sum(s.get("readyReplicas", 0) for s in sts)
        available = sum(s.get("availableReplicas", 0) for s in sts)
        updated = ((new or {}).get("status") or {}).get("replicas", 0)
        new_name = (new or {"metadata": {"name": name}})["metadata"]["name"]
        if available >= desired - unavail:
            av = _cond("Available", "True", "MinimumReplicasAvailable",
                       "Deployment has minimum availability.", True)
        else:
            av = _cond("Available", "False", "MinimumReplicasUnavailable",
                       "Deployment does not have minimum availability.", True)
        complete = new is not None and updated == desired and replicas == desired and \
            available >= desired and \
            ((new.get("status") or {}).get("availableReplicas", 0) >= desired)
        if complete:
            pr = _cond("Progressing", "True", "NewReplicaSetAvailable",
                       'ReplicaSet "%s" has successfully progressed.' % new_name, True)
        else:
            pr = _cond("Progressing", "True", "ReplicaSetUpdated",
                       'ReplicaSet "%s" is progressing.' % new_name, True)
        old = d.get("status") or {}
        st = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": replicas,
              "updatedReplicas": updated, "readyReplicas": ready,
              "availableReplicas": available,
              "unavailableReplicas": max(0, desired - available)}
        st = _compact(st)
        st["conditions"] = merge_conditions(old.get("conditions"), [av, pr])
        self._write_status(APPS, "deployments", d, st)

    # ------------------------------------------------------------------ daemon sets
    def _daemonset(self, ns, name):
        ds = self.store.get((APPS, "daemonsets"), ns, name)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return
        spec = ds.get("spec") or {}
        tmpl = spec.get("template") or {}
        h = self._template_hash(ds)
        pod_spec = deep_copy(tmpl.get("spec") or {})
        tol = list(pod_spec.get("tolerations") or [])
        for t in DAEMON_TOLERATIONS:
            if t not in tol:
                tol.append(t)
        pod_spec["tolerations"] = tol
        nodes = self.store.list(("", "nodes"))
        eligible = [n for n in nodes if scheduler.node_matches(n, pod_spec) and
                    scheduler.untolerated_taint(n, tol) is None]
        names = {n["metadata"]["name"] for n in eligible}
        pods = [p for p in self._owned(("", "pods"), ds)
                if not p["metadata"].get("deletionTimestamp")]
        by_node = collections.defaultdict(list)
        for p in pods:
            by_node[_target_node(p)].append(p)
        for node, ps in list(by_node.items()):
            if node not in names:
                for p in ps:
                    self._delete_pod(ds, p)
                del by_node[node]
        # Rolling update: outdated Pods go, at most maxUnavailable nodes at a time.
        surge_nodes = set()
        if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
            ru = (spec.get("updateStrategy") or {}).get("rollingUpdate") or {}
            max_surge = _int_or_percent(ru.get("maxSurge", 0), len(eligible), True)
            max_unavail = _int_or_percent(ru.get("maxUnavailable", 1), len(eligible), False)
            if max_surge == 0 and max_unavail == 0:
                max_unavail = 1
            unavailable = sum(1 for n in names if not any(pod_ready(p) for p in by_node[n]))

            def current(p, h=h):
                return (p["metadata"].get("labels") or {}).get("controller-revision-hash") == h
            surging = sum(1 for n in names if any(current(p) and not pod_ready(p)
                                                  for p in by_node[n]) and
                          any(not current(p) for p in by_node[n]))
            for n in sorted(names):
                new = [p for p in by_node[n] if current(p)]
                for p in [p for p in by_node[n] if not current(p)]:
                    if not pod_ready(p) or (new and pod_ready(new[0])):
                        self._delete_pod(ds, p)          # broken, or replaced by a ready one
                        by_node[n].remove(p)
                    elif not new and max_surge > 0:
                        if surging < max_surge:
                            surge_nodes.add(n)           # a new Pod next to the old one
                            surging += 1
                    elif not new and unavailable < max_unavail:
                        self._delete_pod(ds, p)
                        by_node[n].remove(p)
                        unavailable += 1
        if not self._terminating(ns):
            for n in sorted(names):
                if by_node[n] and n not in surge_nodes:
                    continue
                extra = dict(pod_spec)
                aff = deep_copy(extra.get("affinity") or {})
                aff.setdefault("nodeAffinity", {})[
                    "requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
                        {"matchFields": [{"key": "metadata.name", "operator": "In",
                                          "values": [n]}]}]}
                extra["affinity"] = aff
                self._new_pod(ds, {"metadata": tmpl.get("metadata") or {}, "spec": extra},
                              "%s-%s" % (name, random_suffix()),
                              labels={"controller-revision-hash": h,
                                      "pod-template-generation":
                                          str(ds["metadata"].get("generation", 1))})
        ds = self.store.get((APPS, "daemonsets"), ns, name)
        if ds is None:
            return
        pods = [p for p in self._owned(("", "pods"), ds)
                if not p["metadata"].get("deletionTimestamp") and _target_node(p) in names]
        on = {_target_node(p) for p in pods}
        ready = {_target_node(p) for p in pods if pod_ready(p)}
        updated = {_target_node(p) for p in pods
                   if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == h}
        st = {"currentNumberScheduled": len(on), "numberMisscheduled": 0,
              "desiredNumberScheduled": len(names), "numberReady": len(ready),
              "observedGeneration": ds["metadata"].get("generation", 1),
              "updatedNumberScheduled": len(updated), "numberAvailable": len(ready),
              "numberUnavailable": len(names) - len(ready)}
        st = _compact(st, keep=("currentNumberScheduled", "numberMisscheduled",
                                "desiredNumberScheduled", "numberReady"))
        self._write_status(APPS, "daemonsets", ds, st)

    # ------------------------------------------------------------------ stateful sets
    def _statefulset(self, ns, name):
        ss = self.store.get((APPS, "statefulsets"), ns, name)
        if ss is None or ss["metadata"].get("deletionTimestamp"):
            return
        spec = ss.get("spec") or {}
        want = spec.get("replicas", 1)
        tmpl = spec.get("template") or {}
        rev = "%s-%s" % (name, self._template_hash(ss))
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        pods = {p["metadata"]["name"]: p for p in self._owned(("", "pods"), ss)
                if not p["metadata"].get("deletionTimestamp")}
        if not self._terminating(ns):
            for i in range(want):
                pn = "%s-%d" % (name, i)
                if pn in pods:
                    if ordered and not pod_ready(pods[pn]):
                        break
                    continue
                extra = {"hostname": pn}
                if spec.get("serviceName"):
                    extra["subdomain"] = spec["serviceName"]
                p = self._new_pod(ss, tmpl, pn, labels={
                    "controller-revision-hash": rev, "statefulset.kubernetes.io/pod-name": pn,
                    "apps.kubernetes.io/pod-index": str(i)}, extra_spec=extra)
                p = self.store.get(("", "pods"), ns, pn) if p is not None else None
                if p is not None:
                    pods[pn] = p
                if ordered and (p is None or not pod_ready(p)):
                    break
        for pn in sorted(pods, key=lambda s: -int(s.rsplit("-", 1)[1])):
            if int(pn.rsplit("-", 1)[1]) >= want:
                self._delete_pod(ss, pods.pop(pn))
                if ordered:
                    break
        upd = spec.get("updateStrategy") or {}
        if upd.get("type", "RollingUpdate") == "RollingUpdate" and pods and \
                all(pod_ready(p) for p in pods.values()) and len(pods) == want:
            part = ((upd.get("rollingUpdate") or {}).get("partition")) or 0
            for pn in sorted(pods, key=lambda s: -int(s.rsplit("-", 1)[1])):
                p = pods[pn]
                if int(pn.rsplit("-", 1)[1]) >= part and \
                        (p["metadata"].get("labels") or {}).get("controller-revision-hash") \
                        != rev:
                    self._delete_pod(ss, p)    # recreated at the new revision next pass
                    self.kick(APPS, "statefulsets", ns, name)
                    break
        ss = self.store.get((APPS, "statefulsets"), ns, name)
        if ss is None:
            return
        pods = [p for p in self._owned(("", "pods"), ss)
                if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in pods if pod_ready(p))
        updated = sum(1 for p in pods if (p["metadata"].get("labels") or {})
                      .get("controller-revision-hash") == rev)
        old = ss.get("status") or {}
        current_rev = old.get("currentRevision") or rev
        if updated == len(pods) == want:
            current_rev = rev
        current = sum(1 for p in pods if (p["metadata"].get("labels") or {})
                      .get("controller-revision-hash") == current_rev)
        st = {"observedGeneration": ss["metadata"].get("generation", 1),
              "replicas": len(pods), "readyReplicas": ready, "currentReplicas": current,
              "updatedReplicas": updated, "availableReplicas": ready,
              "currentRevision": current_rev, "updateRevision": rev, "collisionCount": 0}
        self._write_status(APPS, "statefulsets", ss,
                           _compact(st, keep=("replicas", "availableReplicas")))

    # ------------------------------------------------------------------ jobs
    def _job(self, ns, name):
        job = self.store.get((BATCH, "jobs"), ns, name)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        spec = job.get("spec") or {}
        completions = spec.get("completions", 1)
        parallelism = spec.get("parallelism", 1)
        old = job.get("status") or {}
        if any(c.get("type") == "Complete" and c.get("status") == "True"
               for c in old.get("conditions") or []):
            return
        pods = [p for p in self._owned(("", "pods"), job)
                if not p["metadata"].get("deletionTimestamp")]
        succeeded = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
        active = [p for p in pods if (p.get("status") or {}).get("phase")
                  not in ("Succeeded", "Failed")]
        if not spec.get("suspend") and not self._terminating(ns) and succeeded < completions:
            for _ in range(min(parallelism, completions - succeeded) - len(active)):
                self._new_pod(job, spec.get("template") or {}, "%s-%s" % (name, random_suffix()),
                              labels={"batch.kubernetes.io/job-name": name, "job-name": name})
        job = self.store.get((BATCH, "jobs"), ns, name)
        pods = [p for p in self._owned(("", "pods"), job)
                if not p["metadata"].get("deletionTimestamp")]
        succeeded = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
        active = [p for p in pods if (p.get("status") or {}).get("phase")
                  not in ("Succeeded", "Failed")]
        st = {"startTime": old.get("startTime") or now(), "active": len(active),
              "ready": sum(1 for p in active if pod_ready(p)), "succeeded": succeeded,
              "terminating": 0, "uncountedTerminatedPods": {}}
        st = _compact(st, keep=("ready", "terminating", "uncountedTerminatedPods"))
        if succeeded >= completions:
            st["completionTime"] = now()
            msg = "Reached expected number of succeeded pods"
            st["conditions"] = [
                _cond("SuccessCriteriaMet", "True", "CompletionsReached", msg),
                _cond("Complete", "True", "CompletionsReached", msg)]
            for c in st["conditions"]:
                c["lastProbeTime"] = c["lastTransitionTime"]
            self.event(job, "Normal", "Completed", "Job completed", "job-controller")
        self._write_status(BATCH, "jobs", job, st)


def _component(owner):
    return {"ReplicaSet": "replicaset-controller", "DaemonSet": "daemonset-controller",
            "StatefulSet": "statefulset-controller", "Job": "job-controller",
            "ReplicationController": "replication-controller"}.get(owner.get("kind"),
                                                                   "controller-manager")


def _is_job_pod(pod):
    return any(r.get("kind") == "Job" and r.get("controller")
               for r in pod["metadata"].get("ownerReferences") or [])


def _target_node(pod):
    """The node a daemon Pod is for: where it runs, else what its affinity pins."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    terms = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}) \
        .get("nodeSelectorTerms") or []
    for t in terms:
        for f in t.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("values"):
                return f["values"][0]
    return None

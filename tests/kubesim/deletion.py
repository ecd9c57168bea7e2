"""Deletion as a real API server and its controllers do it.

- Finalizers: an object with finalizers gets a deletionTimestamp and stays until they are
  all removed (the last removal deletes it).
- Propagation: Background (dependents are collected after the owner goes), Foreground
  (the owner gets the `foregroundDeletion` finalizer and stays until its blocking
  dependents are gone), Orphan (dependents lose their ownerReference).
- Namespaces go `Terminating`: their content is deleted, they keep the `kubernetes`
  finalizer (spec.finalizers) until no content is left and at least the cluster's
  namespace_delete_delay has passed, then they go. New content is refused meanwhile.
- Pods bound to a node are deleted gracefully: the API server sets deletionTimestamp (now
  plus the grace period: DeleteOptions' gracePeriodSeconds, else the Pod's
  terminationGracePeriodSeconds) and the node's kubelet removes the Pod once its containers
  have stopped, after the cluster's pod_termination_delay (never longer than the grace
  period). Unbound and finished Pods, and a grace period of 0, go at once.
- CustomResourceDefinitions get the `customresourcecleanup.apiextensions.k8s.io`
  finalizer and a Terminating condition, their custom resources are deleted, and the CRD
  (and its API) goes once none is left (and the same delay has passed).
"""
import time

from .errors import ApiError
from .util import deep_copy, now

CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
NS_KEY = ("", "namespaces")
POD_KEY = ("", "pods")
CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
FOREGROUND = "foregroundDeletion"


class Deletion:
    def __init__(self, api):
        self.api = api
        self.store = api.store
        self.sim = api.sim
        self.due = {}                 # (key, name) -> monotonic time it may go
        self._passing = {}            # namespace -> another pass asked for during this one

    def _rt(self, key):
        return self.api.registry.lookup_plural_any_version(*key)

    @property
    def delay(self):
        return getattr(self.sim, "namespace_delete_delay", 0.0)

    def _later(self, fn):
        if self.delay > 0:
            self.api.controllers.scheduler.call_later(self.delay + 0.01, fn)

    # ------------------------------------------------------------------ entry point
    def delete(self, rt, old, propagation=None, grace_period=None):
        meta = old["metadata"]
        if rt.key == NS_KEY:
            return self._namespace(rt, old)
        if rt.key == CRD_KEY:
            return self._crd(rt, old)
        if rt.key == POD_KEY:
            grace = self._pod_grace(old, grace_period)
            if grace > 0:
                return self._stop_pod(rt, old, grace)
            if meta.get("deletionTimestamp") and not meta.get("finalizers"):
                return self._remove_now(rt, old)    # a forced delete of a stopping Pod
        if meta.get("deletionTimestamp"):
            return old                              # already on its way
        if propagation == "Orphan":
            self.api._orphan_dependents(meta["uid"])
        elif propagation == "Foreground" and self._blocking_dependents(meta["uid"]):
            obj = deep_copy(old)
            obj["metadata"]["deletionTimestamp"] = now()
            obj["metadata"]["deletionGracePeriodSeconds"] = 0
            fins = obj["metadata"].setdefault("finalizers", [])
            if FOREGROUND not in fins:
                fins.append(FOREGROUND)
            obj = self.api.put_internal(rt, obj, old)
            self.api._delete_dependents(meta["uid"], "Foreground")
            self._release_foreground(rt, meta.get("namespace", ""), meta["name"])
            return self.store.get(rt.key, meta.get("namespace", ""), meta["name"]) or obj
        elif propagation == "Foreground":
            self.api._delete_dependents(meta["uid"], "Foreground")
        if meta.get("finalizers"):
            obj = deep_copy(old)
            obj["metadata"]["deletionTimestamp"] = now()
            obj["metadata"]["deletionGracePeriodSeconds"] = 0
            return self.api.put_internal(rt, obj, old)
        return self._remove_now(rt, old)

    def _remove_now(self, rt, old):
        final = deep_copy(old)
        final["metadata"]["resourceVersion"] = str(self.store.next_rv())
        self.api._remove(rt, final)
        return final

    # ------------------------------------------------------------------ pods
    @property
    def pod_delay(self):
        return getattr(self.sim, "pod_termination_delay", 0.0)

    def _pod_grace(self, pod, requested):
        """The grace period the real API server grants: none for a Pod no kubelet runs."""
        if self.pod_delay <= 0 or not (pod.get("spec") or {}).get("nodeName") or \
                (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        grace = requested if requested is not None else \
            (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        current = pod["metadata"].get("deletionGracePeriodSeconds")
        if current is not None and pod["metadata"].get("deletionTimestamp"):
            grace = min(grace, current)             # a second delete may only shorten it
        return max(int(grace), 0)

    def _stop_pod(self, rt, old, grace):
        meta = old["metadata"]
        if meta.get("deletionTimestamp") and meta.get("deletionGracePeriodSeconds") == grace:
            return old                              # already stopping
        obj = deep_copy(old)
        obj["metadata"]["deletionTimestamp"] = now(after=grace)
        obj["metadata"]["deletionGracePeriodSeconds"] = grace
        obj = self.api.put_internal(rt, obj, old)
        ns, name, uid = meta.get("namespace", ""), meta["name"], meta["uid"]
        self.api.controllers.scheduler.call_later(min(self.pod_delay, grace),
                                                  lambda: self._stopped(ns, name, uid))
        return self.store.get(POD_KEY, ns, name) or obj

    def _stopped(self, ns, name, uid):
        """The kubelet saw the containers exit: it deletes the Pod with no grace left."""
        with self.store.lock:
            cur = self.store.get(POD_KEY, ns, name)
            if cur is None or cur["metadata"]["uid"] != uid:
                return
            rt = self._rt(POD_KEY)
            if cur["metadata"].get("finalizers"):
                obj = deep_copy(cur)
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
                self.api.put_internal(rt, obj, cur)
                return
            self._remove_now(rt, cur)

    def removed(self, rt, final):
        """After an object left the store: release owners waiting in foreground deletion,
        and let a terminating namespace or CRD finish."""
        meta = final["metadata"]
        ns = meta.get("namespace", "")
        for ref in meta.get("ownerReferences") or []:
            ort = self.api.registry.lookup_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
            if ort is not None:
                self._release_foreground(ort, ns if ort.namespaced else "", ref.get("name"))
        if ns and rt.key != NS_KEY:
            nsobj = self.store.get(NS_KEY, "", ns)
            if nsobj is not None and nsobj["metadata"].get("deletionTimestamp"):
                self.finish_namespace(ns)
        if rt.is_crd:
            for crd in self.store.list(CRD_KEY):
                spec = crd.get("spec") or {}
                if (spec.get("group"), (spec.get("names") or {}).get("plural")) == rt.key \
                        and crd["metadata"].get("deletionTimestamp"):
                    self.finish_crd(crd["metadata"]["name"])

    def refuse_create(self, rt):
        """405 for a new custom resource of a CRD being deleted, as the real server."""
        if not rt.is_crd:
            return
        for crd in self.store.list(CRD_KEY):
            spec = crd.get("spec") or {}
            if (spec.get("group"), (spec.get("names") or {}).get("plural")) == rt.key and \
                    crd["metadata"].get("deletionTimestamp"):
                raise ApiError(405, "MethodNotAllowed", "create not allowed while custom "
                               "resource definition is terminating")

    # ------------------------------------------------------------------ foreground
    def _blocking_dependents(self, uid):
        return [d for _, d in self.api._dependents(uid)
                if any(r.get("uid") == uid and r.get("blockOwnerDeletion")
                       for r in d["metadata"].get("ownerReferences") or [])]

    def _release_foreground(self, rt, ns, name):
        cur = self.store.get(rt.key, ns, name)
        if cur is None:
            return
        fins = cur["metadata"].get("finalizers") or []
        if FOREGROUND not in fins or not cur["metadata"].get("deletionTimestamp"):
            return
        if self._blocking_dependents(cur["metadata"]["uid"]):
            return
        self.drop_finalizer(rt, cur, FOREGROUND)

    def drop_finalizer(self, rt, cur, finalizer):
        new = deep_copy(cur)
        new["metadata"]["finalizers"] = [f for f in cur["metadata"].get("finalizers") or []
                                         if f != finalizer]
        if not new["metadata"]["finalizers"]:
            del new["metadata"]["finalizers"]
            if cur["metadata"].get("deletionTimestamp") and rt.key not in (NS_KEY,):
                new["metadata"]["resourceVersion"] = str(self.store.next_rv())
                self.api._remove(rt, new)
                return None
        return self.api.put_internal(rt, new, cur)

    # ------------------------------------------------------------------ namespaces
    def _namespace(self, rt, old):
        name = old["metadata"]["name"]
        if old["metadata"].get("deletionTimestamp"):
            return old
        obj = deep_copy(old)
        obj["metadata"]["deletionTimestamp"] = now()
        obj["metadata"]["deletionGracePeriodSeconds"] = 0
        obj["status"] = {"phase": "Terminating"}
        obj = self.api.put_internal(rt, obj, old)
        self.due[(NS_KEY, name)] = time.monotonic() + self.delay
        self._later(lambda: self.finish_namespace(name))
        self.finish_namespace(name)
        return self.store.get(NS_KEY, "", name) or obj

    def _content(self, ns):
        out = []
        for key in list(self.store.list_keys()):
            rt = self._rt(key)
            if rt is None or not rt.namespaced:
                continue
            out.extend((rt, o) for o in self.store.list(key, ns))
        return out

    def finish_namespace(self, name):
        """The namespace controller's pass: delete the content, report what remains, and
        drop the `kubernetes` finalizer once nothing does. Each removal it causes asks for
        another pass (removed()); those run after this one, not inside it, or a namespace of
        many objects would nest a pass per object."""
        if name in self._passing:
            self._passing[name] = True              # run again once the current pass ends
            return
        self._passing[name] = False
        try:
            while True:
                self._namespace_pass(name)
                if not self._passing[name]:
                    return
                self._passing[name] = False
        finally:
            del self._passing[name]

    def _namespace_pass(self, name):
        cur = self.store.get(NS_KEY, "", name)
        if cur is None or not cur["metadata"].get("deletionTimestamp"):
            return
        for rt, o in self._content(name):
            live = self.store.get(rt.key, name, o["metadata"]["name"])
            if live is not None and not live["metadata"].get("deletionTimestamp"):
                self.delete(rt, live, "Background")
        left = self._content(name)
        cur = self.store.get(NS_KEY, "", name)
        if cur is None:
            return
        remaining, finalizers = {}, {}
        for rt, o in left:
            gr = rt.plural + ("." + rt.group if rt.group else "")
            remaining[gr] = remaining.get(gr, 0) + 1
            for f in o["metadata"].get("finalizers") or []:
                finalizers[f] = finalizers.get(f, 0) + 1

        def ok(t, r, m):
            return {"type": t, "status": "False", "reason": r, "message": m}
        conds = [ok("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered",
                    "All resources successfully discovered"),
                 ok("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions",
                    "All legacy kube types successfully parsed"),
                 ok("NamespaceDeletionContentFailure", "ContentDeleted",
                    "All content successfully deleted, may be waiting on finalization")]
        if remaining:
            conds.append({"type": "NamespaceContentRemaining", "status": "True",
                          "reason": "SomeResourcesRemain",
                          "message": "Some resources are remaining: %s" % ", ".join(
                              "%s has %d resource instances" % kv
                              for kv in sorted(remaining.items()))})
        else:
            conds.append(ok("NamespaceContentRemaining", "ContentRemoved",
                            "All content successfully removed"))
        if finalizers:
            conds.append({"type": "NamespaceFinalizersRemaining", "status": "True",
                          "reason": "SomeFinalizersRemain",
                          "message": "Some content in the namespace has finalizers "
                          "remaining: %s" % ", ".join("%s in %d resource instances" % kv
                                                      for kv in sorted(finalizers.items()))})
        else:
            conds.append(ok("NamespaceFinalizersRemaining", "ContentHasNoFinalizers",
                            "All content-preserving finalizers finished"))
        prev = {c["type"]: c for c in (cur.get("status") or {}).get("conditions") or []}
        for c in conds:
            p = prev.get(c["type"])
            c["lastTransitionTime"] = p["lastTransitionTime"] if p and \
                p.get("status") == c["status"] and "lastTransitionTime" in p else now()
        if (cur.get("status") or {}).get("conditions") != conds:
            new = deep_copy(cur)
            new["status"] = {"phase": "Terminating", "conditions": conds}
            cur = self.api.put_internal(self._rt(NS_KEY), new, cur)
        if remaining or time.monotonic() < self.due.get((NS_KEY, name), 0):
            return
        spec_fins = (cur.get("spec") or {}).get("finalizers") or []
        if "kubernetes" in spec_fins:
            new = deep_copy(cur)
            new["spec"]["finalizers"] = [f for f in spec_fins if f != "kubernetes"]
            cur = self.api.put_internal(self._rt(NS_KEY), new, cur)
        self.maybe_remove_namespace(cur)

    def maybe_remove_namespace(self, cur):
        """A terminating namespace with no finalizers left (spec or metadata) goes."""
        if cur is None or not cur["metadata"].get("deletionTimestamp"):
            return False
        if (cur.get("spec") or {}).get("finalizers") or cur["metadata"].get("finalizers"):
            return False
        name = cur["metadata"]["name"]
        # Whatever is left (a forced finalize) goes with it.
        for rt, o in self._content(name):
            final = deep_copy(o)
            final["metadata"]["resourceVersion"] = str(self.store.next_rv())
            self.store.remove(rt.key, name, o["metadata"]["name"], final)
        final = deep_copy(cur)
        final["metadata"]["resourceVersion"] = str(self.store.next_rv())
        self.due.pop((NS_KEY, name), None)
        self.store.remove(NS_KEY, "", name, final)
        return True

    # ------------------------------------------------------------------ CRDs
    def _crd(self, rt, old):
        name = old["metadata"]["name"]
        if old["metadata"].get("deletionTimestamp"):
            return old
        obj = deep_copy(old)
        obj["metadata"]["deletionTimestamp"] = now()
        obj["metadata"]["deletionGracePeriodSeconds"] = 0
        fins = obj["metadata"].setdefault("finalizers", [])
        if CRD_FINALIZER not in fins:
            fins.append(CRD_FINALIZER)
        obj = self.api.put_internal(rt, obj, old)
        self.due[(CRD_KEY, name)] = time.monotonic() + self.delay
        self._later(lambda: self.finish_crd(name))
        self.finish_crd(name)
        return self.store.get(CRD_KEY, "", name) or obj

    def _set_terminating(self, crd, status, reason, message):
        conds = [c for c in (crd.get("status") or {}).get("conditions") or []
                 if c.get("type") != "Terminating"]
        prev = next((c for c in (crd.get("status") or {}).get("conditions") or []
                     if c.get("type") == "Terminating"), None)
        if prev and (prev.get("status"), prev.get("reason"), prev.get("message")) == \
                (status, reason, message):
            return crd
        conds.append({"type": "Terminating", "status": status, "reason": reason,
                      "message": message, "lastTransitionTime": now()})
        new = deep_copy(crd)
        new.setdefault("status", {})["conditions"] = conds
        return self.api.put_internal(self._rt(CRD_KEY), new, crd)

    def finish_crd(self, name):
        crd = self.store.get(CRD_KEY, "", name)
        if crd is None or not crd["metadata"].get("deletionTimestamp") or \
                CRD_FINALIZER not in (crd["metadata"].get("finalizers") or []):
            return
        spec = crd.get("spec") or {}
        key = (spec.get("group", ""), (spec.get("names") or {}).get("plural"))
        rt = self._rt(key)
        if rt is not None:
            for o in self.store.list(key):
                if not o["metadata"].get("deletionTimestamp"):
                    self.delete(rt, o, "Background")
        left = self.store.list(key)
        crd = self.store.get(CRD_KEY, "", name)
        if crd is None:
            return
        if left:
            self._set_terminating(crd, "True", "InstanceDeletionInProgress",
                                  "CustomResource deletion is in progress")
            return
        if time.monotonic() < self.due.get((CRD_KEY, name), 0):
            self._set_terminating(crd, "True", "InstanceDeletionInProgress",
                                  "CustomResource deletion is in progress")
            return
        crd = self._set_terminating(crd, "False", "InstanceDeletionCompleted",
                                    "removed all instances")
        self.due.pop((CRD_KEY, name), None)
        self.drop_finalizer(self._rt(CRD_KEY), crd, CRD_FINALIZER)

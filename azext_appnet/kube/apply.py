"""Server-side apply in phases, readiness waits, and pruning by label.

A phase is a set of independent objects: they are applied in parallel. Phases run in
order. Inside one phase, Namespaces and CustomResourceDefinitions go first (a namespaced
object cannot be created before its namespace, a custom resource before its CRD is
served), so a caller that puts them in the same phase as their dependents still works.
"""

import time
from concurrent.futures import ThreadPoolExecutor

from ..errors import ClusterError
from .client import ApiError, describe

CRD_API = "apiextensions.k8s.io/v1"

#: Kinds that other objects of the same phase may depend on: applied first.
_FIRST_KINDS = ("Namespace", "CustomResourceDefinition")


def _causes(failures):
    """Each distinct cause once, with the objects it hit: an outage is one sentence, not one
    per object."""
    groups = {}
    for obj, err in failures:
        meta = obj.get("metadata") or {}
        name = describe(obj.get("kind"), meta.get("namespace"), meta.get("name"))
        cause = err.message[len(name) + 2:] if err.message.startswith(name + ": ") else err.message
        groups.setdefault(cause, []).append(name)
    parts = []
    for cause, names in groups.items():
        shown = ", ".join(names[:4]) + (" and %d more" % (len(names) - 4) if len(names) > 4 else "")
        parts.append("%s (%s)" % (cause.rstrip(". "), shown) if len(groups) > 1 or len(names) > 1
                     else cause)
    return "; ".join(parts)


def _phase_name(phase):
    return phase.get("name") if isinstance(phase, dict) else phase.name


def _phase_objects(phase):
    return phase.get("objects") if isinstance(phase, dict) else phase.objects


def waves(objects):
    """Split one phase's objects into the waves applied one after the other:
    [Namespaces + CRDs, everything else], dropping an empty wave. Order inside a wave
    is kept (it does not matter: a wave is applied in parallel)."""
    first = [o for o in objects if o.get("kind") in _FIRST_KINDS]
    rest = [o for o in objects if o.get("kind") not in _FIRST_KINDS]
    return [w for w in (first, rest) if w]


def identity(obj):
    """(apiVersion, kind, namespace, name) of an object: how prune's `keep` names it."""
    meta = obj.get("metadata") or {}
    return (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name"))


def apply_phases(cluster, phases, field_manager="az-appnet", parallelism=4, progress=None):
    """Server-side apply every object of every phase, in order; returns the applied
    objects as the server stored them, in input order. After a wave holding CRDs, waits
    until each is Established and its resource is served. Raises ClusterError naming
    every object that failed in the first phase that had a failure."""
    say = progress or (lambda msg: None)
    results = []
    with ThreadPoolExecutor(max_workers=max(1, parallelism),
                            thread_name_prefix="appnet-apply") as pool:
        for phase in phases:
            objects = list(_phase_objects(phase) or [])
            if not objects:
                continue
            say("Applying %s (%d object%s)" % (_phase_name(phase), len(objects),
                                              "" if len(objects) == 1 else "s"))
            for wave in waves(objects):
                # Resolve kinds here, one at a time, so parallel workers never race to
                # fetch the same discovery document.
                for obj in wave:
                    if obj.get("kind") != "CustomResourceDefinition":
                        cluster.discovery.resolve(obj.get("apiVersion"), obj.get("kind"))
                futures = [pool.submit(cluster.apply, obj, field_manager) for obj in wave]
                failures, live = [], []
                for obj, fut in zip(wave, futures):
                    try:
                        live.append(fut.result())
                    except ClusterError as e:
                        failures.append((obj, e))
                results.extend(live)
                if failures:
                    if len(failures) == 1:
                        raise failures[0][1]
                    raise ClusterError("%d objects of %s could not be applied: %s" % (
                        len(failures), _phase_name(phase), _causes(failures)))
                crds = [o for o in live if o.get("kind") == "CustomResourceDefinition"]
                if crds:
                    wait_established(cluster, crds, progress=progress)
    return results


def wait_established(cluster, crds, timeout=60, progress=None):
    """Wait until every CRD is Established and the API server serves its resource.
    `crds` may be the objects as the server returned them from apply: those already
    Established there (any re-apply) cost no further request."""
    say = progress or (lambda msg: None)
    pending = {}
    for c in crds:
        if _condition(c, "Established"):
            cluster.discovery.register_crd(c)
        else:
            pending[c["metadata"]["name"]] = c
    deadline = time.monotonic() + timeout
    delay = 0.05
    while pending:
        for name in list(pending):
            live = cluster.get(CRD_API, "customresourcedefinitions", name)
            if live is not None and _condition(live, "Established"):
                cluster.discovery.register_crd(live)
                del pending[name]
        if not pending:
            break
        if time.monotonic() >= deadline:
            raise ClusterError(
                "CustomResourceDefinition %s not Established after %ds. Check it with "
                "%s get crd %s -o yaml (conditions NamesAccepted/Established)."
                % (", ".join(sorted(pending)), timeout, cluster.kubectl, sorted(pending)[0]))
        time.sleep(delay)
        delay = min(1.0, delay * 2)
    # Established means the API server will serve the resource; check discovery says so
    # (one request per group-version) so the next phase's custom resources resolve.
    gvs = {}
    for crd in crds:
        spec = crd["spec"]
        for v in spec.get("versions") or []:
            if v.get("served", True):
                gvs.setdefault("%s/%s" % (spec["group"], v["name"]), set()).add(
                    spec["names"]["plural"])
    for gv, plurals in sorted(gvs.items()):
        delay = 0.05
        while not cluster.discovery.served(gv, plurals):
            if time.monotonic() >= deadline:
                raise ClusterError(
                    "the API server does not serve %s in %s %ds after their "
                    "CustomResourceDefinitions were applied. Check the API server's health."
                    % (", ".join(sorted(plurals)), gv, timeout))
            time.sleep(delay)
            delay = min(1.0, delay * 2)
    say("CustomResourceDefinitions established (%d)" % len(crds))


def _condition(obj, ctype):
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c.get("status") == "True"
    return False


# -- readiness ------------------------------------------------------------------------

def readiness(obj):
    """(ready, detail) for a live Deployment, DaemonSet or Gateway; (True, "") for any
    other kind. `detail` says how far it got, for progress and timeout messages."""
    kind = obj.get("kind")
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    current = status.get("observedGeneration", 0) >= meta.get("generation", 0)
    if kind == "Deployment":
        desired = spec.get("replicas", 1)
        available = status.get("availableReplicas", 0)
        updated = status.get("updatedReplicas", 0)
        ok = current and available >= desired and updated >= desired
        return ok, "%d of %d replicas available" % (available, desired)
    if kind == "DaemonSet":
        desired = status.get("desiredNumberScheduled", 0)
        ready = status.get("numberReady", 0)
        updated = status.get("updatedNumberScheduled", 0)
        ok = current and ready >= desired and updated >= desired
        return ok, "%d of %d pods ready" % (ready, desired)
    if kind == "Gateway":
        addrs = [a.get("value") for a in status.get("addresses") or [] if a.get("value")]
        if not addrs:
            return False, "no address yet"
        # Istio lists the Service's address even while the load balancer is still
        # pending; Programmed=False says so. No Programmed condition: addresses suffice.
        for c in status.get("conditions") or []:
            if c.get("type") == "Programmed" and c.get("status") != "True":
                return False, "not programmed (%s)" % (c.get("message") or c.get("reason")
                                                       or "no reason given")
        return True, "address %s" % ", ".join(addrs)
    return True, ""


_WAITED_KINDS = ("Deployment", "DaemonSet", "Gateway")


#: When (seconds into a wait) and how often it looks at the Pods of a workload not ready
#: yet: Pods starting normally need no report, a Pod nobody can schedule does.
POD_CHECK_FIRST, POD_CHECK_INTERVAL = 2.0, 10.0


def waiting_for(pending, details):
    """One line naming what a readiness wait still waits for and how far each has got."""
    return "waiting for " + ", ".join(
        "%s %s/%s (%s)" % (kind, namespace, name, details.get((api, kind, namespace, name)) or "not ready")
        if namespace else "%s %s (%s)" % (kind, name, details.get((api, kind, namespace, name)) or "not ready")
        for api, kind, namespace, name in pending)


def wait_ready(cluster, objects, timeout=300, progress=None, poll=1.0):
    """Wait until every Deployment and DaemonSet among `objects` is ready and every
    Gateway has an address. ClusterError naming those not ready at `timeout`, and what
    keeps their Pods from being ready (a Pod that cannot be scheduled, and why)."""
    from .pods import workload_pod_problems
    say = progress or (lambda msg: None)
    pending = {}
    for obj in objects:
        if obj.get("kind") in _WAITED_KINDS:
            pending[identity(obj)] = obj
    details = {k: "not found" for k in pending}
    problems, checked, live_of, said = {}, {}, {}, {}
    start = time.monotonic()
    deadline = start + timeout

    def look_at_pods(ident, force=False):
        live = live_of.get(ident)
        if live is None or ident[1] not in ("Deployment", "DaemonSet"):
            return
        t = time.monotonic()
        due = start + POD_CHECK_FIRST if ident not in checked else \
            checked[ident] + POD_CHECK_INTERVAL
        if not force and t < due:
            return
        checked[ident] = t
        found = workload_pod_problems(cluster, live)
        if found and found != problems.get(ident):
            say("%s is not ready: %s" % (describe(ident[1], ident[2], ident[3]),
                                         "; ".join(found)))
        problems[ident] = found

    while pending:
        for ident in list(pending):
            api_version, kind, namespace, name = ident
            try:
                live = cluster.get(api_version, kind, name, namespace)
            except ApiError as e:
                if e.status not in (429, 500, 502, 503, 504):
                    raise
                continue               # a flaky API server is no reason to stop waiting
            if live is None:
                details[ident] = "not found"
                continue
            live_of[ident] = live
            ok, details[ident] = readiness(live)
            if ok:
                del pending[ident]
                say("%s ready%s" % (describe(kind, namespace, name),
                                    " (%s)" % details[ident] if details[ident] else ""))
            else:
                look_at_pods(ident)
        if not pending:
            break
        waiting = waiting_for(pending, details)
        if waiting != said.get("waiting"):
            say(waiting)   # what is still pending, each time that changes
            said["waiting"] = waiting
        now = time.monotonic()
        if now >= deadline:
            for k in pending:
                look_at_pods(k, force=True)
            names = "; ".join("%s: %s after %ds%s" % (
                describe(k[1], k[2], k[3]), details[k], int(round(timeout)),
                " (%s)" % "; ".join(problems[k]) if problems.get(k) else "")
                for k in pending)
            first = next(iter(pending))
            raise ClusterError(
                "not ready: %s. Inspect it with %s -n %s describe %s %s and its "
                "pods' events, fix the cause, then run the command again."
                % (names, cluster.kubectl, first[2] or "default", first[1].lower(), first[3]))
        time.sleep(min(poll, max(0.0, deadline - now)))
    return True


# -- prune ----------------------------------------------------------------------------

#: Namespaced kinds looked at before deleting one of our namespaces: deleting a namespace
#: deletes everything in it, so we keep it when it holds anything that is not ours.
_NAMESPACE_CONTENT = (("v1", "configmaps"), ("v1", "secrets"), ("v1", "services"),
                      ("v1", "serviceaccounts"), ("apps/v1", "deployments"),
                      ("apps/v1", "daemonsets"), ("apps/v1", "statefulsets"),
                      ("batch/v1", "jobs"))
#: Objects the cluster creates in every namespace by itself.
_AUTOMATIC = {("ConfigMap", "kube-root-ca.crt"), ("ConfigMap", "istio-ca-root-cert"),
              ("ServiceAccount", "default")}


def _selector_matches(selector, labels):
    """Client-side check of an equality-based selector ("a=b,c!=d,e")."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.strip().rstrip("=")) != v.strip().lstrip("="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def prune_order(kinds):
    """Kinds in delete order: as given, but Namespaces after the rest (their content goes
    first, so we can tell whether anything foreign is left in them) and CRDs last
    (deleting a CRD deletes every custom resource of its kind)."""
    def rank(k):
        plural = k[1]
        return 2 if plural == "customresourcedefinitions" else 1 if plural == "namespaces" else 0
    return sorted(kinds, key=rank)  # stable: keeps the caller's order inside a rank


def prune(cluster, label_selector, kinds, keep=(), progress=None):
    """Delete every object matching `label_selector` of the given kinds
    ((api_version, plural, namespaced) tuples) except those whose identity
    (api_version, kind, namespace, name) is in `keep`. Returns "Kind ns/name" of each
    object deleted. Kinds the server does not serve are skipped. A Namespace still
    holding objects that do not match the selector, and a CRD with custom resources
    left, are kept (and reported through `progress`)."""
    say = progress or (lambda msg: None)
    keep = set(tuple(k) for k in keep)
    deleted = []
    for api_version, plural, namespaced in prune_order(kinds):
        for obj in cluster.list(api_version, plural, label_selector=label_selector):
            ident = identity(obj)
            if ident in keep:
                continue
            kind, namespace, name = ident[1], ident[2], ident[3]
            if (obj.get("metadata") or {}).get("deletionTimestamp"):
                continue              # already being deleted (a Terminating namespace)
            if plural == "namespaces":
                foreign = _foreign_content(cluster, name, label_selector)
                if foreign:
                    say("Kept namespace %s: it holds objects that are not ours (%s)"
                        % (name, ", ".join(foreign[:5])))
                    continue
            if plural == "customresourcedefinitions":
                left = _custom_resources_left(cluster, obj)
                if left:
                    say("Kept CustomResourceDefinition %s: custom resources of it remain "
                        "(%s)" % (name, ", ".join(left)))
                    continue
            if cluster.delete(api_version, plural, name, namespace if namespaced else None):
                what = describe(kind, namespace if namespaced else None, name)
                deleted.append(what)
                say("Deleted %s" % what)
    return deleted


def _foreign_content(cluster, namespace, label_selector):
    out = []
    for api_version, plural in _NAMESPACE_CONTENT:
        for obj in cluster.list(api_version, plural, namespace=namespace):
            meta = obj.get("metadata") or {}
            if (obj.get("kind"), meta.get("name")) in _AUTOMATIC:
                continue
            if obj.get("type") == "kubernetes.io/service-account-token":
                continue
            if meta.get("ownerReferences"):
                continue              # owned by something: goes with its owner
            if not _selector_matches(label_selector, meta.get("labels") or {}):
                out.append(describe(obj.get("kind"), namespace, meta.get("name")))
    return out


def _custom_resources_left(cluster, crd):
    spec = crd.get("spec") or {}
    group, plural = spec.get("group"), (spec.get("names") or {}).get("plural")
    versions = [v["name"] for v in spec.get("versions") or [] if v.get("served", True)]
    if not (group and plural and versions):
        return []
    items = cluster.request("GET", "/apis/%s/%s/%s" % (group, versions[0], plural),
                            query={"limit": 3}, ok_missing=True)
    out = []
    for item in (items or {}).get("items") or []:
        meta = item.get("metadata") or {}
        out.append("%s/%s" % (meta.get("namespace"), meta.get("name"))
                   if meta.get("namespace") else meta.get("name"))
    return out

"""Server-side apply in waves, readiness waits, and pruning by label.

The caller's phases name what belongs together; what waits for what is decided by kind
(schedule()): Namespaces and CustomResourceDefinitions first (a namespaced object cannot
be created before its namespace, a custom resource before its CRD is served), then the
configuration, then what starts and reads it. Each wave is applied in parallel.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ..constants import FIELD_MANAGER, TRANSIENT_STATUSES
from ..errors import ClusterError
from .client import ApiError, describe
from .concurrent import PARALLELISM, gather

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
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        parts.append(f"{cause.rstrip('. ')} ({shown})" if len(groups) > 1 or len(names) > 1
                     else cause)
    return "; ".join(parts)


def _fixes(failures):
    """The distinct recommendations of the failures, in order, or None."""
    return " ".join(dict.fromkeys(err.recommendation for _, err in failures if err.recommendation)) or None


def _phase_name(phase):
    return phase.get("name") if isinstance(phase, dict) else phase.name


def _phase_objects(phase):
    return phase.get("objects") if isinstance(phase, dict) else phase.objects


#: Kinds whose objects start something that reads, when it starts, the configuration applied
#: beside it: Pods mount their ServiceAccount token, ConfigMaps and Secrets, and istiod reads
#: `cacerts` once at start (without it, it makes a CA of its own no other member trusts). A
#: Gateway becomes a Deployment istiod makes. They go after everything else.
_RUNNING_KINDS = ("Deployment", "DaemonSet", "StatefulSet", "Job", "Gateway")


def schedule(phases):
    """The waves apply_phases sends one after the other, as [(phase names, objects)]:
    1. the Namespaces and CRDs of every phase (nothing they need is applied by us);
    2. every other object that starts nothing: configuration, identities, RBAC, Services,
       webhooks, disruption budgets, custom resources (after their CRDs are Established);
    3. the objects that start something (_RUNNING_KINDS), which read what 2 made.
    A barrier is kept only where a later object depends on an earlier one: the phases' own
    order (istiod, CNI, ztunnel, gateway) is no dependency at apply time, since apply
    never waits for readiness between them; each starts and retries on its own (ztunnel
    until istiod serves certificates, the Gateway until istiod programs it). An empty wave
    is dropped; inside a wave the phases' order is kept."""
    tiers = ([], [], [])
    for phase in phases:
        name = _phase_name(phase)
        for obj in _phase_objects(phase) or []:
            kind = obj.get("kind")
            tier = 0 if kind in _FIRST_KINDS else 2 if kind in _RUNNING_KINDS else 1
            tiers[tier].append((name, obj))
    out = []
    for tier in tiers:
        if tier:
            names = list(dict.fromkeys(n for n, _ in tier))
            out.append((names, [o for _, o in tier]))
    return out


def identity(obj):
    """(apiVersion, kind, namespace, name) of an object: how prune's `keep` names it."""
    meta = obj.get("metadata") or {}
    return (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name"))


def _defined_versions(crd):
    spec = crd.get("spec") or {}
    return {f"{spec.get('group')}/{v.get('name')}" for v in spec.get("versions") or []}


def apply_phases(cluster, phases, field_manager=FIELD_MANAGER, parallelism=None, progress=None):
    """Server-side apply every object of every phase, in the waves of schedule(); returns
    the applied objects as the server stored them. After a wave holding CRDs, waits until
    each is Established (by a watch) and, when a later object is one of its custom
    resources, until its resource is served. Raises ClusterError naming every object that
    failed in the first wave that had a failure; later waves are not applied."""
    say = progress or (lambda msg: None)
    results = []
    plan = schedule(list(phases))
    everything = [o for _, wave in plan for o in wave]
    defined = set()
    for o in everything:
        if o.get("kind") == "CustomResourceDefinition":
            defined |= _defined_versions(o)
    # Custom resources of the CRDs applied here: their group-versions must be served first.
    needed = {o.get("apiVersion") for o in everything if o.get("apiVersion") in defined}
    with ThreadPoolExecutor(max_workers=max(1, parallelism or PARALLELISM),
                            thread_name_prefix="appnet-apply") as pool:
        for number, (names, wave) in enumerate(plan):
            say(f"Applying {', '.join(names)} ({len(wave)} object{'' if len(wave) == 1 else 's'})")
            # Kinds are resolved before the applies (so parallel workers never race to fetch
            # the same discovery document); the first wave's Namespaces and CRDs need no
            # discovery document, so the later waves' are read while it is applied.
            if number == 0:
                discovering = pool.submit(_discover, cluster, everything)
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
                raise ClusterError(
                    f"{len(failures)} objects of {', '.join(names)} could not be applied: "
                    f"{_causes(failures)}.", _fixes(failures))
            if number == 0:
                discovering.result()
            crds = [o for o in live if o.get("kind") == "CustomResourceDefinition"]
            if crds:
                wait_established(cluster, crds, progress=progress, served=needed)
    return results


def _discover(cluster, objects):
    """Read at once the discovery document of every group-version the objects use, except
    those their own CRDs define (learned from the CRDs when Established): one round trip
    instead of one per group-version, and none later in the wave that needs it."""
    defined = set()
    for o in objects:
        if o.get("kind") == "CustomResourceDefinition":
            defined |= _defined_versions(o)
    first = {}
    for o in objects:
        if o.get("kind") not in _FIRST_KINDS and o.get("apiVersion") not in defined:
            first.setdefault(o.get("apiVersion"), o.get("kind"))
    gather([lambda a=a, k=k: cluster.discovery.resolve(a, k) for a, k in first.items()])


def _await_established(cluster, crd, deadline):
    """The CRD as it is once Established, or None at `deadline`: one watch from the
    version apply returned (a change made since is delivered at once), looked at again
    only if the watch ends or expires."""
    name = crd["metadata"]["name"]
    live = crd
    while True:
        rv = (live.get("metadata") or {}).get("resourceVersion")
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            for etype, obj in cluster.watch(CRD_API, "customresourcedefinitions", name,
                                            resource_version=rv, timeout=max(1.0, left)):
                if etype in ("ADDED", "MODIFIED") and _condition(obj, "Established"):
                    return obj
                if etype == "ERROR":
                    break          # e.g. 410 Gone: look again, then watch anew
        except ApiError as e:
            if e.status not in TRANSIENT_STATUSES:
                raise
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        found = cluster.get(CRD_API, "customresourcedefinitions", name)
        if found is not None and _condition(found, "Established"):
            return found
        live = found or live


def wait_established(cluster, crds, timeout=60, progress=None, served=None):
    """Wait until every CRD is Established and, for the group-versions in `served` (None:
    all of theirs), the API server serves its resource. `crds` may be the objects as the
    server returned them from apply: those already Established there (any re-apply) cost
    no further request. Each pending CRD is awaited by a watch, all at once."""
    say = progress or (lambda msg: None)
    pending = []
    for c in crds:
        if _condition(c, "Established"):
            cluster.discovery.register_crd(c)
        else:
            pending.append(c)
    deadline = time.monotonic() + timeout
    if pending and getattr(cluster, "watch", None) is None:
        _poll_established(cluster, pending, deadline, timeout)
    elif pending:
        found = gather([lambda c=c: _await_established(cluster, c, deadline) for c in pending],
                       parallelism=len(pending))
        late = sorted(c["metadata"]["name"] for c, live in zip(pending, found) if live is None)
        if late:
            raise ClusterError(
                f"CustomResourceDefinition {', '.join(late)} not Established after {timeout}s.",
                f"Check it with {cluster.kubectl} get crd {late[0]} -o yaml (conditions "
                "NamesAccepted/Established).")
        for live in found:
            cluster.discovery.register_crd(live)
    # Established means the API server will serve the resource; where a custom resource is
    # applied next, check discovery says so (one request per group-version, all at once).
    gvs = {}
    for crd in crds:
        spec = crd["spec"]
        for v in spec.get("versions") or []:
            gv = f"{spec['group']}/{v['name']}"
            if v.get("served", True) and (served is None or gv in served):
                gvs.setdefault(gv, set()).add(spec["names"]["plural"])
    delay = 0.05
    while gvs:
        order = sorted(gvs)
        ok = gather([lambda gv=gv: cluster.discovery.served(gv, gvs[gv]) for gv in order])
        for gv, yes in zip(order, ok):
            if yes:
                del gvs[gv]
        if not gvs:
            break
        if time.monotonic() >= deadline:
            gv, plurals = sorted(gvs.items())[0]
            raise ClusterError(
                f"The API server does not serve {', '.join(sorted(plurals))} in {gv} {timeout}s after "
                "their CustomResourceDefinitions were applied.", "Check the API server's health.")
        time.sleep(delay)
        delay = min(1.0, delay * 2)
    say(f"CustomResourceDefinitions established ({len(crds)})")


def _poll_established(cluster, pending, deadline, timeout):
    """wait_established for a client that cannot watch: GET them all, again and again."""
    pending = {c["metadata"]["name"]: c for c in pending}
    delay = 0.05
    while pending:
        names = list(pending)
        found = gather([lambda n=n: cluster.get(CRD_API, "customresourcedefinitions", n)
                        for n in names])
        for name, live in zip(names, found):
            if live is not None and _condition(live, "Established"):
                cluster.discovery.register_crd(live)
                del pending[name]
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise ClusterError(
                f"CustomResourceDefinition {', '.join(sorted(pending))} not Established after {timeout}s.",
                f"Check it with {cluster.kubectl} get crd {sorted(pending)[0]} -o yaml (conditions "
                "NamesAccepted/Established).")
        time.sleep(delay)
        delay = min(1.0, delay * 2)


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
        return ok, f"{available} of {desired} replicas available"
    if kind == "DaemonSet":
        desired = status.get("desiredNumberScheduled", 0)
        ready = status.get("numberReady", 0)
        updated = status.get("updatedNumberScheduled", 0)
        ok = current and ready >= desired and updated >= desired
        return ok, f"{ready} of {desired} pods ready"
    if kind == "Gateway":
        return _gateway_readiness(meta, status)
    return True, ""


def _gateway_readiness(meta, status):
    addrs = [a.get("value") for a in status.get("addresses") or [] if a.get("value")]
    if not addrs:
        return False, "no address yet"
    # Istio lists the Service's address even while the load balancer is still
    # pending; Programmed=False says so. No Programmed condition: addresses suffice.
    for c in status.get("conditions") or []:
        if c.get("type") != "Programmed":
            continue
        if c.get("status") != "True":
            return False, f"not programmed ({c.get('message') or c.get('reason') or 'no reason given'})"
        # Programmed for an earlier spec (the answer to an apply that changed it) is not
        # yet the gateway asked for.
        if c.get("observedGeneration", meta.get("generation", 0)) < meta.get("generation", 0):
            return False, "not programmed yet for its latest spec"
    return True, f"address {', '.join(addrs)}"


_WAITED_KINDS = ("Deployment", "DaemonSet", "Gateway")


#: When (seconds into a wait) and how often it looks at the Pods of a workload not ready
#: yet: Pods starting normally need no report, a Pod nobody can schedule does.
POD_CHECK_FIRST, POD_CHECK_INTERVAL = 2.0, 10.0


def waiting_for(pending, details):
    """One line naming what a readiness wait still waits for and how far each has got."""
    return "waiting for " + ", ".join(
        f"{kind} {namespace}/{name} ({details.get((api, kind, namespace, name)) or 'not ready'})"
        if namespace else f"{kind} {name} ({details.get((api, kind, namespace, name)) or 'not ready'})"
        for api, kind, namespace, name in pending)


# pylint: disable-next=too-many-statements,too-many-locals  # the watch and the judge it nests share its state
def wait_ready(cluster, objects, timeout=300, progress=None, poll=1.0):
    """Wait until every Deployment and DaemonSet among `objects` is ready and every
    Gateway has an address. ClusterError naming those not ready at `timeout`, and what
    keeps their Pods from being ready (a Pod that cannot be scheduled, and why).
    Each object is awaited on its own thread, by a watch on it: a change is seen when it
    happens, at one request per object rather than one per poll. `objects` may be as the
    server answered their apply (apply_phases' result): one that carries its state and
    resourceVersion is judged as it is and watched from there, without a GET first."""
    from .pods import workload_pod_problems
    say = progress or (lambda msg: None)
    pending = [identity(o) for o in objects if o.get("kind") in _WAITED_KINDS]
    # A rendered object has no resourceVersion; a live one is as fresh as a GET would be.
    answered = {identity(o): o for o in objects
                if o.get("kind") in _WAITED_KINDS and (o.get("metadata") or {}).get("resourceVersion")}
    details = {k: "not found" for k in pending}
    problems, checked, said = {}, {}, {}
    still = list(pending)           # not ready yet, in the given order
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + timeout
    watch = getattr(cluster, "watch", None)

    def pod_check_due(ident):
        return start + POD_CHECK_FIRST if ident not in checked else \
            checked[ident] + POD_CHECK_INTERVAL

    def look_at_pods(ident, live, force=False):
        if live is None or ident[1] not in ("Deployment", "DaemonSet"):
            return
        t = time.monotonic()
        if not force and t < pod_check_due(ident):
            return
        checked[ident] = t
        found = workload_pod_problems(cluster, live)
        if found and found != problems.get(ident):
            say(f"{describe(ident[1], ident[2], ident[3])} is not ready: {'; '.join(found)}")
        problems[ident] = found

    def judge(ident, live):
        ok, details[ident] = readiness(live)
        if ok:
            say(f"{describe(ident[1], ident[2], ident[3])} ready"
                + (f" ({details[ident]})" if details[ident] else ""))
        else:
            look_at_pods(ident, live)
        with lock:
            if ok and ident in still:
                still.remove(ident)
            waiting = waiting_for(still, details) if still else None
            if waiting and waiting != said.get("waiting"):
                say(waiting)   # what is still pending, each time that changes
                said["waiting"] = waiting
        return ok

    canceled = threading.Event()       # set by gather when the wait is interrupted

    def await_one(ident):
        api_version, kind, namespace, name = ident
        live = answered.get(ident)
        look = live is None
        while not canceled.is_set():
            if not look:
                look = True            # the apply's answer, this once; then as it is now
                if judge(ident, live):
                    return True
            else:
                try:
                    live = cluster.get(api_version, kind, name, namespace)
                except ApiError as e:
                    if e.status not in TRANSIENT_STATUSES:
                        raise
                    live = None        # a flaky API server is no reason to stop waiting
                else:
                    if live is None:
                        details[ident] = "not found"
                    elif judge(ident, live):
                        return True
            left = deadline - time.monotonic()
            if left <= 0:
                look_at_pods(ident, live, force=True)
                return False
            if watch is None or live is None:
                canceled.wait(min(poll, left))
                continue
            # Watch until the next look at its Pods is due (or the deadline).
            span = max(1.0, min(left, pod_check_due(ident) - time.monotonic()))
            rv = (live.get("metadata") or {}).get("resourceVersion")
            try:
                for etype, obj in watch(api_version, kind, name, namespace,
                                        resource_version=rv, timeout=span):
                    if etype in ("ADDED", "MODIFIED"):
                        live = obj
                        if judge(ident, live):
                            return True
                    elif etype == "DELETED":
                        details[ident] = "not found"
                    elif etype == "ERROR":
                        break          # e.g. 410 Gone: look again and watch anew
                    if time.monotonic() >= deadline or canceled.is_set():
                        break
            except ApiError as e:
                if e.status not in TRANSIENT_STATUSES:
                    raise
                canceled.wait(min(poll, max(0.0, deadline - time.monotonic())))
        return False

    ready = gather([lambda k=k: await_one(k) for k in pending], parallelism=len(pending) or 1,
                   canceled=canceled)
    late = [k for k, ok in zip(pending, ready) if not ok]
    if late:
        names = "; ".join(
            f"{describe(k[1], k[2], k[3])}: {details[k]} after {int(round(timeout))}s"
            + (f" ({'; '.join(problems[k])})" if problems.get(k) else "")
            for k in late)
        first = late[0]
        raise ClusterError(
            f"Not ready: {names}.",
            f"Inspect it with {cluster.kubectl} -n {first[2] or 'default'} describe {first[1].lower()} "
            f"{first[3]} and its pods' events, fix the cause, then run the command again.")
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
    return sorted(kinds, key=_prune_rank)  # stable: keeps the caller's order inside a rank


# pylint: disable-next=too-many-locals  # the three rounds' lists, each named for what it holds
def prune(cluster, label_selector, kinds, keep=(), progress=None):
    """Delete every object matching `label_selector` of the given kinds
    ((api_version, plural, namespaced) tuples) except those whose identity
    (api_version, kind, namespace, name) is in `keep`. Returns "Kind ns/name" of each
    object deleted. Kinds the server does not serve are skipped. A Namespace still
    holding objects that do not match the selector, and a CRD with custom resources
    left, are kept (and reported through `progress`)."""
    say = progress or (lambda msg: None)
    keep = set(tuple(k) for k in keep)
    ordered = prune_order(kinds)
    # Three round trips, however many kinds and objects: every list at once; then the
    # deletes of everything but Namespaces and CRDs, together with the reads that judge
    # whether a Namespace or CRD is kept (what is not ours in a namespace is told by its
    # labels, so that look need not wait for our objects to go); then the Namespaces and
    # CRDs not kept. Only a CRD whose own kind is pruned here is judged after those deletes.
    every = gather([lambda k=k: cluster.list(k[0], k[1], label_selector=label_selector)
                    for k in ordered])
    doomed = []
    for (api_version, plural, namespaced), objs in zip(ordered, every):
        for obj in objs:
            if identity(obj) in keep or (obj.get("metadata") or {}).get("deletionTimestamp"):
                continue          # kept, or already being deleted (a Terminating namespace)
            doomed.append((api_version, plural, namespaced, obj))
    rest = [d for d in doomed if _prune_rank(d[:3]) == 0]
    last = [d for d in doomed if _prune_rank(d[:3]) > 0]
    pruned_groups = {d[0].rsplit("/", 1)[0] for d in rest if "/" in d[0]}
    early = [d for d in last if not _defines(d[3], pruned_groups)]
    late = [d for d in last if _defines(d[3], pruned_groups)]
    judge = [lambda d=d: _why_kept(cluster, d[1], d[3], label_selector) for d in early]
    out = gather([lambda d=d: _delete(cluster, d) for d in rest] + judge)
    gone, verdicts = out[:len(rest)], out[len(rest):]
    verdicts += gather([lambda d=d: _why_kept(cluster, d[1], d[3], label_selector) for d in late])
    last = early + late
    for why in filter(None, verdicts):
        say(why)
    last = [d for d, why in zip(last, verdicts) if not why]
    gone += gather([lambda d=d: _delete(cluster, d) for d in last])
    deleted = []
    for (api_version, plural, namespaced, obj), ok in zip(rest + last, gone):
        if ok:
            meta = obj["metadata"]
            what = describe(obj.get("kind"), meta.get("namespace") if namespaced else None,
                            meta["name"])
            deleted.append(what)
            say(f"Deleted {what}")
    return deleted


def _delete(cluster, doomed):
    api_version, plural, namespaced, obj = doomed
    return cluster.delete(api_version, plural, obj["metadata"]["name"],
                          obj["metadata"].get("namespace") if namespaced else None)


def _defines(obj, groups):
    """Whether `obj` is a CRD of one of the API groups in `groups`."""
    return obj.get("kind") == "CustomResourceDefinition" and \
        (obj.get("spec") or {}).get("group") in groups


def _prune_rank(kind):
    plural = kind[1]
    return 2 if plural == "customresourcedefinitions" else 1 if plural == "namespaces" else 0


def _why_kept(cluster, plural, obj, label_selector):
    """Why a Namespace or CRD matching the selector is not deleted after all, or None."""
    name = obj["metadata"]["name"]
    if plural == "namespaces":
        foreign = _foreign_content(cluster, name, label_selector)
        if foreign:
            return f"Kept namespace {name}: it holds objects that are not ours ({', '.join(foreign[:5])})"
    if plural == "customresourcedefinitions":
        left = _custom_resources_left(cluster, obj)
        if left:
            return f"Kept CustomResourceDefinition {name}: custom resources of it remain ({', '.join(left)})"
    return None


def _foreign_content(cluster, namespace, label_selector):
    out = []
    listed = gather([lambda k=k: cluster.list(k[0], k[1], namespace=namespace)
                     for k in _NAMESPACE_CONTENT])
    for objs in listed:
        for obj in objs:
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
    items = cluster.request("GET", f"/apis/{group}/{versions[0]}/{plural}",
                            query={"limit": 3}, ok_missing=True)
    out = []
    for item in (items or {}).get("items") or []:
        meta = item.get("metadata") or {}
        out.append(f"{meta.get('namespace')}/{meta.get('name')}"
                   if meta.get("namespace") else meta.get("name"))
    return out

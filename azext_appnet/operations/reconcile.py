"""`az appnet reconcile`: the managed control plane's duties, planned and carried out in one run.

The planner reads the network, its CA and every member cluster (in parallel, read-only: a
server-side apply dry run of each object of a member's rendering, never a write) and lists
actions, each `{member, action, reason, status}`:

    rotateRoot / finishRootRotation   the root past its rotate-after; the rotation's end once
                                      every member is on the new root and old leaves aged out
    rotateIntermediate                a member's intermediate past its rotate-after (45 of 90 d)
    rotateCredentials                 link reader credentials near expiry (where links expire)
    upgrade / patch                   FullyManaged one minor towards its channel; newest patch
    repair                            data-plane objects missing, changed, or no longer rendered
    relink                            remote secrets missing or out of date
    reapplyDeclarations               the network's namespaces / global services / waypoints

The executor runs each action as the ordinary resumable operation of the resource it changes
(the network's `rotateRoot`, a member's `rotateCa`, `update`, `relink`, ...), so a reconcile
killed midway leaves an operation the next run resumes; a resource busy with another
operation is Deferred, not fought over; a member that fails does not stop the others.
Ctrl-C or SIGTERM stops the members' operations, which run on threads of their own, through
a `Cancel` they run under (kube/concurrent.py): each ends `Canceled` at its next check point
(between steps, or in a wait), as an interrupted operation of its own command does, and the
run ends with an error saying that the next one resumes them.
Certificate rotations and upgrades run only inside the network's maintenance window (an
expired certificate at once); repairs run at any time.
"""

import base64
import datetime
import json
import threading
import time

from ..constants import FIELD_MANAGER, MEMBER_KIND, MEMBER_NAMESPACE
from ..errors import AppNetError, ConflictError, OperationCanceledError
from ..model import resources as res
from ..redact import scrub
from . import maintenance, runner

#: How many members are inspected at once (reads only), and how many run an operation at once
#: (each a whole update, with its own rounds of requests in parallel).
INSPECT_PARALLELISM = 32
PARALLELISM = 4
PLANNED, DONE, FAILED, DEFERRED = "Planned", "Done", "Failed", "Deferred"
#: After Ctrl-C, how long the members' operations get to record themselves Canceled. They
#: stop at their next check point, at once in a wait; one in the middle of a request ends it
#: first (a request's timeout is 10 s). One that takes longer is left to the next run, which
#: takes it over from its dead runner; a second Ctrl-C stops waiting at once.
CANCEL_GRACE = 10.0
WORKLOAD_CERT_HOURS = 24
#: Operations reconcile starts, so it may resume them when a run was killed.
MEMBER_OPERATIONS = {"update": "repair", "rotateCa": "rotateIntermediate", "relink": "relink",
                     "rotateCredentials": "rotateCredentials",
                     "reapplyDeclarations": "reapplyDeclarations"}
NETWORK_OPERATIONS = ("rotateRoot", "finishRootRotation")
# Fields another controller owns at run time, which a re-apply would only take back to be
# flipped again: istiod patches its webhooks' caBundle and turns failurePolicy to Fail.
_RUNTIME_OWNED = {"ValidatingWebhookConfiguration": ("failurePolicy", "caBundle"),
                  "MutatingWebhookConfiguration": ("caBundle",)}
_VOLATILE_META = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid",
                  "selfLink")


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def action(member, name, reason, status=PLANNED, **extra):
    out = {"member": member, "action": name, "reason": reason, "status": status}
    out.update(extra)
    return out


# ---- reading a cluster without changing it --------------------------------------------------

class DryRunCluster:
    """A Cluster whose writes are recorded, never sent: what converge() would change."""

    def __init__(self, cluster):
        self._cluster, self.writes = cluster, []

    def __getattr__(self, name):
        return getattr(self._cluster, name)

    def apply(self, obj, **_):
        self.writes.append(("apply", obj.get("kind"), (obj.get("metadata") or {}).get("name")))
        return obj

    def delete(self, api_version, plural, name, namespace=None):  # pylint: disable=unused-argument  # Cluster's
        self.writes.append(("delete", plural, name))
        return True

    def request(self, method, path, body=None, **kwargs):
        if method == "GET":
            return self._cluster.request(method, path, body=body, **kwargs)
        self.writes.append((method, path, None))
        return body if isinstance(body, dict) else {}


def _normalise(obj, kind):
    obj = json.loads(json.dumps(obj))
    obj.pop("status", None)
    meta = obj.get("metadata") or {}
    for key in _VOLATILE_META:
        meta.pop(key, None)
    for key in _RUNTIME_OWNED.get(kind, ()):
        for hook in obj.get("webhooks") or []:
            hook.pop(key, None)
            (hook.get("clientConfig") or {}).pop(key, None)
    return obj


def _first_difference(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
        return None
    return path or "(object)"


def _what(obj):
    meta = obj["metadata"]
    return f"{obj['kind']} {meta['namespace']}/{meta['name']}" if meta.get("namespace") else \
        f"{obj['kind']} {meta['name']}"


def object_drift(cluster, obj):
    """Why `obj` (as rendered) differs from the cluster, or None: missing, or what a forced
    server-side apply of it would change (a dry run, so the server's defaulting counts)."""
    from ..kube.client import api_path
    meta = obj["metadata"]
    resolved = cluster.discovery.resolve(obj["apiVersion"], obj["kind"])
    if resolved is None:
        return f"{_what(obj)} is missing (its kind is not served)"
    namespace = meta.get("namespace") if resolved.namespaced else None
    path = api_path(obj["apiVersion"], resolved.plural, meta["name"], namespace)
    live = cluster.request("GET", path, ok_missing=True, what=_what(obj))
    if live is None:
        return f"{_what(obj)} is missing"
    wanted = cluster.request("PATCH", path, body=obj, content_type="application/apply-patch+yaml",
                             query={"fieldManager": FIELD_MANAGER, "force": "true", "dryRun": "All"},
                             what=_what(obj))
    a, b = _normalise(live, obj["kind"]), _normalise(wanted, obj["kind"])
    if a == b:
        return None
    return f"{_what(obj)} differs at {_first_difference(a, b)}"


def _member_rendering(network, member, pki, version_name, pin_istio=None):
    from ..manifests import render
    from .member_ops import member_spec
    objects = [o for phase in render(member_spec(network, member, pki, version_name)) for o in phase.objects]
    if pin_istio:
        # A patch is pending and not due now: judge drift against the patch installed.
        current, installed = pin_istio
        objects = json.loads(json.dumps(objects).replace(current, installed))
    return objects


def data_plane_drift(cluster, network, member, pki, version_name, pin_istio=None):
    """What a re-apply of the member's rendering would change, and what of ours it would prune."""
    from ..kube.apply import identity
    from ..manifests import kinds_for_prune, owner_selector
    from .mesh_links import LINK_LABEL, READER_LABEL
    from ..kube.concurrent import gather
    objects = _member_rendering(network, member, pki, version_name, pin_istio)
    keep = {identity(o) for o in objects}
    # Remote secrets and per-link reader identities are the links' (relink, rotateCredentials).
    selector = f"{owner_selector(network['name'], member['name'])},!{LINK_LABEL},!{READER_LABEL}"
    # An update never prunes CRDs (member_ops._apply).
    kinds = [k for k in kinds_for_prune() if k[1] != "customresourcedefinitions"]
    # Every object's look and every list at once: a GET then a dry run per object, two
    # round trips for the whole rendering instead of two per object.
    out = gather([lambda o=o: object_drift(cluster, o) for o in objects]
                 + [lambda k=k: cluster.list(k[0], k[1], label_selector=selector) for k in kinds])
    found = [d for d in out[:len(objects)] if d]
    for listed in out[len(objects):]:
        for live in listed:
            if identity(live) not in keep:
                found.append(f"{_what(live)} is no longer rendered (pruned)")
    return found


def live_istio(cluster, version):
    """The Istio patch the member's istiod runs (from its image tag), or None."""
    istiod = cluster.get("apps/v1", "deployments", "istiod", MEMBER_NAMESPACE)
    for c in (((istiod or {}).get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []:
        tag = str(c.get("image", "")).rsplit(":", 1)[-1]
        suffix = f"-{version.variant}"
        return tag[:-len(suffix)] if tag.endswith(suffix) else tag
    return None


def held_links(cluster):
    """The remote secrets a member holds: peer (lower-case) -> the server its kubeconfig
    names ("" when it cannot be read). Tokens are read only to parse, never kept."""
    from .mesh_links import LINK_LABEL, parse_reader_kubeconfig
    held = {}
    for secret in cluster.list("v1", "secrets", MEMBER_NAMESPACE, label_selector=LINK_LABEL):
        peer = ((secret.get("metadata") or {}).get("labels") or {}).get(LINK_LABEL)
        value = ((secret.get("data") or {}).get(peer or "")) or ""
        try:
            config = parse_reader_kubeconfig(base64.b64decode(value).decode()) or {}
            held[peer] = ((config.get("clusters") or [{}])[0].get("cluster") or {}).get("server") or ""
        except (ValueError, AttributeError, IndexError):
            held[peer] = ""
    return held


def declaration_drift(cluster, network):
    from . import declared_objects as objects
    from .declarations import declarations_of
    probe = DryRunCluster(cluster)
    changes = objects.converge(probe, network["name"], objects.Declared.from_state(declarations_of(network)))
    return [f"{c['action']} {c['object']}" for c in changes if c["action"] != objects.FAILED]


# ---- the run ---------------------------------------------------------------------------------

class Facts:  # pylint: disable=too-few-public-methods,too-many-instance-attributes  # a record
    """What inspecting one member found."""

    def __init__(self, member):
        self.member = member
        self.cluster = None
        self.error = None
        self.linkable = False     # its data plane is there: peers hold a remote secret of it
        self.server = None        # the address peers' remote secrets name
        self.held = {}
        self.drift = []
        self.declarations = []
        self.istio = None


class Reconcile:  # pylint: disable=too-many-instance-attributes  # the run's inputs, read by every step
    def __init__(self, engine, network, resource_group, only=None, dry_run=False, ignore_window=False,
                 now=None):
        self.engine, self.network, self.rg = engine, network, resource_group
        self.dry_run, self.ignore_window = dry_run, ignore_window
        self.now = now or (engine.clock or _utcnow)()
        self.window = network["properties"].get("maintenanceWindow")
        self.window_open = ignore_window or maintenance.is_open(self.window, self.now)
        self.services = engine.services()
        self.pki = self.services.pki(network)
        members = sorted(engine.store.list(MEMBER_KIND, parent_id=network["id"]), key=lambda m: m["name"].lower())
        self.members = members
        wanted = {m.lower() for m in only or []}
        unknown = wanted - {m["name"].lower() for m in members}
        if unknown:
            from ..errors import NotFoundError
            raise NotFoundError(f"Application Network '{network['name']}' has no member "
                                f"{', '.join(sorted(unknown))}.",
                                "'az appnet member list' lists its members.")
        self.targets = [m for m in members if not wanted or m["name"].lower() in wanted]
        self.only = bool(wanted)
        self._credentials = None  # member -> its links due for new tokens, planned on first use
        from ..kube.concurrent import Cancel
        self.cancel = Cancel()    # set on Ctrl-C: what the threads of the run stop at
        self._busy = threading.Condition()
        self._running = set()     # members whose actions are being carried out
        self.stopped = []         # "member: why", of each operation an interruption canceled

    # -- windows -----------------------------------------------------------------------------

    def _windowed(self, act, urgent=False):
        if urgent or self.window_open:
            return act
        act["status"] = DEFERRED
        act["reason"] += f"; deferred: outside the maintenance window ({maintenance.describe(self.window)})"
        return act

    # -- planning ----------------------------------------------------------------------------

    def plan(self):
        actions = []
        described = self.pki.describe()
        root_busy = self._plan_network(described, actions)
        facts = self._inspect_all()
        for member in self.targets:
            actions.extend(self._plan_member(member, facts[member["id"]], facts, described, root_busy))
        return actions

    def _plan_network(self, described, actions):
        """Root CA actions; returns True when the root is changing (member CA actions wait)."""
        if self.only:
            return described["rootRotationInProgress"]
        op = self.network["properties"].get("operation") or {}
        planned = []
        busy = self._plan_root(described, planned, op)
        if runner.runner_alive(op):
            for act in planned:
                act.update(status=DEFERRED, reason=f"{act['reason']}; deferred: the network is busy with "
                           f"operation '{op['name']}' (started {op.get('startedAt')})")
        elif planned and res.state_of(self.network) != res.SUCCEEDED and not planned[0].get("resume"):
            for act in planned:
                act.update(status=DEFERRED, reason=f"{act['reason']}; deferred: the network is "
                           f"{res.state_of(self.network)} after '{op.get('name')}'; run that command again "
                           "(it resumes)")
        actions.extend(planned)
        return busy

    def _plan_root(self, described, actions, op):
        if op.get("status") not in (res.SUCCEEDED, None) and op.get("name") in NETWORK_OPERATIONS \
                and not runner.runner_alive(op):
            actions.append(action(None, op["name"], f"resumes the unfinished '{op['name']}' operation",
                                  resume=op["name"]))
            return True
        roots = described["roots"]
        if not roots:
            return False
        active = roots[-1]
        expired = _parse_time(active["notAfter"]) <= self.now
        if not described["rootRotationInProgress"]:
            if _parse_time(active["rotateAfter"]) <= self.now:
                actions.append(self._windowed(action(
                    None, "rotateRoot", f"the root CA is {'expired' if expired else 'past its rotate-after'} "
                    f"({active['rotateAfter']})"), urgent=expired))
                return True
            return False
        stale = [i["member"] for i in described["intermediates"] if not i["signedByActiveRoot"]]
        if stale:
            actions.append(self._windowed(action(
                None, "rotateRoot", f"a root rotation is open and {', '.join(stale)} are still on the old "
                "root")))
            return True
        latest = max((_parse_time(i["notBefore"]) for i in described["intermediates"]), default=None)
        aged = latest is None or latest + datetime.timedelta(hours=WORKLOAD_CERT_HOURS) <= self.now
        if aged:
            actions.append(self._windowed(action(
                None, "finishRootRotation", "every member uses the new root and the old root's workload "
                "certificates have aged out")))
        else:
            until = latest + datetime.timedelta(hours=WORKLOAD_CERT_HOURS)
            actions.append(action(None, "finishRootRotation", "waiting for workload certificates of the old "
                                  f"root to age out (until {until:%Y-%m-%dT%H:%M:%SZ})", DEFERRED))
        return True

    def _inspect_all(self):
        # What the inspections import lazily is imported here first: threads importing one
        # package at once can be handed a half-initialised module.
        from . import api_address, mesh_links  # noqa: F401  pylint: disable=unused-import
        from ..kube import concurrent  # noqa: F401  pylint: disable=unused-import
        from ..versions import load_catalog  # noqa: F401  pylint: disable=unused-import

        def inspect(member):
            facts = Facts(member)
            if member not in self.targets and not member["properties"].get("installedVersion"):
                return facts
            try:
                self._inspect(member, facts, full=member in self.targets)
            except AppNetError as ex:
                facts.error = ex.with_fix()
            except Exception as ex:  # pylint: disable=broad-except
                # One member's surprise must not cost the others their run.
                facts.error = scrub(f"{type(ex).__name__}: {str(ex)[:300]}")
            return facts

        from ..kube.concurrent import gather
        found = gather([lambda m=m: inspect(m) for m in self.members], parallelism=INSPECT_PARALLELISM,
                       canceled=self.cancel)
        return {f.member["id"]: f for f in found}

    def _member_idle(self, member):
        op = member["properties"].get("operation") or {}
        return not runner.runner_alive(op) and op.get("status") == res.SUCCEEDED and \
            member["properties"].get("installedVersion")

    def _inspect(self, member, facts, full):
        from .api_address import published
        from .mesh_links import has_data_plane
        if not self._member_idle(member):
            return
        from ..kube.concurrent import gather
        cluster = facts.cluster = self.services.connect(member)
        facts.server = published(member, cluster.server)
        if not full:
            facts.linkable = has_data_plane(cluster)
            return
        from ..versions import load_catalog
        installed = member["properties"]["installedVersion"]
        version = load_catalog().get(installed)
        # The independent looks at once; only the drift waits for the Istio patch it is
        # judged against.
        facts.linkable, facts.istio, facts.held, facts.declarations = gather([
            lambda: has_data_plane(cluster), lambda: live_istio(cluster, version),
            lambda: held_links(cluster), lambda: declaration_drift(cluster, self.network)])
        pending_patch = facts.istio and facts.istio != version.istio
        # The patch is its own action: drift is judged against the patch installed.
        pin = (version.istio, facts.istio) if pending_patch else None
        facts.drift = data_plane_drift(cluster, self.network, member, self.pki, installed, pin)

    def _plan_member(self, member, facts, every, described, root_busy):
        name = member["name"]
        props = member["properties"]
        op = props.get("operation") or {}
        if runner.runner_alive(op):
            return [action(name, MEMBER_OPERATIONS.get(op["name"], "repair"),
                           f"the member is busy with operation '{op['name']}' (started {op.get('startedAt')})",
                           DEFERRED)]
        if op.get("status") != res.SUCCEEDED:
            if op.get("name") in MEMBER_OPERATIONS:
                return [action(name, MEMBER_OPERATIONS[op["name"]],
                               f"resumes the unfinished '{op['name']}' operation", resume=op["name"])]
            return [action(name, "repair", f"the member is {res.state_of(member)} after '{op.get('name')}'; "
                           "run that command again (it resumes)", DEFERRED)]
        if not props.get("installedVersion"):
            return [action(name, "repair", "the member has no data plane installed", DEFERRED)]
        if facts.error:
            return [action(name, "repair", "could not inspect the member's cluster", FAILED, error=facts.error)]
        # Certificates.
        out = self._plan_intermediate(name, described, root_busy)
        out.extend(self._plan_credentials(member, facts))
        # Versions.
        from ..versions import load_catalog
        catalog = load_catalog()
        installed = props["installedVersion"]
        version = catalog.get(installed)
        profile = props["upgradeProfile"]
        if profile["mode"] == res.FULLY_MANAGED:
            channel = profile["fullyManagedUpgradeProfile"]["releaseChannel"]
            target = catalog.for_channel(channel)
            names = catalog.names()
            if names.index(target.version) > names.index(installed):
                step = catalog.get(catalog.upgrades(installed)[0])
                kube = props.get("cluster", {}).get("kubernetesVersion")
                if kube and not step.supports_kubernetes(kube):
                    out.append(action(name, "upgrade", f"{installed} -> {step.version} (channel {channel}: "
                                      f"{target.version}) needs Kubernetes {step.kubernetes_min}-"
                                      f"{step.kubernetes_max}; the cluster runs {kube}", DEFERRED))
                else:
                    out.append(self._windowed(action(
                        name, "upgrade", f"{installed} -> {step.version}, one minor towards channel {channel} "
                        f"({target.version})", version=step.version)))
        if facts.istio and facts.istio != version.istio and not any(a["action"] == "upgrade" and
                                                                    a["status"] == PLANNED for a in out):
            out.append(self._windowed(action(name, "patch", f"Istio {facts.istio} -> {version.istio} "
                                             f"(newest patch of AppNet {installed})")))
        if facts.drift:
            shown = "; ".join(facts.drift[:6]) + (f"; and {len(facts.drift) - 6} more" if len(facts.drift) > 6 else "")
            if any(a["action"] == "patch" and a["status"] == DEFERRED for a in out):
                # A re-apply renders the catalog's patch: a repair cannot wait for the window.
                shown += f"; the re-apply also brings Istio {version.istio}"
            out.append(action(name, "repair", shown))
        # The remote-secret mesh.
        missing = []
        for peer in every.values():
            if peer.member["id"] == member["id"] or not peer.linkable:
                continue
            held = facts.held.get(peer.member["name"].lower())
            if held is None:
                missing.append(f"the remote secret of {peer.member['name']} is missing")
            elif held != peer.server:
                missing.append(f"the remote secret of {peer.member['name']} names {held or 'no server'}, "
                               f"not {peer.server}")
        if missing:
            out.append(action(name, "relink", "; ".join(missing)))
        if facts.declarations:
            out.append(action(name, "reapplyDeclarations", "; ".join(facts.declarations[:6])))
        return out

    def _plan_intermediate(self, name, described, root_busy):
        """The member's intermediate CA rotated past its rotate-after (outside the window when
        it has expired)."""
        inter = next((i for i in described["intermediates"] if i["member"].lower() == name.lower()), None)
        if not inter or root_busy or _parse_time(inter["rotateAfter"]) > self.now:
            return []
        expired = _parse_time(inter["notAfter"]) <= self.now
        why = f"the intermediate CA is {'expired' if expired else 'past its rotate-after'} ({inter['rotateAfter']})"
        return [self._windowed(action(name, "rotateIntermediate", why), urgent=expired)]

    def _plan_credentials(self, member, facts):
        """The links' reader tokens past half their lifetime (mesh_links.due_links), renewed
        by rotating the credentials of the fewest members that cover them all."""
        if self._credentials is None:
            from .mesh_links import due_links, members_to_rotate
            linked = [m for m in self.members if self._member_idle(m)]
            due = due_links(linked, now=self.now)
            self._credentials = {}
            for name in members_to_rotate(due):
                self._credentials[name] = [f"{i}->{r}" for i, r in due if name in (i, r)]
        links = self._credentials.pop(member["name"].lower(), None)
        if not links or facts.cluster is None:
            return []
        return [action(member["name"], "rotateCredentials",
                       f"reader tokens past half their lifetime: {', '.join(links)}")]

    # -- carrying it out -----------------------------------------------------------------------

    def execute(self, actions):
        planned = [a for a in actions if a["status"] == PLANNED]
        for act in [a for a in planned if a["member"] is None]:
            self._run(act, lambda e, act=act: self._network_operation(e, act))
        by_member = {}
        for act in planned:
            if act["member"] is not None:
                by_member.setdefault(act["member"], []).append(act)
        from ..kube.concurrent import gather
        try:
            gather([lambda acts=acts: self._member_worker(acts) for acts in by_member.values()],
                   parallelism=PARALLELISM, canceled=self.cancel)
        except KeyboardInterrupt:
            # gather has set self.cancel: let the running operations record where they stopped.
            self._await_stopped()
            raise

    def _member_worker(self, acts):
        with self._busy:
            self._running.add(acts[0]["member"])
        try:
            self._member_actions(acts)
        finally:
            with self._busy:
                self._running.discard(acts[0]["member"])
                self._busy.notify_all()

    def _await_stopped(self):
        deadline = time.monotonic() + CANCEL_GRACE
        try:
            with self._busy:
                while self._running and time.monotonic() < deadline:
                    self._busy.wait(deadline - time.monotonic())
        except KeyboardInterrupt:
            pass                          # asked twice: stop now, as after the grace

    def interrupted(self):
        """The error a run ends with when Ctrl-C or SIGTERM stopped it."""
        with self._busy:
            left = sorted(self._running)
        detail = "".join(f"; {why.rstrip('.')}" for why in sorted(self.stopped))
        if left:
            detail += (f"; {', '.join(left)} did not stop in time (the next run takes their operations over)")
        return OperationCanceledError(
            f"The reconcile of Application Network '{self.network['name']}' was interrupted{detail}.",
            "Run 'az appnet reconcile' again: it resumes the operations it started.")

    def _engine_for(self, who):
        import copy
        engine = copy.copy(self.engine)
        say = self.engine.progress
        warn = self.engine.warn
        engine.progress = (lambda m: say(f"{who}: {m}")) if say else None
        engine.warn = (lambda m: warn(f"{who}: {m}")) if warn else None
        return engine

    def _run(self, acts, fn):
        from ..kube.concurrent import raise_if_canceled
        acts = acts if isinstance(acts, list) else [acts]
        raise_if_canceled()              # no operation starts once the run is interrupted
        try:
            fn(self._engine_for(acts[0]["member"] or self.network["name"]))
            status, extra = DONE, {}
        except OperationCanceledError as ex:
            # Ctrl-C / SIGTERM ends the run; the operation is Canceled, the next run resumes it.
            self.stopped.append(f"{acts[0]['member'] or self.network['name']}: {ex.message}")
            raise
        except ConflictError as ex:
            status, extra = DEFERRED, {"reason": f"{acts[0]['reason']}; deferred: {ex.message}"}
        except AppNetError as ex:
            status, extra = FAILED, {"error": ex.message}
            if ex.recommendation:
                extra["recommendation"] = ex.recommendation
        except Exception as ex:  # pylint: disable=broad-except
            status, extra = FAILED, {"error": scrub(f"{type(ex).__name__}: {str(ex)[:300]}")}
        for act in acts:
            act["status"] = status
            act.update(extra)
        return status

    def _network_operation(self, engine, act):
        if act["action"] == "finishRootRotation":
            engine.finish_root_rotation(self.rg, self.network["name"])
        else:
            engine.rotate_root_ca(self.rg, self.network["name"])

    def _member_actions(self, acts):
        name = acts[0]["member"]
        net = self.network["name"]
        resume = next((a for a in acts if a.get("resume")), None)
        if resume:
            op = resume.pop("resume")
            self._run(resume, lambda e: e.reconcile_member_operation(self.rg, net, name, op))
            return
        by = {a["action"]: a for a in acts}
        if "rotateIntermediate" in by:
            if self._run(by["rotateIntermediate"], lambda e: e.rotate_member_ca(self.rg, net, name)) != DONE:
                return
        data_plane = [by[k] for k in ("upgrade", "patch", "repair") if k in by]
        if data_plane:
            # One `update` re-applies everything: the data plane, the links (fresh tokens both
            # ways) and the declarations.
            version = by["upgrade"]["version"] if "upgrade" in by else None
            covered = data_plane + [by[k] for k in ("relink", "rotateCredentials", "reapplyDeclarations")
                                    if k in by]
            self._run(covered, lambda e: e.reconcile_member_operation(self.rg, net, name, "update", version))
            return
        if "relink" in by:
            # Linking issues fresh tokens both ways, which is what a credential rotation does.
            covered = [by["relink"]] + ([by["rotateCredentials"]] if "rotateCredentials" in by else [])
            self._run(covered, lambda e: e.reconcile_member_operation(self.rg, net, name, "relink"))
        elif "rotateCredentials" in by:
            self._run(by["rotateCredentials"], lambda e: e.rotate_member_credentials(self.rg, net, name))
        for kind in ("reapplyDeclarations",):
            if kind in by:
                self._run(by[kind], lambda e, kind=kind: e.reconcile_member_operation(self.rg, net, name, kind))


def run(engine, network, resource_group, only=None, dry_run=False, ignore_window=False, now=None):
    """Plan (and unless `dry_run`, carry out) what the network needs; the report.
    OperationCanceledError when Ctrl-C or SIGTERM interrupted it."""
    work = Reconcile(engine, network, resource_group, only, dry_run, ignore_window, now)
    try:
        actions = work.plan()
        if not dry_run:
            work.execute(actions)
    except (KeyboardInterrupt, OperationCanceledError):
        raise work.interrupted() from None
    for act in actions:
        act.pop("resume", None)
        act.pop("version", None)
    return {"networkName": network["name"], "dryRun": bool(dry_run),
            "time": work.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "maintenanceWindow": (work.window or {}).get("text"),
            "maintenanceWindowOpen": work.window_open,
            "converged": not any(a["status"] in (FAILED, DEFERRED, PLANNED) for a in actions) if not dry_run
            else not actions,
            "actions": actions}

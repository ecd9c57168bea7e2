"""Network-wide declarations: ambient namespaces, global Services and waypoints, declared once
on the Application Network and applied to every member (`az appnet namespace | global-service
| waypoint ...`).

The desired state lives on the network resource, `properties.declarations`:

    {"ambientNamespaces": [{"namespace"}],
     "globalServices": [{"namespace", "service", "ports": [{name, port, protocol, appProtocol}]}],
     "waypoints": [{"namespace", "name"}]}

A command changes it and then converges every member to the whole of it (declared_objects.
converge), in parallel, holding the network's lock (so a join's own declarations step, which
takes the same lock, sees either the old or the new state, never half of it). A member that
cannot be reached does not stop the others: its report says Unreachable with the cause, the
declaration stays recorded, and the member converges the next time any declaration command
runs or it is joined or updated. These commands are not long-running operations: they leave
the network's provisioningState alone, so an unreachable member never blocks joins.
"""

import re

from ..constants import DNS1123_LABEL_PATTERN, MEMBER_KIND, RESERVED_NAMESPACES
from ..errors import AppNetError, ClusterError, InvalidInputError, NotFoundError, UsageError
from ..kube.client import ApiError
from ..kube.concurrent import gather
from ..model import resources as res
from ..state import StaleWriteError
from . import declared_objects as objects
from . import runner

#: How many member clusters one command reaches at once (each is its own API server), as
#: `check` does.
PARALLELISM = 32
UNREACHABLE, SKIPPED = "Unreachable", "Skipped"
_DNS1123_LABEL = re.compile(DNS1123_LABEL_PATTERN)
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
KINDS = ("ambientNamespaces", "globalServices", "waypoints")


# ---- input ----------------------------------------------------------------------------------

def check_namespace(value):
    if not isinstance(value, str) or not _DNS1123_LABEL.match(value):
        raise InvalidInputError(
            f"Invalid --namespace '{value}': a Kubernetes namespace name is 1-63 lower-case letters, "
            "digits or '-', starting and ending with a letter or digit.",
            "Pass the namespace as 'kubectl get namespaces' shows it.")
    if value in RESERVED_NAMESPACES:
        raise InvalidInputError(
            f"Namespace '{value}' belongs to Kubernetes or to the mesh's data plane; declarations "
            "cannot change it.", "Declare the namespaces of your own workloads.")
    return value


def check_service(value):
    if not isinstance(value, str) or not _DNS1035_LABEL.match(value):
        raise InvalidInputError(
            f"Invalid --service '{value}': a Service name is 1-63 lower-case letters, digits or '-', "
            "starting with a letter and ending with a letter or digit.",
            "Pass the Service's name as 'kubectl get services -n NAMESPACE' shows it.")
    return value


def check_waypoint_name(value):
    if not isinstance(value, str) or not _DNS1123_LABEL.match(value):
        raise InvalidInputError(
            f"Invalid --name '{value}': a waypoint name is 1-63 lower-case letters, digits or '-', "
            "starting and ending with a letter or digit.", "Omit --name to use 'waypoint'.")
    return value


# ---- desired state --------------------------------------------------------------------------

def declarations_of(network):
    stored = (network.get("properties") or {}).get("declarations") or {}
    return {kind: [dict(i) for i in stored.get(kind) or []] for kind in KINDS}


def _sorted(declarations):
    out = dict(declarations)
    out["ambientNamespaces"] = sorted(out["ambientNamespaces"], key=lambda i: i["namespace"])
    out["globalServices"] = sorted(out["globalServices"], key=lambda i: (i["namespace"], i["service"]))
    out["waypoints"] = sorted(out["waypoints"], key=lambda i: (i["namespace"], i["name"]))
    return out


def targets(store, network):
    """The members declarations apply to: joined, or joining past the data-plane readiness
    (a join applies them itself after that), and not being removed. The others, with why."""
    members, skipped = [], []
    for m in sorted(store.list(MEMBER_KIND, parent_id=network["id"]), key=lambda m: m["name"].lower()):
        op = m["properties"].get("operation") or {}
        if op.get("name") == "remove":
            skipped.append((m, "the member is being removed"))
        elif m["properties"].get("installedVersion") or "ready" in (op.get("completedSteps") or []):
            members.append(m)
        else:
            skipped.append((m, "its join has not made the data plane ready yet; the join applies the "
                               "declarations when it does"))
    return members, skipped


def _unreachable(ex):
    return isinstance(ex, AppNetError) and not isinstance(ex, ApiError)


def reach_member(connect, member):
    """A connected Cluster, or raise: ClusterError (cannot reach), InvalidInputError (the
    kubeconfig or context is gone), NotFoundError (an AKS cluster that no longer exists)."""
    cluster = connect(member)
    cluster.server_version()
    return cluster


def for_each_member(members, fn, parallelism=PARALLELISM):
    """fn(member) on every member at once (bounded); [(member, value, error)] in order."""
    def one(member):
        try:
            return member, fn(member), None
        except AppNetError as ex:
            return member, None, ex
    if not members:
        return []
    return gather([lambda m=m: one(m) for m in members], parallelism=parallelism)


# ---- reports --------------------------------------------------------------------------------

def _member_report(member, item, changes=None, error=None):
    if error is not None:
        cause = error.message + (f" {error.recommendation}" if error.recommendation else "")
        return {"member": member["name"], "result": UNREACHABLE if _unreachable(error) else objects.FAILED,
                "message": cause, "changes": []}
    changes = changes or []
    mine = [c for c in changes if c["item"] == item or (
        c["object"] == f"Namespace {item[1]}" and c["action"] in (objects.CREATED, objects.DELETED, objects.KEPT))]
    result = next((a for a in objects.ORDER if any(c["action"] == a for c in mine)), objects.UNCHANGED)
    failed = [c for c in changes if c["action"] == objects.FAILED]
    if failed and result != objects.FAILED:
        result = objects.FAILED  # another declaration could not be applied: the member does not match
    text = "; ".join(f"{c['action']} {c['object']}" + (f" ({c['detail']})" if c["detail"] else "") for c in changes)
    return {"member": member["name"], "result": result, "message": text or "Already as declared.",
            "changes": [{k: v for k, v in c.items() if k != "item"} for c in changes]}


def not_converged(report):
    """Members whose result means the command did not fully converge: (member, result, message)."""
    return [(m["member"], m["result"], m["message"]) for m in report.get("members") or []
            if m["result"] in (UNREACHABLE, objects.FAILED)]


# ---- the engine's entry points ----------------------------------------------------------------

class Declarations:
    """The declaration commands of one Application Network."""

    def __init__(self, store, network_id, services, resource_group, progress=None):
        self.store, self.network_id, self.services = store, network_id, services
        self.resource_group = resource_group
        self.progress = progress or (lambda message: None)

    def _network(self):
        network = self.store.get(self.network_id)
        if network is None:
            name = self.network_id.rsplit("/", 1)[-1]
            raise NotFoundError(f"Application Network '{name}' in resource group '{self.resource_group}' "
                                "was not found.", "Check the names; 'az appnet list' lists Application Networks.")
        return network

    @property
    def _args(self):
        return f"-g {self.resource_group} --appnet-name {self.network_id.rsplit('/', 1)[-1]}"

    # -- mutating commands --

    def enable_namespace(self, namespace):
        check_namespace(namespace)

        def change(decl, seen):
            if not any(i["namespace"] == namespace for i in decl["ambientNamespaces"]):
                self._require_somewhere(seen, lambda snap: namespace in snap.namespaces,
                                        f"Namespace '{namespace}'", "Create it in at least one member "
                                        f"('kubectl create namespace {namespace}'), or check the name.")
                decl["ambientNamespaces"].append({"namespace": namespace})
            return {"namespace": namespace}
        return self._mutate(("namespace", namespace, None), change, look=True)

    def disable_namespace(self, namespace):
        check_namespace(namespace)

        def change(decl, _seen):
            users = [f"waypoint '{w['name']}'" for w in decl["waypoints"] if w["namespace"] == namespace]
            users += [f"global service '{s['service']}'" for s in decl["globalServices"] if s["namespace"] == namespace]
            if users:
                raise UsageError(
                    f"Namespace '{namespace}' is still used by {', '.join(users)} of the network.",
                    f"Delete or remove them first ('az appnet waypoint delete {self._args} --namespace {namespace}', "
                    f"'az appnet global-service remove {self._args} --namespace {namespace} --service NAME').")
            decl["ambientNamespaces"] = [i for i in decl["ambientNamespaces"] if i["namespace"] != namespace]
            return {"namespace": namespace}
        return self._mutate(("namespace", namespace, None), change)

    def add_global_service(self, namespace, service):
        check_namespace(namespace)
        check_service(service)

        def change(decl, seen):
            recorded = next((i.get("ports") for i in decl["globalServices"]
                             if (i["namespace"], i["service"]) == (namespace, service)), None)
            ports = self._ports(namespace, service, seen, recorded)
            entry = {"namespace": namespace, "service": service, "ports": ports}
            decl["globalServices"] = [i for i in decl["globalServices"]
                                      if (i["namespace"], i["service"]) != (namespace, service)] + [entry]
            return {"namespace": namespace, "service": service, "ports": ports}
        return self._mutate(("globalService", namespace, service), change, look=True)

    def remove_global_service(self, namespace, service):
        check_namespace(namespace)
        check_service(service)

        def change(decl, _seen):
            decl["globalServices"] = [i for i in decl["globalServices"]
                                      if (i["namespace"], i["service"]) != (namespace, service)]
            return {"namespace": namespace, "service": service}
        return self._mutate(("globalService", namespace, service), change)

    def create_waypoint(self, namespace, name="waypoint"):
        check_namespace(namespace)
        check_waypoint_name(name)

        def change(decl, _seen):
            if not any(i["namespace"] == namespace for i in decl["ambientNamespaces"]):
                raise UsageError(
                    f"Namespace '{namespace}' is not an ambient namespace of the network; a waypoint "
                    "serves the ambient workloads of its namespace.",
                    f"Enable it first: az appnet namespace enable {self._args} --namespace {namespace}")
            other = [w["name"] for w in decl["waypoints"] if w["namespace"] == namespace and w["name"] != name]
            if other:
                raise UsageError(
                    f"Namespace '{namespace}' already uses waypoint '{other[0]}' (label "
                    f"{objects.USE_WAYPOINT}={other[0]}); a namespace uses one waypoint.",
                    f"Delete it first ('az appnet waypoint delete {self._args} --namespace {namespace} "
                    f"--name {other[0]}'), or keep it.")
            if not any((w["namespace"], w["name"]) == (namespace, name) for w in decl["waypoints"]):
                decl["waypoints"].append({"namespace": namespace, "name": name})
            return {"namespace": namespace, "name": name}
        return self._mutate(("waypoint", namespace, name), change)

    def delete_waypoint(self, namespace, name="waypoint"):
        check_namespace(namespace)
        check_waypoint_name(name)

        def change(decl, _seen):
            decl["waypoints"] = [w for w in decl["waypoints"] if (w["namespace"], w["name"]) != (namespace, name)]
            return {"namespace": namespace, "name": name}
        return self._mutate(("waypoint", namespace, name), change)

    def _mutate(self, item, change, look=False):
        """Under the network's lock: read the network, let `change` edit its declarations
        (it raises to refuse, and nothing is written), record them, converge every member.
        `change(decl, seen)` gets what `look` read of the members (else None)."""
        with self.store.lock(runner.network_lock_name(self.network_id)):
            network = self._network()
            runner.ensure_idle(network)
            members, skipped = targets(self.store, network)
            seen = self._look(members) if look else None
            before = declarations_of(network)
            decl = declarations_of(network)
            out = change(decl, seen)
            declared = _sorted(before) != _sorted(decl)
            if declared:
                network = self._record(_sorted(decl))
            self.progress(f"Applying the declarations to {len(members)} member"
                          f"{'s' if len(members) != 1 else ''}")
            wanted = objects.Declared.from_state(declarations_of(network))
            name = network["name"]
            results = for_each_member(
                members, lambda m: objects.converge(reach_member(self.services.connect, m), name, wanted))
        out.update(declared=item_declared(declarations_of(network), item), changed=declared,
                   members=[_member_report(m, item, changes, error) for m, changes, error in results]
                   + [{"member": m["name"], "result": SKIPPED, "message": why, "changes": []} for m, why in skipped])
        return out

    def _record(self, decl):
        for _ in range(10):
            network = self._network()
            network["properties"]["declarations"] = decl
            res.touch(network)
            try:
                return self.store.update(network)
            except StaleWriteError:
                continue
        raise AppNetError("The Application Network kept changing while the declarations were recorded.",
                          "Run the command again.", code="Conflict")

    def _look(self, members):
        """What every member shows now: [(member, Snapshot or None, error)]."""
        def snapshot(member):
            snap = objects.Snapshot(reach_member(self.services.connect, member))
            snap.member_name = member["name"]
            return snap
        return for_each_member(members, snapshot)

    def _require_somewhere(self, seen, found, what, fix):
        reached = [(m, snap) for m, snap, error in seen if snap is not None]
        unreached = [m["name"] for m, snap, error in seen if snap is None]
        if not seen or any(found(snap) for _, snap in reached):
            return
        where = (f" (not reachable: {', '.join(unreached)})" if unreached else "")
        if not reached:
            raise ClusterError(f"No member could be reached to look for {what}{where}.",
                               "Make the members reachable, then run the command again.", code="Unreachable")
        raise InvalidInputError(f"{what} was found in no member of the network{where}.", fix)

    def _ports(self, namespace, service, seen, recorded=None):
        """The ports of the Service from the members that have it (not our stubs); refused
        when two members disagree. An already declared Service whose real ones are all out
        of reach now keeps the ports recorded, so the others still converge."""
        if not seen and not recorded:
            raise UsageError("The network has no member to take the Service's ports from.",
                             "Join a member that runs the Service first ('az appnet member join ...').")
        found = []
        for member, snap, _ in seen:
            if snap is None:
                continue
            svc = snap.service(namespace, service)
            if svc is not None and not objects.created_by_us(svc, self.network_id.rsplit("/", 1)[-1]):
                found.append((member["name"], (svc.get("spec") or {}).get("ports") or []))
        if not found and recorded:
            return recorded
        self._require_somewhere(seen, lambda snap: bool(found), f"Service '{namespace}/{service}'",
                                f"Check the names ('kubectl get services -n {namespace}' in a member), or "
                                "deploy the Service in at least one member first.")
        first_member, first_ports = found[0]
        for other, ports in found[1:]:
            if objects.port_key(ports) != objects.port_key(first_ports):
                raise UsageError(
                    f"Service '{namespace}/{service}' has different ports in member '{first_member}' "
                    f"({objects.describe_ports(first_ports)}) and in member '{other}' "
                    f"({objects.describe_ports(ports)}); a global Service must be the same in every member.",
                    "Make the Service's ports the same in every member, then run the command again.")
        if not first_ports:
            raise UsageError(f"Service '{namespace}/{service}' in member '{first_member}' has no ports.",
                             "A global Service needs at least one port.")
        return objects.stub_ports(first_ports)

    # -- read-only commands --

    def list_namespaces(self, problems=None):
        """Declared and observed ambient namespaces, each with every member's state.
        `problems` (a list) receives (member, state, cause) of each member not read."""
        network = self._network()
        decl = declarations_of(network)
        declared = {i["namespace"] for i in decl["ambientNamespaces"]}
        seen, skipped = self._observe(network, problems)
        names = set(declared)
        for _, snap, _ in seen:
            if snap is not None:
                names |= {n for n, o in snap.namespaces.items()
                          if objects.object_labels(o).get(objects.DATAPLANE_MODE) == "ambient"}
        rows = []
        for ns in sorted(names):
            per = []
            for member, snap, error in seen:
                if snap is None:
                    per.append(_unreachable_row(member, error))
                    continue
                obj = snap.namespaces.get(ns)
                labels = objects.object_labels(obj)
                ambient = labels.get(objects.DATAPLANE_MODE) == "ambient"
                per.append({"member": member["name"], "state": "Present" if obj else "Missing",
                            "ambient": ambient,
                            "createdByAppnet": bool(obj) and objects.created_by_us(obj, network["name"]),
                            "useWaypoint": labels.get(objects.USE_WAYPOINT),
                            "matchesDeclaration": ambient == (ns in declared) if obj else ns not in declared})
            rows.append({"namespace": ns, "declared": ns in declared, "members": per + skipped})
        return rows

    def list_global_services(self, namespace=None, problems=None):
        if namespace is not None:
            check_namespace(namespace)
        network = self._network()
        decl = {(i["namespace"], i["service"]): i for i in declarations_of(network)["globalServices"]}
        seen, skipped = self._observe(network, problems)
        keys = set(decl)
        for _, snap, _ in seen:
            if snap is not None:
                keys |= {k for k, s in snap.global_services.items()
                         if not objects.object_labels(s).get(objects.GATEWAY_NAME_LABEL)}  # waypoints: waypoint list
        rows = []
        for ns, name in sorted(k for k in keys if namespace in (None, k[0])):
            entry = decl.get((ns, name))
            per = []
            for member, snap, error in seen:
                if snap is None:
                    per.append(_unreachable_row(member, error))
                    continue
                per.append(service_state(snap, network["name"], ns, name, entry))
            rows.append({"namespace": ns, "service": name, "declared": entry is not None,
                         "ports": (entry or {}).get("ports"), "members": per + skipped})
        return rows

    def list_waypoints(self, problems=None):
        network = self._network()
        decl = {(w["namespace"], w["name"]) for w in declarations_of(network)["waypoints"]}
        seen, skipped = self._observe(network, problems)
        keys = set(decl)
        for _, snap, _ in seen:
            if snap is not None:
                keys |= set(snap.waypoints())
        rows = []
        for ns, name in sorted(keys):
            per = []
            for member, snap, error in seen:
                if snap is None:
                    per.append(_unreachable_row(member, error))
                    continue
                per.append(waypoint_state(snap, network["name"], ns, name, (ns, name) in decl))
            rows.append({"namespace": ns, "name": name, "declared": (ns, name) in decl, "members": per + skipped})
        return rows

    def _observe(self, network, problems=None):
        members, skipped = targets(self.store, network)
        seen = self._look(members)
        if problems is not None:
            problems.extend((m["name"], _unreachable_row(m, error)["state"], error.message)
                            for m, snap, error in seen if snap is None)
        return seen, [{"member": m["name"], "state": SKIPPED, "message": why} for m, why in skipped]


def item_declared(decl, item):
    kind, ns, name = item
    if kind == "namespace":
        return any(i["namespace"] == ns for i in decl["ambientNamespaces"])
    if kind == "globalService":
        return any((i["namespace"], i["service"]) == (ns, name) for i in decl["globalServices"])
    return any((i["namespace"], i["name"]) == (ns, name) for i in decl["waypoints"])


def _unreachable_row(member, error):
    cause = error.message if error is not None else "not reached"
    return {"member": member["name"], "state": UNREACHABLE if _unreachable(error) else objects.FAILED,
            "message": cause}


def service_state(snap, network, ns, name, entry):
    svc = snap.service(ns, name)
    if svc is None:
        return {"member": snap_member(snap), "state": "Missing", "global": False, "stub": False,
                "endpointsReady": 0, "matchesDeclaration": entry is None}
    labelled = objects.object_labels(svc).get(objects.GLOBAL) == "true"
    ports = (svc.get("spec") or {}).get("ports") or []
    same_ports = entry is None or objects.port_key(ports) == objects.port_key(entry.get("ports"))
    return {"member": snap_member(snap), "state": "Present", "global": labelled,
            "stub": objects.created_by_us(svc, network), "ports": objects.describe_ports(ports),
            "endpointsReady": snap.ready_endpoints(ns, name),
            "matchesDeclaration": (labelled and same_ports) if entry is not None else not labelled}


def waypoint_state(snap, network, ns, name, declared):
    gw = snap.gateways.get((ns, name))
    ns_labels = objects.object_labels(snap.namespaces.get(ns))
    namespace_uses = ns_labels.get(objects.USE_WAYPOINT) == name
    if gw is None:
        return {"member": snap_member(snap), "state": "Missing", "global": False, "programmed": False,
                "namespaceUsesIt": namespace_uses, "matchesDeclaration": not declared}
    labelled = objects.object_labels(gw).get(objects.GLOBAL) == "true"
    programmed = any(c.get("type") == "Programmed" and c.get("status") == "True"
                     for c in (gw.get("status") or {}).get("conditions") or [])
    is_waypoint = (gw.get("spec") or {}).get("gatewayClassName") == objects.WAYPOINT_CLASS
    return {"member": snap_member(snap), "state": "Present", "global": labelled, "programmed": programmed,
            "createdByAppnet": objects.created_by_us(gw, network), "namespaceUsesIt": namespace_uses,
            "matchesDeclaration": (is_waypoint and labelled and namespace_uses) if declared else True}


def snap_member(snap):
    return getattr(snap, "member_name", None)


# ---- member join / update / remove ----------------------------------------------------------

def apply_to_member(ctx, cluster):
    """The declarations step of a member's join or update (the runner holds the network's
    lock). Objects that cannot be changed are warnings: the data plane is fine, and the
    next declaration command or update converges them."""
    network = ctx.network
    wanted = objects.Declared.from_state(declarations_of(network))
    changes = objects.converge(cluster, network["name"], wanted)
    for c in changes:
        if c["action"] == objects.FAILED:
            ctx.warn(f"Could not apply a declaration: {c['object']}: {c['detail']}")
    done = [c for c in changes if c["action"] != objects.FAILED]
    if done:
        ctx.progress(f"Applied the network's declarations: {len(done)} change{'s' if len(done) != 1 else ''}")


def remove_from_member(ctx, connect):
    """The declarations step of a member's remove: stubs, waypoints and namespaces we created
    go, labels we set come off. A cluster that is gone is a warning, as for the data plane."""
    network = ctx.network
    try:
        # No /version first: the lists below fail the same way on a cluster that is gone,
        # and a far-away one costs a round trip less.
        changes = objects.converge(connect(ctx.resource), network["name"], objects.Declared())
    except (ClusterError, InvalidInputError, NotFoundError) as ex:
        ctx.warn(f"Could not remove the network's declarations from the cluster ({ex.with_fix()}); labels and "
                 f"objects labelled {objects.DECLARED_BY}={network['name']} may remain on it.")
        return
    for c in changes:
        if c["action"] == objects.FAILED:
            ctx.warn(f"Could not remove a declaration: {c['object']}: {c['detail']}")

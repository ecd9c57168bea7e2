"""`az appnet check`'s consistency checks of ambient namespaces, global Services and waypoints
across members: what Istio needs to be uniform (service scope, waypoint names and labels)
compared member by member, whether or not the network declares it. Read-only.
"""

from ..kube.concurrent import gather
from . import declared_objects as objects
from .declarations import declarations_of, for_each_member
from .diagnostics import FAILED, PASSED, WARNING, name_list, result


def snapshot_of(member, cluster):
    """(member, its Snapshot, None), or (member, None, the AppNetError that stopped it)."""
    from ..errors import AppNetError
    try:
        snap = objects.Snapshot(cluster)
    except AppNetError as ex:
        return member, None, ex
    snap.member_name = member["name"]
    return member, snap, None


def read_snapshots(members, connect):
    """Every member's Snapshot at once: [(member, snapshot, error)] in order. No /version
    first: a member that cannot be read is told by the lists' error as well."""
    def snapshot(member):
        snap = objects.Snapshot(connect(member))
        snap.member_name = member["name"]
        return snap
    return for_each_member(members, snapshot)


def check_declarations(network, members, connect, note="", seen=None):
    """The five checks over the reachable `members` (member documents); `note` names the
    members not checked. `seen`: read_snapshots() made already (e.g. while the members were
    checked); only those of `members` count."""
    if seen is None:
        seen = read_snapshots(members, connect)
    else:
        names = {m["name"] for m in members}
        seen = [s for s in seen if s[0]["name"] in names]
    snaps = [snap for _, snap, _ in seen if snap is not None]
    lost = [m["name"] for m, snap, _ in seen if snap is None]
    if lost:
        note += f" Not read now: {name_list(lost)}."
    decl = declarations_of(network)
    _prefetch(decl, snaps)
    rg = network["id"].split("/resourceGroups/")[1].split("/")[0]
    args = f"-g {rg} --appnet-name {network['name']}"
    return [check_global_scope(decl, snaps, note, args), check_global_endpoints(snaps, note),
            check_waypoints_global(decl, snaps, note, args), check_use_waypoint(snaps, note),
            check_ambient_namespaces(decl, snaps, note, args)]


def _prefetch(decl, snaps):
    """The per-Service reads the checks below make, every member's at once: whether each
    Service exists where it is not global, then its ready endpoints (two round trips for
    the whole network instead of two per Service and member, one after another)."""
    keys = {(s["namespace"], s["service"]) for s in decl["globalServices"]}
    for snap in snaps:
        keys |= {k for k, svc in snap.global_services.items() if _app_service(svc)}
    pairs = [(snap, key) for snap in snaps for key in sorted(keys)]
    found = gather([lambda p=p: _quiet(lambda: p[0].service(*p[1])) for p in pairs])
    gather([lambda p=p: _quiet(lambda: p[0].ready_endpoints(*p[1]))
            for p, svc in zip(pairs, found) if svc is not None])


def _quiet(read):
    """A prefetch that fails is left for the check to make (and report) again."""
    from ..errors import AppNetError
    try:
        return read()
    except AppNetError:
        return None


def _ok(name, message, note):
    return result(name, WARNING if note else PASSED, message + note,
                  "Make the unreachable clusters reachable and check again." if note else None)


def _app_service(svc):
    # Services istiod made for waypoints are judged with the waypoints.
    return not objects.object_labels(svc).get(objects.GATEWAY_NAME_LABEL)


def check_global_scope(decl, snaps, note, args):
    """Istio treats a Service global in some clusters only as a misconfiguration (service
    scope must be uniform), and a global Service missing from a cluster has no VIP there."""
    declared = {(s["namespace"], s["service"]) for s in decl["globalServices"]}
    keys = set(declared)
    for snap in snaps:
        keys |= {k for k, s in snap.global_services.items() if _app_service(s)}
    partial, by_hand = [], []
    for ns, name in sorted(keys):
        labelled = [s.member_name for s in snaps if s.service(ns, name) is not None
                    and objects.object_labels(s.service(ns, name)).get(objects.GLOBAL) == "true"]
        missing = [s.member_name for s in snaps if s.service(ns, name) is None]
        unlabelled = [s.member_name for s in snaps if s.member_name not in labelled and s.member_name not in missing]
        if not (missing or unlabelled):
            if (ns, name) not in declared:
                by_hand.append(f"{ns}/{name}")
            continue
        how = "declared" if (ns, name) in declared else "labelled by hand, not declared"
        where = []
        if unlabelled:
            where.append(f"not labelled in {', '.join(unlabelled)}")
        if missing:
            where.append(f"missing from {', '.join(missing)}")
        partial.append(f"{ns}/{name} ({how}; global in {', '.join(labelled) or 'no member'}, {'; '.join(where)})")
    if partial:
        return result("globalServiceScope", FAILED,
                      f"{len(partial)} Services are global in some members only: {name_list(partial)}." + note,
                      f"Declare them for the whole network: 'az appnet global-service add {args} --namespace NS "
                      "--service NAME' labels them in every member and adds stubs where they are missing; or "
                      "remove the label everywhere.")
    if by_hand:
        return result("globalServiceScope", WARNING,
                      f"Global in every member but not declared (labelled by hand): {name_list(by_hand)}; a member "
                      "that joins later will not get them." + note,
                      f"Declare them: 'az appnet global-service add {args} --namespace NS --service NAME'.")
    return _ok("globalServiceScope", f"Every global Service ({len(keys)}) has the same scope in every member.", note)


def check_global_endpoints(snaps, note):
    keys = set()
    for snap in snaps:
        keys |= {k for k, s in snap.global_services.items() if _app_service(s)}
    empty = [f"{ns}/{name}" for ns, name in sorted(keys)
             if sum(s.ready_endpoints(ns, name) for s in snaps if s.service(ns, name) is not None) == 0]
    if empty:
        return result("globalServiceEndpoints", FAILED,
                      f"{len(empty)} global Services have no ready endpoint in any member: {name_list(empty)}; "
                      "calls to them fail everywhere." + note,
                      "Check their workloads ('kubectl get endpointslices -n NS -l kubernetes.io/service-name="
                      "NAME' in the members that run them): are the pods ready and selected by the Service?")
    return _ok("globalServiceEndpoints",
               f"Every global Service ({len(keys)}) has a ready endpoint in some member.", note)


def check_waypoints_global(decl, snaps, note, args):
    """Cross-cluster L7 traffic goes through a waypoint only when it is global; waypoints must
    also exist with the same name in every member."""
    wrong = []
    for snap in snaps:
        for (ns, name), gw in sorted(snap.waypoints().items()):
            if objects.object_labels(gw).get(objects.GLOBAL) != "true":
                wrong.append(f"{ns}/{name} in {snap.member_name} (not labelled {objects.GLOBAL}=true)")
    for w in decl["waypoints"]:
        for snap in snaps:
            if (w["namespace"], w["name"]) not in snap.waypoints():
                wrong.append(f"{w['namespace']}/{w['name']} missing from {snap.member_name}")
    if wrong:
        return result("waypointsGlobal", FAILED,
                      f"Waypoints that cross-cluster traffic skips: {name_list(wrong)}." + note,
                      f"Declare them for the whole network ('az appnet waypoint create {args} --namespace NS "
                      "[--name NAME]'), or label their Gateways istio.io/global=true in every member.")
    count = sum(len(s.waypoints()) for s in snaps)
    return _ok("waypointsGlobal", f"Every waypoint ({count} across members) is labelled global.", note)


def check_use_waypoint(snaps, note):
    dangling = []
    for snap in snaps:
        for ns, obj in sorted(snap.namespaces.items()):
            labels = objects.object_labels(obj)
            name = labels.get(objects.USE_WAYPOINT)
            if not name or name == "none":
                continue
            where = labels.get(objects.USE_WAYPOINT_NAMESPACE) or ns
            if (where, name) not in snap.gateways:
                dangling.append(f"{ns} in {snap.member_name} (uses {where}/{name})")
    if dangling:
        return result("useWaypoint", FAILED,
                      f"Namespaces use a waypoint that does not exist: {name_list(dangling)}; their traffic to "
                      "services has no L7 proxy to go through." + note,
                      "Create the waypoint ('az appnet waypoint create ... --namespace NS --name NAME'), or remove "
                      f"the namespace's {objects.USE_WAYPOINT} label.")
    return _ok("useWaypoint", "Every namespace that names a waypoint has it.", note)


def check_ambient_namespaces(decl, snaps, note, args):
    declared = {i["namespace"] for i in decl["ambientNamespaces"]}
    names = set(declared)
    for snap in snaps:
        names |= {n for n, o in snap.namespaces.items()
                  if objects.object_labels(o).get(objects.DATAPLANE_MODE) == "ambient"}
    partial = []
    for ns in sorted(names):
        ambient = [s.member_name for s in snaps if ns in s.namespaces
                   and objects.object_labels(s.namespaces[ns]).get(objects.DATAPLANE_MODE) == "ambient"]
        plain = [s.member_name for s in snaps if ns in s.namespaces and s.member_name not in ambient]
        missing = [s.member_name for s in snaps if ns not in s.namespaces] if ns in declared else []
        if plain or missing:
            how = "declared" if ns in declared else "labelled by hand, not declared"
            gaps = ([f"not ambient in {', '.join(plain)}"] if plain else []) + (
                [f"missing from {', '.join(missing)}"] if missing else [])
            partial.append(f"{ns} ({how}; ambient in {', '.join(ambient) or 'no member'}, {'; '.join(gaps)})")
    if partial:
        return result("ambientNamespaces", FAILED,
                      f"Namespaces in the ambient mesh in some members only: {name_list(partial)}; their workloads "
                      "get mTLS in some clusters and not in others." + note,
                      f"Declare them for the whole network ('az appnet namespace enable {args} --namespace NS'), "
                      "or remove the label everywhere.")
    return _ok("ambientNamespaces", f"Every ambient namespace ({len(names)}) is ambient in every member that has it.",
               note)

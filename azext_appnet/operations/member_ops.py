"""The steps of the member operations: join, update, remove.

Join: reach the cluster -> preflight -> pick the version -> intermediate CA -> apply the
data plane -> wait until it is ready. Update re-renders and re-applies, pruning what the
new rendering no longer has. Remove deletes what join applied and retires the CA; it
finishes even when the cluster is gone.
"""


from ..constants import (MANAGED_BY_KEY, MANAGED_BY_VALUE, MEMBER_KIND, MEMBER_LABEL, MEMBER_NAMESPACE,
                         NETWORK_LABEL)
from ..errors import AppNetError, ClusterError, InvalidInputError, NotFoundError
from ..model import ids
from ..model import resources as res
from ..versions import load_catalog
from .runner import Finished, Step
from .network_ops import public_certificate

# How long a join or update waits for the data plane to become ready, and how long a remove
# waits for the namespace and CRDs it deleted to go (and a join for those of an earlier
# removal): settings.py (APPNET_READY_TIMEOUT, default 600 s; APPNET_TERMINATING_TIMEOUT,
# default 300 s).
HISTORY_LENGTH = 20


def _ready_timeout():
    from .. import settings
    return settings.ready_timeout()


def _terminating_timeout():
    from .. import settings
    return settings.terminating_timeout()


def reach_cluster(ctx, read_version=True):
    """The `connect` step: reach the member's cluster and record what it runs."""
    from .api_address import KEY, published, warning
    cluster = ctx.cluster
    if read_version:
        ctx.props["cluster"]["kubernetesVersion"] = cluster.server_version()
    ctx.props["cluster"]["server"] = getattr(cluster, "server", None)
    given = (ctx.props.get("connectivityProfile") or {}).get(KEY)
    text = warning(ctx.resource["name"], published(ctx.resource, ctx.props["cluster"]["server"]), given)
    if text:
        ctx.warn(text)


def check_cluster(cluster, network_id, member_name):
    """Preflight plus what the data plane needs; raises ClusterError naming cause and fix."""
    from ..kube.preflight import preflight
    facts = preflight(cluster, network_id)
    marker = facts["memberNamespace"] or {}
    joined_as = ((marker.get("metadata") or {}).get("labels") or {}).get(MEMBER_LABEL)
    leaving = bool((marker.get("metadata") or {}).get("deletionTimestamp"))
    # A namespace being deleted is what is left of a removed member; the join waits for it.
    if joined_as and not leaving and joined_as.lower() != member_name.lower():
        # Two members on one cluster would fight over the same objects.
        raise ClusterError(
            f"The cluster at {facts['server']} already joined this Application Network as member "
            f"'{joined_as}'.", f"Use member '{joined_as}', or remove it first.", code="AlreadyMember")
    if not facts["gatewayApi"]:
        raise ClusterError(
            f"The Gateway API CRDs are not installed on the cluster at {facts['server']}; the "
            "east-west gateway is a Gateway API Gateway.",
            "Install the standard channel of Gateway API ('kubectl apply --server-side -f "
            "standard-install.yaml' from the kubernetes-sigs/gateway-api release for the AppNet "
            "version; for AKS: az aks update --enable-gateway-api), then run the command again.",
            code="GatewayApiMissing")
    return facts


def checked_facts(facts):
    """What a join records on the member from check_cluster's facts (the version step reads
    the Kubernetes version from it)."""
    return {"kubernetesVersion": facts["kubernetesVersion"], "nodes": facts["nodes"],
            "gatewayApi": facts["gatewayApi"]}


def checked_memo(facts):
    """What the steps of the join run right after check_cluster may take from it instead of
    reading it again (Context.memo): the Namespace and CRDs it found being deleted."""
    return {"deleting": facts["deleting"]}


def reach_cluster_and_peers(ctx, read_version=True):
    """The `connect` step of an operation that links the member to its peers later: the
    peers' connections are opened now, in the background, while the steps before the
    links run (the data plane applied and awaited), instead of by the links."""
    from ..kube.concurrent import LINK_CONNECTIONS
    reach_cluster(ctx, read_version)
    ctx.services.warm(_peers(ctx, ctx.network, linking=True), LINK_CONNECTIONS)


def _reach_checked(ctx):
    """A join's `connect`: its cluster was checked (check_cluster, /version among its reads)
    by engine.join_member just before the operation was recorded, on every run of the
    command, a resumed one too, so its version is on the record already."""
    reach_cluster_and_peers(ctx, read_version=False)


def _choose_version(ctx):
    catalog = load_catalog()
    kube_version = ctx.props["cluster"]["kubernetesVersion"]
    profile = ctx.props["upgradeProfile"]
    if profile["mode"] == "FullyManaged" and not ctx.params.get("version"):
        # reconcile names the next minor towards the channel (one at a time); else the channel's.
        version = catalog.for_channel(profile["fullyManagedUpgradeProfile"]["releaseChannel"])
    elif ctx.params.get("version"):
        version = catalog.get(ctx.params["version"])
    else:
        version = catalog.default_self_managed(kube_version)
    if not version.supports_kubernetes(kube_version):
        raise ClusterError(
            f"AppNet version {version.version} supports Kubernetes {version.kubernetes_min} to "
            f"{version.kubernetes_max}; the cluster runs {kube_version}.",
            "Pick a version that supports the cluster ('az appnet list-versions -l LOCATION "
            f"--kubernetes-version {kube_version}'), or upgrade the cluster.", code="UnsupportedVersion")
    ctx.props["targetVersion"] = version.version


def _certificates(ctx):
    pki = ctx.services.pki(ctx.network)
    info = pki.ensure_intermediate(ctx.resource["name"])
    ctx.props["certificateAuthority"] = {"intermediate": public_certificate(info)}


def member_spec(network, member, pki, version):
    """What the member's objects are rendered from, at `version`, with the CA material now."""
    from ..manifests import MemberSpec
    connectivity = member["properties"]["connectivityProfile"]
    return MemberSpec(
        network_name=network["name"], network_id=network["id"], member_name=member["name"],
        cluster_id=member["name"],
        network=connectivity.get("network") or f"{member['name']}-network",
        mesh_id=network["name"], version=version,
        east_west_gateway=connectivity["eastWestGateway"]["visibility"],
        cacerts=pki.cacerts(member["name"]), root_cert_pem=pki.root_pem())


def _spec(ctx):
    network = ctx.network
    return member_spec(network, ctx.resource, ctx.services.pki(network), ctx.props["targetVersion"])


def _apply(ctx):
    from ..kube.apply import apply_phases, prune
    from ..manifests import kinds_for_prune, owner_selector, render
    spec = _spec(ctx)
    phases = render(spec)
    cluster = ctx.cluster
    _await_earlier_removal(ctx, cluster, [o for phase in phases for o in phase.objects])
    # The `ready` step waits for what the server answered: no second rendering, and no GET
    # of objects whose state and resourceVersion the answers carry.
    ctx.memo["applied"] = apply_phases(cluster, phases, progress=ctx.progress)
    keep = {(o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
            for phase in phases for o in phase.objects}
    # Remote secrets carry the member's labels too (remove prunes them), but are not
    # rendered: an update must keep them.
    # So do the reader identities this member issued to each peer.
    from .mesh_links import LINK_LABEL, READER_LABEL
    selector = f"{owner_selector(spec.network_name, spec.member_name)},!{LINK_LABEL},!{READER_LABEL}"
    # CRDs are never pruned here: a rollback to a release without one (TrafficExtension
    # before Istio 1.30) would delete the users' resources of it, which upstream's charts
    # keep too (resource-policy keep). Remove decides about CRDs.
    kinds = [k for k in kinds_for_prune() if k[1] != "customresourcedefinitions"]
    pruned = prune(cluster, selector, kinds, keep=keep, progress=ctx.progress)
    if pruned:
        ctx.progress(f"Pruned {len(pruned)} objects the new version no longer has")


def _await_earlier_removal(ctx, cluster, objects):
    """Our namespace or CRDs still terminating (a remove just before): applying now would
    be refused in the namespace, or lost with the CRD once its deletion completes. Wait for
    them to go, bounded; say clearly what still holds them if they do not."""
    from ..kube.terminating import terminating, wait_gone
    names = {}
    for o in objects:
        if o["kind"] in ("Namespace", "CustomResourceDefinition"):
            names.setdefault(o["kind"], set()).add(o["metadata"]["name"])
    busy = _deleting(ctx.memo.get("deleting"), names)
    if busy is None:
        busy = terminating(cluster, names=names)
    if not busy:
        return
    timeout = _terminating_timeout()
    left = wait_gone(cluster, busy, timeout, progress=ctx.progress)
    if left:
        what = "; ".join(f"{k} ({v})" for k, v in left.items())
        kind, name = next(iter(left)).split(" ", 1)
        raise ClusterError(
            f"The cluster at {getattr(cluster, 'server', '?')} is still deleting what an earlier "
            f"removal left after {timeout}s: {what}. Nothing new can be created there until "
            "that deletion finishes.",
            f"Find what holds it ('kubectl get {kind.lower()} {name} -o yaml': its "
            "status.conditions name the remaining content and finalizers), let the deletion "
            "finish or remove the stuck finalizers, then run the command again.",
            code="StillTerminating")


def _deleting(found, names):
    """What terminating(cluster, names=names) would find, from what the join's check found
    being deleted moments before (`found`: applink-system and every CRD), or None when there
    is no such check in this run or it did not read each Namespace named."""
    if found is None or not names.get("Namespace", set()) <= {MEMBER_NAMESPACE}:
        return None
    return [o for o in found if o["metadata"]["name"] in names.get(o.get("kind"), ())]


def _wait_ready(ctx):
    from ..kube.apply import wait_ready
    objects = ctx.memo.get("applied")
    if objects is None:
        # Resumed after the data plane was applied by another run: render what it applied.
        from ..manifests import render
        objects = [o for phase in render(_spec(ctx)) for o in phase.objects]
    wait_ready(ctx.cluster, objects, timeout=_ready_timeout(), progress=ctx.progress)


def _finish(ctx):
    target = ctx.props.pop("targetVersion", None)
    installed = ctx.props.get("installedVersion")
    if target and target != installed:
        if installed:
            if ctx.params.get("rollback"):
                ctx.props["rollbacksUsed"] = ctx.props.get("rollbacksUsed", 0) + 1
            ctx.props["previousVersion"] = installed
        ctx.props["installedVersion"] = target
        # The shape of the ARM upgradeHistories items; the newest last, a bounded list.
        history = ctx.props.setdefault("upgradeHistory", [])
        history.append({"startTimestamp": ctx.props["operation"]["startedAt"], "endTimestamp": res.now(),
                        "initiatedBy": res.current_actor(), "fromVersion": installed, "toVersion": target})
        del history[:-HISTORY_LENGTH]


def _peers(ctx, network, linking=False):
    """The other members; when `linking`, not those being removed (their access is being
    revoked under the same lock, and must not be handed out again)."""
    return [m for m in ctx.store.list(MEMBER_KIND, parent_id=network["id"])
            if ids.key(m["id"]) != ids.key(ctx.resource["id"])
            and not (linking and res.state_of(m) == res.DELETING)]


def link_member(ctx, strict=False):
    """Link the operation's member with every peer, fresh identities and tokens both ways,
    and record what was issued on the member (never a token)."""
    from .mesh_links import link, merge_records
    network = ctx.network

    def labels(doc):
        return {MANAGED_BY_KEY: MANAGED_BY_VALUE, NETWORK_LABEL: network["name"], MEMBER_LABEL: doc["name"]}

    peers = _peers(ctx, network, linking=True)
    issued = []

    def record():
        if issued or not strict:
            ctx.props["readerLinks"] = merge_records(ctx.props.get("readerLinks"), issued,
                                                     peers + [ctx.resource])

    # A join or update that awaited the data plane's readiness need not look for it again.
    ready = "ready" in (ctx.props["operation"].get("completedSteps") or [])
    try:
        link(ctx.resource, peers, ctx.services.connect, labels, progress=ctx.progress, warn=ctx.warn,
             strict=strict, records=issued, ready=ready)
    except BaseException:
        # The runner keeps no change of a failed step, but these identities exist now.
        record()
        ctx.save()
        raise
    record()
    return issued


def link_step(ctx):
    """The `link` step: remote secrets both ways with every other member."""
    link_member(ctx)


def _unlink(ctx):
    from ..kube.concurrent import gather
    from .mesh_links import unlink
    gather([lambda: unlink(ctx.resource, _peers(ctx, ctx.network), ctx.services.connect, warn=ctx.warn),
            lambda: _discover_for_removal(ctx)])


def _discover_for_removal(ctx):
    """Read the discovery documents of the kinds the later steps list (the declarations'
    Gateways, the data plane's kinds) while the links are revoked: a round trip fewer
    after. A cluster that cannot be reached is left for those steps to report."""
    from ..kube.concurrent import gather
    from ..manifests import kinds_for_prune
    from .declared_objects import GATEWAY_API
    try:
        cluster = ctx.cluster
        kinds = {(a, p) for a, p, _ in kinds_for_prune()} | {(GATEWAY_API, "gateways")}
        first = {}
        for api_version, plural in sorted(kinds):
            first.setdefault(api_version, plural)
        gather([lambda a=a, p=p: cluster.discovery.resolve(a, p) for a, p in first.items()])
    except AppNetError:
        pass


def _revoke_elsewhere(ctx):
    """Every remaining member gets the new revocation list in its cacerts (istiod rolls and
    publishes it; ztunnel then refuses certificates of the removed member's intermediate).
    A member that cannot be reached is named in a warning: its next update pushes it."""
    from ..kube.concurrent import gather
    from .ca_ops import push_ca
    network = ctx.network
    pki = ctx.services.pki(network)
    peers = [p for p in _peers(ctx, network) if p["properties"].get("installedVersion")]
    # The specs (signing, key store) here, one at a time; the pushes to every peer at once.

    def spec_of(peer):
        try:
            return member_spec(network, peer, pki, peer["properties"]["installedVersion"])
        except AppNetError as ex:
            return ex

    specs = [spec_of(p) for p in peers]

    def push(peer, spec):
        if isinstance(spec, AppNetError):
            return spec
        try:
            push_ca(ctx.services.connect(peer), spec,
                    progress=lambda m, n=peer["name"]: ctx.progress(f"{n}: {m}"), wait=False)
        except AppNetError as ex:
            return ex
        return None

    left = []
    for peer, ex in zip(peers, gather([lambda p=p, s=s: push(p, s) for p, s in zip(peers, specs)],
                                      parallelism=32)):
        if ex is not None:
            left.append(peer["name"])
            ctx.warn(f"Could not give member '{peer['name']}' the revocation list of "
                     f"'{ctx.resource['name']}' ({ex.with_fix()}); it still trusts that member's "
                     "certificates until you run 'az appnet member update ... --east-west-gateway "
                     "VISIBILITY' for it.")
    if not left:
        ctx.progress("Every remaining member refuses the removed member's certificates")


def _prune_cluster(ctx):
    """Delete what join applied from the member's cluster. A cluster that cannot be reached
    (or, on AKS, was deleted) is a warning: removing the member must still finish."""
    # Prune even when no version was recorded as installed: a join that crashed midway
    # may have applied part of the data plane.
    from ..kube.apply import prune
    from ..manifests import kinds_for_prune, owner_selector
    try:
        selector = owner_selector(ctx.network["name"], ctx.resource["name"])
        deleted = prune(ctx.cluster, selector, kinds_for_prune(), progress=ctx.progress)
        ctx.progress(f"Deleted {len(deleted)} objects from the cluster")
    except (ClusterError, InvalidInputError, NotFoundError) as ex:
        _cleanup_warning(ctx, ex)


def _cleanup_warning(ctx, ex):
    ctx.warn(f"Could not clean the cluster ({ex.with_fix()}); objects labelled "
             f"{MEMBER_LABEL}={ctx.resource['name']} may remain on it.")


def _revoke_and_prune(ctx):
    """The `revoke` step: the revocation goes to the other members while the data plane is
    deleted from the leaving cluster. Neither needs the other (the links are gone already),
    so they take the rounds of the longer, not of both; the lock this step holds for the
    revocation is held no longer than the deletes take."""
    # What both import lazily is imported here first (two threads importing one package at
    # once can be handed a half-initialised module), and the network read once.
    from .. import manifests  # noqa: F401  pylint: disable=unused-import
    from ..kube import apply  # noqa: F401  pylint: disable=unused-import
    from ..kube.concurrent import gather
    from . import ca_ops  # noqa: F401  pylint: disable=unused-import
    ctx.network  # pylint: disable=pointless-statement
    gather([lambda: _revoke_elsewhere(ctx), lambda: _prune_cluster(ctx)])


def _await_cleanup(ctx):
    """The `cleanup` step, outside the network's lock: wait for the namespace and CRDs the
    revoke step deleted to finish terminating."""
    try:
        from ..manifests import owner_selector
        _await_deletion(ctx, ctx.cluster, owner_selector(ctx.network["name"], ctx.resource["name"]))
    except (ClusterError, InvalidInputError, NotFoundError) as ex:
        _cleanup_warning(ctx, ex)


def declare_step(ctx):
    """The `declarations` step: the network's ambient namespaces, global Services and
    waypoints on the member (operations/declarations.py)."""
    from .declarations import apply_to_member
    apply_to_member(ctx, ctx.cluster)


def _undeclare(ctx):
    from .declarations import remove_from_member
    remove_from_member(ctx, ctx.services.connect)


def _await_deletion(ctx, cluster, selector):
    """The namespace and CRDs just deleted stay Terminating until their content is gone:
    wait for that (bounded, with progress), so a join right after finds a clean cluster;
    report what is still terminating when it takes longer."""
    from ..kube.terminating import terminating, wait_gone
    timeout = _terminating_timeout()
    left = wait_gone(cluster, terminating(cluster, label_selector=selector), timeout,
                     progress=ctx.progress)
    if left:
        still = "; ".join(f"{k} ({v})" for k, v in left.items())
        ctx.warn(f"Still terminating after {timeout}s: {still}. Kubernetes finishes the deletion once that "
                 "content is gone; 'az appnet member join' of this cluster waits for it.")


def _retire_certificates(ctx):
    # Revoked, not just forgotten: its key may have left with the cluster.
    ctx.services.pki(ctx.network).retire_intermediate(ctx.resource["name"], revoke=True)


def _delete_record(ctx):
    ctx.store.delete(ctx.resource["id"])
    raise Finished()


# No preflight step: engine.join_member checks the cluster before it records the operation
# (every run, resumed ones too) and records what the check found (checked_facts).
JOIN = [
    Step("connect", "Connecting to the cluster", _reach_checked),
    Step("version", "Choosing the AppNet version", _choose_version),
    Step("certificates", "Issuing the member's intermediate CA", _certificates, shared=True),
    Step("dataPlane", "Applying the Istio ambient data plane", _apply),
    Step("ready", "Waiting for the data plane to become ready", _wait_ready),
    Step("link", "Exchanging remote secrets with the other members", link_step, shared=True),
    Step("declarations", "Applying the network's namespaces, global services and waypoints", declare_step,
         shared=True),
    Step("finish", "Finishing", _finish),
]
UPDATE_DATA_PLANE = [
    Step("connect", "Connecting to the cluster", reach_cluster_and_peers),
    Step("version", "Choosing the AppNet version", _choose_version),
    Step("certificates", "Checking the member's intermediate CA", _certificates, shared=True),
    Step("dataPlane", "Applying the Istio ambient data plane", _apply),
    Step("ready", "Waiting for the data plane to become ready", _wait_ready),
    Step("link", "Exchanging remote secrets with the other members", link_step, shared=True),
    Step("declarations", "Applying the network's namespaces, global services and waypoints", declare_step,
         shared=True),
    Step("finish", "Finishing", _finish),
]
UPDATE_TAGS = [Step("finish", "Updating the member", _finish)]
REMOVE = [
    Step("unlink", "Revoking the member's access to the other members and theirs to it", _unlink, shared=True),
    Step("declarations", "Removing the network's namespaces, global services and waypoints from the cluster",
         _undeclare, shared=True),
    # Retired before the data plane goes, so that the revocation and the deletes can go out
    # together in the next step; what the leaving cluster still runs is unlinked already.
    Step("certificates", "Revoking the member's intermediate CA", _retire_certificates, shared=True),
    Step("revoke", "Publishing the revocation to the other members and deleting the data plane from the "
         "cluster", _revoke_and_prune, shared=True),
    Step("cleanup", "Waiting for the data plane's namespace and CRDs to be deleted", _await_cleanup),
    Step("delete", "Removing the member", _delete_record),
]
ROTATE_CREDENTIALS = [
    Step("connect", "Connecting to the cluster", reach_cluster),
    Step("credentials", "Issuing new reader identities and tokens for every link of the member",
         lambda ctx: link_member(ctx, strict=True), shared=True),
]

# Started by reconcile (operations/reconcile.py) when a member's links or declarations drifted.
RELINK = [
    Step("connect", "Connecting to the cluster", reach_cluster),
    Step("link", "Exchanging remote secrets with the other members", link_step, shared=True),
]
REAPPLY_DECLARATIONS = [
    Step("connect", "Connecting to the cluster", reach_cluster),
    Step("declarations", "Applying the network's namespaces, global services and waypoints", declare_step,
         shared=True),
]

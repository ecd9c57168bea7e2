"""CA rotation as operations: a member's intermediate CA and the network's root CA.

`member rotate-ca` (operation `rotateCa` on the member): mint a new intermediate signed by
the active root, push it to the cluster as a new `cacerts`, roll istiod onto it, wait until
istiod is ready. The root does not change, so leaves issued by the old intermediate keep
verifying until they expire (reference §9.4).

`ca rotate` and `ca finish-rotation` (operations `rotateRoot` and `finishRootRotation` on
the network) follow Istio's multi-root procedure (reference §9.5), each step rolled across
every member cluster before the next one starts, because the clusters verify each other's
leaves:

    rotateRoot:          new root; trust bundle = old + new root everywhere;
                         then a new intermediate (signed by the new root) everywhere
    (workloads re-issue their 24 h certificates from the new intermediates)
    finishRootRotation:  trust bundle = new root only everywhere; old root key deleted

What is pushed is the member's rendered `cacerts` Secret, `istio-root-cert` ConfigMap and
istiod Deployment (whose pod template carries a hash of the CA material, see
manifests/istiod.py), with the same field manager as join, so a later re-apply of the whole
data plane keeps exactly what a rotation left. Every step is idempotent: a re-run after a
failure (an unreachable member, Ctrl-C) resumes at the failed step and converges.
"""

from .. import settings
from ..constants import MEMBER_KIND
from ..errors import ClusterError, InvalidInputError
from ..model import resources as res
from ..state import StaleWriteError
from .member_ops import member_spec, reach_cluster
from .network_ops import public_certificate
from .runner import Step

_PUSHED = (("Secret", "cacerts"), ("ConfigMap", "istio-root-cert"))
_ISTIOD = ("Deployment", "istiod")
#: How long a workload certificate lives (design §5): after this, every leaf of the mesh was
#: issued by an intermediate of the new root.
WORKLOAD_CERT_HOURS = 24


def _ca_objects(spec):
    from ..manifests import render
    by_name = {(o["kind"], o["metadata"]["name"]): o for phase in render(spec) for o in phase.objects}
    return [by_name[k] for k in _PUSHED], by_name[_ISTIOD]


def push_ca(cluster, spec, progress=None, wait=True):
    """Apply the member's CA material and istiod (rolled when the material changed); wait
    until istiod is ready again unless `wait` is False."""
    from ..kube.apply import apply_phases, wait_ready
    from ..manifests import Phase
    trust, istiod = _ca_objects(spec)
    apply_phases(cluster, [Phase("CA material", trust), Phase("istiod", [istiod])], progress=progress)
    if wait:
        wait_ready(cluster, [istiod], timeout=settings.ready_timeout(), progress=progress)


# ---- member: rotateCa ------------------------------------------------------------------

def _new_intermediate(ctx):
    info = ctx.services.pki(ctx.network).rotate_intermediate(ctx.resource["name"])
    ctx.props["certificateAuthority"] = {"intermediate": public_certificate(info)}


def _member_spec(ctx):
    network = ctx.network
    return member_spec(network, ctx.resource, ctx.services.pki(network), ctx.props["installedVersion"])


def _push_member(ctx):
    push_ca(ctx.cluster, _member_spec(ctx), progress=ctx.progress, wait=False)


def _istiod_ready(ctx):
    from ..kube.apply import wait_ready
    _, istiod = _ca_objects(_member_spec(ctx))
    wait_ready(ctx.cluster, [istiod], timeout=settings.ready_timeout(), progress=ctx.progress)


ROTATE_CA = [
    Step("connect", "Connecting to the cluster", reach_cluster),
    Step("certificates", "Issuing a new intermediate CA", _new_intermediate, shared=True),
    Step("push", "Pushing the new cacerts and rolling istiod", _push_member),
    Step("ready", "Waiting for istiod to load the new CA", _istiod_ready),
]


# ---- network: rotateRoot, finishRootRotation -------------------------------------------

def _members(ctx):
    return sorted(ctx.store.list(MEMBER_KIND, parent_id=ctx.resource["id"]), key=lambda m: m["name"])


def _on_every_member(ctx, what, work):
    """Run `work(member, cluster, say)` for every member; the members it failed on (an
    unreachable cluster, a kubeconfig gone) are named together in one error at the end,
    after the others are done, so a re-run only has those left to do."""
    members = _members(ctx)
    failures = []
    for member in members:
        name = member["name"]

        def say(message, name=name):
            ctx.progress(f"{name}: {message}")

        try:
            work(member, ctx.services.connect(member), say)
        except (ClusterError, InvalidInputError) as ex:
            failures.append(f"{name} ({ex.message.rstrip('.')})")
    if failures:
        raise ClusterError(
            f"Could not {what} on {len(failures)} of {len(members)} member clusters: "
            f"{'; '.join(failures)}.",
            "Make those clusters reachable again (or remove those members with 'az appnet member "
            "remove'), then run the same command again: it resumes with this step, and the members "
            "already done are left as they are.", code="MembersUnreachable")


def _push_to_all(ctx, what):
    network = ctx.resource
    pki = ctx.services.pki(network)

    def work(member, cluster, say):
        push_ca(cluster, member_spec(network, member, pki, member["properties"]["installedVersion"]),
                progress=say)

    _on_every_member(ctx, what, work)


def _record_intermediate(store, member_id, info):
    """Write a member's new intermediate on its resource (it is idle: checked at the start)."""
    for _ in range(5):
        member = store.get(member_id)
        if member is None:
            return
        member["properties"]["certificateAuthority"] = {"intermediate": public_certificate(info)}
        res.touch(member)
        try:
            store.update(member)
            return
        except StaleWriteError:
            continue


def _record_roots(ctx, pki):
    ca = ctx.props["certificateAuthority"]
    roots = pki.describe()["roots"]
    ca["root"] = public_certificate(roots[-1])
    if len(roots) > 1:
        ca["previousRoot"] = public_certificate(roots[0])
    else:
        ca.pop("previousRoot", None)


def _new_root(ctx):
    pki = ctx.services.pki(ctx.resource)
    pki.rotate_root()  # while a rotation is open, returns its new root: a resume adds no third
    _record_roots(ctx, pki)


def _trust_both(ctx):
    _push_to_all(ctx, "add the new root CA to the trust bundle")


def _reissue(ctx):
    network = ctx.resource
    pki = ctx.services.pki(network)
    stale = {i["member"].lower() for i in pki.describe()["intermediates"] if not i["signedByActiveRoot"]}

    def work(member, cluster, say):
        cluster.server_version()  # reachable before minting, so a dead cluster costs nothing
        if member["name"].lower() in stale:
            info = pki.rotate_intermediate(member["name"])
            _record_intermediate(ctx.store, member["id"], info)
            say("new intermediate CA signed by the new root")
        push_ca(cluster, member_spec(network, member, pki, member["properties"]["installedVersion"]),
                progress=say)

    _on_every_member(ctx, "switch to an intermediate CA signed by the new root", work)


def _drop_old_root(ctx):
    import datetime
    pki = ctx.services.pki(ctx.resource)
    described = pki.describe()
    if described["rootRotationInProgress"]:
        latest = max((i["notBefore"] for i in described["intermediates"]), default=None)
        if latest:
            issued = datetime.datetime.strptime(latest, "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.timezone.utc)
            safe = issued + datetime.timedelta(hours=WORKLOAD_CERT_HOURS)
            if datetime.datetime.now(datetime.timezone.utc) < safe:
                ctx.warn(f"The intermediate CAs were re-issued less than {WORKLOAD_CERT_HOURS} hours ago: "
                         "workload certificates issued before then chain to the old root, which the "
                         f"members no longer trust, until they are refreshed (at the latest "
                         f"{safe:%Y-%m-%dT%H:%M:%SZ}). Connections using them fail until then.")
        pki.finish_root_rotation()
    _record_roots(ctx, pki)


def _trust_new_root(ctx):
    _push_to_all(ctx, "remove the old root CA from the trust bundle")


ROTATE_ROOT = [
    Step("newRoot", "Creating the new root CA", _new_root, shared=True),
    Step("trustBoth", "Trusting the old and the new root CA on every member", _trust_both, shared=True),
    Step("reissue", "Switching every member to an intermediate CA signed by the new root", _reissue, shared=True),
]
FINISH_ROOT_ROTATION = [
    Step("dropOldRoot", "Retiring the old root CA", _drop_old_root, shared=True),
    Step("trustNewRoot", "Trusting only the new root CA on every member", _trust_new_root, shared=True),
]


def stale_members(pki):
    """Members whose intermediate CA is not signed by the active root."""
    return [i["member"] for i in pki.describe()["intermediates"] if not i["signedByActiveRoot"]]

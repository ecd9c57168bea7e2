"""The command that resumes a resource's unfinished operation, and whether it needs one.

An operation resumes when the same command runs again with the same parameters (runner.
new_operation compares them), so the command is rebuilt from what the operation recorded:
a user who pastes it continues that operation, never starts another one (after an
interrupted upgrade, `member update` without its --version would re-apply the old version,
a rollback).
"""

import shlex

from ..constants import DEFAULT_CA_KEY_TYPE, DEFAULT_GATEWAY_VISIBILITY
from ..model import ids
from ..model import resources as res
from . import catalog, runner

_CONFIRMED = ("delete", "remove", "finishRootRotation")   # these ask first: a pipeline passes --yes


def _flags(pairs):
    return [str(part) for flag, value in pairs if value not in (None, "", False)
            for part in ((flag,) if value is True else (flag, value))]


def _network_flags(resource, name):
    props = resource.get("properties") or {}
    if name != "create":
        return []
    ca = props.get("certificateAuthority") or {}
    return _flags([("--location", resource.get("location")), ("--key-vault", ca.get("keyVault")),
                   ("--ca-key-type", ca.get("keyType") if ca.get("keyType") != DEFAULT_CA_KEY_TYPE else None)])


def _member_flags(resource, name, params):
    props = resource.get("properties") or {}
    if name == "join":
        cluster = params.get("cluster") or {}
        network = params.get("network")
        return _flags([
            ("--kubeconfig", cluster.get("kubeconfig")), ("--context", cluster.get("context")),
            ("--member-resource-id", cluster.get("resourceId")),
            ("--upgrade-mode", params.get("upgradeMode") if params.get("upgradeMode") != res.SELF_MANAGED else None),
            ("--release-channel", params.get("releaseChannel")), ("--version", params.get("version")),
            ("--east-west-gateway", params.get("eastWestGateway")
             if params.get("eastWestGateway") not in (None, DEFAULT_GATEWAY_VISIBILITY) else None),
            ("--network-name", network if isinstance(network, str) else None),
            ("--api-server-url", params.get("apiServerUrl"))])
    if name == "update":
        # The version a plain update re-applies is the installed one; only a move names it.
        version = params.get("version")
        moving = version and (version != props.get("installedVersion") or params.get("rollback"))
        return _flags([("--release-channel", params.get("releaseChannel")),
                       ("--version", version if moving else None),
                       ("--east-west-gateway", params.get("eastWestGateway")),
                       ("--network-name", params.get("network")),
                       ("--api-server-url", params.get("apiServerUrl")),
                       ("--accept-cluster-identity", bool(params.get("acceptClusterIdentity")))])
    return []


def resume_command(resource):
    """The az command that resumes (or repeats) the resource's last operation."""
    op = (resource.get("properties") or {}).get("operation") or {}
    name, params = op.get("name"), op.get("parameters") or {}
    parts = ids.parse_id(resource["id"])
    try:
        base = catalog.lookup(resource, name).command
    except KeyError:            # no operation recorded, or one this version does not know
        base = "az appnet member update" if parts["member"] else "az appnet update"
    if base == catalog.RECONCILE:
        words = [base, "-g", parts["resource_group"], "-n", parts["network"], "--member", parts["member"]]
    elif parts["member"]:
        words = [base, "-g", parts["resource_group"], "--appnet-name", parts["network"],
                 "--member-name", parts["member"], *_member_flags(resource, name, params)]
    else:
        words = [base, "-g", parts["resource_group"], "-n", parts["network"], *_network_flags(resource, name)]
    if name in _CONFIRMED:
        words.append("--yes")
    return " ".join([words[0]] + [shlex.quote(w) for w in words[1:]])


def stalled(resource):
    """Why the resource's operation will not finish by itself, or None: its runner (a --no-wait
    worker, or the az process that ran it) is gone while the record says it runs."""
    op = (resource or {}).get("properties", {}).get("operation") or {}
    if op.get("status") != runner.IN_PROGRESS or runner.runner_alive(op):
        return None
    step = f" in step '{op['step']}'" if op.get("step") else ""
    return (f"The process that ran operation '{op.get('name')}' on {resource['name']} is gone; it "
            f"stopped{step} and nothing is running it now.")

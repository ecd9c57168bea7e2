"""A member's cluster identity, pinned at join: the API server and the CA its kubeconfig
trusts for it.

Steps send credentials to members (remote secrets holding other members' reader tokens,
the intermediate CA's key in `cacerts`). The member record says how to reach the cluster
(a kubeconfig path and context, or an AKS id), and what that resolves to can change under
it: a kubeconfig edited or replaced, a context renamed to point elsewhere. So the identity
found at join is recorded on the member, every later connection checks it, and a member
whose kubeconfig now reaches another cluster gets nothing until the user accepts the new
identity with `az appnet member update --accept-cluster-identity`.

This guards against a changed kubeconfig, not against a changed state: whoever may write
the state may also rewrite the pin (README: write access to the state is admin of the
network).
"""

from ..errors import ClusterError

IN_PROGRESS = "InProgress"


def of(cluster):
    """The identity of a connected cluster (kube.Cluster)."""
    config = getattr(cluster, "config", None)
    return {"server": getattr(cluster, "server", None),
            "caFingerprint": getattr(config, "ca_fingerprint", None)}


def _pinning(member):
    """True when this member's own operation, running now, records its identity: a first
    join, or an update the user ran to accept a new identity."""
    props = member["properties"]
    op = props.get("operation") or {}
    if op.get("status") != IN_PROGRESS:
        return False
    if op.get("name") == "join" and not (props.get("cluster") or {}).get("identity"):
        return True
    return bool((op.get("parameters") or {}).get("acceptClusterIdentity"))


def verify_or_pin(member, cluster):
    """Pin the identity of `cluster` on `member` (its record, saved by the step), or check
    that it is still the pinned one. ClusterError when it is not."""
    record = member["properties"].setdefault("cluster", {})
    found = of(cluster)
    if _pinning(member):
        record["identity"] = found
        return
    pinned = record.get("identity")
    if not isinstance(pinned, dict) or pinned == found:
        return  # recorded before identities were pinned: nothing to compare with
    what = []
    if pinned.get("server") != found["server"]:
        what.append(f"API server {pinned.get('server')} -> {found['server']}")
    if pinned.get("caFingerprint") != found["caFingerprint"]:
        what.append(f"CA fingerprint {pinned.get('caFingerprint') or 'none (system store)'} -> "
                    f"{found['caFingerprint'] or 'none (system store)'}")
    parts = member["id"].split("/")
    rg, network, name = parts[4], parts[8], parts[10]
    raise ClusterError(
        f"Member '{member['name']}' no longer reaches the cluster that joined: {'; '.join(what)}. "
        "appnet sends the network's credentials only to the cluster identity pinned at join.",
        "If the cluster's API server or certificate really changed, accept the new identity with "
        f"'az appnet member update -g {rg} --appnet-name {network} --member-name {name} "
        "--accept-cluster-identity'; otherwise fix the member's kubeconfig or context.")

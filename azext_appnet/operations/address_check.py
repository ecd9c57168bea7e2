"""Does the API server address a member published answer? (`member check`, `check`)

The other members' istiods reach this member through the kubeconfig of the remote secret
they hold for it. This check reads that kubeconfig from a peer and makes one read request
with it, from the machine running the check: the address, the CA it pins and the reader
token are all tried as the peer's istiod would use them. The token is used in memory for
that request only, never shown.

A loopback or link-local address is at best a Warning: even when it answers here, pods in
other clusters reach it only on a single host. For an address only routable between the
clusters (a kind network, a private VNet), a failure from here may not be one from the
peers' pods, and the message says so.
"""

import base64

from ..errors import AppNetError
from .api_address import unreachable_from_peers

NAME = "apiServerAddress"


def _result(status, message, recommendation=None):
    return {"name": NAME, "status": status, "message": message, "recommendation": recommendation}


def _peer_copy(peer_cluster, member_name):
    """The kubeconfig document of the remote secret `peer_cluster` holds for `member_name`."""
    import yaml
    from .mesh_links import secret_name
    from ..constants import MEMBER_NAMESPACE
    secret = peer_cluster.get("v1", "secrets", secret_name(member_name), MEMBER_NAMESPACE)
    data = (secret or {}).get("data") or {}
    text = data.get(member_name.lower())
    if not text:
        return None
    return yaml.safe_load(base64.b64decode(text).decode())


def check_published_address(target, connect):
    """Passed when the address in a peer's remote secret answers a read with its token."""
    from ..constants import MEMBER_NAMESPACE
    from ..kube.client import RetryPolicy
    from ..kube.token_client import token_client
    name = target.name
    fix = (f"Publish an address the other clusters reach: 'az appnet member update {target.args} "
           "--api-server-url https://HOST:PORT' (it rewrites the remote secrets on every member).")
    tried = []
    for peer in sorted(target.others, key=lambda p: p["name"].lower()):
        try:
            doc = _peer_copy(connect(peer), name)
        except AppNetError:
            continue  # that peer is unreachable: its own checks say so
        if doc is None:
            tried.append(peer["name"])
            continue
        server = ((doc.get("clusters") or [{}])[0].get("cluster") or {}).get("server")
        why = unreachable_from_peers(server)
        try:
            probe = token_client(doc, f"the remote secret for {name} on {peer['name']}",
                                 timeout=5, retry=RetryPolicy(attempts=1, connect_attempts=1))
            probe.get("v1", "namespaces", MEMBER_NAMESPACE)
        except AppNetError as ex:
            return _result("Failed", f"The address member {peer['name']}'s remote secret names for this "
                           f"cluster, {server}, did not answer a read with its reader token from here: "
                           f"{ex.message} (an address routable only between the clusters cannot be "
                           "reached from this machine; then check from a pod in the other cluster).", fix)
        if why:
            # It answers here, so the peers' istiods reach it only if they run on this host.
            return _result("Warning", f"Member {peer['name']} reaches this cluster at {server}, {why}: it "
                           "answered from this machine, but istiods in other clusters reach it only "
                           "when they run on this host (emulators, single-host setups).", fix)
        return _result("Passed", f"{server}, the address member {peer['name']}'s remote secret names for "
                       "this cluster, answered a read with the reader token it carries.")
    if tried:
        return _result("Warning", f"No remote secret for {name} on {', '.join(tried)} yet: the address "
                       "the other members use could not be checked.",
                       f"Exchange them: 'az appnet member update {target.args} --east-west-gateway "
                       f"{target.visibility}'.")
    return _result("Passed", "The network has no other reachable member that would use this cluster's "
                   "address.")

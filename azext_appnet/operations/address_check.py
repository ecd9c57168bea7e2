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


def _peer_copy(reads, peer, member_name, connect):
    """The kubeconfig text of the remote secret `peer` holds for `member_name`, or None.
    ValueError when it is not base64 of UTF-8 text."""
    from .mesh_links import secret_name
    secret = reads.peer_secret(peer, secret_name(member_name), connect)
    text = ((secret or {}).get("data") or {}).get(member_name.lower())
    return base64.b64decode(text).decode() if text else None


def check_published_address(target, connect, reads=None):
    """Passed when the address in a peer's remote secret answers a read with its token.
    `reads`: the check's CheckReads (the peer's Secrets, the read with that token, shared
    with the other checks); None: this check's own."""
    from .check_reads import CheckReads
    if reads is None:
        reads = CheckReads()
        try:
            return check_published_address(target, connect, reads)
        finally:
            reads.close()
    from ..kube.client import NotFound
    name = target.name
    fix = (f"Publish an address the other clusters reach: 'az appnet member update {target.args} "
           "--api-server-url https://HOST:PORT' (it rewrites the remote secrets on every member).")
    tried = []
    for peer in sorted(target.others, key=lambda p: p["name"].lower()):
        try:
            text = _peer_copy(reads, peer, name, connect)
        except AppNetError:
            continue  # that peer is unreachable: its own checks say so
        except ValueError:
            text = "-"  # not base64 of text: unreadable, as a kubeconfig of another shape
        if text is None:
            tried.append(peer["name"])
            continue
        # The very read a peer's istiod makes: the address, the CA it pins and the reader token.
        probe = reads.probe(text, peer["name"], name)
        server = probe.server
        if probe.unreadable or (probe.error is not None and not isinstance(probe.error, NotFound)):
            why = probe.error.message if probe.error is not None else \
                f"the remote secret for {name} on {peer['name']} is not a readable kubeconfig."
            return _result("Failed", f"The address member {peer['name']}'s remote secret names for this "
                           f"cluster, {server}, did not answer a read with its reader token from here: "
                           f"{why} (an address routable only between the clusters cannot be "
                           "reached from this machine; then check from a pod in the other cluster).", fix)
        why = unreachable_from_peers(server)
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

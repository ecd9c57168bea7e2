"""Remote secrets: how each member's istiod reads the other members' API servers.

For every pair of members A and B, B holds the Secret `istio-remote-secret-<A>` (label
`istio/multiCluster=true`, one data key: A's cluster id, whose value is a kubeconfig for A's
API server with the token of A's `istio-reader-service-account`), and A holds B's. The
token can only read (the reader ClusterRole grants get/list/watch). Reference:
istio-ambient-multicluster.md §8.4.

Linking runs under the network's lock (a `shared` step), after the member's data plane is ready, and links
both ways with every other member whose reader token exists; so two joins that run at once
both end in a full mesh: whichever links second sees the first.
"""

import base64
import time

import yaml

from ..errors import AppNetError, ClusterError
from ..manifests import NAMESPACE
from ..manifests.istiod import READER_TOKEN_SECRET

MULTICLUSTER_LABEL = "istio/multiCluster"
LINK_LABEL = "appnet.azure.com/remote-member"
TOKEN_WAIT_SECONDS = 60


def secret_name(member_name):
    return f"istio-remote-secret-{member_name.lower()}"


def reader_kubeconfig(cluster, member_name, wait=TOKEN_WAIT_SECONDS, server=None):
    """A kubeconfig for `cluster` that authenticates as its reader ServiceAccount, or None
    while its token is not there (the member's data plane is not applied yet). `server`:
    the address peers use (the member's --api-server-url), default the one we reached."""
    deadline = time.monotonic() + wait
    while True:
        secret = cluster.get("v1", "secrets", READER_TOKEN_SECRET, NAMESPACE)
        data = (secret or {}).get("data") or {}
        if data.get("token") and data.get("ca.crt"):
            break
        if secret is None or time.monotonic() > deadline:
            return None
        time.sleep(0.5)  # the token controller fills it in shortly after the Secret is created
    token = base64.b64decode(data["token"]).decode()
    name = member_name.lower()
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": server or cluster.server,
                                                "certificate-authority-data": data["ca.crt"]}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "users": [{"name": name, "user": {"token": token}}],
    }, default_flow_style=False)


def remote_secret(of_member, kubeconfig, holder_labels):
    """The Secret that lets a holder's istiod read `of_member`'s cluster."""
    name = of_member.lower()
    labels = dict(holder_labels, **{MULTICLUSTER_LABEL: "true", LINK_LABEL: name})
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": secret_name(of_member), "namespace": NAMESPACE, "labels": labels,
                         "annotations": {"networking.istio.io/cluster": name}},
            "data": {name: base64.b64encode(kubeconfig.encode()).decode()}}


def link(member, peers, connect, owner_labels, progress=None, warn=None):
    """Exchange remote secrets between `member` and each of `peers` (member documents).

    `connect(doc)` returns a Cluster; `owner_labels(doc)` the labels of the holder's
    objects, so that removing a member prunes the secrets it holds. Peers that cannot be
    reached or have no data plane yet are reported through `warn` and skipped: they link
    when they next join or update."""
    from .api_address import published
    here = connect(member)
    mine = reader_kubeconfig(here, member["name"], server=published(member))
    if mine is None:
        raise ClusterError(
            f"The reader token of member '{member['name']}' ({NAMESPACE}/{READER_TOKEN_SECRET}) "
            "was not filled in by the cluster's token controller.",
            "Check that the cluster's kube-controller-manager runs, then run the command again.",
            code="ReaderTokenMissing")
    linked = []
    for peer in peers:
        try:
            there = connect(peer)
            theirs = reader_kubeconfig(there, peer["name"], wait=0, server=published(peer))
            if theirs is None:
                continue  # its join has not applied the data plane yet; it links when it does
            there.apply(remote_secret(member["name"], mine, owner_labels(peer)))
            here.apply(remote_secret(peer["name"], theirs, owner_labels(member)))
            linked.append(peer["name"])
        except AppNetError as ex:
            if warn:
                warn(f"Could not link with member '{peer['name']}': {ex.message}")
    if progress and linked:
        progress(f"Linked with {', '.join(linked)}")
    return linked


def unlink(member, peers, connect, warn=None):
    """Delete `member`'s remote secret from every peer (its own copies of theirs go with
    its data plane)."""
    for peer in peers:
        try:
            connect(peer).delete("v1", "secrets", secret_name(member["name"]), NAMESPACE)
        except AppNetError as ex:
            if warn:
                warn(f"Could not delete the remote secret of '{member['name']}' from member "
                     f"'{peer['name']}': {ex.message}")

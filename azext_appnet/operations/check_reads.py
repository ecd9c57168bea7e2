"""What one `check` reads once for all the members it looks at.

A network check reads every member's cluster, and each member's published address and reader
tokens through its peers, so many of its reads would be the same request sent twice:

- a member's Secrets in applink-system are listed once, whole: its remote secrets (labelled
  istio/multiCluster=true) are taken from that list, and so is the copy another member's
  address check looks for on it (when that member is checked too);
- in a network check every Namespace and every Gateway is listed once, for the declarations'
  snapshot, and the data plane's Namespaces (by the managed-by label) and Gateways (in
  applink-system) are taken from those lists;
- a remote secret's kubeconfig is tried once: the address check of the member it names and the
  reader-token check of the member that holds it send the same read with the same token.

Nothing here is kept beyond the check (close() ends its connections); tokens stay in memory.
"""

from ..constants import MEMBER_NAMESPACE as NAMESPACE
from ..errors import AppNetError
from ..kube.concurrent import Memo
from .declared_objects import GATEWAY_API

#: What the reader token of a remote secret is tried with: one read of the member namespace.
PROBE_PATH = f"/api/v1/namespaces/{NAMESPACE}"


class CheckReads:
    """The reads one check shares between its members' checks."""

    def __init__(self, listed=(), namespaces=False):
        """`listed`: the names of the members whose own checks list their Secrets (every member
        of a network check); `namespaces`: the checks list every Namespace and every Gateway
        anyway (the declarations' snapshot does)."""
        self._listed = {n.lower() for n in listed}
        self._whole = {("v1", "secrets", NAMESPACE)}
        if namespaces:
            self._whole |= {("v1", "namespaces", None), (GATEWAY_API, "gateways", None)}
        self._clusters, self._probes = Memo(), Memo()
        self._tokens, self._links = Memo(), Memo()

    def cluster(self, member, connect):
        """The member's cluster (connected once for the check), with the shared lists."""
        return self._clusters.get(member["name"].lower(), lambda: SharedLists(connect(member), self._whole))

    def peer_secret(self, peer, name, connect):
        """Secret `name` in applink-system on `peer`'s cluster, or None. From the peer's own
        list of them when this check lists it anyway; otherwise that one Secret is read (a
        member check does not list its peers' Secrets, which hold their CA keys)."""
        if peer["name"].lower() in self._listed:
            return next((s for s in self.cluster(peer, connect).list("v1", "secrets", namespace=NAMESPACE)
                         if (s.get("metadata") or {}).get("name") == name), None)
        return self.cluster(peer, connect).get("v1", "secrets", name, NAMESPACE)

    def probe(self, kubeconfig_text, holder, issuer):
        """The Probe of a remote secret's kubeconfig (held by member `holder`, for `issuer`'s
        API server), sent once per check however many checks want it."""
        return self._probes.get(kubeconfig_text, lambda: Probe(
            self._token_clients(), kubeconfig_text, f"the remote secret for {issuer} on {holder}"))

    def links_view(self, members):
        """mesh_links.links_view(members), made once per check for one set of members: every
        member's check of its reader tokens looks at the same records of all of them."""
        from .mesh_links import links_view
        return self._links.get(tuple(sorted(m["name"].lower() for m in members)), lambda: links_view(members))

    def _token_clients(self):
        from ..kube.client import RetryPolicy
        from ..kube.token_client import TokenClients
        # One retry of a transient status; an address that does not connect is reported, not
        # waited for (the member's own apiReachable check says whether its cluster answers).
        return self._tokens.get("clients", lambda: TokenClients(
            timeout=5, retry=RetryPolicy(attempts=2, connect_attempts=1)))

    def close(self):
        clients = self._tokens.get("clients", lambda: None)
        if clients is not None:
            clients.close()


class Probe:  # pylint: disable=too-few-public-methods  # one outcome, read by its fields
    """One read of applink-system, sent to the API server a remote secret's kubeconfig names with
    the CA and the token it carries, as a peer's istiod would use them.

    `doc`: the kubeconfig document (None when it is not one appnet writes: `unreadable`);
    `error`: the AppNetError the read raised (None when it was answered)."""

    def __init__(self, clients, kubeconfig_text, source):
        from .mesh_links import parse_reader_kubeconfig
        self.doc, self.unreadable, self.error = None, False, None
        try:
            doc = parse_reader_kubeconfig(kubeconfig_text)
            cluster = clients.client(doc, source)
        except ValueError:
            self.unreadable = True
            return
        except AppNetError as ex:   # not of the shape appnet writes: not loaded
            self.unreadable, self.error = True, ex
            return
        self.doc = doc
        try:
            cluster.request("GET", PROBE_PATH)
        except AppNetError as ex:
            self.error = ex

    @property
    def server(self):
        """The API server address the kubeconfig names."""
        clusters = (self.doc or {}).get("clusters") or [{}]
        return (clusters[0].get("cluster") or {}).get("server")


class SharedLists:
    """A member's Cluster whose lists of some collections (`whole`: (api_version, plural,
    namespace)) are read once, whole, for the check: a list of one of them with a selector of
    label equalities is that list filtered here. Anything else goes to the cluster."""

    def __init__(self, cluster, whole):
        self._cluster, self._whole = cluster, whole
        self._versions = {k[0] for k in whole}
        self._memo = Memo()

    def __getattr__(self, name):
        return getattr(self._cluster, name)

    def list(self, api_version, plural, namespace=None, label_selector=None, **kw):
        wanted = equalities(label_selector)
        if api_version not in self._versions or wanted is None or kw:
            return self._cluster.list(api_version, plural, namespace=namespace, label_selector=label_selector,
                                      **kw)
        res = self._cluster.discovery.resolve(api_version, plural)
        if res is None:
            return []       # not served, as Cluster.list answers
        namespace = namespace if res.namespaced else None
        key = (api_version, res.plural, namespace)
        if key not in self._whole:
            # A namespace's objects out of the list of every namespace's, when that is read.
            key = (api_version, res.plural, None)
            if not res.namespaced or key not in self._whole:
                return self._cluster.list(api_version, plural, namespace=namespace, label_selector=label_selector)
        items = self._memo.get(key, lambda: self._cluster.list(api_version, res.plural, namespace=key[2]))
        return [o for o in items if (key[2] is not None or namespace is None
                                     or (o.get("metadata") or {}).get("namespace") == namespace)
                and all(((o.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in wanted.items())]


def equalities(selector):
    """{key: value} of a label selector made only of equalities ("a=b,c==d"; a dict: its
    items, no None value), {} for none, or None for any other selector (sent to the server)."""
    if not selector:
        return {}
    if isinstance(selector, dict):
        return dict(selector) if all(isinstance(v, str) and not v.startswith("!") for v in selector.values()) \
            else None
    out = {}
    for part in str(selector).split(","):
        key, eq, value = part.partition("=")
        if not eq or key.strip().endswith("!") or " in " in part or "(" in part:
            return None
        out[key.strip()] = value[1:].strip() if value.startswith("=") else value.strip()
    return out

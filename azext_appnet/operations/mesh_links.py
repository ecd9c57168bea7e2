"""Remote secrets: how each member's istiod reads the other members' API servers.

For every pair of members A and B, B holds the Secret `istio-remote-secret-<A>` (label
`istio/multiCluster=true`, one data key: A's cluster id, whose value is a kubeconfig for A's
API server), and A holds B's. Reference: istio-ambient-multicluster.md §8.4.

Each such link has its own reader identity on the cluster that is read: A issues, for B
alone, a ServiceAccount `appnet-reader-<B>-<suffix>` in applink-system bound to the reader
ClusterRole, and B's kubeconfig carries a token of that account from the TokenRequest API,
with a bounded lifetime (APPNET_LINK_TOKEN_TTL, default 7 days). So a token stolen from one
member reads one peer, for a while, and can be revoked alone: deleting the ServiceAccount
invalidates every token bound to it at once. Rotating a link issues a new account and token,
hands it to the holder, then deletes the old accounts (no gap for the holder's istiod).

Linking runs under the network's lock (a `shared` step), after the member's data plane is
applied, and links both ways with every other member whose data plane is there; so two joins
that run at once both end in a full mesh: whichever links second sees the first. What each
link operation issued is recorded on the member that ran it (`properties.readerLinks`:
issuer, reader, account name, issue and expiry times, never the token); `links_view` merges
the records of all members into the newest fact per link.
"""

import base64
import datetime
import json
import os
import secrets

import yaml

from ..constants import MANAGED_BY_KEY, MANAGED_BY_VALUE, MEMBER_NAMESPACE as NAMESPACE
from ..constants import REMOTE_SECRET_CLUSTER_ANNOTATION, REMOTE_SECRET_LABEL, REMOTE_SECRET_PREFIX
from ..errors import AppNetError, ClusterError, InvalidInputError
from ..kube.concurrent import Memo, gather
from ..manifests.istiod import READER_ROLE

LINK_LABEL = "appnet.azure.com/remote-member"       # on a remote secret: the member it reads
READER_LABEL = "appnet.azure.com/reader-member"     # on a reader identity: who reads with it
EXPIRES_ANNOTATION = "appnet.azure.com/token-expires-on"
READER_PREFIX = "appnet-reader-"
TOKEN_TTL_SETTING = "APPNET_LINK_TOKEN_TTL"
DEFAULT_TOKEN_TTL = 7 * 24 * 3600
MIN_TOKEN_TTL = 600          # the TokenRequest API refuses shorter lifetimes
MAX_TOKEN_TTL = 90 * 24 * 3600
#: A link is due for rotation once this share of its token's lifetime has passed.
ROTATE_AT = 0.5
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RBAC = "rbac.authorization.k8s.io/v1"


def token_ttl(environ=None):
    """The lifetime asked for reader tokens, in seconds, from APPNET_LINK_TOKEN_TTL: seconds,
    or a number with unit s, m, h or d ("12h", "7d"). InvalidInputError when malformed or out
    of range."""
    raw = (environ if environ is not None else os.environ).get(TOKEN_TTL_SETTING)
    if raw is None or not raw.strip():
        return DEFAULT_TOKEN_TTL
    text = raw.strip().lower()
    unit = _UNITS.get(text[-1]) if text[-1] in _UNITS else 1
    number = text[:-1] if text[-1] in _UNITS else text
    if not number.isdigit():
        raise InvalidInputError(
            f"{TOKEN_TTL_SETTING}='{raw}' is not a duration.",
            f"Give seconds ('86400') or a number with unit s, m, h or d ('12h', '7d'); unset it for "
            f"the default of {DEFAULT_TOKEN_TTL // 86400} days.")
    seconds = int(number) * unit
    if not MIN_TOKEN_TTL <= seconds <= MAX_TOKEN_TTL:
        raise InvalidInputError(
            f"{TOKEN_TTL_SETTING}='{raw}' ({seconds} seconds) is out of range.",
            f"Use {MIN_TOKEN_TTL} seconds (10 minutes, the TokenRequest minimum) to "
            f"{MAX_TOKEN_TTL // 86400} days.")
    return seconds


def secret_name(member_name):
    return f"{REMOTE_SECRET_PREFIX}{member_name.lower()}"


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _stamp(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    return datetime.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)


def reader_kubeconfig(server, ca_data, member_name, token):
    """A kubeconfig for `member_name`'s API server at `server` that authenticates with `token`.

    Written as JSON, which is YAML too (istiod and kubectl read either): a check parses one
    kubeconfig per link, N(N-1) in a network of N, and JSON parses some twenty times faster."""
    name = member_name.lower()
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "users": [{"name": name, "user": {"token": token}}],
    }, indent=2)


def parse_reader_kubeconfig(text):
    """The document of a remote secret's kubeconfig text: JSON as appnet writes it now, or the
    YAML older versions wrote (and anything else YAML reads). Raises ValueError when it is
    neither."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            pass        # YAML's flow style also starts with "{"
        except RecursionError:
            raise ValueError("not a kubeconfig document: nested too deeply") from None
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    except (yaml.YAMLError, RecursionError) as e:
        raise ValueError("not a kubeconfig document") from e


def remote_secret(of_member, kubeconfig, holder_labels, expires_on=None):
    """The Secret that lets a holder's istiod read `of_member`'s cluster."""
    name = of_member.lower()
    labels = dict(holder_labels, **{REMOTE_SECRET_LABEL: "true", LINK_LABEL: name})
    annotations = {REMOTE_SECRET_CLUSTER_ANNOTATION: name}
    if expires_on:
        annotations[EXPIRES_ANNOTATION] = expires_on
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": secret_name(of_member), "namespace": NAMESPACE, "labels": labels,
                         "annotations": annotations},
            "data": {name: base64.b64encode(kubeconfig.encode()).decode()}}


def _api_server_ca(cluster, member_name):
    # What pods use to trust this API server; the same CA a legacy token Secret carried.
    config_map = cluster.get("v1", "configmaps", "kube-root-ca.crt", NAMESPACE)
    if config_map is None and cluster.get("v1", "namespaces", NAMESPACE) is None:
        # A member's record says its data plane is there (data_plane_recorded); its cluster
        # says otherwise (deleted by hand, or the cluster rebuilt).
        raise ClusterError(
            f"The data plane of member '{member_name}' is not on its cluster (no namespace {NAMESPACE}).",
            f"Run 'az appnet member update' for '{member_name}' to apply it again.",
            code="DataPlaneMissing")
    ca = ((config_map or {}).get("data") or {}).get("ca.crt")
    if not ca:
        raise ClusterError(
            f"ConfigMap {NAMESPACE}/kube-root-ca.crt on member '{member_name}' has no ca.crt, so "
            "a remote secret for its API server cannot be written.",
            "Check that the cluster's kube-controller-manager runs (it publishes the ConfigMap), "
            "then run the command again.", code="ApiServerCaMissing")
    return base64.b64encode(ca.encode()).decode()


def has_data_plane(cluster):
    """Whether the reader role is there (the member's data plane was applied)."""
    return cluster.get(_RBAC, "clusterroles", READER_ROLE) is not None


def issue_reader(cluster, reader_name, labels, ttl):
    """A fresh reader identity on `cluster` for `reader_name`, bound to the reader role, and
    a token of it. Returns (account name, token, expiry as an RFC 3339 string)."""
    from ..kube.client import api_path
    reader = reader_name.lower()
    name = f"{READER_PREFIX}{reader}-{secrets.token_hex(3)}"
    labels = dict(labels, **{READER_LABEL: reader, "app": "istio-reader"})
    meta = {"name": name, "labels": labels}
    # The binding names the account but does not need it to exist: both go at once.
    gather([lambda: cluster.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                                   "metadata": dict(meta, namespace=NAMESPACE)}),
            lambda: cluster.apply({
                "apiVersion": _RBAC, "kind": "ClusterRoleBinding", "metadata": dict(meta),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": READER_ROLE},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}]})])
    # No audiences: the token is for the API server's own audience, all a reader needs.
    answer = cluster.request(
        "POST", api_path("v1", "serviceaccounts", name, NAMESPACE, subresource="token"),
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
              "spec": {"expirationSeconds": int(ttl)}},
        what=f"TokenRequest for ServiceAccount {NAMESPACE}/{name}")
    status = (answer or {}).get("status") or {}
    if not status.get("token") or not status.get("expirationTimestamp"):
        raise ClusterError(f"The API server at {cluster.server} answered a TokenRequest without a token.",
                           "Check that the cluster serves the TokenRequest API (Kubernetes 1.22+).")
    return name, status["token"], status["expirationTimestamp"]


def retire_readers_of(cluster, reader_names, keep=None):
    """Delete the reader identities `reader_names` have on `cluster` (all but `keep`): every
    token of them stops working at once. Two lists (one round trip) and the deletes
    together (one more), however many readers. Returns the names deleted."""
    return delete_readers(cluster, find_readers(cluster, reader_names), keep=keep)


_READER_KINDS = (("v1", "serviceaccounts", NAMESPACE), (_RBAC, "clusterrolebindings", None))


def find_readers(cluster, reader_names):
    """The reader identities of `reader_names` on `cluster`: [(kind, name)], by two lists."""
    names = {n.lower() for n in reader_names}
    if not names:
        return []
    # One reader: select it on the server; several: every reader identity, filtered here.
    selector = f"{READER_LABEL}={next(iter(names))}" if len(names) == 1 else READER_LABEL
    listed = gather([lambda k=k: cluster.list(k[0], k[1], namespace=k[2], label_selector=selector)
                     for k in _READER_KINDS])
    return [(k, o["metadata"]["name"]) for k, objs in zip(_READER_KINDS, listed) for o in objs
            if o["metadata"]["name"].startswith(READER_PREFIX)
            and ((o["metadata"].get("labels") or {}).get(READER_LABEL) or "").lower() in names]


def revoke_readers(cluster, reader_names):
    """Delete every reader identity of `reader_names` on `cluster` in one round trip: a
    collection delete by label per kind, instead of lists and then a delete per identity.
    A server that refuses collection deletes (403, 405) gets retire_readers_of instead."""
    from ..kube.client import ApiError, api_path
    names = sorted({n.lower() for n in reader_names})
    if not names:
        return
    selector = f"{READER_LABEL}={names[0]}" if len(names) == 1 else \
        f"{READER_LABEL} in ({','.join(names)})"
    try:
        gather([lambda k=k: cluster.request(
            "DELETE", api_path(k[0], k[1], namespace=k[2]),
            query={"labelSelector": selector, "propagationPolicy": "Background"}, ok_missing=True,
            what=f"the reader identities ({k[1]}) of {', '.join(names)}") for k in _READER_KINDS])
    except ApiError as ex:
        if ex.status not in (403, 405):
            raise
        retire_readers_of(cluster, names)


def delete_readers(cluster, found, keep=None):
    """Delete what find_readers found, all at once (but `keep`). Returns the names deleted."""
    doomed = [(k, n) for k, n in found if n != keep]
    gather([lambda k=k, n=n: cluster.delete(k[0], k[1], n, k[2]) for k, n in doomed])
    return [n for _, n in doomed]


# What earlier versions rendered for every peer to share: one reader account with a token
# Secret that never expires. No longer rendered (a member update prunes it); deleted as soon as
# the links of a member no longer use it, which revokes that token.
LEGACY_OBJECTS = (("v1", "secrets", "istio-reader-service-account-istio-remote-secret-token", NAMESPACE),
                  ("v1", "serviceaccounts", "istio-reader-service-account", NAMESPACE),
                  (_RBAC, "clusterrolebindings", READER_ROLE, None))


def retire_legacy_reader(cluster):
    delete_legacy_reader(cluster, find_legacy_reader(cluster))


def find_legacy_reader(cluster):
    """Which of LEGACY_OBJECTS are on `cluster` and ours (one round trip)."""
    found = gather([lambda o=o: cluster.get(o[0], o[1], o[2], o[3]) for o in LEGACY_OBJECTS])
    return [o for o, live in zip(LEGACY_OBJECTS, found)
            if live and ((live.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_KEY) == MANAGED_BY_VALUE]


def delete_legacy_reader(cluster, ours):
    gather([lambda o=o: cluster.delete(o[0], o[1], o[2], o[3]) for o in ours])


class _Issuer:
    """A cluster that issues reader identities in one link operation. Its API server's CA
    and the identities already on it are read once (together with the first identity issued)
    for all the links it issues, not once per link."""

    def __init__(self, cluster, member_name):
        self.cluster, self._member_name = cluster, member_name
        self._once = Memo()             # threads of one link operation share each read

    def ca(self):
        return self._once.get("ca", lambda: _api_server_ca(self.cluster, self._member_name))

    def identities(self):
        return self._once.get("identities", lambda: find_identities(self.cluster))

    def older(self, reader_name, keep):
        """The identities issued to `reader_name` before this operation's `keep`."""
        readers, _ = self.identities()
        return [n for n in readers.get(reader_name.lower(), []) if n != keep]

    def retire_legacy(self):
        if self.identities()[1]:
            retire_legacy_reader(self.cluster)


def find_identities(cluster):
    """The reader identities on `cluster`, {reader (lower case): [account names]}, and
    whether the legacy shared reader account is there and ours: one list of our
    ServiceAccounts. An identity's binding has its account's name (issue_reader), so the
    account names both."""
    listed = cluster.list("v1", "serviceaccounts", namespace=NAMESPACE,
                          label_selector=f"{MANAGED_BY_KEY}={MANAGED_BY_VALUE}")
    readers, legacy = {}, False
    for account in listed:
        meta = account.get("metadata") or {}
        name, reader = meta.get("name") or "", (meta.get("labels") or {}).get(READER_LABEL)
        if name == LEGACY_OBJECTS[1][2]:
            legacy = True
        elif name.startswith(READER_PREFIX) and reader:
            readers.setdefault(reader.lower(), []).append(name)
    return readers, legacy


def delete_identities(cluster, names):
    """Delete the reader identities (account and binding) `names`, all at once. The account
    goes with its tokens; a binding left by a failed delete names no account, and the
    member's removal deletes it by label."""
    gather([lambda n=n, k=k: cluster.delete(k[0], k[1], n, k[2]) for n in names for k in _READER_KINDS])


def data_plane_recorded(doc):
    """Whether a member's record says its data plane is applied: it joined once, or its join
    has awaited the data plane's readiness. A join not there yet links with the others when
    its own join reaches the link step (under the network's lock, after this one)."""
    props = doc.get("properties") or {}
    return bool(props.get("installedVersion")) or \
        "ready" in ((props.get("operation") or {}).get("completedSteps") or [])


def _one_way(issuer, side, holder, holder_cluster, owner_labels, ttl, records):
    """Let `holder` read `issuer`: new identity and token on the issuer (`side`), remote
    secret on the holder, then the issuer's older identities for the holder deleted."""
    # The issuer's CA and the identities it issued before are read while the new one is
    # made (the network's lock is held: no other operation issues one meanwhile); the older
    # ones are deleted once the holder has the new token. The CA first: a cluster whose
    # namespace is gone is told by its clearest error.
    ca, (account, token, expires), _ = gather([
        side.ca, lambda: issue_reader(side.cluster, holder["name"], owner_labels(issuer), ttl),
        side.identities])
    from .api_address import published
    # The address the holder's istiod reaches the issuer at (its --api-server-url), by
    # default the one we reached it at.
    kubeconfig = reader_kubeconfig(published(issuer, side.cluster.server), ca, issuer["name"], token)
    holder_cluster.apply(remote_secret(issuer["name"], kubeconfig, owner_labels(holder), expires))
    # Recorded once the holder has it (the record says when the token it holds expires),
    # even if the other direction fails.
    record = {"issuer": issuer["name"], "reader": holder["name"], "serviceAccount": account,
              "issuedAt": _stamp(_now()), "expiresOn": expires}
    records.append(record)
    delete_identities(side.cluster, side.older(holder["name"], keep=account))
    return record


def link(member, peers, connect, owner_labels, ttl=None, progress=None, warn=None, strict=False,
         records=None, ready=False):
    """Link `member` with each of `peers` (member documents) both ways, each with a fresh
    reader identity and token. Returns the link records issued, also appended to `records`
    as they are issued (so a caller keeps them when a strict run raises).

    `connect(doc)` returns a Cluster; `owner_labels(doc)` the labels of that member's objects,
    so removing a member prunes what it holds and what it issued. `ready`: this operation
    awaited the member's data plane, so its reader role is not looked up again. Peers whose
    record shows no data plane yet are skipped (data_plane_recorded). A peer that cannot be
    reached is reported through `warn` and skipped, or with `strict`, named in one
    ClusterError after the others are done.

    Requests: on each peer, its CA, a list of its identities, an identity (account, binding,
    token) and the member's remote secret; on the member, an identity and a remote secret per
    peer, and its CA and identities once; plus the deletes of older identities."""
    ttl = token_ttl() if ttl is None else ttl
    here = connect(member)
    if not ready and not has_data_plane(here):
        raise ClusterError(
            f"The data plane of member '{member['name']}' is not applied (no ClusterRole {READER_ROLE}).",
            "Run 'az appnet member join' (or 'member update') for it again; it resumes.",
            code="DataPlaneMissing")
    records = [] if records is None else records
    mine = _Issuer(here, member["name"])
    linked, failures = [], []

    def with_peer(peer):
        # Both directions at once: each writes on one cluster what the other issued.
        if not data_plane_recorded(peer):
            return None
        try:
            there = _Issuer(connect(peer), peer["name"])
            # The peer's side first: its failure (its data plane gone, say) is the one told.
            gather([lambda: _one_way(peer, there, member, here, owner_labels, ttl, records),
                    lambda: _one_way(member, mine, peer, there.cluster, owner_labels, ttl, records)])
            there.retire_legacy()
        except AppNetError as ex:
            return ex
        return True

    # Every peer at once, and the legacy reader here retired meanwhile: a join into a large
    # network costs the rounds of one link.
    _, *outcomes = gather([mine.retire_legacy] + [lambda p=p: with_peer(p) for p in peers])
    for peer, outcome in zip(peers, outcomes):
        if isinstance(outcome, AppNetError):
            failures.append(f"{peer['name']} ({outcome.message.rstrip('.')})")
            if warn and not strict:
                warn(f"Could not link with member '{peer['name']}': {_told(outcome)}")
        elif outcome is not None:
            linked.append(peer["name"])
    if progress and linked:
        progress(f"Linked with {', '.join(linked)} (reader tokens valid for {ttl // 3600} h)")
    if strict and failures:
        raise ClusterError(
            f"Could not renew the links of member '{member['name']}' with {len(failures)} of "
            f"{len(peers)} members: {'; '.join(failures)}.",
            "Make those clusters reachable, then run the same command again; the links already "
            "renewed are recorded.", code="MembersUnreachable")
    return records


def _told(error):
    """A warning names the cause and, where the error has one, its fix (a warning has no
    recommendation line of its own)."""
    return error.message + (f" {error.recommendation}" if error.recommendation else "")


def unlink(member, peers, connect, warn=None):
    """Revoke what `member` holds and what it issued: on every peer, its remote secret and
    the reader identities it used there (its copies of those tokens stop working at once);
    on its own cluster, the identities the peers read it with, and their remote secrets.
    Best effort: a cluster that cannot be reached is reported through `warn`."""
    def revoke_there(peer):
        try:
            there = connect(peer)
            gather([lambda: there.delete("v1", "secrets", secret_name(member["name"]), NAMESPACE),
                    lambda: revoke_readers(there, [member["name"]])])
        except AppNetError as ex:
            return ex
        return None

    def revoke_here():
        try:
            here = connect(member)
            gather([lambda: revoke_readers(here, [p["name"] for p in peers])]
                   + [lambda p=peer: here.delete("v1", "secrets", secret_name(p["name"]), NAMESPACE)
                      for peer in peers])
        except AppNetError as ex:
            return ex
        return None

    # Every peer, and on the member's own cluster every peer's access, at once.
    here_ex, *there_ex = gather([revoke_here] + [lambda p=p: revoke_there(p) for p in peers],
                                parallelism=32)
    for peer, ex in zip(peers, there_ex):
        if ex is not None and warn:
            warn(f"Could not revoke the access of '{member['name']}' to member '{peer['name']}': "
                 f"{_told(ex)}")
    if here_ex is not None and warn:
        warn(f"Could not revoke the other members' access to '{member['name']}' on its cluster "
             f"({here_ex.message}); deleting its data plane removes it, and its tokens expire.")


# ---- what the state says about links ------------------------------------------------------

def links_view(members):
    """The newest link record per (issuer, reader) between the given members, from every
    member's `readerLinks`: a link is recorded by the member whose operation issued it."""
    names = {m["name"].lower() for m in members}
    newest = {}
    for m in members:
        for rec in m.get("properties", {}).get("readerLinks") or []:
            if not isinstance(rec, dict):
                continue
            key = (str(rec.get("issuer", "")).lower(), str(rec.get("reader", "")).lower())
            if key[0] not in names or key[1] not in names:
                continue
            if key not in newest or str(rec.get("issuedAt")) > str(newest[key].get("issuedAt")):
                newest[key] = rec
    return newest


def merge_records(existing, issued, members):
    """`existing` readerLinks of one member with `issued` ones replacing the same links, and
    links to members no longer in the network dropped."""
    names = {m["name"].lower() for m in members}
    fresh = {(r["issuer"].lower(), r["reader"].lower()) for r in issued}
    kept = [r for r in existing or [] if isinstance(r, dict)
            and (str(r.get("issuer", "")).lower(), str(r.get("reader", "")).lower()) not in fresh
            and str(r.get("issuer", "")).lower() in names and str(r.get("reader", "")).lower() in names]
    return kept + list(issued)


def due_links(members, now=None, rotate_at=ROTATE_AT):
    """Links between the given (linked) members whose token is past `rotate_at` of its
    lifetime, or that have no record (linked before tokens were recorded). Returns
    [(issuer, reader)] in lower case."""
    now = now or _now()
    view = links_view(members)
    names = sorted(m["name"].lower() for m in members)
    due = []
    for issuer in names:
        for reader in names:
            if issuer == reader:
                continue
            rec = view.get((issuer, reader))
            try:
                issued, expires = parse_time(rec["issuedAt"]), parse_time(rec["expiresOn"])
            except (TypeError, KeyError, ValueError):
                due.append((issuer, reader))
                continue
            if now >= issued + (expires - issued) * rotate_at:
                due.append((issuer, reader))
    return due


def members_to_rotate(due):
    """Fewest members whose rotate-credentials renews every due link (greedy cover: a
    member's rotation renews every link it is part of)."""
    left, chosen = set(due), []
    while left:
        counts = {}
        for issuer, reader in left:
            counts[issuer] = counts.get(issuer, 0) + 1
            counts[reader] = counts.get(reader, 0) + 1
        best = max(sorted(counts), key=lambda n: counts[n])
        chosen.append(best)
        left = {pair for pair in left if best not in pair}
    return chosen

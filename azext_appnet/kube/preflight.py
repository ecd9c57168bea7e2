"""The checks a cluster must pass before it joins a network.

Every problem found is reported at once, the causes numbered in the message and their fixes
under the same numbers in the recommendation, so a user fixes them all in one round
instead of discovering them one join at a time. An unreachable API server
stops the checks at once: nothing else can be known.
"""

from ..constants import MANAGED_BY_KEY, MANAGED_BY_VALUE, MEMBER_NAMESPACE, NETWORK_ID_ANNOTATION
from ..errors import ClusterError
from .nodes import node_os

#: namespace -> (cause, fix) when it exists.
_FOREIGN_MESH_NAMESPACES = {
    "aks-istio-system": ("the AKS Istio service mesh add-on is enabled",
                         "Disable it first: az aks mesh disable --resource-group RG --name CLUSTER"),
    "istio-system": ("another Istio installation owns namespace istio-system",
                     "Uninstall it first (istioctl uninstall --purge, then kubectl delete namespace "
                     "istio-system), or join a cluster without Istio"),
}


def _version_tuple(text):
    major, minor = str(text).lstrip("v").split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()))


def _ours(obj):
    return ((obj.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_KEY) == MANAGED_BY_VALUE


def preflight(cluster, network_id, min_version=None, max_version=None):
    """Check that `cluster` can join network `network_id`. Returns facts about it:
    {"kubernetesVersion", "nodes": {"linux", "windows"}, "gatewayApi", "server",
    "memberNamespace" (the live applink-system Namespace or None), "deleting" (that
    Namespace and every CRD, as read, that are being deleted: what an earlier removal left)}.
    Raises ClusterError naming every problem found (message) and how to fix each
    (recommendation). The Kubernetes range
    is the version catalog's (`kubernetes_range`) unless given."""
    if min_version is None or max_version is None:
        from ..versions import load_catalog
        oldest, newest = load_catalog().kubernetes_range()
        min_version, max_version = min_version or oldest, max_version or newest
    from .concurrent import gather
    # Every read at once (one round trip to a far-away server); an unreachable server
    # fails them all, and the version's error is the one raised.
    reads = [cluster.server_version, lambda: cluster.list("v1", "nodes"),
             lambda: cluster.get("v1", "namespaces", MEMBER_NAMESPACE),
             lambda: cluster.get("apiextensions.k8s.io/v1", "customresourcedefinitions",
                                 "gateways.gateway.networking.k8s.io")] + _istio_reads(cluster)
    version, nodes, marker, gateway_crd, *istio = gather(reads)
    problems = []           # (cause, fix)

    if _version_tuple(version) < _version_tuple(min_version):
        problems.append((
            f"Kubernetes {version} is older than {min_version}, the oldest version any AppNet "
            "version supports",
            "Upgrade the cluster (for AKS: az aks upgrade --kubernetes-version) and retry"))
    elif _version_tuple(version) > _version_tuple(max_version):
        problems.append((
            f"Kubernetes {version} is newer than {max_version}, the newest version any AppNet "
            "version supports",
            "Join a cluster on a supported version ('az appnet list-versions -l REGION -o table' "
            "lists them)"))

    counts = {"linux": 0, "windows": 0}
    for node in nodes:
        os_name = node_os(node)
        counts[os_name] = counts.get(os_name, 0) + 1
    if counts["linux"] == 0:
        if counts["windows"]:
            problems.append((
                f"the cluster has only Windows nodes ({counts['windows']}); the mesh data plane "
                "runs on Linux",
                "Add a Linux node pool (for AKS: az aks nodepool add --os-type Linux) and retry"))
        else:
            problems.append((
                "the cluster has no Linux node; the mesh data plane runs on Linux nodes",
                "Add a Linux node pool and retry"))

    if marker is not None:
        other = ((marker.get("metadata") or {}).get("annotations") or {}).get(NETWORK_ID_ANNOTATION)
        if other and other.lower() != str(network_id).lower():
            problems.append((
                f"the cluster is already a member of another Application Network ({other})",
                "Remove it from that network first (az appnet member remove), then join it again"))

    problems += _foreign_istio(cluster, *istio)

    if problems:
        causes, fixes = zip(*problems)
        raise ClusterError(
            f"The cluster at {cluster.server} (context '{cluster.context}') cannot join: "
            f"{_numbered(causes)}.", f"{_numbered(fixes)}.")

    return {
        "kubernetesVersion": version,
        "nodes": counts,
        "gatewayApi": gateway_crd is not None,
        "server": cluster.server,
        "memberNamespace": marker,
        "deleting": [o for o in [marker] + list(istio[_EVERY_CRD])
                     if o is not None and (o.get("metadata") or {}).get("deletionTimestamp")],
    }


def _numbered(texts):
    """'a' for one text, '(1) a; (2) b' for more."""
    if len(texts) == 1:
        return texts[0]
    return "; ".join(f"({i}) {text}" for i, text in enumerate(texts, 1))


def owner_of(obj):
    """Who installed `obj`, as (description, uninstall command or None), from the marks the
    usual installers leave: Helm's release annotations, istioctl's/the operator's labels,
    or a plain app.kubernetes.io/managed-by."""
    md = obj.get("metadata") or {}
    labels, annotations = md.get("labels") or {}, md.get("annotations") or {}
    release = annotations.get("meta.helm.sh/release-name")
    if release or labels.get(MANAGED_BY_KEY) == "Helm":
        ns = annotations.get("meta.helm.sh/release-namespace") or "NAMESPACE"
        release = release or "RELEASE"
        return (f"Helm release '{release}' in namespace {ns}", f"helm uninstall {release} -n {ns}")
    if labels.get("install.operator.istio.io/owning-resource") or labels.get("operator.istio.io/component"):
        owning = labels.get("install.operator.istio.io/owning-resource") or "unknown"
        return (f"istioctl / IstioOperator '{owning}'", "istioctl uninstall --purge")
    if labels.get(MANAGED_BY_KEY):
        return (f"'{labels[MANAGED_BY_KEY]}' (label {MANAGED_BY_KEY})", None)
    return ("an unknown owner (no installer's label or annotation)", None)


def _by_owner(objects):
    groups = {}
    for o in objects:
        groups.setdefault(owner_of(o), []).append(o["metadata"]["name"])
    return sorted(groups.items())


def _istio_webhook(config):
    name = config["metadata"]["name"]
    if name.startswith(("istio", "istiod")):
        return True
    for hook in config.get("webhooks") or []:
        service = ((hook.get("clientConfig") or {}).get("service") or {}).get("name") or ""
        groups = {g for rule in hook.get("rules") or [] for g in rule.get("apiGroups") or []}
        if service.startswith("istiod") or any(g.endswith(".istio.io") for g in groups):
            return True
    return False


#: Where _istio_reads' list of every CRD is.
_EVERY_CRD = len(_FOREIGN_MESH_NAMESPACES) + 1


def _istio_reads(cluster):
    """The reads _foreign_istio judges, in its argument order."""
    return [(lambda ns=ns: cluster.get("v1", "namespaces", ns)) for ns in _FOREIGN_MESH_NAMESPACES] + [
        lambda: cluster.list("apps/v1", "deployments", label_selector="app=istiod"),
        lambda: cluster.list("apiextensions.k8s.io/v1", "customresourcedefinitions"),
        lambda: cluster.list("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations"),
        lambda: cluster.list("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations")]


def _foreign_istio(cluster, *reads):
    """Signs of an Istio that is not ours: its namespaces, istiod, its CRDs, its webhooks
    (`reads`: the answers to _istio_reads; `cluster` names the kubectl in the fixes). Ours
    carry app.kubernetes.io/managed-by=az-appnet.
    Nothing of another owner is taken over: each problem, a (cause, fix) pair, names the
    objects and their owner, and the commands that remove them (or, for CRDs an uninstall
    left behind, let az appnet adopt them)."""
    n = len(_FOREIGN_MESH_NAMESPACES)
    namespaces, (deployments, all_crds, mutating, validating) = reads[:n], reads[n:]
    problems = [problem for problem, ns in zip(_FOREIGN_MESH_NAMESPACES.values(), namespaces)
                if ns is not None]
    if problems:
        return problems        # the namespace already explains the rest

    istiods = [d for d in deployments if not _ours(d)]
    if istiods:
        names = ", ".join(f"{d['metadata'].get('namespace')}/{d['metadata']['name']}"
                          for d in istiods[:3])
        owner, command = owner_of(istiods[0])
        problems.append((f"an Istio control plane not installed by az appnet runs in the cluster "
                         f"(Deployment {names}, installed by {owner})",
                         f"Uninstall that Istio ({command or 'istioctl uninstall --purge'}) and retry"))

    crds = [c for c in all_crds
            if str((c.get("spec") or {}).get("group", "")).endswith(".istio.io") and not _ours(c)]
    for (owner, command), names in _by_owner(crds):
        listed = " ".join(sorted(names))
        uninstall = f"Uninstall that Istio first ({command}). " if command else ""
        problems.append((
            f"Istio CustomResourceDefinitions of another owner exist: {', '.join(sorted(names))}, "
            f"installed by {owner}; az appnet does not take them over",
            f"{uninstall}Remove them ({cluster.kubectl} delete crd {listed}; this deletes their "
            "resources), or, if no other Istio uses them any more, let az appnet adopt them "
            f"({cluster.kubectl} label --overwrite crd {listed} {MANAGED_BY_KEY}={MANAGED_BY_VALUE}), "
            "then retry"))

    for api_kind, configs in (("mutatingwebhookconfiguration", mutating),
                              ("validatingwebhookconfiguration", validating)):
        hooks = [h for h in configs if _istio_webhook(h) and not _ours(h)]
        for (owner, command), names in _by_owner(hooks):
            remove = f"Uninstall that Istio ({command}) or delete them" if command else "Delete them"
            problems.append((
                f"Istio admission webhooks of another owner are registered ({api_kind} "
                f"{', '.join(sorted(names))}), installed by {owner}",
                f"{remove} ({cluster.kubectl} delete {api_kind} {' '.join(sorted(names))}) and retry"))
    return problems

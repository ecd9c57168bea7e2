"""The checks a cluster must pass before it joins a network.

Every problem found is reported at once (cause and fix each), so a user fixes them all
in one round instead of discovering them one join at a time. An unreachable API server
stops the checks at once: nothing else can be known.
"""

from ..errors import ClusterError

MEMBER_NAMESPACE = "applink-system"
NETWORK_ANNOTATION = "appnet.azure.com/network-id"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "az-appnet"

_FOREIGN_MESH_NAMESPACES = {
    "aks-istio-system": "the AKS Istio service mesh add-on is enabled. Disable it first: "
                        "az aks mesh disable --resource-group RG --name CLUSTER",
    "istio-system": "another Istio installation owns namespace istio-system. Uninstall it "
                    "first (istioctl uninstall --purge, then kubectl delete namespace "
                    "istio-system), or join a cluster without Istio",
}


def _version_tuple(text):
    major, minor = str(text).lstrip("v").split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()))


def _ours(obj):
    return ((obj.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY) == MANAGER


def _node_os(node):
    labels = (node.get("metadata") or {}).get("labels") or {}
    os_name = labels.get("kubernetes.io/os") or labels.get("beta.kubernetes.io/os")
    if not os_name:
        os_name = ((node.get("status") or {}).get("nodeInfo") or {}).get("operatingSystem")
    return (os_name or "linux").lower()


def preflight(cluster, network_id, min_version="1.30"):
    """Check that `cluster` can join network `network_id`. Returns facts about it:
    {"kubernetesVersion", "nodes": {"linux", "windows"}, "gatewayApi", "server"}.
    Raises ClusterError naming every problem found and how to fix it."""
    version = cluster.server_version()          # ClusterError when unreachable
    problems = []

    if _version_tuple(version) < _version_tuple(min_version):
        problems.append(
            "Kubernetes %s is older than %s, the oldest version supported. Upgrade the "
            "cluster (for AKS: az aks upgrade --kubernetes-version) and retry"
            % (version, min_version))

    counts = {"linux": 0, "windows": 0}
    for node in cluster.list("v1", "nodes"):
        os_name = _node_os(node)
        counts[os_name] = counts.get(os_name, 0) + 1
    if counts["linux"] == 0:
        if counts["windows"]:
            problems.append(
                "the cluster has only Windows nodes (%d); the mesh data plane runs on "
                "Linux. Add a Linux node pool (for AKS: az aks nodepool add --os-type "
                "Linux) and retry" % counts["windows"])
        else:
            problems.append(
                "the cluster has no Linux node; the mesh data plane runs on Linux nodes. "
                "Add a Linux node pool and retry")

    marker = cluster.get("v1", "namespaces", MEMBER_NAMESPACE)
    if marker is not None:
        other = ((marker.get("metadata") or {}).get("annotations") or {}).get(NETWORK_ANNOTATION)
        if other and other.lower() != str(network_id).lower():
            problems.append(
                "the cluster is already a member of another Application Network (%s). "
                "Remove it from that network first (az appnet member remove), then join "
                "it again" % other)

    problems += _foreign_istio(cluster)

    if problems:
        raise ClusterError(
            "cluster at %s (context '%s') cannot join: %s." % (
                cluster.server, cluster.context,
                problems[0] if len(problems) == 1
                else " ".join("(%d) %s;" % (i + 1, p) for i, p in enumerate(problems))
                .rstrip(";")))

    gateway_crd = cluster.get("apiextensions.k8s.io/v1", "customresourcedefinitions",
                              "gateways.gateway.networking.k8s.io")
    return {
        "kubernetesVersion": version,
        "nodes": counts,
        "gatewayApi": gateway_crd is not None,
        "server": cluster.server,
    }


def _foreign_istio(cluster):
    """Signs of an Istio that is not ours: its namespaces, istiod, its CRDs, its
    injection webhooks. Ours carry app.kubernetes.io/managed-by=az-appnet."""
    problems = []
    for ns, text in _FOREIGN_MESH_NAMESPACES.items():
        if cluster.get("v1", "namespaces", ns) is not None:
            problems.append(text)
    if problems:
        return problems        # the namespace already explains the rest

    istiods = [d for d in cluster.list("apps/v1", "deployments", label_selector="app=istiod")
               if not _ours(d)]
    if istiods:
        names = ", ".join("%s/%s" % (d["metadata"].get("namespace"), d["metadata"]["name"])
                          for d in istiods[:3])
        problems.append("an Istio control plane not installed by az appnet runs in the "
                        "cluster (Deployment %s). Uninstall that Istio (istioctl uninstall "
                        "--purge) and retry" % names)

    crd = cluster.get("apiextensions.k8s.io/v1", "customresourcedefinitions",
                      "peerauthentications.security.istio.io")
    if crd is not None and not _ours(crd):
        problems.append("Istio's CustomResourceDefinitions are installed by someone else "
                        "(e.g. peerauthentications.security.istio.io). Uninstall that Istio "
                        "(istioctl uninstall --purge and delete its CRDs) and retry")

    hooks = [h for h in cluster.list("admissionregistration.k8s.io/v1",
                                     "mutatingwebhookconfigurations")
             if h["metadata"]["name"].startswith(("istio-sidecar-injector",
                                                  "istio-revision-tag"))
             and not _ours(h)]
    if hooks:
        problems.append("Istio sidecar injection webhooks not installed by az appnet are "
                        "present (%s). Uninstall that Istio and retry"
                        % ", ".join(h["metadata"]["name"] for h in hooks[:3]))
    return problems

"""Names, ownership labels and object skeletons shared by every component.

Everything that decides *who owns an object* or *what it is called* lives here, so the
applier, the remover and the renderers agree on one definition.
"""

# Defined in constants.py (the kube layer and the checks use them too); named here for
# the renderers.
from ..constants import (  # noqa: F401  # pylint: disable=unused-import
    ISTIOD_HOST, MANAGED_BY_KEY, MANAGED_BY_VALUE, MEMBER_LABEL, MEMBER_NAMESPACE as NAMESPACE,
    NETWORK_ID_ANNOTATION, NETWORK_LABEL, TRUST_DOMAIN, VERSION_ANNOTATION)

MANAGED_BY_SELECTOR = f"{MANAGED_BY_KEY}={MANAGED_BY_VALUE}"

TOPOLOGY_NETWORK = "topology.istio.io/network"  # reference §2

ISTIOD = "istiod"
ISTIOD_ADDRESS = f"{ISTIOD_HOST}:15012"  # CA_ADDRESS / XDS_ADDRESS (§6), discoveryAddress (§4.3)
EAST_WEST_GATEWAY_NAME = "istio-eastwestgateway"  # §8.3, the conventional name
LINUX_NODES = {"kubernetes.io/os": "linux"}

# Every kind render() can emit: kind -> (apiVersion, plural, namespaced). The order is the
# order in which a remover deletes: workloads before what they use, the namespace next to
# last (it takes what is left in it) and CRDs last (deleting a CRD deletes every custom
# resource of it, including users' ones: the remover decides whether it may).
KINDS = [
    ("Gateway", "gateway.networking.k8s.io/v1", "gateways", True),
    ("DaemonSet", "apps/v1", "daemonsets", True),
    ("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers", True),
    ("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets", True),
    ("Deployment", "apps/v1", "deployments", True),
    ("Service", "v1", "services", True),
    ("MutatingWebhookConfiguration", "admissionregistration.k8s.io/v1",
     "mutatingwebhookconfigurations", False),
    ("ValidatingWebhookConfiguration", "admissionregistration.k8s.io/v1",
     "validatingwebhookconfigurations", False),
    ("ConfigMap", "v1", "configmaps", True),
    ("Secret", "v1", "secrets", True),
    ("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings", True),
    ("Role", "rbac.authorization.k8s.io/v1", "roles", True),
    ("ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    ("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", False),
    ("ServiceAccount", "v1", "serviceaccounts", True),
    ("Namespace", "v1", "namespaces", False),
    ("CustomResourceDefinition", "apiextensions.k8s.io/v1", "customresourcedefinitions", False),
]
_BY_KIND = {kind: (api_version, namespaced) for kind, api_version, _, namespaced in KINDS}


def kinds_for_prune():
    """(apiVersion, plural, namespaced) of every kind render() emits, in deletion order,
    CRDs last."""
    return [(api_version, plural, namespaced) for _, api_version, plural, namespaced in KINDS]


def owner_labels(spec):
    """The labels that mark an object as ours, for this network and member."""
    return {
        MANAGED_BY_KEY: MANAGED_BY_VALUE,
        NETWORK_LABEL: spec.network_name,
        MEMBER_LABEL: spec.member_name,
    }


def owner_selector(network_name, member_name):
    """The label selector of every object one member owns (for prune and remove)."""
    return (f"{MANAGED_BY_SELECTOR},{NETWORK_LABEL}={network_name},"
            f"{MEMBER_LABEL}={member_name}")


def owner_annotations(spec):
    # The ARM id is too long for a label value (63 characters), so it is an annotation.
    return {NETWORK_ID_ANNOTATION: spec.network_id, VERSION_ANNOTATION: spec.version}


def obj(kind, name, namespaced=True, labels=None, annotations=None, **body):
    """A Kubernetes object of a kind from KINDS, in applink-system when namespaced."""
    api_version, kind_namespaced = _BY_KIND[kind]
    if namespaced != kind_namespaced:
        raise ValueError(f"{kind} namespaced={kind_namespaced}, not {namespaced}")
    metadata = {"name": name}
    if kind_namespaced:
        metadata["namespace"] = NAMESPACE
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    out = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    out.update(body)
    return out


def cluster_obj(kind, name, **kw):
    return obj(kind, name, namespaced=False, **kw)


def stamp(o, spec):
    """Add the ownership labels and annotations to `o` (in place; returns it)."""
    md = o["metadata"]
    md["labels"] = {**md.get("labels", {}), **owner_labels(spec)}
    md["annotations"] = {**md.get("annotations", {}), **owner_annotations(spec)}
    return o


def env(name, value=None, field=None, resource=None):
    """One container env entry: a literal, a downward-API field or a resource limit."""
    if field is not None:
        return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": field}}}
    if resource is not None:
        return {"name": name, "valueFrom": {"resourceFieldRef": {"resource": resource, "divisor": "1"}}}
    return {"name": name, "value": str(value)}


# Tolerate every taint, as the CNI and ztunnel charts do (§5, §6): a node without them
# has no mesh data path.
TOLERATE_ALL = [
    {"effect": "NoSchedule", "operator": "Exists"},
    {"key": "CriticalAddonsOnly", "operator": "Exists"},
    {"effect": "NoExecute", "operator": "Exists"},
]

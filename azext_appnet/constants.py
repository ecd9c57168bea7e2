"""The values the whole extension agrees on, each defined once: what appnet is called on a
cluster, the kinds and enums of its resources, the shapes of the names it accepts.

Plain literals only, no imports: the az layer (`_params.py`, `_validators.py`) reads this
module while az builds its command table, and any module of the package may import it
(it sits at the bottom of the layering, beside errors.py).
"""

# -- on a member cluster -----------------------------------------------------------------

#: Where the data plane lives: used wherever Istio's charts say `istio-system` (mesh
#: rootNamespace, CA/XDS addresses, RBAC subjects, webhooks).
MEMBER_NAMESPACE = "applink-system"
#: istiod's Service host name, also the DNS SAN of a member's intermediate CA (by
#: convention, as Istio's tools/certs do; istiod does not check it).
ISTIOD_HOST = f"istiod.{MEMBER_NAMESPACE}.svc"
#: The same trust domain in every cluster of a network.
TRUST_DOMAIN = "cluster.local"

#: Every object appnet installs carries MANAGED_BY_KEY=MANAGED_BY_VALUE and the labels of
#: its network and member; the ARM id is too long for a label value (63 characters), so
#: it is an annotation.
MANAGED_BY_KEY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "az-appnet"
NETWORK_LABEL = "appnet.azure.com/network"
MEMBER_LABEL = "appnet.azure.com/member"
NETWORK_ID_ANNOTATION = "appnet.azure.com/network-id"
VERSION_ANNOTATION = "appnet.azure.com/version"

#: The server-side apply field manager of the data plane, and of the objects declared
#: network-wide (namespaces, global services, waypoints): two managers, so neither
#: takes the other's fields away.
FIELD_MANAGER = "az-appnet"
DECLARATIONS_FIELD_MANAGER = "az-appnet-declarations"
#: The User-Agent of every request to an API server or to Azure Resource Manager.
USER_AGENT = "az-appnet"

#: Namespaces a network-wide declaration may not name: Kubernetes' own and the meshes'.
RESERVED_NAMESPACES = frozenset(("kube-system", "kube-public", "kube-node-lease",
                                 MEMBER_NAMESPACE, "istio-system"))

#: Istio's marks of a remote secret (what istioctl create-remote-secret writes): the
#: label istiod watches, the annotation naming the cluster it reaches, the name's prefix.
REMOTE_SECRET_LABEL = "istio/multiCluster"
REMOTE_SECRET_CLUSTER_ANNOTATION = "networking.istio.io/cluster"
REMOTE_SECRET_PREFIX = "istio-remote-secret-"

# -- resources ---------------------------------------------------------------------------

#: The kinds of the state store, named as ARM's resource types.
NETWORK_KIND, MEMBER_KIND = "appLink", "appLinkMember"

SUCCEEDED, FAILED, CANCELED = "Succeeded", "Failed", "Canceled"
ACCEPTED, PROVISIONING, UPDATING, DELETING = "Accepted", "Provisioning", "Updating", "Deleting"

SELF_MANAGED, FULLY_MANAGED = "SelfManaged", "FullyManaged"
UPGRADE_MODES = (FULLY_MANAGED, SELF_MANAGED)
DEFAULT_UPGRADE_MODE = SELF_MANAGED
RELEASE_CHANNELS = ("Rapid", "Stable")
DEFAULT_RELEASE_CHANNEL = "Stable"
INTERNAL, EXTERNAL = "Internal", "External"
GATEWAY_VISIBILITIES = (EXTERNAL, INTERNAL)
DEFAULT_GATEWAY_VISIBILITY = INTERNAL
IDENTITY_TYPES = ("None", "SystemAssigned", "SystemAssigned,UserAssigned", "UserAssigned")
DEFAULT_IDENTITY_TYPE = "SystemAssigned"
AKS, KUBERNETES = "AKS", "Kubernetes"
CLUSTER_TYPES = (AKS, KUBERNETES)

#: Key types of the root and intermediate CAs. istiod and ztunnel accept both ECDSA and
#: RSA signing CAs; Ed25519 is left out because it is unconfirmed for a CA.
CA_KEY_TYPES = ("ec-p256", "rsa-2048", "rsa-3072", "rsa-4096")
DEFAULT_CA_KEY_TYPE = "ec-p256"

# -- names -------------------------------------------------------------------------------

#: Application Network and member names (as the ARM API allows them).
NAME_PATTERN = r"^[a-zA-Z0-9-]{3,24}$"
#: A Key Vault name: 3-24 letters, digits and hyphens, starting with a letter, not ending
#: in a hyphen (and, checked apart, no two hyphens in a row).
VAULT_NAME_PATTERN = r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$"
#: A Kubernetes DNS-1123 label (namespace names, cluster ids).
DNS1123_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
#: The ARM id of an AKS cluster; groups: subscription, resource group, name.
AKS_CLUSTER_ID_PATTERN = (r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/"
                          r"Microsoft\.ContainerService/managedClusters/([^/]+)$")

# -- services ----------------------------------------------------------------------------

#: Azure Resource Manager of the public cloud. The az layer may pass its cloud's endpoint;
#: APPNET_ARM_ENDPOINT overrides both (tests against an emulator).
PUBLIC_ARM_ENDPOINT = "https://management.azure.com"

#: HTTP statuses of an API server worth retrying: it, or something in front of it, is
#: overloaded or restarting. 500 is included because API servers answer 500 for
#: transient etcd errors.
TRANSIENT_STATUSES = frozenset((429, 500, 502, 503, 504))

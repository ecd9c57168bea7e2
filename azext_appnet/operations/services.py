"""The outside parts an operation step uses: key store / CA, and member clusters.

Steps reach them through this one object so tests can see what a step touches and so
heavy modules (cryptography, kubernetes, Azure SDKs) load only when a step needs them.
"""

import json
import os
import threading

from ..constants import PUBLIC_ARM_ENDPOINT


class Services:  # pylint: disable=too-many-instance-attributes  # what an operation's steps share
    def __init__(self, keys_dir, credential=None, arm_endpoint=None, clock=None, retry_sleep=None):
        self.keys_dir = keys_dir
        #: returns the current UTC time for the CA (tests move it; None: the real clock)
        self.clock = clock
        #: how a cluster client waits before it retries a transient failure (tests record
        #: the delays instead of spending them; None: time.sleep)
        self.retry_sleep = retry_sleep
        #: azure-core TokenCredential for Key Vault and ARM. None: the Azure CLI's login
        #: (see azure_credential).
        self.credential = credential
        from .. import settings
        self.arm_endpoint = (settings.arm_endpoint() or arm_endpoint
                             or PUBLIC_ARM_ENDPOINT).rstrip("/")
        # One client per cluster for the operation (a Services lives as long as one): its
        # kept-alive connections and discovery cache serve every step that reaches it.
        self._clients = {}
        self._clients_lock = threading.Lock()
        self._cli_credential = None  # the Azure CLI's login, made on first use

    def pki(self, network):
        from ..pki import NetworkPKI
        ca = network["properties"].get("certificateAuthority", {})
        # Key Vault needs a credential; the pki package's own default (azure-identity's
        # DefaultAzureCredential) is not installed with azure-cli, so hand it ours.
        credential = self.azure_credential() if ca.get("keyVault") else None
        return NetworkPKI(network["id"], self.keys_dir, key_vault=ca.get("keyVault"),
                          credential=credential, clock=self.clock,
                          recorded_root=(ca.get("root") or {}).get("sha256Fingerprint"))

    def connect(self, member):
        """A client for the member's API server (made once per operation and cluster, then
        reused): from the kubeconfig read then, or for an AKS
        member joined by resource id, from the user kubeconfig fetched from ARM now (kept in
        memory; an Entra cluster is reached with a token from the credential, no kubelogin).
        ARM's view of an AKS cluster (Istio add-on, Windows-only pools, stopped) is checked
        only by a join: update and remove must still reach a cluster that changed since."""
        from .identity import verify_or_pin
        key = self._key(member)
        with self._clients_lock:
            client = self._clients.get(key)
        if client is None:
            client = self._connect(member)
            with self._clients_lock:
                client = self._clients.setdefault(key, client)
        verify_or_pin(member, client)   # the cluster that joined, or nothing is sent to it
        return client

    def warm(self, members, count):
        """Connect to the clusters of `members` in the background, opening `count` connections
        to each (Cluster.preconnect), so that a later step that reaches them (the links to
        every peer) does not wait for its connections' handshakes. Returns at once; a cluster
        that cannot be reached is left for that step to report."""
        def one(member):
            try:
                self.connect(member).preconnect(count)
            except Exception:   # pylint: disable=broad-except  # reported by the step that reaches it
                pass
        for member in members:
            threading.Thread(target=one, args=(member,), name="appnet-warm", daemon=True).start()

    def adopt(self, member, client):
        """Make `client`, which connect_cluster made for `member`'s cluster (a join's check
        before the operation is recorded), the one `connect` gives the member's operation:
        its connections, and for AKS the kubeconfig and facts just read from ARM, serve
        the operation too instead of being made again. Its identity is checked (or pinned)
        by `connect` as any client's."""
        key = self._key(member)
        with self._clients_lock:
            self._clients.setdefault(key, client)

    @staticmethod
    def _key(member):
        """What `_connect` reaches the member's cluster by, and nothing the operation records
        on the way (the identity pinned, the version and server the connect step reads): a
        step that connects after those are recorded gets the same client."""
        props = member["properties"]
        cluster = props.get("cluster", {})
        return json.dumps([props.get("clusterType"), cluster.get("kubeconfig"), cluster.get("context"),
                           cluster.get("resourceId") or (props.get("metadata") or {}).get("resourceId"),
                           (props.get("operation") or {}).get("name")], default=str)

    def _connect(self, member):
        props = member["properties"]
        cluster = props.get("cluster", {})
        return self.connect_cluster(props.get("clusterType"), cluster,
                                    cluster.get("resourceId") or props.get("metadata", {}).get("resourceId"),
                                    check_aks=(props.get("operation") or {}).get("name") == "join")

    def connect_cluster(self, cluster_type, cluster, resource_id=None, check_aks=False):
        """A new client for a cluster named explicitly, as `connect` reaches a member's: by
        the kubeconfig and context in `cluster`, or an AKS cluster by `resource_id` (with
        ARM's view of it checked when `check_aks`). No identity is verified: a join's
        preflight uses it before the member is recorded, when nothing is pinned yet."""
        if cluster_type == "AKS" and not cluster.get("kubeconfig"):
            from ..kube.aks import connect_aks
            return connect_aks(resource_id, self.azure_credential(), self.arm_endpoint, check=check_aks,
                               retry=self._retry())
        from ..kube import connect
        return connect(kubeconfig=cluster.get("kubeconfig"), context=cluster.get("context"),
                       retry=self._retry())

    def _retry(self):
        """The retry policy of new cluster clients: the default unless a sleep was injected."""
        if self.retry_sleep is None:
            return None
        from ..kube.client import RetryPolicy
        return RetryPolicy(sleep=self.retry_sleep)

    def azure_credential(self):
        """The credential given, else the Azure CLI's login ('az account get-access-token',
        through azure-identity's AzureCliCredential when installed -- azure-cli does not
        depend on it -- else kube.aks.AzureCliTokenCredential), which a detached --no-wait
        worker can use too."""
        if self.credential is not None:
            return self.credential
        if self._cli_credential is None:
            try:
                from azure.identity import AzureCliCredential
                self._cli_credential = AzureCliCredential(process_timeout=60)
            except ImportError:
                from ..kube.aks import AzureCliTokenCredential
                self._cli_credential = AzureCliTokenCredential()
        return self._cli_credential


def default_keys_dir(config_dir):
    return os.path.join(config_dir, "appnet", "keys")

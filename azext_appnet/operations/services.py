"""The outside parts an operation step uses: key store / CA, and member clusters.

Steps reach them through this one object so tests can see what a step touches and so
heavy modules (cryptography, kubernetes, Azure SDKs) load only when a step needs them.
"""

import os


class Services:
    def __init__(self, keys_dir, credential=None):
        self.keys_dir = keys_dir
        self.credential = credential

    def pki(self, network):
        from ..pki import NetworkPKI
        ca = network["properties"].get("certificateAuthority", {})
        return NetworkPKI(network["id"], self.keys_dir, key_vault=ca.get("keyVault"),
                          credential=self.credential)

    def connect(self, member):
        """A client for the member's API server, from the kubeconfig read now."""
        from ..kube import connect
        cluster = member["properties"].get("cluster", {})
        if member["properties"].get("clusterType") == "AKS" and not cluster.get("kubeconfig"):
            from ..errors import ClusterError
            raise ClusterError(
                "Joining AKS clusters by --member-resource-id needs Azure credentials for the "
                "cluster, which this version cannot fetch yet.",
                "Run 'az aks get-credentials' for the cluster and join it with "
                "--kubeconfig FILE --context NAME --cluster-type Kubernetes.")
        return connect(kubeconfig=cluster.get("kubeconfig"), context=cluster.get("context"))


def default_keys_dir(config_dir):
    return os.path.join(config_dir, "appnet", "keys")

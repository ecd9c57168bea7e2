"""Cluster access: kubeconfig -> Cluster, server-side apply in phases, readiness, prune,
preflight checks.

Modules, each with one job:
    config      kubeconfig -> server URL, TLS context, credential source
    aks         AKS cluster by ARM resource id -> kubeconfig in memory (Entra token, no kubelogin)
    client      Cluster: raw REST with bounded retries, get/list/apply/delete; the typed
                API errors (api_error: one table from HTTP status to class)
    discovery   kind -> plural/scope, with few discovery requests
    apply       apply_phases, wait_ready, prune
    preflight   the checks a cluster must pass before a join
    nodes       what a Node says about itself (its operating system)

This module imports nothing heavy: az imports extension packages while building its
command table, and the kubernetes client alone takes a large part of a second to import.
"""


def connect(kubeconfig=None, context=None, timeout=10, retry=None):
    """Open a Cluster for `context` (default: the current context) of `kubeconfig`
    (default: $KUBECONFIG, else ~/.kube/config). The kubeconfig is read now, at each call;
    no credential is stored. InvalidInputError for a missing file or unknown context.
    No request is sent until the first call on the returned Cluster. `retry`: its
    client.RetryPolicy (default: the standard one)."""
    from .client import Cluster
    from .config import load

    return Cluster(load(kubeconfig, context), timeout=timeout, retry=retry)


def connect_aks(resource_id, credential, arm_endpoint=None, timeout=10, **kwargs):
    """Open a Cluster for the AKS cluster `resource_id`: its facts and user kubeconfig are
    fetched from Azure Resource Manager now with the azure-core TokenCredential
    `credential` (default endpoint: public cloud) and kept in memory only. See kube.aks."""
    from ..constants import PUBLIC_ARM_ENDPOINT
    from .aks import connect_aks as _connect_aks

    return _connect_aks(resource_id, credential, arm_endpoint or PUBLIC_ARM_ENDPOINT,
                        timeout=timeout, **kwargs)


__all__ = ["connect", "connect_aks"]

"""The namespace and the trust material from the PKI (reference §0 steps 1-2, §9.1)."""

import base64

from .meta import NAMESPACE, TOPOLOGY_NETWORK, cluster_obj, obj

CACERTS_KEYS = ("ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem")
CRL_KEY = "ca-crl.pem"  # optional: only once a member was removed
ROOT_CERT_CONFIGMAP = "istio-root-cert"


def namespace(spec):
    # §0.1 / §8.2: istiod reads the local cluster's network from this label, and remote
    # istiods read it through the remote secret; without it the network is "". §5: the CNI
    # and ztunnel need hostPath volumes and capabilities, hence privileged Pod Security.
    labels = {TOPOLOGY_NETWORK: spec.network}
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = "privileged"
    return cluster_obj("Namespace", NAMESPACE, labels=labels)


def _b64(text):
    if isinstance(text, str):
        text = text.encode("utf-8")
    return base64.b64encode(text).decode("ascii")


def cacerts(spec):
    # §9.1: the plug-in CA. It must exist before istiod starts, or istiod mints its own
    # self-signed CA. Written as `data` (not `stringData`, which is write-only and would
    # make every server-side apply a change). No `istio-generated` key: that marks a
    # self-signed CA.
    data = {k: _b64(spec.cacerts[k]) for k in CACERTS_KEYS}
    if spec.cacerts.get(CRL_KEY):
        # Issue 10: the root's revocation list of removed members' intermediates; istiod
        # publishes it as ConfigMap istio-ca-crl, which ztunnel checks peers against.
        data[CRL_KEY] = _b64(spec.cacerts[CRL_KEY])
    return obj("Secret", "cacerts", type="Opaque", data=data)


def root_cert(spec):
    # design §5: the network's root, for tools and diagnostics. istiod publishes its own
    # istio-ca-root-cert in every namespace; this one is ours and never rewritten by istiod.
    return obj("ConfigMap", ROOT_CERT_CONFIGMAP, data={"root-cert.pem": spec.root_cert_pem})

"""preflight() and connect() against the Kubernetes API emulator."""

import re
import subprocess

import pytest
import yaml

from azext_appnet.errors import ClusterError, InvalidInputError
from azext_appnet.kube import connect
from azext_appnet.kube.preflight import preflight
from tests.fixtures import requires

NET = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
       "Microsoft.AppLink/appLinks/net1")
OTHER = NET.replace("net1", "net2")
OURS = {"app.kubernetes.io/managed-by": "az-appnet"}


def _one(kubesim, **kw):
    sims = kubesim(1, **kw) if kw else kubesim(1)
    return sims[0] if isinstance(sims, (list, tuple)) else sims


def _connect(sim):
    return connect(kubeconfig=sim.kubeconfig_path, context=sim.context)


def _ns(name, annotations=None, labels=None):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "annotations": annotations or {},
                         "labels": labels or {}}}


def _fails(sim, *needles, fixes=()):
    """The causes (`needles`) are in the message, their `fixes` in the recommendation."""
    with pytest.raises(ClusterError) as e:
        preflight(_connect(sim), NET)
    for needle in needles:
        assert needle in e.value.message, e.value.message
    for fix in fixes:
        assert fix in e.value.recommendation, e.value.recommendation
    return e.value


def test_healthy_cluster(kubesim):
    sim = _one(kubesim)
    facts = preflight(_connect(sim), NET)
    assert facts["kubernetesVersion"] == "1.33"
    assert facts["nodes"] == {"linux": 3, "windows": 0}
    assert facts["server"] == sim.url.rstrip("/")
    assert isinstance(facts["gatewayApi"], bool)


def test_gateway_api_detected(kubesim):
    sim = _one(kubesim)
    sim.put_object({"apiVersion": "apiextensions.k8s.io/v1",
                    "kind": "CustomResourceDefinition",
                    "metadata": {"name": "gateways.gateway.networking.k8s.io"},
                    "spec": {"group": "gateway.networking.k8s.io", "scope": "Namespaced",
                             "names": {"kind": "Gateway", "plural": "gateways"},
                             "versions": [{"name": "v1", "served": True, "storage": True,
                                           "schema": {"openAPIV3Schema": {
                                               "type": "object",
                                               "x-kubernetes-preserve-unknown-fields": True
                                           }}}]}})
    assert preflight(_connect(sim), NET)["gatewayApi"] is True


def test_kubernetes_outside_the_catalogs_range(kubesim):
    # 1.30 is older than what any AppNet version supports (1.4: 1.31+), so it is refused up
    # front, not after the join was recorded.
    sim = _one(kubesim)
    for old in ("1.29", "1.30"):
        sim.version = old
        _fails(sim, f"Kubernetes {old} is older than 1.31, the oldest version any AppNet version "
               "supports", fixes=["Upgrade the cluster"])
    sim.version = "1.37"
    _fails(sim, "Kubernetes 1.37 is newer than 1.36", fixes=["az appnet list-versions"])


def test_windows_only(kubesim):
    sim = _one(kubesim, nodes=[{"os": "windows"}, {"os": "windows"}])
    _fails(sim, "only Windows nodes (2)", fixes=["Add a Linux node pool"])


def test_mixed_linux_and_windows_is_fine(kubesim):
    sim = _one(kubesim, nodes=[{"os": "linux"}, {"os": "windows"}])
    assert preflight(_connect(sim), NET)["nodes"] == {"linux": 1, "windows": 1}


def test_foreign_istio_system(kubesim):
    sim = _one(kubesim)
    sim.put_object(_ns("istio-system"))
    _fails(sim, "istio-system", fixes=["istioctl uninstall --purge"])


def test_aks_istio_addon(kubesim):
    sim = _one(kubesim)
    sim.put_object(_ns("aks-istio-system"))
    _fails(sim, "AKS Istio service mesh add-on", fixes=["az aks mesh disable"])


def test_member_of_another_network(kubesim):
    sim = _one(kubesim)
    sim.put_object(_ns("applink-system", {"appnet.azure.com/network-id": OTHER}, OURS))
    _fails(sim, "already a member of another Application Network (%s)" % OTHER,
           fixes=["az appnet member remove"])


def test_rejoin_same_network_is_fine(kubesim):
    sim = _one(kubesim)
    sim.put_object(_ns("applink-system", {"appnet.azure.com/network-id": NET}, OURS))
    preflight(_connect(sim), NET)


def test_foreign_istiod_crd_and_webhook(kubesim):
    sim = _one(kubesim)
    sim.put_object(_ns("mesh"))
    sim.put_object({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "istiod", "namespace": "mesh",
                                 "labels": {"app": "istiod"}},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "istiod"}},
                             "template": {"metadata": {"labels": {"app": "istiod"}},
                                          "spec": {"containers": [
                                              {"name": "d", "image": "istio/pilot"}]}}}})
    sim.put_object({"apiVersion": "apiextensions.k8s.io/v1",
                    "kind": "CustomResourceDefinition",
                    "metadata": {"name": "peerauthentications.security.istio.io"},
                    "spec": {"group": "security.istio.io", "scope": "Namespaced",
                             "names": {"kind": "PeerAuthentication",
                                       "plural": "peerauthentications"},
                             "versions": [{"name": "v1", "served": True, "storage": True,
                                           "schema": {"openAPIV3Schema": {
                                               "type": "object",
                                               "x-kubernetes-preserve-unknown-fields": True
                                           }}}]}})
    sim.put_object({"apiVersion": "admissionregistration.k8s.io/v1",
                    "kind": "MutatingWebhookConfiguration",
                    "metadata": {"name": "istio-sidecar-injector"}, "webhooks": []})
    error = _fails(sim, "Deployment mesh/istiod", "peerauthentications.security.istio.io",
                   "istio-sidecar-injector")
    for text in (error.message, error.recommendation):  # every problem and its fix, numbered
        assert text.count("(1)") == 1 and "(3)" in text and "(4)" not in text


def test_our_own_istio_is_fine(kubesim):
    sim = _one(kubesim)
    sim.put_object({"apiVersion": "admissionregistration.k8s.io/v1",
                    "kind": "MutatingWebhookConfiguration",
                    "metadata": {"name": "istio-sidecar-injector", "labels": OURS},
                    "webhooks": []})
    preflight(_connect(sim), NET)


def test_unreachable_server(kubesim):
    sim = _one(kubesim)
    cluster = _connect(sim)
    url = sim.url.rstrip("/")
    sim.stop()
    with pytest.raises(ClusterError) as e:
        preflight(cluster, NET)
    assert e.value.message.startswith("Cannot reach the API server at %s: " % url)
    assert "kubectl --context %s" % sim.context in e.value.recommendation


def test_connect_errors(kubesim, tmp_path):
    sim = _one(kubesim)
    with pytest.raises(InvalidInputError) as e:
        connect(kubeconfig=str(tmp_path / "missing"))
    assert "Kubeconfig file not found" in e.value.message
    with pytest.raises(InvalidInputError) as e:
        connect(kubeconfig=sim.kubeconfig_path, context="no-such-context")
    assert sim.context in e.value.message              # lists the contexts that exist


def test_token_never_in_messages(kubesim):
    sim = _one(kubesim)
    with open(sim.kubeconfig_path) as f:
        kc = yaml.safe_load(f)
    tokens = [u["user"].get("token") for u in kc.get("users") or [] if u["user"].get("token")]
    cluster = _connect(sim)
    sim.stop()
    with pytest.raises(ClusterError) as e:
        cluster.server_version()
    for t in tokens:
        assert t not in e.value.message and t not in repr(cluster)


def _istio_crd(plural, group, kind, labels=None, annotations=None):
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}", "labels": labels or {},
                         "annotations": annotations or {}},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"kind": kind, "plural": plural},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {
                                       "type": "object",
                                       "x-kubernetes-preserve-unknown-fields": True}}}]}}


def test_crds_of_a_helm_installed_istio_are_refused_with_their_owner_and_commands(kubesim):
    # Issue 9 point 6: an Istio installed by Helm (istio-base) in its own namespace.
    sim = _one(kubesim)
    helm = ({"app.kubernetes.io/managed-by": "Helm"},
            {"meta.helm.sh/release-name": "istio-base", "meta.helm.sh/release-namespace": "mesh"})
    sim.put_object(_istio_crd("wasmplugins", "extensions.istio.io", "WasmPlugin", *helm))
    sim.put_object(_istio_crd("gateways", "networking.istio.io", "Gateway", *helm))
    kubectl = f"kubectl --kubeconfig {sim.kubeconfig_path} --context {sim.context}"
    error = _fails(sim, "extensions.istio.io", "gateways.networking.istio.io",
                   "Helm release 'istio-base' in namespace mesh", fixes=[
                       "helm uninstall istio-base -n mesh",
                       f"{kubectl} delete crd gateways.networking.istio.io wasmplugins.extensions.istio.io",
                       f"{kubectl} label --overwrite crd gateways.networking.istio.io "
                       "wasmplugins.extensions.istio.io app.kubernetes.io/managed-by=az-appnet"])
    assert "does not take them over" in error.message


def test_crds_an_uninstall_left_behind_can_be_adopted(kubesim):
    sim = _one(kubesim)
    sim.put_object(_istio_crd("telemetries", "telemetry.istio.io", "Telemetry"))
    error = _fails(sim, "telemetries.telemetry.istio.io", "an unknown owner",
                   fixes=["label --overwrite crd telemetries.telemetry.istio.io"])
    kubectl = requires.kubectl()
    # Run what the recommendation says, as given, with the real kubectl: the CRD is then ours.
    command = re.search(r"\((kubectl [^()]* label [^)]*)\)", error.recommendation).group(1).split()
    assert command[1:5] == ["--kubeconfig", sim.kubeconfig_path, "--context", sim.context], command
    done = subprocess.run([kubectl] + command[1:], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    preflight(_connect(sim), NET)


def test_istio_validating_webhooks_of_another_owner_are_refused(kubesim):
    sim = _one(kubesim)
    sim.put_object({"apiVersion": "admissionregistration.k8s.io/v1",
                    "kind": "ValidatingWebhookConfiguration",
                    "metadata": {"name": "istiod-default-validator",
                                 "labels": {"operator.istio.io/component": "Base",
                                            "install.operator.istio.io/owning-resource": "installed-state"}},
                    "webhooks": []})
    _fails(sim, "validatingwebhookconfiguration istiod-default-validator",
           "istioctl / IstioOperator 'installed-state'", fixes=[
               "istioctl uninstall --purge",
               f"kubectl --kubeconfig {sim.kubeconfig_path} --context {sim.context} delete "
               "validatingwebhookconfiguration istiod-default-validator"])

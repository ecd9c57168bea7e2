"""Admission webhooks: a configuration whose backend cannot answer refuses the writes it
matches (failurePolicy Fail, the default) or lets them through (Ignore)."""
import base64
import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .helpers import make_ns, unique

CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nnot checked\n").decode()


def _webhook_config(name, svc_ns, svc_name, policy=None, ca=True, ns_label=None,
                    kind="Validating", resources=("configmaps",), operations=("CREATE",)):
    wh = {"name": "%s.example.com" % name, "admissionReviewVersions": ["v1"],
          "sideEffects": "None",
          "clientConfig": {"service": {"namespace": svc_ns, "name": svc_name,
                                       "path": "/validate"}},
          "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": list(operations),
                     "resources": list(resources)}]}
    if ca:
        wh["clientConfig"]["caBundle"] = CA
    if policy:
        wh["failurePolicy"] = policy
    if ns_label:
        wh["namespaceSelector"] = {"matchLabels": ns_label}
    return {"apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "%sWebhookConfiguration" % kind, "metadata": {"name": name},
            "webhooks": [wh]}


def _backend(sim, ns, name, ready):
    """The webhook's Service and a Pod behind it: a Ready one, or one that cannot be
    scheduled (its nodeSelector matches no node) and so is not Ready."""
    sim.put_object({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"selector": {"app": name},
                             "ports": [{"port": 443, "targetPort": 9443}]}})
    spec = {"containers": [{"name": "c", "image": "webhook:1"}]}
    if not ready:
        spec["nodeSelector"] = {"kubernetes.io/hostname": "no-such-node"}
    sim.put_object({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "%s-%s" % (name, "ready" if ready else "pending"),
                                 "namespace": ns, "labels": {"app": name}},
                    "spec": spec,
                    "status": {"phase": "Running" if ready else "Pending", "conditions": [
                        {"type": "Ready", "status": "True" if ready else "False"}]}})


def _cm(name):
    return {"metadata": {"name": name}, "data": {"k": "v"}}


def _register(api, cfg):
    adm = client.AdmissionregistrationV1Api(api)
    if cfg["kind"] == "ValidatingWebhookConfiguration":
        adm.create_validating_webhook_configuration(cfg)
        return lambda: adm.delete_validating_webhook_configuration(cfg["metadata"]["name"])
    adm.create_mutating_webhook_configuration(cfg)
    return lambda: adm.delete_mutating_webhook_configuration(cfg["metadata"]["name"])


def test_fail_webhook_without_endpoints_refuses_until_its_pods_are_ready(sim, api, v1):
    ns = make_ns(v1)
    target = make_ns(v1)
    name = unique("wh")
    _backend(sim, ns, name, ready=False)
    remove = _register(api, _webhook_config(name, ns, name, ns_label={
        "kubernetes.io/metadata.name": target}))
    try:
        with pytest.raises(ApiException) as e:
            v1.create_namespaced_config_map(target, _cm("blocked"))
        st = json.loads(e.value.body)
        assert (e.value.status, st["reason"]) == (500, "InternalError")
        assert st["message"] == (
            'Internal error occurred: failed calling webhook "%s.example.com": failed to call '
            'webhook: Post "https://%s.%s.svc:443/validate?timeout=10s": no endpoints '
            'available for service "%s"' % (name, name, ns, name))
        # Not selected by the namespaceSelector: untouched.
        v1.create_namespaced_config_map(ns, _cm("elsewhere"))
        # Updates are not in the rule's operations.
        v1.patch_namespaced_config_map("kube-root-ca.crt", target,
                                       {"metadata": {"labels": {"x": "y"}}})
        _backend(sim, ns, name, ready=True)
        v1.create_namespaced_config_map(target, _cm("allowed"))
        assert v1.read_namespaced_config_map("allowed", target).data == {"k": "v"}
    finally:
        remove()


def test_ignore_policy_lets_writes_through(sim, api, v1):
    ns = make_ns(v1)
    name = unique("wh")
    remove = _register(api, _webhook_config(name, ns, name, policy="Ignore",
                                            ns_label={"kubernetes.io/metadata.name": ns}))
    try:
        v1.create_namespaced_config_map(ns, _cm("passes"))   # its Service does not even exist
    finally:
        remove()


def test_mutating_webhook_missing_service_and_missing_ca_bundle(sim, api, v1):
    ns = make_ns(v1)
    name = unique("mwh")
    remove = _register(api, _webhook_config(name, ns, name, kind="Mutating", ca=False,
                                            ns_label={"kubernetes.io/metadata.name": ns}))
    try:
        with pytest.raises(ApiException) as e:
            v1.create_namespaced_config_map(ns, _cm("x"))
        assert e.value.status == 500
        assert json.loads(e.value.body)["message"].endswith('service "%s" not found' % name)
        _backend(sim, ns, name, ready=True)
        with pytest.raises(ApiException) as e:
            v1.create_namespaced_config_map(ns, _cm("x"))
        assert "x509: certificate signed by unknown authority" in json.loads(
            e.value.body)["message"]
    finally:
        remove()


def test_webhook_matching_everything_spares_its_own_configuration(sim, api, v1):
    ns = make_ns(v1)
    name = unique("all")
    cfg = _webhook_config(name, ns, name)
    cfg["webhooks"][0]["rules"] = [{"apiGroups": ["*"], "apiVersions": ["*"],
                                    "operations": ["*"], "resources": ["*/*"]}]
    cfg["webhooks"][0]["namespaceSelector"] = {"matchLabels": {
        "kubernetes.io/metadata.name": ns}}
    cfg["webhooks"][0]["objectSelector"] = {"matchLabels": {"guarded": "yes"}}
    remove = _register(api, cfg)
    try:
        # objectSelector: only labelled objects are matched, before or after the write.
        v1.create_namespaced_config_map(ns, _cm("plain"))
        with pytest.raises(ApiException) as e:
            v1.patch_namespaced_config_map("plain", ns,
                                           {"metadata": {"labels": {"guarded": "yes"}}})
        assert e.value.status == 500
        # Cluster-scoped objects are never filtered by a namespaceSelector.
        rbac = client.RbacAuthorizationV1Api(api)
        with pytest.raises(ApiException) as e:
            rbac.create_cluster_role({"metadata": {"name": name, "labels": {"guarded": "yes"}},
                                      "rules": []})
        assert e.value.status == 500
        # The webhook configuration itself stays writable, so it can be repaired.
        client.AdmissionregistrationV1Api(api).patch_validating_webhook_configuration(
            name, {"metadata": {"labels": {"guarded": "yes"}}})
    finally:
        remove()
    v1.patch_namespaced_config_map("plain", ns, {"metadata": {"labels": {"guarded": "yes"}}})


def test_controller_writes_are_admitted_too(sim, api, v1):
    # A Fail webhook on ConfigMaps in every namespace: the root-CA ConfigMap the
    # controller manager puts in each new namespace cannot be created either.
    ns = make_ns(v1)
    name = unique("cm")
    cfg = _webhook_config(name, ns, name)
    cfg["webhooks"][0]["namespaceSelector"] = {"matchLabels": {"locked": name}}
    remove = _register(api, cfg)
    try:
        v1.create_namespace({"metadata": {"name": name, "labels": {"locked": name}}})
        assert sim.get_object("v1", "configmaps", name, "kube-root-ca.crt") is None
        assert sim.get_object("v1", "serviceaccounts", name, "default") is not None
    finally:
        remove()


def test_ready_istiod_patches_its_webhooks_ca_bundle_and_fail_policy(sim, api, v1):
    ns = make_ns(v1)
    name = unique("istio-validator")
    cfg = _webhook_config(name, ns, "istiod", policy="Ignore", ca=False,
                          ns_label={"kubernetes.io/metadata.name": ns})
    cfg["metadata"]["labels"] = {"istio.io/rev": "default"}
    remove = _register(api, cfg)
    adm = client.AdmissionregistrationV1Api(api)
    try:
        v1.create_namespaced_config_map(ns, _cm("before"))     # Ignore: istiod not there
        _backend(sim, ns, "istiod", ready=True)
        wh = adm.read_validating_webhook_configuration(name).webhooks[0]
        assert wh.failure_policy == "Fail" and wh.client_config.ca_bundle
        v1.create_namespaced_config_map(ns, _cm("while-ready"))
        # istiod gone: its Fail webhook now refuses what it matches.
        v1.delete_namespaced_pod("istiod-ready", ns)
        with pytest.raises(ApiException) as e:
            v1.create_namespaced_config_map(ns, _cm("after"))
        assert 'no endpoints available for service "istiod"' in json.loads(
            e.value.body)["message"]
    finally:
        remove()

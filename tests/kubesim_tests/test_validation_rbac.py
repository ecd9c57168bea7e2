"""Schema validation (built-in kinds and CRDs) and authorisation of ServiceAccount tokens."""
import base64
import json

import pytest
from kubernetes import client

from .helpers import daemonset, deployment, make_ns, raw, token_client, unique


def _err(exc_info):
    return exc_info.value.status, json.loads(exc_info.value.body)


# ----------------------------------------------------------------------------- validation

# The Python client (v37) validates typed bodies itself, so invalid objects go raw, as
# our kube layer sends them.

def test_daemonset_without_selector_is_invalid(api, v1):
    ns = make_ns(v1)
    ds = daemonset("ds", ns)
    del ds["spec"]["selector"]
    code, st = raw(api, "POST", "/apis/apps/v1/namespaces/%s/daemonsets" % ns, ds)
    assert (code, st["reason"]) == (422, "Invalid")
    assert {"field": "spec.selector", "reason": "FieldValueRequired",
            "message": "Required value"} in st["details"]["causes"]
    assert st["message"].startswith('DaemonSet.apps "ds" is invalid')


def test_container_port_as_string_is_invalid(api, v1):
    ns = make_ns(v1)
    d = deployment("web", ns, ports=[{"containerPort": "8080"}])
    code, st = raw(api, "POST", "/apis/apps/v1/namespaces/%s/deployments" % ns, d)
    assert (code, st["reason"]) == (422, "Invalid")
    fields = [c["field"] for c in st["details"]["causes"]]
    assert "spec.template.spec.containers[0].ports[0].containerPort" in fields


def test_selector_must_match_template_labels(api, v1):
    ns = make_ns(v1)
    d = deployment("web", ns)
    d["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    code, st = raw(api, "POST", "/apis/apps/v1/namespaces/%s/deployments" % ns, d)
    assert code == 422
    assert st["details"]["causes"][0]["field"] == "spec.template.metadata.labels"


def test_unknown_fields_strict_rejects_warn_drops(api, v1):
    ns = make_ns(v1)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "u"},
            "data": {"a": "b"}, "bogus": 1}
    path = "/api/v1/namespaces/%s/configmaps" % ns
    code, st = raw(api, "POST", path, body, query={"fieldValidation": "Strict"})
    assert (code, st["reason"]) == (400, "BadRequest")
    assert 'unknown field "bogus"' in st["message"]
    code, obj = raw(api, "POST", path, body)     # default: Warn -- accepted, field dropped
    assert code == 201 and "bogus" not in obj
    assert "bogus" not in v1.read_namespaced_config_map("u", ns).to_dict()


def test_custom_resources_are_validated_against_their_crd_schema(sim, api, v1):
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "gadgets.test.io"},
           "spec": {"group": "test.io", "scope": "Namespaced",
                    "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {
                                      "type": "object", "properties": {"spec": {
                                          "type": "object", "required": ["size"],
                                          "properties": {
                                              "size": {"type": "integer", "minimum": 1},
                                              "mode": {"type": "string",
                                                       "enum": ["a", "b"], "default": "a"}}}}}}}]}}
    client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
    got = sim.get_object("apiextensions.k8s.io/v1", "customresourcedefinitions", None,
                         "gadgets.test.io")
    assert {c["type"]: c["status"] for c in got["status"]["conditions"]}["Established"] == "True"
    ns = make_ns(v1)
    co = client.CustomObjectsApi(api)

    def gadget(name, spec):
        return {"apiVersion": "test.io/v1", "kind": "Gadget", "metadata": {"name": name},
                "spec": spec}

    out = co.create_namespaced_custom_object("test.io", "v1", ns, "gadgets", gadget("ok", {
        "size": 2}))
    assert out["spec"] == {"size": 2, "mode": "a"}        # default filled in
    for spec, field in [({"size": "big"}, "spec.size"), ({"size": 0}, "spec.size"),
                        ({}, "spec.size"), ({"size": 1, "mode": "z"}, "spec.mode")]:
        with pytest.raises(client.ApiException) as e:
            co.create_namespaced_custom_object("test.io", "v1", ns, "gadgets",
                                               gadget(unique("g"), spec))
        code, st = _err(e)
        assert code == 422 and st["details"]["causes"][0]["field"] == field, st
    code, st = raw(api, "POST", "/apis/test.io/v1/namespaces/%s/gadgets" % ns,
                   gadget("x", {"size": 1, "extra": True}), query={"fieldValidation": "Strict"})
    assert code == 400 and 'unknown field "spec.extra"' in st["message"]
    # Deleting the CRD stops serving its resources and deletes its objects.
    client.ApiextensionsV1Api(api).delete_custom_resource_definition("gadgets.test.io")
    code, _ = raw(api, "GET", "/apis/test.io/v1/namespaces/%s/gadgets" % ns)
    assert code == 404


# ----------------------------------------------------------------------------- auth/RBAC

def test_missing_or_wrong_token_is_401(sim):
    for token in ("", "not-a-token"):
        code, st = raw(token_client(sim, token), "GET", "/api/v1/namespaces")
        assert (code, st["reason"], st["kind"]) == (401, "Unauthorized", "Status")


def _reader(v1, rbac, ns, names=None):
    v1.create_namespaced_service_account(ns, {"metadata": {"name": "reader"}})
    rule = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}
    if names:
        rule["resourceNames"] = names
    rbac.create_namespaced_role(ns, {"metadata": {"name": "read-cm"}, "rules": [rule]})
    rbac.create_namespaced_role_binding(ns, {
        "metadata": {"name": "read-cm"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-cm"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}]})


def test_token_request_token_is_read_only_as_its_role_says(sim, api, v1):
    rbac = client.RbacAuthorizationV1Api(api)
    ns = make_ns(v1)
    _reader(v1, rbac, ns)
    v1.create_namespaced_config_map(ns, {"metadata": {"name": "c"}})
    tr = v1.create_namespaced_service_account_token("reader", ns, {"spec": {}})
    sa_v1 = client.CoreV1Api(token_client(sim, tr.status.token))
    assert [c.metadata.name for c in sa_v1.list_namespaced_config_map(ns).items] == \
        ["c", "kube-root-ca.crt"]
    for call in (lambda: sa_v1.create_namespaced_config_map(ns, {"metadata": {"name": "d"}}),
                 lambda: sa_v1.delete_namespaced_config_map("c", ns),
                 lambda: sa_v1.list_namespaced_secret(ns),
                 lambda: sa_v1.list_namespaced_config_map("default")):
        with pytest.raises(client.ApiException) as e:
            call()
        code, st = _err(e)
        assert (code, st["reason"]) == (403, "Forbidden")
        assert "system:serviceaccount:%s:reader" % ns in st["message"]
    # Deleting the ServiceAccount revokes its tokens.
    v1.delete_namespaced_service_account("reader", ns)
    with pytest.raises(client.ApiException) as e:
        sa_v1.list_namespaced_config_map(ns)
    assert e.value.status == 401


def test_resource_names_limit_access(sim, api, v1):
    rbac = client.RbacAuthorizationV1Api(api)
    ns = make_ns(v1)
    _reader(v1, rbac, ns, names=["allowed"])
    for n in ("allowed", "other"):
        v1.create_namespaced_config_map(ns, {"metadata": {"name": n}})
    tok = v1.create_namespaced_service_account_token("reader", ns, {"spec": {}}).status.token
    sa_v1 = client.CoreV1Api(token_client(sim, tok))
    assert sa_v1.read_namespaced_config_map("allowed", ns).metadata.name == "allowed"
    with pytest.raises(client.ApiException) as e:
        sa_v1.read_namespaced_config_map("other", ns)
    assert e.value.status == 403
    with pytest.raises(client.ApiException) as e:
        sa_v1.list_namespaced_config_map(ns)      # names cannot authorise a list
    assert e.value.status == 403


def test_legacy_token_secret_is_filled_and_works_with_cluster_role(sim, api, v1):
    rbac = client.RbacAuthorizationV1Api(api)
    ns = make_ns(v1)
    v1.create_namespaced_service_account(ns, {"metadata": {"name": "remote"}})
    v1.create_namespaced_secret(ns, {
        "metadata": {"name": "remote-token",
                     "annotations": {"kubernetes.io/service-account.name": "remote"}},
        "type": "kubernetes.io/service-account-token"})
    sec = v1.read_namespaced_secret("remote-token", ns)
    assert set(sec.data) == {"token", "ca.crt", "namespace"}
    assert base64.b64decode(sec.data["ca.crt"]) == sim.pki.ca_pem
    assert base64.b64decode(sec.data["namespace"]).decode() == ns
    token = base64.b64decode(sec.data["token"]).decode()
    name = unique("view")
    rbac.create_cluster_role_binding({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "remote", "namespace": ns}]})
    sa_api = token_client(sim, token)
    assert client.CoreV1Api(sa_api).list_service_for_all_namespaces().items
    code, st = raw(sa_api, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "create", "resource": "secrets",
                                        "namespace": ns}}})
    assert code == 201 and st["status"]["allowed"] is False
    code, st = raw(sa_api, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "list", "resource": "services"}}})
    assert st["status"]["allowed"] is True
    # The token dies with its Secret.
    v1.delete_namespaced_secret("remote-token", ns)
    code, _ = raw(sa_api, "GET", "/api/v1/services")
    assert code == 401

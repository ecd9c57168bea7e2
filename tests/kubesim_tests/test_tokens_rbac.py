"""ServiceAccount tokens (TokenRequest validation, audiences, revocation) and RBAC's write
rules (escalation prevention, immutable roleRef, aggregation)."""
import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .helpers import make_ns, raw, token_client, unique

RBAC = "rbac.authorization.k8s.io"


def _token(api, ns, sa, **spec):
    code, body = raw(api, "POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (ns, sa),
                     {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                      "spec": spec})
    return code, body


def _whoami(sim, token):
    try:
        r = client.AuthenticationV1Api(token_client(sim, token)).create_self_subject_review(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        return r.status.user_info.username
    except ApiException as e:
        return e.status


def _sa(v1, ns, name="bot"):
    v1.create_namespaced_service_account(ns, {"metadata": {"name": name}})
    return name


def test_token_shorter_than_ten_minutes_is_refused(api, v1):
    ns = make_ns(v1)
    _sa(v1, ns)
    code, st = _token(api, ns, "bot", expirationSeconds=1)
    assert (code, st["reason"]) == (422, "Invalid")
    assert st["details"]["causes"][0]["field"] == "spec.expirationSeconds"
    assert "may not specify a duration less than 10 minutes" in st["message"]
    code, tr = _token(api, ns, "bot", expirationSeconds=600)
    assert code == 201 and tr["spec"]["expirationSeconds"] == 600


def test_only_tokens_for_the_api_server_audience_authenticate(sim, api, v1):
    ns = make_ns(v1)
    _sa(v1, ns)
    _, default = _token(api, ns, "bot")
    assert default["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    assert _whoami(sim, default["status"]["token"]) == "system:serviceaccount:%s:bot" % ns
    _, other = _token(api, ns, "bot", audiences=["istio-ca"])
    assert _whoami(sim, other["status"]["token"]) == 401
    # ... yet a TokenReview asking for that audience accepts it.
    code, rev = raw(api, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": other["status"]["token"], "audiences": ["istio-ca"]}})
    assert rev["status"]["authenticated"] is True and rev["status"]["audiences"] == ["istio-ca"]


def test_bound_tokens_die_with_their_object_and_legacy_secrets_with_their_sa(sim, api, v1):
    ns = make_ns(v1)
    _sa(v1, ns)
    v1.create_namespaced_secret(ns, {"metadata": {"name": "anchor"}, "data": {}})
    uid = v1.read_namespaced_secret("anchor", ns).metadata.uid
    code, st = _token(api, ns, "bot", boundObjectRef={"apiVersion": "v1", "kind": "Secret",
                                                     "name": "anchor", "uid": "wrong"})
    assert code == 409
    code, st = _token(api, ns, "bot", boundObjectRef={"apiVersion": "v1", "kind": "ConfigMap",
                                                     "name": "anchor"})
    assert code == 400
    _, tr = _token(api, ns, "bot", boundObjectRef={"apiVersion": "v1", "kind": "Secret",
                                                  "name": "anchor", "uid": uid})
    bound = tr["status"]["token"]
    assert _whoami(sim, bound) == "system:serviceaccount:%s:bot" % ns
    v1.delete_namespaced_secret("anchor", ns)
    assert _whoami(sim, bound) == 401
    # A legacy token Secret goes with its ServiceAccount, and its token stops working.
    v1.create_namespaced_secret(ns, {"metadata": {"name": "bot-token", "annotations": {
        "kubernetes.io/service-account.name": "bot"}},
        "type": "kubernetes.io/service-account-token"})
    import base64
    legacy = base64.b64decode(v1.read_namespaced_secret("bot-token", ns).data["token"]).decode()
    _, tr = _token(api, ns, "bot")
    assert _whoami(sim, legacy) == "system:serviceaccount:%s:bot" % ns
    v1.delete_namespaced_service_account("bot", ns)
    assert sim.get_object("v1", "secrets", ns, "bot-token") is None
    assert _whoami(sim, legacy) == 401 and _whoami(sim, tr["status"]["token"]) == 401


# ----------------------------------------------------------------------------- RBAC

def _limited_user(sim, api, v1, ns, rules):
    """A ServiceAccount holding `rules` in `ns` (through a Role) and a client for it."""
    sa = _sa(v1, ns, "limited")
    rbac = client.RbacAuthorizationV1Api(api)
    rbac.create_namespaced_role(ns, {"metadata": {"name": "limited"}, "rules": rules})
    rbac.create_namespaced_role_binding(ns, {
        "metadata": {"name": "limited"},
        "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "limited"},
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]})
    _, tr = _token(api, ns, sa)
    return client.RbacAuthorizationV1Api(token_client(sim, tr["status"]["token"]))


def test_rbac_prevents_privilege_escalation(sim, api, v1):
    ns = make_ns(v1)
    manage = {"apiGroups": [RBAC], "resources": ["roles", "rolebindings"],
              "verbs": ["create", "get", "update", "patch"]}
    cms = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}
    user = _limited_user(sim, api, v1, ns, [manage, cms])
    # A Role within what the user holds is fine; one granting more is forbidden.
    user.create_namespaced_role(ns, {"metadata": {"name": "cm-reader"},
                                     "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                                                "verbs": ["get"]}]})
    with pytest.raises(ApiException) as e:
        user.create_namespaced_role(ns, {"metadata": {"name": "secret-reader"}, "rules": [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]})
    st = json.loads(e.value.body)
    assert (e.value.status, st["reason"]) == (403, "Forbidden")
    assert 'roles.rbac.authorization.k8s.io "secret-reader" is forbidden: user ' \
           '"system:serviceaccount:%s:limited"' % ns in st["message"]
    assert 'is attempting to grant RBAC permissions not currently held:\n' \
           '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}' in st["message"]
    # Binding to a role whose permissions the user lacks: forbidden; to one within: fine.
    binding = {"metadata": {"name": "b"}, "subjects": [
        {"kind": "User", "name": "someone", "apiGroup": RBAC}],
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "edit"}}
    with pytest.raises(ApiException) as e:
        user.create_namespaced_role_binding(ns, binding)
    assert e.value.status == 403
    binding["roleRef"] = {"apiGroup": RBAC, "kind": "Role", "name": "cm-reader"}
    user.create_namespaced_role_binding(ns, binding)
    # roleRef is immutable, even for cluster-admin.
    rbac = client.RbacAuthorizationV1Api(api)
    code, st = raw(api, "PATCH", "/apis/%s/v1/namespaces/%s/rolebindings/b" % (RBAC, ns),
                   {"roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "limited"}},
                   content_type="application/merge-patch+json")
    assert (code, st["reason"]) == (422, "Invalid")
    assert st["details"]["causes"][0]["field"] == "roleRef"
    assert "cannot change roleRef" in st["message"]
    assert rbac.read_namespaced_role_binding("b", ns).role_ref.name == "cm-reader"


def test_cluster_role_aggregation_fills_rules(api):
    rbac = client.RbacAuthorizationV1Api(api)
    label = unique("agg")
    rbac.create_cluster_role({"metadata": {"name": label}, "aggregationRule": {
        "clusterRoleSelectors": [{"matchLabels": {"example.com/aggregate-to": label}}]}})
    assert not rbac.read_cluster_role(label).rules
    rule = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}
    rbac.create_cluster_role({"metadata": {"name": label + "-part", "labels": {
        "example.com/aggregate-to": label}}, "rules": [rule]})
    got = rbac.read_cluster_role(label).rules
    assert [(r.api_groups, r.resources, r.verbs) for r in got] == \
        [(["example.com"], ["widgets"], ["get"])]
    rbac.delete_cluster_role(label + "-part")
    assert not rbac.read_cluster_role(label).rules

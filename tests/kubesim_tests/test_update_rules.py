"""What a real API server refuses beyond schema checks: immutable fields on update,
duplicate ports, bad selectors, a PATCH that names no patch format; and the
metadata-only answer forms."""
import json

from .helpers import kubectl, make_ns, needs_kubectl, raw, unique


def _put(api, path, obj):
    return raw(api, "PUT", path, obj)


def test_service_cluster_ip_is_immutable_and_ports_unique(api, v1):
    ns = make_ns(v1)
    path = "/api/v1/namespaces/%s/services" % ns
    code, svc = raw(api, "POST", path, {"apiVersion": "v1", "kind": "Service",
                                        "metadata": {"name": "web"},
                                        "spec": {"ports": [{"port": 80}]}})
    assert code == 201
    svc["spec"]["clusterIP"] = svc["spec"]["clusterIPs"][0] = "10.0.99.99"
    code, st = _put(api, path + "/web", svc)
    assert (code, st["reason"]) == (422, "Invalid")
    assert st["details"]["causes"][0]["field"] == "spec.clusterIPs[0]"
    assert "may not change once set" in st["message"]
    code, st = raw(api, "POST", path, {"apiVersion": "v1", "kind": "Service",
                                       "metadata": {"name": "dup"}, "spec": {"ports": [
                                           {"name": "a", "port": 80},
                                           {"name": "b", "port": 80}]}})
    assert code == 422 and st["details"]["causes"][0]["field"] == "spec.ports[1]"
    assert st["details"]["causes"][0]["reason"] == "FieldValueDuplicate"
    code, st = raw(api, "POST", path, {"apiVersion": "v1", "kind": "Service",
                                       "metadata": {"name": "unnamed"}, "spec": {"ports": [
                                           {"port": 80}, {"port": 81}]}})
    assert code == 422 and {"field": "spec.ports[0].name", "reason": "FieldValueRequired",
                            "message": "Required value"} in st["details"]["causes"]


def test_secret_type_and_immutable_data_cannot_change(api, v1):
    ns = make_ns(v1)
    path = "/api/v1/namespaces/%s/secrets" % ns
    code, sec = raw(api, "POST", path, {"apiVersion": "v1", "kind": "Secret",
                                        "metadata": {"name": "s"}, "type": "Opaque",
                                        "data": {"k": "dg=="}})
    sec["type"] = "example.com/other"
    code, st = _put(api, path + "/s", sec)
    assert code == 422 and st["details"]["causes"][0]["field"] == "type"
    assert "field is immutable" in st["message"]
    cpath = "/api/v1/namespaces/%s/configmaps" % ns
    code, cm = raw(api, "POST", cpath, {"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": "frozen"}, "immutable": True,
                                        "data": {"k": "v"}})
    assert code == 201
    code, st = raw(api, "PATCH", cpath + "/frozen", {"data": {"k": "changed"}},
                   content_type="application/merge-patch+json")
    assert (code, st["reason"]) == (422, "Invalid")
    assert st["details"]["causes"] == [{"field": "data", "reason": "FieldValueForbidden",
                                        "message": "Forbidden: field is immutable when "
                                                   "`immutable` is set"}]
    code, st = raw(api, "PATCH", cpath + "/frozen", {"immutable": False},
                   content_type="application/merge-patch+json")
    assert code == 422 and st["details"]["causes"][0]["field"] == "immutable"
    # Metadata stays writable.
    code, _ = raw(api, "PATCH", cpath + "/frozen", {"metadata": {"labels": {"a": "b"}}},
                  content_type="application/merge-patch+json")
    assert code == 200


def test_patch_as_plain_json_is_unsupported_media_type(api, v1):
    ns = make_ns(v1)
    code, st = raw(api, "PATCH", "/api/v1/namespaces/%s/configmaps/kube-root-ca.crt" % ns,
                   {"metadata": {"labels": {"a": "b"}}}, content_type="application/json")
    assert (code, st["reason"]) == (415, "UnsupportedMediaType")
    assert "application/merge-patch+json" in st["message"]


def test_bad_selectors_are_400(api, v1):
    ns = make_ns(v1)
    path = "/api/v1/namespaces/%s/configmaps" % ns
    code, st = raw(api, "GET", path, query={"fieldSelector": "spec.nodeName=x"})
    assert (code, st["reason"]) == (400, "BadRequest")
    assert st["message"] == "field label not supported: spec.nodeName"
    code, _ = raw(api, "GET", "/api/v1/namespaces/%s/pods" % ns,
                  query={"fieldSelector": "spec.nodeName=x"})
    assert code == 200
    code, st = raw(api, "GET", path, query={"labelSelector": "app=not valid!"})
    assert code == 400 and 'values[0][app]: Invalid value: "not valid!"' in st["message"]


def test_metadata_only_list_and_get(sim, api, v1):
    ns = make_ns(v1)
    v1.create_namespaced_config_map(ns, {"metadata": {"name": "m", "labels": {"a": "b"}},
                                         "data": {"big": "x" * 100}})
    resp = api.call_api(*api.param_serialize(
        "GET", "/api/v1/namespaces/%s/configmaps" % ns, header_params={
            "Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,"
                      "application/json"}, auth_settings=["BearerToken"]))
    lst = json.loads(resp.read())
    assert (lst["kind"], lst["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    item = [i for i in lst["items"] if i["metadata"]["name"] == "m"][0]
    assert item["kind"] == "PartialObjectMetadata" and "data" not in item
    assert item["metadata"]["labels"] == {"a": "b"}
    resp = api.call_api(*api.param_serialize(
        "GET", "/api/v1/namespaces/%s/configmaps/m" % ns, header_params={
            "Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"},
        auth_settings=["BearerToken"]))
    one = json.loads(resp.read())
    assert one["kind"] == "PartialObjectMetadata" and "data" not in one


@needs_kubectl
def test_kubectl_create_pdb_and_immutable_edit(sim):
    ns = unique("pdb")
    kubectl(sim, "create", "namespace", ns)
    # kubectl sends the PodDisruptionBudget as protobuf.
    kubectl(sim, "create", "pdb", "web", "-n", ns, "--selector=app=web", "--min-available=1")
    pdb = sim.get_object("policy/v1", "poddisruptionbudgets", ns, "web")
    assert pdb["spec"] == {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}
    kubectl(sim, "create", "pdb", "pct", "-n", ns, "--selector=app=web",
            "--max-unavailable=50%")
    assert sim.get_object("policy/v1", "poddisruptionbudgets", ns,
                          "pct")["spec"]["maxUnavailable"] == "50%"
    kubectl(sim, "create", "secret", "generic", "s", "-n", ns, "--from-literal=a=b")
    r = kubectl(sim, "patch", "secret", "s", "-n", ns, "--type=merge",
                "-p", '{"type": "kubernetes.io/tls"}', check=False)
    assert r.returncode != 0 and 'The Secret "s" is invalid: type: Invalid value: ' \
        '"kubernetes.io/tls": field is immutable' in r.stderr


@needs_kubectl
def test_kubectl_create_token_too_short(sim):
    ns = unique("tok")
    kubectl(sim, "create", "namespace", ns)
    r = kubectl(sim, "create", "token", "default", "-n", ns, "--duration=1m", check=False)
    assert r.returncode != 0
    assert 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: ' \
        'Invalid value: 60: may not specify a duration less than 10 minutes' in r.stderr
    assert kubectl(sim, "create", "token", "default", "-n", ns,
                   "--duration=10m").stdout.count(".") == 2


def test_projected_token_lifetime_in_pod_templates(api, v1):
    from .helpers import deployment
    ns = make_ns(v1)
    d = deployment("web", ns)
    d["spec"]["template"]["spec"]["volumes"] = [{"name": "t", "projected": {"sources": [
        {"serviceAccountToken": {"path": "t", "audience": "istio-ca",
                                 "expirationSeconds": 60}}]}}]
    code, st = raw(api, "POST", "/apis/apps/v1/namespaces/%s/deployments" % ns, d)
    assert code == 422 and st["details"]["causes"][0]["field"] == \
        "spec.template.spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds"


@needs_kubectl
def test_kubectl_autoscale_and_run_send_protobuf(sim):
    ns = unique("hpa")
    kubectl(sim, "create", "namespace", ns)
    kubectl(sim, "create", "deployment", "web", "-n", ns, "--image=nginx")
    kubectl(sim, "autoscale", "deployment", "web", "-n", ns, "--min=2", "--max=5",
            "--cpu-percent=80")
    hpa = sim.get_object("autoscaling/v2", "horizontalpodautoscalers", ns, "web")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "web"}
    assert hpa["spec"]["metrics"][0]["resource"] == {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}
    kubectl(sim, "run", "one", "-n", ns, "--image=busybox", "--labels=app=one",
            "--restart=Never", "--", "sleep", "60")
    pod = sim.get_object("v1", "pods", ns, "one")
    c = pod["spec"]["containers"][0]
    assert (c["image"], c["args"], pod["spec"]["restartPolicy"]) == \
        ("busybox", ["sleep", "60"], "Never")


@needs_kubectl
def test_kubectl_expose_keeps_every_field_it_sends(sim):
    ns = unique("expose")
    kubectl(sim, "create", "namespace", ns)
    kubectl(sim, "create", "deployment", "web", "-n", ns, "--image=nginx", "--port=8080")
    kubectl(sim, "expose", "deployment", "web", "-n", ns, "--port=80", "--target-port=8080",
            "--type=LoadBalancer", "--session-affinity=ClientIP",
            "--external-ip=192.0.2.10", "--name=web-lb")
    spec = sim.get_object("v1", "services", ns, "web-lb")["spec"]
    assert (spec["type"], spec["sessionAffinity"], spec["externalIPs"]) == \
        ("LoadBalancer", "ClientIP", ["192.0.2.10"])
    assert spec["selector"] == {"app": "web"} and spec["ports"][0]["targetPort"] == 8080

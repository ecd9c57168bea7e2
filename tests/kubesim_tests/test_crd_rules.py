"""CRD schemas as the API server enforces them: CEL rules (x-kubernetes-validations),
structural-schema checks on the CRD itself, and not/oneOf/anyOf. The Gateway API and
Istio schemas below are our own trimmed copies of the parts of their published CRDs
that carry the rules under test (rule texts and messages as published)."""
import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .helpers import make_ns, raw


def _crd(group, kind, plural, schema, scope="Namespaced"):
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "%s.%s" % (plural, group)},
            "spec": {"group": group, "scope": scope,
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}}]}}


def _obj(group, kind, name, spec):
    return {"apiVersion": group + "/v1", "kind": kind, "metadata": {"name": name},
            "spec": spec}


def _create(api, group, plural, ns, obj):
    return raw(api, "POST", "/apis/%s/v1/namespaces/%s/%s" % (group, ns, plural), obj)


def _object(props, **extra):
    return dict({"type": "object", "properties": props}, **extra)


_LISTENER = _object({"name": {"type": "string"}, "port": {"type": "integer"},
                     "protocol": {"type": "string"}, "hostname": {"type": "string"},
                     "tls": _object({"mode": {"type": "string"}})}, required=["name", "port",
                                                                            "protocol"])
GATEWAY = _object({"spec": _object({
    "gatewayClassName": {"type": "string"},
    "listeners": {
        "type": "array", "items": _LISTENER, "maxItems": 64,
        "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
        "x-kubernetes-validations": [
            {"message": "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
             "rule": "self.all(l, l.protocol in ['HTTP', 'TCP', 'UDP'] ? !has(l.tls) : true)"},
            {"message": "Listener name must be unique within the Gateway",
             "rule": "self.all(l1, self.exists_one(l2, l1.name == l2.name))"},
            {"message": "Combination of port, protocol and hostname must be unique for each "
                        "listener",
             "rule": "self.all(l1, self.exists_one(l2, l1.port == l2.port && l1.protocol == "
                     "l2.protocol && (has(l1.hostname) && has(l2.hostname) ? l1.hostname == "
                     "l2.hostname : !has(l1.hostname) && !has(l2.hostname))))"}]}},
    required=["gatewayClassName", "listeners"])})

# Istio's DestinationRule load balancer: at most one of simple/consistentHash (not inside
# oneOf) and its connect timeout (a duration rule).
DESTINATION_RULE = _object({"spec": _object({
    "host": {"type": "string"},
    "trafficPolicy": _object({
        "loadBalancer": _object({"simple": {"type": "string"},
                                 "consistentHash": _object({"httpHeaderName":
                                                            {"type": "string"}})},
                                oneOf=[{"not": {"anyOf": [{"required": ["simple"]},
                                                          {"required": ["consistentHash"]}]}},
                                       {"required": ["simple"]},
                                       {"required": ["consistentHash"]}]),
        "connectTimeout": {"type": "string", "x-kubernetes-validations": [
            {"message": "must be a valid duration greater than 1ms",
             "rule": "duration(self) >= duration('1ms')"}]}})})})


def test_gateway_listener_rules_refuse_invalid_gateways(api, v1):
    g = "gateway.networking.k8s.io"
    client.ApiextensionsV1Api(api).create_custom_resource_definition(
        _crd(g, "Gateway", "gateways", GATEWAY))
    ns = make_ns(v1)
    http = {"name": "http", "port": 80, "protocol": "HTTP"}
    code, _ = _create(api, g, "gateways", ns, _obj(g, "Gateway", "ok", {
        "gatewayClassName": "istio", "listeners": [http, {
            "name": "https", "port": 443, "protocol": "HTTPS", "tls": {"mode": "Terminate"}}]}))
    assert code == 201
    code, st = _create(api, g, "gateways", ns, _obj(g, "Gateway", "tls-on-http", {
        "gatewayClassName": "istio", "listeners": [dict(http, tls={"mode": "Terminate"})]}))
    assert (code, st["reason"]) == (422, "Invalid")
    assert st["message"] == 'Gateway.gateway.networking.k8s.io "tls-on-http" is invalid: ' \
        'spec.listeners: Invalid value: "array": tls must not be specified for protocols ' \
        "['HTTP', 'TCP', 'UDP']"
    code, st = _create(api, g, "gateways", ns, _obj(g, "Gateway", "same-port", {
        "gatewayClassName": "istio", "listeners": [http, dict(http, name="http2")]}))
    assert code == 422 and [c["message"] for c in st["details"]["causes"]] == [
        'Invalid value: "array": Combination of port, protocol and hostname must be unique '
        "for each listener"]


def test_not_inside_one_of_and_a_duration_rule(api, v1):
    g = "networking.istio.io"
    client.ApiextensionsV1Api(api).create_custom_resource_definition(
        _crd(g, "DestinationRule", "destinationrules", DESTINATION_RULE))
    ns = make_ns(v1)
    for name, lb in (("none", {}), ("simple", {"simple": "ROUND_ROBIN"}),
                     ("hash", {"consistentHash": {"httpHeaderName": "x"}})):
        code, body = _create(api, g, "destinationrules", ns, _obj(g, "DestinationRule", name, {
            "host": "a", "trafficPolicy": {"loadBalancer": lb, "connectTimeout": "2s"}}))
        assert code == 201, body
    code, st = _create(api, g, "destinationrules", ns, _obj(g, "DestinationRule", "both", {
        "host": "a", "trafficPolicy": {"loadBalancer": {
            "simple": "ROUND_ROBIN", "consistentHash": {"httpHeaderName": "x"}}}}))
    assert code == 422
    assert st["details"]["causes"][0]["field"] == "spec.trafficPolicy.loadBalancer"
    assert "one and only one schema (oneOf)" in st["message"]
    code, st = _create(api, g, "destinationrules", ns, _obj(g, "DestinationRule", "zero", {
        "host": "a", "trafficPolicy": {"connectTimeout": "0s"}}))
    assert code == 422 and st["details"]["causes"][0] == {
        "field": "spec.trafficPolicy.connectTimeout", "reason": "FieldValueInvalid",
        "message": 'Invalid value: "string": must be a valid duration greater than 1ms'}


def test_transition_rule_message_expression_and_field_path(api, v1):
    g = "rules.example.com"
    schema = _object({"spec": _object({
        "name": {"type": "string", "x-kubernetes-validations": [
            {"rule": "self == oldSelf", "message": "name is immutable"}]},
        "min": {"type": "integer"}, "max": {"type": "integer"}}, **{
        "x-kubernetes-validations": [
            {"rule": "self.min <= self.max", "fieldPath": ".min",
             "messageExpression": "'min (' + string(self.min) + ') exceeds max'"}]})})
    client.ApiextensionsV1Api(api).create_custom_resource_definition(
        _crd(g, "Range", "ranges", schema))
    ns = make_ns(v1)
    co = client.CustomObjectsApi(api)
    co.create_namespaced_custom_object(g, "v1", ns, "ranges", _obj(g, "Range", "r", {
        "name": "a", "min": 1, "max": 2}))
    with pytest.raises(ApiException) as e:
        co.create_namespaced_custom_object(g, "v1", ns, "ranges", _obj(g, "Range", "bad", {
            "name": "a", "min": 5, "max": 2}))
    cause = json.loads(e.value.body)["details"]["causes"][0]
    assert cause == {"field": "spec.min", "reason": "FieldValueInvalid",
                     "message": 'Invalid value: "object": min (5) exceeds max'}
    # The transition rule runs on update only.
    with pytest.raises(ApiException) as e:
        co.patch_namespaced_custom_object(g, "v1", ns, "ranges", "r", {"spec": {"name": "b"}})
    assert "spec.name: Invalid value: \"string\": name is immutable" in \
        json.loads(e.value.body)["message"]
    co.patch_namespaced_custom_object(g, "v1", ns, "ranges", "r", {"spec": {"max": 9}})


def test_crd_schemas_must_be_structural_and_rules_must_compile(api):
    ext = client.ApiextensionsV1Api(api)
    g = "bad.example.com"
    untyped = _crd(g, "Thing", "things", _object({"spec": {"properties": {
        "a": {"type": "string"}}}}))
    code, st = raw(api, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                   untyped)
    assert (code, st["reason"]) == (422, "Invalid")
    assert {"field": "spec.versions[0].schema.openAPIV3Schema.properties[spec].type",
            "reason": "FieldValueRequired",
            "message": "Required value: must not be empty for specified object fields"} \
        in st["details"]["causes"]
    typed_junctor = _crd(g, "Thing", "things", _object({"spec": _object({}, anyOf=[
        {"type": "object", "required": ["a"]}])}))
    code, st = raw(api, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                   typed_junctor)
    assert code == 422 and st["details"]["causes"][0]["field"].endswith(
        "properties[spec].anyOf[0].type")
    bad_rule = _crd(g, "Thing", "things", _object({"spec": _object({}, **{
        "x-kubernetes-validations": [{"rule": "self.a =="}]})}))
    code, st = raw(api, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                   bad_rule)
    assert code == 422 and "compilation failed" in st["message"]
    assert st["details"]["causes"][0]["field"] == \
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
    with pytest.raises(ApiException):
        ext.read_custom_resource_definition("things." + g)

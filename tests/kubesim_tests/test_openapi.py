"""The OpenAPI v3 documents carry the kinds' schemas: `kubectl explain` works for built-in
kinds and custom resources."""
from kubernetes import client

from .helpers import kubectl, needs_kubectl


@needs_kubectl
def test_kubectl_explain_builtin_kind(sim):
    out = kubectl(sim, "explain", "deployment.spec").stdout
    assert "KIND:       Deployment" in out and "FIELD: spec <DeploymentSpec>" in out
    assert "replicas\t<integer>" in out
    assert "template\t<PodTemplateSpec> -required-" in out
    out = kubectl(sim, "explain", "pods.spec.containers.ports.containerPort").stdout
    assert "FIELD: containerPort <integer>" in out


@needs_kubectl
def test_kubectl_explain_custom_resource(sim, api):
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "lamps.explain.example.com"},
           "spec": {"group": "explain.example.com", "scope": "Namespaced",
                    "names": {"plural": "lamps", "singular": "lamp", "kind": "Lamp"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {
                                      "type": "object", "description": "A lamp.",
                                      "properties": {"spec": {
                                          "type": "object", "required": ["watts"],
                                          "properties": {"watts": {
                                              "type": "integer",
                                              "description": "Power drawn."}}}}}}}]}}
    client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
    out = kubectl(sim, "explain", "lamps.spec").stdout
    assert "KIND:       Lamp" in out and "watts\t<integer> -required-" in out
    assert "Power drawn." in out
    assert "ObjectMeta" in kubectl(sim, "explain", "lamp.metadata").stdout

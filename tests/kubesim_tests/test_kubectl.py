"""kubectl, a client we did not write, against the emulator."""
import json
import subprocess
import textwrap

import pytest

from .helpers import KUBECTL, kubectl, needs_kubectl, unique

pytestmark = [pytest.mark.kubectl, needs_kubectl]

MULTI_DOC = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.example.com
    spec:
      group: example.com
      names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
      scope: Namespaced
      versions:
      - name: v1
        served: true
        storage: true
        additionalPrinterColumns:
        - {name: Size, type: integer, jsonPath: .spec.size}
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                properties:
                  size: {type: integer}
    ---
    apiVersion: v1
    kind: Namespace
    metadata: {name: NS}
    ---
    apiVersion: example.com/v1
    kind: Widget
    metadata: {name: w1, namespace: NS}
    spec: {size: 3}
    ---
    apiVersion: example.com/v1
    kind: Widget
    metadata: {name: w2, namespace: NS}
    spec: {size: 5}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: NS, labels: {app: web}}
    spec:
      replicas: 2
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
          - name: web
            image: nginx
            ports: [{containerPort: 80}]
    """)


def test_get_describe_label_annotate_delete(sim):
    ns = unique("k")
    assert "namespace/%s created" % ns in kubectl(sim, "create", "namespace", ns).stdout
    kubectl(sim, "create", "configmap", "cfg", "-n", ns, "--from-literal=a=1")
    out = kubectl(sim, "get", "configmaps", "-n", ns).stdout
    assert "cfg" in out.split() and "NAME" in out
    kubectl(sim, "label", "configmap", "cfg", "-n", ns, "tier=web")
    kubectl(sim, "annotate", "configmap", "cfg", "-n", ns, "note=hello")
    got = json.loads(kubectl(sim, "get", "cm", "cfg", "-n", ns, "-o", "json").stdout)
    assert got["metadata"]["labels"] == {"tier": "web"}
    assert got["metadata"]["annotations"] == {"note": "hello"}
    assert got["data"] == {"a": "1"}
    assert kubectl(sim, "get", "cm", "-n", ns, "-l", "tier=web", "-o", "name").stdout.split() \
        == ["configmap/cfg"]
    desc = kubectl(sim, "describe", "configmap", "cfg", "-n", ns).stdout
    assert "tier=web" in desc and "note: hello" in desc.replace("note:  ", "note: ")
    kubectl(sim, "delete", "configmap", "cfg", "-n", ns)
    r = kubectl(sim, "get", "cm", "cfg", "-n", ns, check=False)
    assert r.returncode != 0 and "NotFound" in r.stderr
    kubectl(sim, "delete", "namespace", ns)
    assert sim.get_object("v1", "namespaces", None, ns) is None


def test_apply_server_side_multi_document_with_crd(sim, tmp_path):
    ns = unique("apply")
    f = tmp_path / "all.yaml"
    f.write_text(MULTI_DOC.replace("NS", ns))
    # Like a real cluster: kubectl resolves every document before applying any, so the
    # Widgets may be refused the first time, while their CRD is not yet there.
    first = kubectl(sim, "apply", "--server-side", "-f", str(f), check=False)
    assert "customresourcedefinition.apiextensions.k8s.io/widgets.example.com " \
           "serverside-applied" in first.stdout
    out = kubectl(sim, "apply", "--server-side", "-f", str(f)).stdout
    for what in ("namespace/%s" % ns, "widget.example.com/w1", "widget.example.com/w2",
                 "deployment.apps/web"):
        assert what + " serverside-applied" in out
    table = kubectl(sim, "get", "widgets", "-n", ns).stdout
    assert [line.split()[:2] for line in table.splitlines()[1:]] == [["w1", "3"], ["w2", "5"]]
    assert kubectl(sim, "get", "wd", "-n", ns, "-o", "name").stdout.split() == \
        ["widget.example.com/w1", "widget.example.com/w2"]
    w1 = sim.get_object("example.com/v1", "widgets", ns, "w1")
    assert w1["metadata"]["managedFields"][0]["manager"] == "kubectl"
    # A conflicting imperative edit, then apply without and with --force-conflicts.
    kubectl(sim, "scale", "deployment", "web", "-n", ns, "--replicas=4")
    r = kubectl(sim, "apply", "--server-side", "-f", str(f), check=False)
    assert r.returncode != 0 and "conflict" in r.stderr.lower()
    kubectl(sim, "apply", "--server-side", "--force-conflicts", "-f", str(f))
    assert sim.get_object("apps/v1", "deployments", ns, "web")["spec"]["replicas"] == 2
    kubectl(sim, "rollout", "status", "deployment/web", "-n", ns)
    # Client-side apply works too (kubectl computes the patch).
    kubectl(sim, "apply", "-f", str(f))


def test_api_resources_lists_builtins_and_crds(sim):
    out = kubectl(sim, "api-resources").stdout
    rows = {line.split()[0] for line in out.splitlines()[1:]}
    for r in ("namespaces", "deployments", "daemonsets", "clusterroles",
              "customresourcedefinitions", "mutatingwebhookconfigurations", "leases",
              "poddisruptionbudgets", "horizontalpodautoscalers", "endpointslices"):
        assert r in rows
    assert "deploy" in out.split() and "crd,crds" in out.split()


def test_auth_can_i_with_a_service_account_token(sim):
    ns = unique("auth")
    kubectl(sim, "create", "namespace", ns)
    kubectl(sim, "create", "serviceaccount", "viewer", "-n", ns)
    kubectl(sim, "create", "rolebinding", "viewer", "-n", ns, "--clusterrole=view",
            "--serviceaccount=%s:viewer" % ns)
    token = kubectl(sim, "create", "token", "viewer", "-n", ns).stdout.strip()
    assert token.count(".") == 2

    def can(*args):
        r = kubectl(sim, "auth", "can-i", *args, "-n", ns, token=token, check=False)
        return r.stdout.strip()

    assert can("list", "pods") == "yes"
    assert can("get", "deployments.apps") == "yes"
    assert can("create", "configmaps") == "no"
    assert can("list", "secrets") == "no"
    assert can("list", "pods", "--all-namespaces") == "no"
    r = kubectl(sim, "get", "secrets", "-n", ns, token=token, check=False)
    assert r.returncode != 0 and "forbidden" in r.stderr.lower()
    assert kubectl(sim, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}",
                   token=token).stdout == "system:serviceaccount:%s:viewer" % ns


def test_get_watch_receives_events(sim):
    ns = unique("watch")
    kubectl(sim, "create", "namespace", ns)
    p = subprocess.Popen([KUBECTL, "--kubeconfig", sim.kubeconfig_path, "get", "configmaps",
                          "-n", ns, "-w", "-o", "name"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        # The initial list: the namespace's root CA configmap.
        assert p.stdout.readline().strip() == "configmap/kube-root-ca.crt"
        kubectl(sim, "create", "configmap", "new-one", "-n", ns)
        assert p.stdout.readline().strip() == "configmap/new-one"
        kubectl(sim, "label", "configmap", "new-one", "-n", ns, "x=y")
        assert p.stdout.readline().strip() == "configmap/new-one"
    finally:
        p.kill()
        p.wait()


def test_wait_for_condition_and_delete(sim):
    ns = unique("wait")
    kubectl(sim, "create", "namespace", ns)
    # kubectl sends this Deployment (and the Service below) as protobuf.
    kubectl(sim, "create", "deployment", "d", "-n", ns, "--image=nginx", "--port=8080")
    dep = sim.get_object("apps/v1", "deployments", ns, "d")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert (c["image"], c["ports"][0]["containerPort"]) == ("nginx", 8080)
    assert "creationTimestamp" not in dep["spec"]["template"]["metadata"]
    kubectl(sim, "create", "service", "loadbalancer", "d", "-n", ns, "--tcp=443:8443")
    svc = sim.get_object("v1", "services", ns, "d")
    assert svc["spec"]["ports"][0]["targetPort"] == 8443
    assert svc["status"]["loadBalancer"]["ingress"][0]["ip"]
    kubectl(sim, "wait", "--for=condition=Available", "deployment/d", "-n", ns,
            "--timeout=60s")
    kubectl(sim, "delete", "deployment", "d", "-n", ns, "--wait=true")
    assert sim.get_object("apps/v1", "deployments", ns, "d") is None

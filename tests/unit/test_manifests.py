"""The rendered objects of a member's mesh: valid Kubernetes, with the settings a user
would check (reference istio-ambient-multicluster.md §0-§8, issue 5)."""

import ast
import base64
import json
import os
import re

import pytest

from azext_appnet.errors import InvalidInputError
from azext_appnet.manifests import (MANAGED_BY_SELECTOR, NAMESPACE, OWNER_LABELS, MemberSpec,
                                    Phase, kinds_for_prune, owner_selector, render)
from azext_appnet.versions import load_catalog

VERSIONS = load_catalog().names()
CACERTS = {
    "ca-cert.pem": "-----BEGIN CERTIFICATE-----\nINTERMEDIATE\n-----END CERTIFICATE-----\n",
    # A placeholder, not a key (the marker is split so no file looks like it holds one).
    "ca-key.pem": "-----BEGIN EC PRIVATE" " KEY-----\nKEY\n-----END EC PRIVATE" " KEY-----\n",
    "root-cert.pem": "-----BEGIN CERTIFICATE-----\nROOT\n-----END CERTIFICATE-----\n",
    "cert-chain.pem": "-----BEGIN CERTIFICATE-----\nINTERMEDIATE\n-----END CERTIFICATE-----\n"
                      "-----BEGIN CERTIFICATE-----\nROOT\n-----END CERTIFICATE-----\n",
}
NETWORK_ID = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/"
              "providers/Microsoft.AppLink/appLinks/net1")
# Kinds defined by CRDs (Istio's and Gateway API's): kubernetes-validate has no schema.
CUSTOM_GROUPS = ("gateway.networking.k8s.io/", "networking.istio.io/", "security.istio.io/",
                 "telemetry.istio.io/", "extensions.istio.io/")


def spec(version="1.5", **kw):
    args = dict(network_name="net1", network_id=NETWORK_ID, member_name="m1",
                version=version, cacerts=dict(CACERTS), root_cert_pem=CACERTS["root-cert.pem"])
    args.update(kw)
    return MemberSpec(**args)


def objects(phases):
    return [o for p in phases for o in p.objects]


def find(phases, kind, name):
    found = [o for o in objects(phases) if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def container_env(workload):
    c = workload["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in c["env"]}


@pytest.fixture(scope="module", params=VERSIONS)
def rendered(request):
    return request.param, render(spec(request.param))


# --- schema validation -----------------------------------------------------------------

def test_every_builtin_object_validates_strictly(rendered):
    import kubernetes_validate  # pylint: disable=import-outside-toplevel
    _, phases = rendered
    checked = 0
    for o in objects(phases):
        if o["apiVersion"].startswith(CUSTOM_GROUPS):
            continue
        kubernetes_validate.validate(o, "1.33", strict=True)
        checked += 1
    assert checked == len(objects(phases)) - 1  # all but the Gateway


_SECTION_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


def check_gateway_api_gateway(o):
    """The shape of a gateway.networking.k8s.io/v1 Gateway (standard channel v1.4/v1.5)
    for the fields we use: what the CRD's schema and CEL rules would reject."""
    assert o["apiVersion"] == "gateway.networking.k8s.io/v1" and o["kind"] == "Gateway"
    assert set(o) <= {"apiVersion", "kind", "metadata", "spec"}
    s = o["spec"]
    assert set(s) <= {"gatewayClassName", "listeners", "addresses", "infrastructure"}
    assert isinstance(s["gatewayClassName"], str) and 1 <= len(s["gatewayClassName"]) <= 253
    listeners = s["listeners"]
    assert 1 <= len(listeners) <= 64
    assert len({l["name"] for l in listeners}) == len(listeners)
    for l in listeners:
        assert set(l) <= {"name", "hostname", "port", "protocol", "tls", "allowedRoutes"}
        assert {"name", "port", "protocol"} <= set(l)
        assert _SECTION_NAME.match(l["name"]) and len(l["name"]) <= 253
        assert isinstance(l["port"], int) and 1 <= l["port"] <= 65535
        assert re.match(r"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$", l["protocol"])
        if "tls" in l:
            assert set(l["tls"]) <= {"mode", "certificateRefs", "options", "frontendValidation"}
            assert l["tls"].get("mode", "Terminate") in ("Terminate", "Passthrough")
            options = l["tls"].get("options", {})
            assert len(options) <= 16
            for k, v in options.items():
                assert _LABEL_KEY.match(k) and isinstance(v, str) and len(v) <= 4096
    infra = s.get("infrastructure", {})
    assert set(infra) <= {"labels", "annotations", "parametersRef"}
    for key in ("labels", "annotations"):
        meta = infra.get(key, {})
        assert len(meta) <= 8
        for k, v in meta.items():
            assert _LABEL_KEY.match(k) and isinstance(v, str)
            assert _LABEL_VALUE.match(v) if key == "labels" else len(v) <= 4096


def test_gateway_fits_the_gateway_api_schema(rendered):
    _, phases = rendered
    gateways = [o for o in objects(phases) if o["apiVersion"].startswith(CUSTOM_GROUPS)]
    assert [g["kind"] for g in gateways] == ["Gateway"]
    check_gateway_api_gateway(gateways[0])


def assert_structural(schema, path="schema"):
    """Kubernetes' structural-schema rules, for the constructs our CRDs use."""
    assert isinstance(schema, dict), path
    open_ = schema.get("x-kubernetes-preserve-unknown-fields") is True
    assert "type" in schema or open_ or schema.get("x-kubernetes-int-or-string"), \
        f"{path}: no type"
    assert not ("properties" in schema and "additionalProperties" in schema), path
    for name, sub in schema.get("properties", {}).items():
        assert_structural(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        assert_structural(schema["items"], f"{path}[]")


ISTIO_STORAGE = {
    "wasmplugins.extensions.istio.io": "v1alpha1",
    "destinationrules.networking.istio.io": "v1",
    "gateways.networking.istio.io": "v1",
    "serviceentries.networking.istio.io": "v1",
    "sidecars.networking.istio.io": "v1",
    "virtualservices.networking.istio.io": "v1",
    "workloadentries.networking.istio.io": "v1",
    "workloadgroups.networking.istio.io": "v1",
    "envoyfilters.networking.istio.io": "v1alpha3",
    "proxyconfigs.networking.istio.io": "v1beta1",
    "authorizationpolicies.security.istio.io": "v1",
    "peerauthentications.security.istio.io": "v1",
    "requestauthentications.security.istio.io": "v1",
    "telemetries.telemetry.istio.io": "v1alpha1",
}


# The releases' base charts (crd-all.gen.yaml): TrafficExtension from Istio 1.30.
CRDS_OF_RELEASE = {"1.29": ISTIO_STORAGE,
                   "1.30": dict(ISTIO_STORAGE, **{"trafficextensions.extensions.istio.io": "v1alpha1"}),
                   "1.31": dict(ISTIO_STORAGE, **{"trafficextensions.extensions.istio.io": "v1alpha1"})}


def test_istio_crds_are_those_of_the_release_at_its_storage_versions(rendered):
    version, phases = rendered
    crds = phases[0].objects
    release = ".".join(load_catalog().get(version).istio.split(".")[:2])
    assert {c["metadata"]["name"]: [v["name"] for v in c["spec"]["versions"] if v["storage"]][0]
            for c in crds} == CRDS_OF_RELEASE[release]
    for c in crds:
        s = c["spec"]
        assert c["metadata"]["name"] == f"{s['names']['plural']}.{s['group']}"
        assert s["scope"] == "Namespaced"
        assert sum(v["storage"] for v in s["versions"]) == 1
        assert all(v["served"] for v in s["versions"])
        for v in s["versions"]:
            root = v["schema"]["openAPIV3Schema"]
            assert root["type"] == "object"
            assert_structural(root)
            # Istio's fields are accepted: spec and status keep unknown fields.
            for part in ("spec", "status"):
                assert root["properties"][part]["x-kubernetes-preserve-unknown-fields"] is True
    telemetry = [c for c in crds if c["metadata"]["name"].startswith("telemetries.")][0]
    assert {v["name"] for v in telemetry["spec"]["versions"]} == {"v1alpha1", "v1"}


# --- what a user would check -----------------------------------------------------------

def test_workloads_run_on_linux_nodes(rendered):
    _, phases = rendered
    workloads = [o for o in objects(phases) if o["kind"] in ("DaemonSet", "Deployment")]
    assert {(o["kind"], o["metadata"]["name"]) for o in workloads} == {
        ("DaemonSet", "istio-cni-node"), ("DaemonSet", "ztunnel"), ("Deployment", "istiod")}
    for o in workloads:
        assert o["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}


def test_ztunnel_network_cluster_and_addresses():
    s = spec(member_name="east", network="east-net", cluster_id="east-cluster")
    ds = find(render(s), "DaemonSet", "ztunnel")
    e = container_env(ds)
    assert e["NETWORK"] == "east-net"
    assert e["ISTIO_META_CLUSTER_ID"] == "east-cluster"
    assert e["CA_ADDRESS"] == e["XDS_ADDRESS"] == "istiod.applink-system.svc:15012"
    pod = ds["spec"]["template"]["spec"]
    caps = pod["containers"][0]["securityContext"]["capabilities"]
    assert caps == {"drop": ["ALL"], "add": ["NET_ADMIN", "SYS_ADMIN", "NET_RAW"]}
    assert {v["name"] for v in pod["volumes"]} >= {"istio-token", "istiod-ca-cert",
                                                   "cni-ztunnel-sock-dir", "tmp"}


def _hours(duration):
    m = re.fullmatch(r"(\d+)h", duration)
    assert m, f"{duration} is not a Go duration in hours"
    return int(m.group(1))


def test_istiod_environment(rendered):
    version, phases = rendered
    e = container_env(find(phases, "Deployment", "istiod"))
    assert e["CLUSTER_ID"] == "m1"
    assert e["PILOT_ENABLE_AMBIENT"] == "true"
    assert e["AMBIENT_ENABLE_MULTI_NETWORK"] == "true"
    assert e["CA_TRUSTED_NODE_ACCOUNTS"] == "applink-system/ztunnel"
    assert e["ISTIO_MULTIROOT_MESH"] == "true"
    assert _hours(e["DEFAULT_WORKLOAD_CERT_TTL"]) == 24
    assert _hours(e["MAX_WORKLOAD_CERT_TTL"]) >= 24
    # 1.29+ (all catalog versions): set explicitly, the code default is false (§4.2).
    assert e["AMBIENT_ENABLE_MULTI_NETWORK_INGRESS"] == "true"


def test_cluster_id_defaults_to_member_and_network_to_member_network():
    s = spec(member_name="west")
    assert (s.cluster_id, s.network, s.mesh_id) == ("west", "west-network", "net1")
    phases = render(s)
    assert container_env(find(phases, "Deployment", "istiod"))["CLUSTER_ID"] == "west"
    assert container_env(find(phases, "DaemonSet", "ztunnel"))["NETWORK"] == "west-network"


def images(phases):
    out = {}
    for o in objects(phases):
        if o["kind"] in ("Deployment", "DaemonSet"):
            for c in o["spec"]["template"]["spec"]["containers"]:
                out[o["metadata"]["name"]] = c["image"]
    return out


def test_images_come_from_the_catalog_of_the_version(rendered):
    version, phases = rendered
    v = load_catalog().get(version)
    assert images(phases) == {"istiod": v.images["pilot"], "ztunnel": v.images["ztunnel"],
                              "istio-cni-node": v.images["cni"]}
    for image in images(phases).values():
        assert image.startswith("docker.io/istio/")
        assert image.endswith(f":{v.istio}-distroless")
        assert "-distroless-distroless" not in image  # issue #51040 (§1)
    # The east-west gateway's proxy image is built by istiod from the injector values.
    values = json.loads(find(phases, "ConfigMap", "istio-sidecar-injector")["data"]["values"])
    g = values["global"]
    proxy = f"{g['hub']}/{g['proxy']['image']}:{g['tag']}-{g['variant']}"
    assert proxy == v.images["proxy"]


def test_upgrade_from_1_4_to_1_5_changes_image_tags():
    old, new = images(render(spec("1.4"))), images(render(spec("1.5")))
    assert old.keys() == new.keys()
    for name in old:
        assert old[name] != new[name]
        assert old[name].rsplit(":", 1)[0] == new[name].rsplit(":", 1)[0]
        assert new[name].endswith(":1.30.4-distroless")


def test_validating_webhooks_fail_open_until_istiod_serves(rendered):
    # Issue 9 point 3: Ignore until istiod patches the caBundle and flips it to Fail;
    # no caBundle of ours. Named per namespace (point 6), as upstream does outside
    # istio-system, so another Istio's istiod-default-validator is not taken over.
    _, phases = rendered
    configs = [o for o in objects(phases) if o["kind"] == "ValidatingWebhookConfiguration"]
    assert {o["metadata"]["name"] for o in configs} == {
        "istio-validator-applink-system", "istiod-default-validator-applink-system"}
    for o in configs:
        assert o["metadata"]["labels"]["istio.io/rev"] == "default"  # how istiod finds them
        for w in o["webhooks"]:
            assert w["failurePolicy"] == "Ignore"
            assert "caBundle" not in w["clientConfig"]
            assert w["clientConfig"]["service"]["namespace"] == NAMESPACE
            assert w["clientConfig"]["service"]["name"] == "istiod"


def test_no_injection_webhook_can_select_a_pod(rendered):
    # Issue 9 point 2, decided for every version: ambient only, no sidecar template, so no
    # MutatingWebhookConfiguration at all and istiod patches none.
    _, phases = rendered
    assert not [o for o in objects(phases) if o["kind"] == "MutatingWebhookConfiguration"]
    istiod = find(phases, "Deployment", "istiod")
    assert container_env(istiod)["INJECTION_WEBHOOK_CONFIG_NAME"] == ""
    config = json.loads(find(phases, "ConfigMap", "istio-sidecar-injector")["data"]["config"])
    assert "sidecar" not in config["templates"]
    assert "sidecar" not in config.get("defaultTemplates", [])


def test_cluster_scoped_names_carry_the_namespace_where_istio_system_has_fixed_ones(rendered):
    # The names a default istio-system install uses must stay free for it (point 6).
    _, phases = rendered
    taken = {"istio-sidecar-injector", "istiod-default-validator", "istio-validator-istio-system",
             "istiod-clusterrole-istio-system", "istio-reader-clusterrole-istio-system",
             "istiod-gateway-controller-istio-system"}
    cluster_scoped = [o for o in objects(phases) if "namespace" not in o["metadata"]
                      and o["kind"] not in ("Namespace", "CustomResourceDefinition")]
    assert not taken & {o["metadata"]["name"] for o in cluster_scoped}
    istiod_side = [o for o in cluster_scoped if not o["metadata"]["name"].startswith("istio-cni")]
    assert all(o["metadata"]["name"].endswith("-" + NAMESPACE) for o in istiod_side)


def test_every_object_carries_the_owner_labels_and_network_id(rendered):
    _, phases = rendered
    s = spec()
    labels = OWNER_LABELS(s)
    assert labels == {"app.kubernetes.io/managed-by": "az-appnet",
                      "appnet.azure.com/network": "net1", "appnet.azure.com/member": "m1"}
    assert MANAGED_BY_SELECTOR == "app.kubernetes.io/managed-by=az-appnet"
    assert owner_selector("net1", "m1") == ",".join(f"{k}={v}" for k, v in labels.items())
    for o in objects(phases):
        md = o["metadata"]
        assert labels.items() <= md["labels"].items(), md["name"]
        assert md["annotations"]["appnet.azure.com/network-id"] == NETWORK_ID
        for k, v in md["labels"].items():
            assert _LABEL_KEY.match(k) and _LABEL_VALUE.match(v), (md["name"], k, v)


def test_namespaced_objects_live_in_applink_system_and_nothing_says_istio_system(rendered):
    _, phases = rendered
    scoped = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
              "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
    for o in objects(phases):
        if o["kind"] in scoped:
            assert "namespace" not in o["metadata"]
        else:
            assert o["metadata"]["namespace"] == NAMESPACE
    for o in objects(phases):
        if o["kind"] in ("ClusterRoleBinding", "RoleBinding"):
            assert all(s["namespace"] == NAMESPACE for s in o["subjects"])
    assert "istio-system" not in json.dumps([p.objects for p in phases])


def test_namespace_labels():
    ns = find(render(spec(network="blue")), "Namespace", NAMESPACE)
    labels = ns["metadata"]["labels"]
    assert labels["topology.istio.io/network"] == "blue"
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert OWNER_LABELS(spec()).items() <= labels.items()


AZURE_INTERNAL = "service.beta.kubernetes.io/azure-load-balancer-internal"


@pytest.mark.parametrize("mode", ["Internal", "External", "internal"])
def test_east_west_gateway(mode):
    s = spec(east_west_gateway=mode, network="m1-net")
    phases = render(s)
    assert [o["kind"] for o in phases[-1].objects] == ["Gateway"]
    gw = phases[-1].objects[0]
    assert gw["metadata"]["labels"]["topology.istio.io/network"] == "m1-net"
    assert gw["spec"]["gatewayClassName"] == "istio-east-west"
    assert gw["spec"]["listeners"] == [{
        "name": "mesh", "port": 15008, "protocol": "HBONE",
        "tls": {"mode": "Terminate",
                "options": {"gateway.istio.io/tls-terminate-mode": "ISTIO_MUTUAL"}}}]
    infra = gw["spec"]["infrastructure"]
    # istiod copies exactly these labels onto the objects it generates: never ours.
    assert infra["labels"] == {"topology.istio.io/network": "m1-net"}
    if mode.lower() == "internal":
        assert infra["annotations"] == {AZURE_INTERNAL: "true"}
    else:
        assert "annotations" not in infra
        assert AZURE_INTERNAL not in json.dumps(gw)


def test_cacerts_and_root_cert_hold_the_input():
    s = spec()
    phases = render(s)
    secret = find(phases, "Secret", "cacerts")
    assert secret["type"] == "Opaque"
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == CACERTS
    cm = find(phases, "ConfigMap", "istio-root-cert")
    assert cm["data"] == {"root-cert.pem": CACERTS["root-cert.pem"]}
    # istiod must not start without the plugged-in CA (it would self-sign).
    volumes = find(phases, "Deployment", "istiod")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "cacerts", "secret": {"secretName": "cacerts", "optional": False}} in volumes


def test_apply_order(rendered):
    _, phases = rendered
    assert all(isinstance(p, Phase) for p in phases)
    assert [p.name for p in phases] == ["crds", "namespace", "config", "istiod", "cni",
                                        "ztunnel", "gateway"]
    assert {o["kind"] for o in phases[0].objects} == {"CustomResourceDefinition"}
    assert [o["kind"] for o in phases[1].objects] == ["Namespace"]
    for p in phases[2:]:
        assert p.objects
        assert all(o["kind"] not in ("Namespace", "CustomResourceDefinition") for o in p.objects)
    # cacerts and istiod's ConfigMaps exist before istiod starts (§0.2, §4.4).
    config_names = {(o["kind"], o["metadata"]["name"]) for o in phases[2].objects}
    assert {("Secret", "cacerts"), ("ConfigMap", "istio"), ("ConfigMap", "istio-sidecar-injector"),
            ("ServiceAccount", "istiod"), ("ServiceAccount", "ztunnel"),
            ("ServiceAccount", "istio-cni")} <= config_names
    assert [o["kind"] for o in phases[-1].objects] == ["Gateway"]
    # Objects within a phase are distinct (they may be applied in parallel).
    for p in phases:
        keys = [(o["kind"], o["metadata"]["name"]) for o in p.objects]
        assert len(keys) == len(set(keys))


def test_kinds_for_prune_cover_every_rendered_kind_crds_last(rendered):
    _, phases = rendered
    kinds = kinds_for_prune()
    assert kinds[-1] == ("apiextensions.k8s.io/v1", "customresourcedefinitions", False)
    assert len(set(kinds)) == len(kinds)
    plural = {"Gateway": "gateways", "DaemonSet": "daemonsets", "Deployment": "deployments"}
    listed = {(api, ns) for api, _, ns in kinds}
    for o in objects(phases):
        namespaced = "namespace" in o["metadata"]
        assert (o["apiVersion"], namespaced) in listed, o["kind"]
    apis = {(api, p) for api, p, _ in kinds}
    for kind, p in plural.items():
        o = next(o for o in objects(phases) if o["kind"] == kind)
        assert (o["apiVersion"], p) in apis


def test_mesh_config(rendered):
    _, phases = rendered
    mesh = json.loads(find(phases, "ConfigMap", "istio")["data"]["mesh"])
    assert mesh["trustDomain"] == "cluster.local"
    assert mesh["rootNamespace"] == NAMESPACE
    assert mesh["defaultConfig"]["meshId"] == "net1"
    assert mesh["defaultConfig"]["discoveryAddress"] == "istiod.applink-system.svc:15012"
    assert mesh["defaultConfig"]["proxyMetadata"]["ISTIO_META_ENABLE_HBONE"] == "true"
    assert mesh["serviceScopeConfigs"] == [{
        "servicesSelector": {"matchExpressions": [
            {"key": "istio.io/global", "operator": "In", "values": ["true"]}]},
        "scope": "GLOBAL"}]


def test_mesh_config_is_identical_across_members_of_a_network():
    # §4.3: MeshConfig must be identical in every cluster.
    a = find(render(spec(member_name="a")), "ConfigMap", "istio")["data"]
    b = find(render(spec(member_name="b", network="other")), "ConfigMap", "istio")["data"]
    assert a == b


def test_injector_carries_the_gateway_templates_and_member_values():
    phases = render(spec(cluster_id="c1", network="n1"))
    data = find(phases, "ConfigMap", "istio-sidecar-injector")["data"]
    config = json.loads(data["config"])
    # waypoint: classes istio-waypoint and istio-east-west; kube-gateway: class istio.
    assert set(config["templates"]) == {"waypoint", "kube-gateway"}
    for template in config["templates"].values():
        assert "kind: Deployment" in template and "ISTIO_META_REQUESTED_NETWORK_VIEW" in template
    values = json.loads(data["values"])
    assert values["global"]["multiCluster"]["clusterName"] == "c1"
    assert values["global"]["network"] == "n1"
    assert values["global"]["meshID"] == "net1"
    assert values["global"]["istioNamespace"] == NAMESPACE
    assert values["pilot"]["env"]["AMBIENT_ENABLE_MULTI_NETWORK"] == "true"


def test_mesh_and_injector_text_is_yaml_too():
    import yaml  # pylint: disable=import-outside-toplevel
    phases = render(spec())
    for name, key in (("istio", "mesh"), ("istio-sidecar-injector", "config"),
                      ("istio-sidecar-injector", "values")):
        text = find(phases, "ConfigMap", name)["data"][key]
        assert yaml.safe_load(text) == json.loads(text)


def test_cni_ambient_config_and_host_paths(rendered):
    _, phases = rendered
    data = find(phases, "ConfigMap", "istio-cni-config")["data"]
    assert data["AMBIENT_ENABLED"] == "true"
    selectors = json.loads(data["AMBIENT_ENABLEMENT_SELECTOR"])
    assert selectors[0] == {"podSelector": {"matchLabels": {"istio.io/dataplane-mode": "ambient"}}}
    pod = find(phases, "DaemonSet", "istio-cni-node")["spec"]["template"]["spec"]
    assert {v["hostPath"]["path"] for v in pod["volumes"]} == {
        "/opt/cni/bin", "/etc/cni/net.d", "/proc", "/var/run/istio-cni", "/var/run/netns",
        "/var/run/ztunnel"}
    caps = pod["containers"][0]["securityContext"]["capabilities"]
    assert set(caps["add"]) == {"NET_ADMIN", "NET_RAW", "SYS_PTRACE", "SYS_ADMIN", "DAC_OVERRIDE"}


def test_reader_role_reads_configmaps_as_upstream_from_istio_1_29(rendered):
    # Upstream's reader ClusterRole grants configmaps from 1.29 on (point 5): a peer istiod
    # watches the mesh config through the remote secret.
    _, phases = rendered
    role = find(phases, "ClusterRole", "istio-reader-clusterrole-applink-system")
    resources = {r for rule in role["rules"] if rule["apiGroups"] == [""] for r in rule["resources"]}
    assert "configmaps" in resources  # secrets: only before 1.31 (the test below)
    for rule in role["rules"]:
        if rule["apiGroups"] == [""]:
            assert rule["verbs"] == ["get", "list", "watch"]


def test_cni_grace_period_and_pod_rule_reconcile_as_upstream(rendered):
    # Point 4: the chart's 30 s and reconcileIptablesOnStartup true (1.29-1.31).
    _, phases = rendered
    ds = find(phases, "DaemonSet", "istio-cni-node")
    assert ds["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    data = find(phases, "ConfigMap", "istio-cni-config")["data"]
    assert data["AMBIENT_RECONCILE_POD_RULES_ON_STARTUP"] == "true"


def test_reader_role_has_no_secrets_where_istiod_can_do_without():
    def reader(version):
        role = find(render(spec(version)), "ClusterRole", "istio-reader-clusterrole-applink-system")
        return {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}

    def pilot_env(version):
        istiod = find(render(spec(version)), "Deployment", "istiod")
        return {e["name"]: e.get("value") for e in istiod["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert not {r for r, _ in reader("1.6") if r == "secrets"}          # Istio 1.31
    assert pilot_env("1.6")["PILOT_ENABLE_REMOTE_CREDENTIALS_CONTROLLER"] == "false"
    assert "PILOT_ENABLE_REMOTE_CREDENTIALS_CONTROLLER" not in pilot_env("1.5")  # unknown before 1.31
    assert ("secrets", "list") in reader("1.5")
    for version in ("1.4", "1.5", "1.6"):
        assert {v for r, v in reader(version) if r == "serviceexports"} == {"get", "list", "watch"}


def test_ztunnel_checks_peers_against_the_revocation_list():
    pod = find(render(spec()), "DaemonSet", "ztunnel")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "crl-volume")
    volume = next(v for v in pod["volumes"] if v["name"] == "crl-volume")
    assert env["CRL_PATH"] == mount["mountPath"] + "/ca-crl.pem"
    assert volume["configMap"] == {"name": "istio-ca-crl", "optional": True}  # what istiod publishes


def test_render_is_deterministic_and_pure():
    s = spec()
    assert render(s) == render(s)
    assert json.dumps([p.objects for p in render(s)], sort_keys=True)


@pytest.mark.parametrize("bad", [
    dict(east_west_gateway="Public"),
    dict(cluster_id="Not_A_Label"),
    dict(member_name="x" * 64),
    dict(cacerts={"ca-cert.pem": "x"}),
])
def test_member_spec_rejects_bad_input(bad):
    with pytest.raises(InvalidInputError):
        spec(**bad)


def test_unknown_version_is_refused():
    with pytest.raises(InvalidInputError):
        render(spec("9.9"))


def test_manifests_package_imports_only_the_standard_library():
    """No azure.cli, knack, kubernetes, cryptography or YAML in the engine package."""
    root = os.path.join(os.path.dirname(__file__), "..", "..", "azext_appnet", "manifests")
    allowed = {"base64", "json", "os", "re", "dataclasses", "typing", "hashlib"}
    for name in os.listdir(root):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(root, name), encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                mods = [node.module.split(".")[0]]
            else:
                continue
            assert set(mods) <= allowed, (name, mods)


def test_consecutive_versions_differ_only_by_what_the_newer_release_adds():
    """An upgrade re-applies the same objects plus what the newer release ships (the
    TrafficExtension CRD of Istio 1.30), so prune after an upgrade removes nothing that the
    new version still needs; a rollback prunes only what the older release lacks."""
    def identities(version):
        return {(o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
                for o in objects(render(spec(version)))}
    for older, newer in zip(VERSIONS, VERSIONS[1:]):
        assert identities(older) <= identities(newer)
        assert {i[1] for i in identities(newer) - identities(older)} <= {"CustomResourceDefinition"}


def test_istiod_disruption_budget_lets_nodes_drain():
    # minAvailable must stay below the fewest replicas the HPA keeps, or a drain hangs.
    for version in load_catalog().names():
        objects = [o for p in render(spec(version)) for o in p.objects]
        pdb = next(o for o in objects if o["kind"] == "PodDisruptionBudget")
        hpa = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler")
        assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]

"""istiod's two configuration ConfigMaps: `istio` (mesh config) and
`istio-sidecar-injector` (injection config, values and the waypoint template).

Both keys hold text that istiod parses as YAML. We write JSON, which is YAML too, so the
package needs no YAML library and the output is deterministic.
"""

import json
import os

from .meta import ISTIOD_ADDRESS, LINUX_NODES, NAMESPACE, TRUST_DOMAIN, obj

_DATA_DIR = os.path.join(os.path.dirname(__file__), "data")
# §4.4: the `waypoint` template renders waypoints *and* east-west gateways (class
# istio-east-west). It is an istiod Go template, copied byte for byte from the Istio chart
# (manifests/charts/istio-control/istio-discovery/files/waypoint.yaml of istio/istio at
# development commit 00db3114, the only copy available offline). It is shared by every
# catalog version and NOT yet byte-checked against the 1.29.7 / 1.30.4 / 1.31.0 tags;
# the fields and functions it uses (.InfrastructureLabels, .ControllerLabel, .KubeVersion,
# omitNil, the east-west ISTIO_META_REQUESTED_NETWORK_VIEW) are those of ambient
# multi-network istiod. To pin per version, add data/waypoint-<minor>.yaml and pick it here.
_WAYPOINT_TEMPLATE_FILE = os.path.join(_DATA_DIR, "waypoint.yaml")


def _dump(value):
    return json.dumps(value, indent=2, sort_keys=True)


def proxy_metadata():
    # §4.3: HBONE for every proxy; §9.5: PROXY_CONFIG_XDS_AGENT lets Envoy proxies take a
    # new root bundle without a restart, which root rotation (multi-root) needs.
    return {"ISTIO_META_ENABLE_HBONE": "true", "PROXY_CONFIG_XDS_AGENT": "true"}


def mesh_config(spec):
    """The MeshConfig of §4.3. It must be identical in every member, so only mesh-wide
    inputs (meshId) go in it, never the member's cluster or network."""
    return {
        "trustDomain": TRUST_DOMAIN,
        "rootNamespace": NAMESPACE,
        "enablePrometheusMerge": True,
        "defaultProviders": {"metrics": ["prometheus"]},
        "defaultConfig": {
            "discoveryAddress": ISTIOD_ADDRESS,
            "meshId": spec.mesh_id,
            "image": {"imageType": "distroless"},
            "proxyMetadata": proxy_metadata(),
        },
        # Without this block istio.io/global=true does nothing (§4.3, §8.5).
        "serviceScopeConfigs": [{
            "servicesSelector": {"matchExpressions": [
                {"key": "istio.io/global", "operator": "In", "values": ["true"]}]},
            "scope": "GLOBAL",
        }],
    }


def mesh_configmap(spec):
    # `meshNetworks` is unused in ambient (§4.1, §8.2) but istiod expects the key.
    return obj("ConfigMap", "istio", labels={"app": "istiod", "istio.io/rev": "default"},
               data={"mesh": _dump(mesh_config(spec)), "meshNetworks": _dump({"networks": {}})})


def injector_values(spec, version, profile, pilot_env):
    """The `values` key: what the waypoint template reads (§4.4). The cluster name and the
    network become ISTIO_META_CLUSTER_ID / ISTIO_META_NETWORK of the east-west gateway."""
    return {
        "global": {
            # Tag without the variant, variant separately: "X-distroless-distroless" is the
            # broken tag of issue #51040 (§1).
            "hub": version.hub,
            "tag": version.istio,
            "variant": version.variant,
            "proxy": {
                "image": "proxyv2",
                "clusterDomain": "cluster.local",
                "logLevel": "warning",
                "componentLogLevel": "misc:error",
                "outlierLogPath": "",
            },
            "logging": {"level": "default:info"},
            "logAsJson": False,
            "multiCluster": {"clusterName": spec.cluster_id, "enabled": True},
            "network": spec.network,
            "meshID": spec.mesh_id,
            "caAddress": "",
            "caName": "",
            "pilotCertProvider": "istiod",
            "trustBundleName": "",
            "trustDomain": TRUST_DOMAIN,
            "imagePullPolicy": "",
            "imagePullSecrets": [],
            "istioNamespace": NAMESPACE,
            "platform": "",
            "sds": {"token": {"aud": "istio-ca"}},
            "sts": {"servicePort": 0},
            "waypoint": {
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                              "limits": {"cpu": "2", "memory": "1Gi"}},
                "affinity": {},
                "topologySpreadConstraints": [],
                # Gateways run Envoy for Linux only: keep them off Windows nodes.
                "nodeSelector": dict(LINUX_NODES),
                "tolerations": [],
            },
        },
        "revision": "",
        "pilot": {"cni": {"enabled": True, "provider": "default"}, "env": dict(pilot_env)},
        "gateways": {"securityContext": {}, "seccompProfile": {}},
        "sidecarInjectorWebhook": {"defaultTemplates": [], "templates": {}},
    }


def waypoint_template():
    with open(_WAYPOINT_TEMPLATE_FILE, encoding="utf-8") as f:
        return f.read()


def injector_configmap(spec, version, profile, pilot_env):
    # §4.4: mandatory in ambient; without it istiod has no template to render the
    # east-west gateway. Only the waypoint template is shipped: members run ambient, no
    # sidecars, so the injection webhook never needs the sidecar template (the webhook
    # matches only namespaces labelled for sidecar injection).
    config = {
        "defaultTemplates": ["sidecar"],
        "policy": "enabled",
        "alwaysInjectSelector": [],
        "neverInjectSelector": [],
        "injectedAnnotations": {},
        "templates": {"waypoint": waypoint_template()},
    }
    return obj("ConfigMap", "istio-sidecar-injector",
               labels={"app": "sidecar-injector", "istio.io/rev": "default"},
               data={"config": _dump(config),
                     "values": _dump(injector_values(spec, version, profile, pilot_env))})

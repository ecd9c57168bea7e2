"""istiod's two configuration ConfigMaps: `istio` (mesh config) and
`istio-sidecar-injector` (injection config, values and the gateway templates of
templates.py).

Both keys hold text that istiod parses as YAML. We write JSON, which is YAML too, so the
package needs no YAML library and the output is deterministic.
"""

import json

from . import templates
from .meta import ISTIOD_ADDRESS, LINUX_NODES, NAMESPACE, TRUST_DOMAIN, obj


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


def injector_values(spec, version, pilot_env):
    """The `values` key: what the gateway templates read (templates.py). The cluster name
    and the network become ISTIO_META_CLUSTER_ID / ISTIO_META_NETWORK of the gateways."""
    linux_only = dict(LINUX_NODES)  # gateways run Envoy for Linux only: never on Windows nodes
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
                "nodeSelector": linux_only,
                "tolerations": [],
            },
            # Ingress gateways (class istio, template kube-gateway).
            "gateway": {
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                              "limits": {"cpu": "2", "memory": "1Gi"}},
                "nodeSelector": dict(linux_only),
            },
        },
        "revision": "",
        "pilot": {"cni": {"enabled": True, "provider": "default"}, "env": dict(pilot_env)},
        "gateways": {"securityContext": {}, "seccompProfile": {}},
        "sidecarInjectorWebhook": {"defaultTemplates": [], "templates": {}},
    }


def injector_configmap(spec, version, pilot_env):
    # §4.4: mandatory in ambient; without it istiod has no template to render the
    # east-west gateway, waypoints or ingress gateways. No `defaultTemplates` and no
    # `sidecar` template: no injection webhook is registered (istiod.py), so no pod is
    # ever injected.
    config = {
        "policy": "enabled",
        "alwaysInjectSelector": [],
        "neverInjectSelector": [],
        "injectedAnnotations": {},
        "templates": templates.templates(),
    }
    return obj("ConfigMap", "istio-sidecar-injector",
               labels={"app": "sidecar-injector", "istio.io/rev": "default"},
               data={"config": _dump(config),
                     "values": _dump(injector_values(spec, version, pilot_env))})

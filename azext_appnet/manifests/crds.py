"""Istio's CRDs (reference §3; 14 up to Istio 1.29, 15 from 1.30), written by us rather
than vendored.

Istio's own CRDs carry full OpenAPI schemas generated from its protos. We only need the API
server to *store* Istio's resources and let istiod validate them (its validating webhook
does), so each version gets a structural schema whose `spec` and `status` are open objects
(`x-kubernetes-preserve-unknown-fields`): every field Istio defines is accepted and kept.
Storage versions are the ones §3 lists for 1.28; none of 1.29-1.31 changes them. Istio 1.30
added TrafficExtension (extensions.istio.io, v1alpha1 only); a version whose release ships
it (catalog feature `trafficExtensionsCrd`) gets it.
"""

from .meta import cluster_obj

# (group, kind, plural, singular, shortNames, versions, storage version)
_NET_VERSIONS = ["v1", "v1alpha3", "v1beta1"]
ISTIO_CRDS = [
    ("extensions.istio.io", "WasmPlugin", "wasmplugins", "wasmplugin", [], ["v1alpha1"], "v1alpha1"),
    ("networking.istio.io", "DestinationRule", "destinationrules", "destinationrule", ["dr"],
     _NET_VERSIONS, "v1"),
    ("networking.istio.io", "EnvoyFilter", "envoyfilters", "envoyfilter", [], ["v1alpha3"], "v1alpha3"),
    ("networking.istio.io", "Gateway", "gateways", "gateway", ["gw"], _NET_VERSIONS, "v1"),
    ("networking.istio.io", "ProxyConfig", "proxyconfigs", "proxyconfig", [], ["v1beta1"], "v1beta1"),
    ("networking.istio.io", "ServiceEntry", "serviceentries", "serviceentry", ["se"],
     _NET_VERSIONS, "v1"),
    ("networking.istio.io", "Sidecar", "sidecars", "sidecar", [], _NET_VERSIONS, "v1"),
    ("networking.istio.io", "VirtualService", "virtualservices", "virtualservice", ["vs"],
     _NET_VERSIONS, "v1"),
    ("networking.istio.io", "WorkloadEntry", "workloadentries", "workloadentry", ["we"],
     _NET_VERSIONS, "v1"),
    ("networking.istio.io", "WorkloadGroup", "workloadgroups", "workloadgroup", ["wg"],
     _NET_VERSIONS, "v1"),
    ("security.istio.io", "AuthorizationPolicy", "authorizationpolicies", "authorizationpolicy",
     ["ap"], ["v1", "v1beta1"], "v1"),
    ("security.istio.io", "PeerAuthentication", "peerauthentications", "peerauthentication",
     ["pa"], ["v1", "v1beta1"], "v1"),
    ("security.istio.io", "RequestAuthentication", "requestauthentications",
     "requestauthentication", ["ra"], ["v1", "v1beta1"], "v1"),
    # §3: telemetry keeps v1alpha1 as the storage version; v1 is served.
    ("telemetry.istio.io", "Telemetry", "telemetries", "telemetry", ["telemetry"],
     ["v1", "v1alpha1"], "v1alpha1"),
]

TRAFFIC_EXTENSIONS = ("extensions.istio.io", "TrafficExtension", "trafficextensions",
                      "trafficextension", [], ["v1alpha1"], "v1alpha1")

_OPEN = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _schema():
    # Structural: every node has a type; `metadata` is left to the API server.
    return {"openAPIV3Schema": {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": dict(_OPEN),
            "status": dict(_OPEN),
        },
    }}


def _crd(group, kind, plural, singular, short_names, versions, storage):
    names = {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": singular,
             "categories": ["istio-io", group.replace(".", "-")]}
    if short_names:
        names["shortNames"] = list(short_names)
    return cluster_obj(
        "CustomResourceDefinition", f"{plural}.{group}",
        labels={"app.kubernetes.io/part-of": "istio", "app.kubernetes.io/name": "istio-base"},
        spec={
            "group": group,
            "names": names,
            "scope": "Namespaced",  # §3: every Istio CRD is namespaced
            "versions": [{
                "name": v,
                "served": True,
                "storage": v == storage,
                "schema": _schema(),
                "subresources": {"status": {}},
                "additionalPrinterColumns": [{
                    "name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
            } for v in versions],
        })


def crd_table(profile):
    """(group, kind, plural, ...) of every Istio CRD the version's release ships."""
    return ([TRAFFIC_EXTENSIONS] if profile.traffic_extensions_crd else []) + ISTIO_CRDS


def render(_spec, _version, profile):
    return [_crd(*c) for c in crd_table(profile)]

"""istiod: the control plane and CA of one member (reference §4, chart istio-discovery).

`config_objects` are what istiod needs before it starts (identities, RBAC, ConfigMaps);
`runtime_objects` run or front it (Deployment, Service, webhooks, PDB, HPA).
"""

from . import mesh
from .meta import (ISTIOD, ISTIOD_ADDRESS, LINUX_NODES, NAMESPACE, cluster_obj, env,
                   obj)

# §8.4 has one reader ServiceAccount with a never-expiring token Secret for every peer. We
# render only the reader ClusterRole: each peer gets its own identity bound to it, with
# short-lived tokens (operations/mesh_links.py).
CLUSTERROLE = f"istiod-clusterrole-{NAMESPACE}"
GATEWAY_CONTROLLER_ROLE = f"istiod-gateway-controller-{NAMESPACE}"
READER_ROLE = f"istio-reader-clusterrole-{NAMESPACE}"
VALIDATOR = f"istio-validator-{NAMESPACE}"
# The base chart's name is "istiod-default-validator" in every namespace; named per namespace
# here like every other cluster-scoped object of ours, so a cluster's other Istio keeps its
# own. istiod reads that name only to learn the default revision when its own revision is
# not "default" (tag watcher); ours is "default".
DEFAULT_VALIDATOR = f"istiod-default-validator-{NAMESPACE}"
INJECTOR_CONFIGMAP = "istio-sidecar-injector"  # namespaced; istiod looks it up by this name

# Sidecar injection: none. Members run ambient only, so no MutatingWebhookConfiguration is
# registered: no pod can be sent to a sidecar injector, and a pod labelled for injection
# (istio-injection=enabled, istio.io/rev, sidecar.istio.io/inject=true) is created as it is,
# without a sidecar. The injector ConfigMap still carries the gateway templates istiod's
# deployment controller renders (mesh.py).

POD_LABELS = {"app": "istiod", "istio": "pilot", "istio.io/rev": "default",
              "sidecar.istio.io/inject": "false", "istio.io/dataplane-mode": "none"}
SELECTOR = {"istio": "pilot"}  # §4.2
_ISTIOD_LABELS = {"app": "istiod", "istio": "pilot", "istio.io/rev": "default"}

ISTIO_CONFIG_GROUPS = ["config.istio.io", "security.istio.io", "networking.istio.io",
                       "authentication.istio.io", "rbac.istio.io", "telemetry.istio.io",
                       "extensions.istio.io"]
_GATEWAY_GROUPS = ["gateway.networking.k8s.io", "gateway.networking.x-k8s.io"]
_READ = ["get", "list", "watch"]
_ALL = ["get", "list", "watch", "create", "update", "patch", "delete"]


def pilot_env(spec, profile):
    """istiod's literal env (§4.2), as name -> value. Also handed to the injector values
    (`pilot.env`), which the waypoint template reads."""
    e = {
        "REVISION": "default",
        "PILOT_CERT_PROVIDER": "istiod",
        "JWT_POLICY": "third-party-jwt",
        "ISTIOD_ADDR": ISTIOD_ADDRESS,
        "PILOT_ENABLE_ANALYSIS": "false",
        "CLUSTER_ID": spec.cluster_id,
        "PLATFORM": "",
        # Empty: there is no injection webhook whose caBundle istiod should patch (above).
        "INJECTION_WEBHOOK_CONFIG_NAME": "",
        # Ambient, multi-network (§4.2, §8.2). PILOT_ENABLE_AMBIENT gates every ambient flag.
        "PILOT_ENABLE_AMBIENT": "true",
        "AMBIENT_ENABLE_MULTI_NETWORK": "true",
        # Lets ztunnel ask for certificates of the pods on its node (§4.2, §6).
        "CA_TRUSTED_NODE_ACCOUNTS": f"{NAMESPACE}/ztunnel",
        # design §5 / §9.4: 24h workload certificates. MAX_WORKLOAD_CERT_TTL rejects (does
        # not clamp) longer requests; 48h admits the 24h that ztunnel and istio-agent ask
        # for and refuses long-lived ones. Go durations have no "d" unit.
        "DEFAULT_WORKLOAD_CERT_TTL": "24h",
        "MAX_WORKLOAD_CERT_TTL": "48h",
        # §9.5: needed before a root rotation, or istiod refuses a changed root bundle.
        "ISTIO_MULTIROOT_MESH": "true",
        "PILOT_ENABLE_PROTOCOL_SNIFFING_FOR_OUTBOUND": "true",
        "PILOT_ENABLE_PROTOCOL_SNIFFING_FOR_INBOUND": "true",
    }
    if profile.multi_network_ingress_env:
        e["AMBIENT_ENABLE_MULTI_NETWORK_INGRESS"] = "true"
    if profile.baggage_env:
        e["AMBIENT_ENABLE_BAGGAGE"] = "true"
    if profile.remote_credentials_opt_out:
        # Gateway credentials are read from the local cluster only, so the reader role of
        # the other members needs no access to their Secrets.
        e["PILOT_ENABLE_REMOTE_CREDENTIALS_CONTROLLER"] = "false"
    return e


def _rule(groups, resources, verbs, names=None):
    r = {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}
    if names:
        r["resourceNames"] = list(names)
    return r


def _cluster_role(name, rules, labels=None):
    return cluster_obj("ClusterRole", name, labels=labels or {"app": "istiod"}, rules=rules)


def _cluster_binding(name, role, sa, labels=None):
    return cluster_obj(
        "ClusterRoleBinding", name, labels=labels or {"app": "istiod"},
        roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        subjects=[{"kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE}])


def _istiod_rules():
    # §4.1, "istiod-clusterrole".
    return [
        _rule(["admissionregistration.k8s.io"], ["mutatingwebhookconfigurations"],
              ["get", "list", "watch", "update", "patch"]),
        _rule(["admissionregistration.k8s.io"], ["validatingwebhookconfigurations"],
              ["get", "list", "watch", "update"]),
        _rule(ISTIO_CONFIG_GROUPS, ["*"], _READ),
        _rule(["networking.istio.io"], ["workloadentries"], _ALL),
        _rule(["networking.istio.io"], ["workloadentries/status", "serviceentries/status"], _ALL),
        _rule(["security.istio.io"], ["authorizationpolicies/status"], _ALL),
        _rule([""], ["services/status"], _ALL),
        _rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], _READ),
        _rule([""], ["pods", "nodes", "services", "namespaces", "endpoints"], _READ),
        _rule(["discovery.k8s.io"], ["endpointslices"], _READ),
        _rule(["networking.k8s.io"], ["ingresses", "ingressclasses"], _READ),
        _rule(["networking.k8s.io"], ["ingresses/status"], ["*"]),
        # istiod writes istio-ca-root-cert into every namespace.
        _rule([""], ["configmaps"], ["create", "get", "list", "watch", "update"]),
        _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
        _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
        _rule(_GATEWAY_GROUPS, ["*"], _READ),
        _rule(_GATEWAY_GROUPS, ["*"], ["update", "patch"]),  # statuses (no */status wildcard)
        _rule(["gateway.networking.k8s.io"], ["gatewayclasses"],
              ["create", "update", "patch", "delete"]),
        _rule(["inference.networking.k8s.io", "inference.networking.x-k8s.io"],
              ["inferencepools"], _READ),
        _rule(["inference.networking.k8s.io", "inference.networking.x-k8s.io"],
              ["inferencepools/status"], ["update", "patch"]),
        # Cluster-wide: remote secrets live in applink-system, gateway certs anywhere.
        _rule([""], ["secrets"], _READ),
        _rule(["multicluster.x-k8s.io"], ["serviceexports"], _READ + ["create", "delete"]),
        _rule(["multicluster.x-k8s.io"], ["serviceimports"], _READ),
    ]


def _gateway_controller_rules():
    # §4.1: lets istiod create the east-west gateway's (and waypoints') objects.
    return [
        _rule(["apps"], ["deployments"], _ALL),
        _rule(["autoscaling"], ["horizontalpodautoscalers"], _ALL),
        _rule(["policy"], ["poddisruptionbudgets"], _ALL),
        _rule([""], ["services"], _ALL),
        _rule([""], ["serviceaccounts"], _ALL),
    ]


def _reader_rules(profile):
    # §4.1 / §8.4: what the other members' istiods may do here through the remote secret.
    # ConfigMaps as upstream's reader role from 1.29 on: a peer istiod watches the mesh
    # config here (trust domain) and gets 403 without it.
    core = ["endpoints", "pods", "services", "nodes", "replicationcontrollers", "namespaces",
            "configmaps"]
    if not profile.remote_credentials_opt_out:
        core.append("secrets")  # before 1.31 istiod reads remote Secrets (README: exposure)
    return [
        _rule(ISTIO_CONFIG_GROUPS, ["*"], _READ),
        _rule([""], core, _READ),
        _rule(["networking.istio.io"], ["workloadentries"], _READ),
        _rule(_GATEWAY_GROUPS, ["gateways"], _READ),
        _rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], _READ),
        _rule(["discovery.k8s.io"], ["endpointslices"], _READ),
        # No create/delete: only istiod's MCS controller writes ServiceExports, and MCS is off.
        _rule(["multicluster.x-k8s.io"], ["serviceexports"], _READ),
        _rule(["multicluster.x-k8s.io"], ["serviceimports"], _READ),
        _rule(["apps"], ["replicasets"], _READ),
        _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
        _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
    ]


def config_objects(spec, version, profile):
    reader_labels = {"app": "istio-reader"}
    return [
        obj("ServiceAccount", ISTIOD, labels={"app": "istiod"}),
        _cluster_role(CLUSTERROLE, _istiod_rules()),
        _cluster_binding(CLUSTERROLE, CLUSTERROLE, ISTIOD),
        _cluster_role(GATEWAY_CONTROLLER_ROLE, _gateway_controller_rules()),
        _cluster_binding(GATEWAY_CONTROLLER_ROLE, GATEWAY_CONTROLLER_ROLE, ISTIOD),
        _cluster_role(READER_ROLE, _reader_rules(profile), labels=reader_labels),
        obj("Role", ISTIOD, labels={"app": "istiod"}, rules=[
            _rule(["networking.istio.io"], ["gateways"], ["create"]),  # webhook self-check
            _rule([""], ["secrets"], ["create", "get", "watch", "list", "update", "delete"]),
            _rule([""], ["configmaps"], ["delete"]),
            _rule(["coordination.k8s.io"], ["leases"], ["get", "update", "patch", "create"]),
        ]),
        obj("RoleBinding", ISTIOD, labels={"app": "istiod"},
            roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ISTIOD},
            subjects=[{"kind": "ServiceAccount", "name": ISTIOD, "namespace": NAMESPACE}]),
        mesh.mesh_configmap(spec),
        mesh.injector_configmap(spec, version, pilot_env(spec, profile)),
    ]


# A hash of the public half of `cacerts` on istiod's pod template: a new intermediate or a
# new trust bundle changes the template, so applying it rolls istiod onto the new material
# (§9.5: restart istiod after each step of a rotation), while re-applying the same material
# changes nothing. The key is left out of the hash: it changes whenever the cert does.
CACERTS_HASH_ANNOTATION = "appnet.azure.com/cacerts-sha256"
CRL_KEY = "ca-crl.pem"


def cacerts_hash(cacerts):
    import hashlib
    digest = hashlib.sha256()
    for name in ("ca-cert.pem", "cert-chain.pem", "root-cert.pem"):
        digest.update(name.encode() + b"\0" + (cacerts.get(name) or "").encode() + b"\0")
    if cacerts.get(CRL_KEY):
        # istiod looks for ca-crl.pem only when it starts (PILOT_ENABLE_CA_CRL, on by
        # default), then watches it: a new revocation list must roll it.
        digest.update(CRL_KEY.encode() + b"\0" + cacerts[CRL_KEY].encode() + b"\0")
    return digest.hexdigest()


def deployment(spec, version, profile):
    container = {
        "name": "discovery",
        "image": version.images["pilot"],
        "args": ["discovery", "--monitoringAddr=:15014", "--log_output_level=default:info",
                 "--domain", "cluster.local", "--keepaliveMaxServerConnectionAge", "30m"],
        "ports": [
            {"containerPort": 8080, "name": "http-debug", "protocol": "TCP"},
            {"containerPort": 15010, "name": "grpc-xds", "protocol": "TCP"},
            {"containerPort": 15012, "name": "tls-xds", "protocol": "TCP"},
            {"containerPort": 15014, "name": "http-monitoring", "protocol": "TCP"},
            {"containerPort": 15017, "name": "https-webhooks", "protocol": "TCP"},
        ],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080},
                           "initialDelaySeconds": 1, "periodSeconds": 3, "timeoutSeconds": 5},
        "env": [env("POD_NAME", field="metadata.name"),
                env("POD_NAMESPACE", field="metadata.namespace"),
                env("SERVICE_ACCOUNT", field="spec.serviceAccountName"),
                *(env(k, v) for k, v in pilot_env(spec, profile).items()),
                env("GOMEMLIMIT", resource="limits.memory"),
                env("GOMAXPROCS", resource="limits.cpu")],
        "resources": {"requests": {"cpu": "500m", "memory": "2048Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsUser": 1337, "runAsGroup": 1337, "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [
            {"name": "istio-token", "mountPath": "/var/run/secrets/tokens", "readOnly": True},
            {"name": "local-certs", "mountPath": "/var/run/secrets/istio-dns"},
            {"name": "cacerts", "mountPath": "/etc/cacerts", "readOnly": True},
        ],
    }
    pod = {
        "metadata": {"labels": dict(POD_LABELS),
                     "annotations": {"prometheus.io/port": "15014", "prometheus.io/scrape": "true",
                                     "sidecar.istio.io/inject": "false",
                                     CACERTS_HASH_ANNOTATION: cacerts_hash(spec.cacerts)}},
        "spec": {
            "serviceAccountName": ISTIOD,
            "nodeSelector": dict(LINUX_NODES),
            "securityContext": {"fsGroup": 1337},
            # §4.2: istiod must start before the CNI has made the node ready for ambient.
            "tolerations": [{"key": "cni.istio.io/not-ready", "operator": "Exists"}],
            "containers": [container],
            "volumes": [
                {"name": "local-certs", "emptyDir": {"medium": "Memory"}},
                {"name": "istio-token", "projected": {"sources": [{"serviceAccountToken": {
                    "audience": "istio-ca", "expirationSeconds": 43200, "path": "istio-token"}}]}},
                # The chart marks cacerts optional; we do not: an istiod started without it
                # would mint a self-signed CA that no other member trusts (§0.2).
                {"name": "cacerts", "secret": {"secretName": "cacerts", "optional": False}},
            ],
        },
    }
    # No `replicas`: the HPA owns it, and an applied value would fight the HPA.
    return obj("Deployment", ISTIOD, labels=dict(_ISTIOD_LABELS), spec={
        "strategy": {"rollingUpdate": {"maxSurge": "100%", "maxUnavailable": "25%"}},
        "selector": {"matchLabels": dict(SELECTOR)},
        "template": pod,
    })


def service():
    return obj("Service", ISTIOD, labels=dict(_ISTIOD_LABELS), spec={
        "ports": [
            {"name": "grpc-xds", "port": 15010, "protocol": "TCP"},
            {"name": "https-dns", "port": 15012, "protocol": "TCP"},
            {"name": "https-webhook", "port": 443, "targetPort": 15017, "protocol": "TCP"},
            {"name": "http-monitoring", "port": 15014, "protocol": "TCP"},
        ],
        "selector": {"app": "istiod", "istio": "pilot"},
    })


def _client(path):
    # No caBundle: istiod patches it in at run time (§4.1), so we never own it.
    return {"service": {"name": ISTIOD, "namespace": NAMESPACE, "path": path, "port": 443}}


def _expr(key, operator, values=None):
    e = {"key": key, "operator": operator}
    if values is not None:
        e["values"] = list(values)
    return e


def _validation_webhook(name, object_selector=None):
    w = {
        "name": name,
        "clientConfig": _client("/validate"),
        "rules": [{"operations": ["CREATE", "UPDATE"],
                   "apiGroups": ["security.istio.io", "networking.istio.io",
                                 "telemetry.istio.io", "extensions.istio.io"],
                   "apiVersions": ["*"], "resources": ["*"]}],
        # Ignore until istiod serves: its webhook controller patches in the caBundle and
        # flips this to Fail once it can validate, as with the chart's first install. With
        # Fail from the start, every Istio config write would be refused until then.
        "failurePolicy": "Ignore",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1beta1", "v1"],
    }
    if object_selector:
        w["objectSelector"] = object_selector
    return w


def validating_webhooks():
    # istiod's validation controller finds these by the istio.io/rev label.
    labels = {"app": "istiod", "istio": "istiod", "istio.io/rev": "default"}
    return [
        cluster_obj("ValidatingWebhookConfiguration", VALIDATOR, labels=labels, webhooks=[
            _validation_webhook("rev.validation.istio.io", {"matchExpressions": [
                _expr("istio.io/rev", "In", ["default"])]})]),
        cluster_obj("ValidatingWebhookConfiguration", DEFAULT_VALIDATOR, labels=labels,
                    webhooks=[_validation_webhook("validation.istio.io")]),
    ]


def runtime_objects(spec, version, profile):
    return [
        deployment(spec, version, profile),
        service(),
        obj("PodDisruptionBudget", ISTIOD, labels=dict(_ISTIOD_LABELS), spec={
            "minAvailable": 1, "selector": {"matchLabels": {"app": "istiod", "istio": "pilot"}}}),
        # Two replicas at least (Istio's chart has one): with the PDB's minAvailable 1, a
        # single istiod could never be evicted, and node drains (AKS upgrades) would hang.
        obj("HorizontalPodAutoscaler", ISTIOD, labels=dict(_ISTIOD_LABELS), spec={
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": ISTIOD},
            "minReplicas": 2, "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}),
    ] + validating_webhooks()

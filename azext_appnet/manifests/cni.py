"""istio-cni node agent with ambient enabled (reference §5, chart istio-cni).

It sets up in-pod traffic redirection to ztunnel for pods enrolled in ambient.
"""

import json

from .meta import LINUX_NODES, NAMESPACE, TOLERATE_ALL, cluster_obj, env, obj

NAME = "istio-cni"
DAEMONSET = "istio-cni-node"
CONFIGMAP = "istio-cni-config"
_LABELS = {"app": NAME}

# §2: a pod is enrolled when it is labelled ambient, or its namespace is and the pod has
# not opted out with `none`. Parsed by the agent as YAML; JSON is YAML.
ENABLEMENT_SELECTOR = [
    {"podSelector": {"matchLabels": {"istio.io/dataplane-mode": "ambient"}}},
    {"podSelector": {"matchExpressions": [
        {"key": "istio.io/dataplane-mode", "operator": "NotIn", "values": ["none"]}]},
     "namespaceSelector": {"matchLabels": {"istio.io/dataplane-mode": "ambient"}}},
]


def configmap(_spec, version, profile):
    data = {
        "CURRENT_AGENT_VERSION": version.istio,
        "AMBIENT_ENABLED": "true",
        "AMBIENT_ENABLEMENT_SELECTOR": json.dumps(ENABLEMENT_SELECTOR),
        "AMBIENT_DNS_CAPTURE": "true",
        "AMBIENT_IPV6": "true",
        # As the chart (ambient.reconcileIptablesOnStartup): pods enrolled before an agent
        # upgrade get the new agent's rules instead of keeping the old ones.
        "AMBIENT_RECONCILE_POD_RULES_ON_STARTUP": "true",
        "CHAINED_CNI_PLUGIN": "true",
        "CNI_NET_DIR": "/etc/cni/net.d",
        "MOUNTED_CNI_NET_DIR": "/host/etc/cni/net.d",
        "EXCLUDE_NAMESPACES": "kube-system",
        "ISTIO_OWNED_CNI_CONFIG": "false",
        "REPAIR_ENABLED": "true",
        "REPAIR_REPAIR_PODS": "true",
        "REPAIR_DELETE_PODS": "false",
        "REPAIR_LABEL_PODS": "false",
        "REPAIR_BROKEN_POD_LABEL_KEY": "cni.istio.io/uninitialized",
        "REPAIR_BROKEN_POD_LABEL_VALUE": "true",
        "REPAIR_INIT_CONTAINER_NAME": "istio-validation",
        "LOG_LEVEL": "info",
    }
    if profile.native_nftables_setting:
        data["NATIVE_NFTABLES"] = "false"  # iptables, as the chart's default
    return obj("ConfigMap", CONFIGMAP, labels=dict(_LABELS), data=data)


def _rule(groups, resources, verbs, names=None):
    r = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    if names:
        r["resourceNames"] = names
    return r


def _binding(name, role):
    return cluster_obj(
        "ClusterRoleBinding", name, labels=dict(_LABELS),
        roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        subjects=[{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}])


def config_objects(spec, version, profile):
    return [
        obj("ServiceAccount", NAME, labels=dict(_LABELS)),
        cluster_obj("ClusterRole", NAME, labels=dict(_LABELS), rules=[
            _rule([""], ["pods", "nodes", "namespaces"], ["get", "list", "watch"])]),
        _binding(NAME, NAME),
        cluster_obj("ClusterRole", "istio-cni-repair-role", labels=dict(_LABELS), rules=[
            _rule([""], ["pods"], ["watch", "get", "list"]),
            _rule([""], ["events"], ["create", "patch"])]),
        _binding("istio-cni-repair-rolebinding", "istio-cni-repair-role"),
        # The ambient role writes the redirection annotation onto pods' status and reads its
        # own DaemonSet (§5).
        cluster_obj("ClusterRole", "istio-cni-ambient", labels=dict(_LABELS), rules=[
            _rule([""], ["pods/status"], ["patch", "update"]),
            _rule(["apps"], ["daemonsets"], ["get"], names=[DAEMONSET])]),
        _binding("istio-cni-ambient", "istio-cni-ambient"),
        configmap(spec, version, profile),
    ]


def _host(name, path, type_=None):
    hp = {"path": path}
    if type_:
        hp["type"] = type_
    return {"name": name, "hostPath": hp}


def daemonset(_spec, version, _profile):
    container = {
        "name": "install-cni",
        "image": version.images["cni"],
        "command": ["install-cni"],
        "args": ["--log_output_level=info"],
        "envFrom": [{"configMapRef": {"name": CONFIGMAP}}],
        "env": [
            env("REPAIR_NODE_NAME", field="spec.nodeName"),
            env("REPAIR_RUN_AS_DAEMON", "true"),
            env("REPAIR_SIDECAR_ANNOTATION", "sidecar.istio.io/status"),
            # The agent does not share the host network namespace, so it may switch into it.
            env("ALLOW_SWITCH_TO_HOST_NS", "true"),
            env("NODE_NAME", field="spec.nodeName"),
            env("POD_NAME", field="metadata.name"),
            env("POD_NAMESPACE", field="metadata.namespace"),
            env("GOMEMLIMIT", resource="limits.memory"),
            env("GOMAXPROCS", resource="limits.cpu"),
        ],
        "ports": [{"containerPort": 15014, "name": "metrics", "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8000}},
        "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}},
        "securityContext": {
            "privileged": False, "runAsUser": 0, "runAsGroup": 0, "runAsNonRoot": False,
            "capabilities": {"drop": ["ALL"],
                             "add": ["NET_ADMIN", "NET_RAW", "SYS_PTRACE", "SYS_ADMIN",
                                     "DAC_OVERRIDE"]},
            # The chart's apparmor annotation is deprecated since Kubernetes 1.30 (our
            # minimum); the field says the same.
            "appArmorProfile": {"type": "Unconfined"},
        },
        "volumeMounts": [
            {"name": "cni-bin-dir", "mountPath": "/host/opt/cni/bin"},
            {"name": "cni-net-dir", "mountPath": "/host/etc/cni/net.d"},
            {"name": "cni-socket-dir", "mountPath": "/var/run/istio-cni"},
            {"name": "cni-netns-dir", "mountPath": "/host/var/run/netns",
             "mountPropagation": "HostToContainer"},
            {"name": "cni-ztunnel-sock-dir", "mountPath": "/var/run/ztunnel"},
            {"name": "cni-host-procfs", "mountPath": "/host/proc", "readOnly": True},
        ],
    }
    labels = {"k8s-app": DAEMONSET, "istio.io/dataplane-mode": "none",
              "sidecar.istio.io/inject": "false"}
    return obj("DaemonSet", DAEMONSET, labels={"k8s-app": DAEMONSET, **_LABELS}, spec={
        "selector": {"matchLabels": {"k8s-app": DAEMONSET}},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        "template": {
            "metadata": {"labels": labels,
                         "annotations": {"prometheus.io/scrape": "true",
                                         "prometheus.io/port": "15014",
                                         "prometheus.io/path": "/metrics"}},
            "spec": {
                "serviceAccountName": NAME,
                "nodeSelector": dict(LINUX_NODES),
                "tolerations": [dict(t) for t in TOLERATE_ALL],
                "priorityClassName": "system-node-critical",
                # The chart's 30 s: the agent needs the time to clean up, or pods created
                # during a drain or upgrade fail with "failed to find plugin istio-cni".
                "terminationGracePeriodSeconds": 30,
                "containers": [container],
                "volumes": [
                    _host("cni-bin-dir", "/opt/cni/bin"),
                    _host("cni-net-dir", "/etc/cni/net.d"),
                    _host("cni-socket-dir", "/var/run/istio-cni"),
                    _host("cni-netns-dir", "/var/run/netns", "DirectoryOrCreate"),
                    # ztunnel's socket, /var/run/ztunnel/ztunnel.sock.
                    _host("cni-ztunnel-sock-dir", "/var/run/ztunnel", "DirectoryOrCreate"),
                    _host("cni-host-procfs", "/proc", "Directory"),
                ],
            },
        },
    })

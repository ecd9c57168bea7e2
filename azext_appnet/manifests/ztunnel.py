"""ztunnel, the per-node L4 proxy of ambient (reference §6, chart ztunnel).

ztunnel needs no RBAC: it gets everything through xDS from istiod, and certificates for the
pods on its node through node authorization (istiod's CA_TRUSTED_NODE_ACCOUNTS).
"""

from . import mesh
from .meta import ISTIOD_ADDRESS, LINUX_NODES, TOLERATE_ALL, env, obj

NAME = "ztunnel"  # must match CA_TRUSTED_NODE_ACCOUNTS on istiod (§6)
CRL_DIR = "/var/run/secrets/istio/crl"


def config_objects(_spec, _version, _profile):
    return [obj("ServiceAccount", NAME, labels={"app": NAME})]


def _env(spec):
    out = [
        env("CA_ADDRESS", ISTIOD_ADDRESS),
        env("XDS_ADDRESS", ISTIOD_ADDRESS),
        # §6 / §8.2: the member's network and cluster; without them ztunnel is in the
        # default network and cluster "Kubernetes", and cross-network routing breaks.
        env("NETWORK", spec.network),
        env("ISTIO_META_CLUSTER_ID", spec.cluster_id),
        env("INPOD_ENABLED", "true"),
        env("RUST_LOG", "info"),
        env("RUST_BACKTRACE", "1"),
        env("TERMINATION_GRACE_PERIOD_SECONDS", "30"),
        env("POD_NAME", field="metadata.name"),
        env("POD_NAMESPACE", field="metadata.namespace"),
        env("NODE_NAME", field="spec.nodeName"),
        env("INSTANCE_IP", field="status.podIP"),
        env("SERVICE_ACCOUNT", field="spec.serviceAccountName"),
        env("ZTUNNEL_CPU_LIMIT", resource="limits.cpu"),
    ]
    # The chart's peerCaCrl: check peers against the plug-in CA's revocation list, which
    # istiod publishes as ConfigMap istio-ca-crl (a removed member's intermediate).
    out.append(env("CRL_PATH", f"{CRL_DIR}/ca-crl.pem"))
    # §6: the chart copies meshConfig.defaultConfig.proxyMetadata into ztunnel's env.
    out += [env(k, v) for k, v in mesh.proxy_metadata().items()]
    return out


def daemonset(spec, version, _profile):
    container = {
        "name": "istio-proxy",
        "image": version.images["ztunnel"],
        "args": ["proxy", "ztunnel"],
        "env": _env(spec),
        "ports": [{"containerPort": 15020, "name": "ztunnel-stats", "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}},
        "resources": {"requests": {"cpu": "200m", "memory": "512Mi"}},
        "securityContext": {
            "privileged": False, "allowPrivilegeEscalation": True,
            "readOnlyRootFilesystem": True, "runAsUser": 0, "runAsGroup": 1337,
            "runAsNonRoot": False,
            # NET_ADMIN: TPROXY and socket options; SYS_ADMIN: enter pods' netns; NET_RAW.
            "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN", "SYS_ADMIN", "NET_RAW"]},
        },
        "volumeMounts": [
            {"name": "istio-token", "mountPath": "/var/run/secrets/tokens"},
            {"name": "istiod-ca-cert", "mountPath": "/var/run/secrets/istio"},
            {"name": "cni-ztunnel-sock-dir", "mountPath": "/var/run/ztunnel"},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "crl-volume", "mountPath": CRL_DIR, "readOnly": True},
        ],
    }
    return obj("DaemonSet", NAME, labels={"app": NAME}, spec={
        "selector": {"matchLabels": {"app": NAME}},
        # §6: surge one so a node is never without ztunnel during a rollout.
        "updateStrategy": {"type": "RollingUpdate",
                           "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "template": {
            "metadata": {
                "labels": {"app": NAME, "istio.io/dataplane-mode": "none",
                           "sidecar.istio.io/inject": "false"},
                "annotations": {"prometheus.io/port": "15020", "prometheus.io/scrape": "true"},
            },
            "spec": {
                "serviceAccountName": NAME,
                "nodeSelector": dict(LINUX_NODES),
                "tolerations": [dict(t) for t in TOLERATE_ALL],
                "priorityClassName": "system-node-critical",
                "terminationGracePeriodSeconds": 30,
                "containers": [container],
                "volumes": [
                    {"name": "istio-token", "projected": {"sources": [{"serviceAccountToken": {
                        "audience": "istio-ca", "expirationSeconds": 43200,
                        "path": "istio-token"}}]}},
                    # Published by istiod in every namespace (§9.1).
                    {"name": "istiod-ca-cert", "configMap": {"name": "istio-ca-root-cert"}},
                    {"name": "cni-ztunnel-sock-dir",
                     "hostPath": {"path": "/var/run/ztunnel", "type": "DirectoryOrCreate"}},
                    {"name": "tmp", "emptyDir": {}},
                    # Optional: there is no revocation list until a member is removed.
                    {"name": "crl-volume", "configMap": {"name": "istio-ca-crl", "optional": True}},
                ],
            },
        },
    })

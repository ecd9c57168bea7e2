"""Live, read-only diagnostics of one member and of a whole network
(`az appnet member check`, `az appnet check`).

Each check is a small function that looks at what is on the cluster, compares it with
what AppNet installed there, and returns one result:

    {"name", "status": "Passed" | "Failed" | "Warning", "message", "recommendation"}

Nothing here writes to a cluster, the state store or the key store. The member's
`cacerts` Secret is compared by certificate fingerprints only: its `ca-key.pem` is never
decoded, and the key store's private keys are never read (the expected rendering is built
from public CA material, see `_PublicCA`). Remote secrets are looked at by their
metadata and data keys; their values (kubeconfigs with tokens) are decoded only in memory,
for read requests to the API server a token was issued by: address_check.py with one peer's
copy, `readerTokens` with each token this member holds (does it still authenticate?). No
token is shown or kept.
"""

import base64
import json
import re
import shlex
from ..constants import (MEMBER_NAMESPACE as NAMESPACE, REMOTE_SECRET_CLUSTER_ANNOTATION as CLUSTER_ANNOTATION,
                         REMOTE_SECRET_LABEL, REMOTE_SECRET_PREFIX)
from ..errors import AppNetError
from ..kube.concurrent import gather
from ..kube.nodes import node_os
from ..model import ids

PASSED, FAILED, WARNING = "Passed", "Failed", "Warning"
#: How many member clusters a network check reaches at once.
PARALLELISM = 32
_SHOWN = 5  # objects named in one message before "and N more"


def result(name, status, message, recommendation=None):
    return {"name": name, "status": status, "message": message, "recommendation": recommendation}


def summarize(checks):
    return {"passed": sum(c["status"] == PASSED for c in checks),
            "failed": sum(c["status"] == FAILED for c in checks),
            "warnings": sum(c["status"] == WARNING for c in checks)}


def name_list(items):
    items = list(items)
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _describe(kind, namespace, name):
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


# ---- what the engine knows ----------------------------------------------------------------

class Target:  # pylint: disable=too-many-instance-attributes  # a record of one member's facts
    """One member as the state and the key store know it, gathered before any cluster is
    reached (no private key is read)."""

    def __init__(self, network, member, ca, trust_bundle, others, ca_error=None):
        self.network = network
        self.member = member
        self.ca = ca or {}                  # NetworkPKI.describe(): public facts only
        self.trust_bundle = trust_bundle    # NetworkPKI.root_pem(), or None
        self.ca_error = ca_error            # why the key store could not be read
        self.others = others                # the other members' records
        self.name = member["name"]
        self.props = member["properties"]
        parts = ids.parse_id(member["id"])
        self.resource_group = parts["resource_group"]
        self.network_name = network["name"]
        connectivity = self.props.get("connectivityProfile") or {}
        self.network_label = connectivity.get("network") or f"{self.name}-network"
        self.visibility = (connectivity.get("eastWestGateway") or {}).get("visibility") or "Internal"
        self.intermediate = next((i for i in self.ca.get("intermediates") or []
                                  if i.get("member", "").lower() == self.name.lower()), None)

    @property
    def args(self):
        return f"-g {self.resource_group} --appnet-name {self.network_name} --member-name {self.name}"

    @property
    def kubectl(self):
        """kubectl aimed at this member's cluster, so a pasted hint runs against the right one."""
        cluster = self.props.get("cluster") or {}
        if cluster.get("kubeconfig"):
            words = ["kubectl", "--kubeconfig", cluster["kubeconfig"]]
            if cluster.get("context"):
                words += ["--context", cluster["context"]]
            return " ".join(shlex.quote(w) for w in words)
        resource_id = cluster.get("resourceId") or (self.props.get("metadata") or {}).get("resourceId")
        if resource_id:
            name = resource_id.rstrip("/").rsplit("/", 1)[-1]
            return f"kubectl --context {shlex.quote(name)}"  # after 'az aks get-credentials'
        return "kubectl"

    @property
    def reapply(self):
        """How a user puts the member's data plane back as AppNet renders it."""
        return (f"Re-apply the data plane: run 'az appnet member update {self.args} "
                f"--east-west-gateway {self.visibility}' (it re-applies every object of the installed "
                "version), or join again ('az appnet member join ...' after 'az appnet member remove').")


class _PublicCA:
    """Stands in for NetworkPKI in member_spec(): the rendering from public CA material only.
    The rendered `cacerts` carries a placeholder key; diagnostics compare only names, labels,
    images and certificates, never the key."""

    def __init__(self, target):
        self._target = target

    def cacerts(self, member_name):  # pylint: disable=unused-argument  # NetworkPKI.cacerts' signature
        inter = self._target.intermediate or {}
        cert = inter.get("certificatePem") or "-"
        return {"ca-cert.pem": cert, "ca-key.pem": "(not read by diagnostics)",
                "root-cert.pem": self._target.trust_bundle or "-", "cert-chain.pem": cert}

    def root_pem(self):
        return self._target.trust_bundle or "-"


def cluster_view(member):
    """Which cluster the member is, without any credential."""
    cluster = member["properties"].get("cluster") or {}
    return {k: cluster[k] for k in ("resourceId", "kubeconfig", "context", "server") if cluster.get(k)}


# ---- one member ---------------------------------------------------------------------------

class _Read:  # pylint: disable=too-few-public-methods  # one outcome, read by value()
    """The outcome of one read made ahead of the check that uses it: its value, or the
    AppNetError it raised (raised again in that check, which then fails alone)."""

    def __init__(self, fetch):
        try:
            self._value, self._error = fetch(), None
        except AppNetError as ex:
            self._value, self._error = None, ex

    def value(self):
        if self._error is not None:
            raise self._error
        return self._value


def _pods(cluster):
    return cluster.list("v1", "pods", namespace=NAMESPACE)


def _remote_secrets(cluster):
    return cluster.list("v1", "secrets", namespace=NAMESPACE, label_selector=f"{REMOTE_SECRET_LABEL}=true")


class _Live:  # pylint: disable=too-few-public-methods  # what was read, and get()
    """What is on the member's cluster, fetched once: one list per kind the rendering has
    (namespaced kinds in applink-system, cluster-scoped ones by our managed-by label), then
    a GET for each expected object not found that way (it may exist without our labels)."""

    def __init__(self, cluster, expected):
        from ..kube.apply import identity
        from ..manifests import MANAGED_BY_SELECTOR
        self.cluster = cluster
        self.objects = {}
        kinds = {}
        for o in expected:
            kinds.setdefault((o["apiVersion"], o["kind"]), bool(o["metadata"].get("namespace")))
        # One discovery read per group-version, then every list, then every GET, each set at
        # once: three round trips to a far-away server, however many kinds.
        first = {}
        for api_version, kind in kinds:
            first.setdefault(api_version, kind)
        gather([lambda a=a, k=k: cluster.discovery.resolve(a, k) for a, k in first.items()])
        order = list(kinds.items())
        for listed in gather([lambda a=a, k=k, n=n: cluster.list(
                a, k, namespace=NAMESPACE if n else None,
                label_selector=None if n else MANAGED_BY_SELECTOR) for (a, k), n in order]):
            for o in listed:
                self.objects[identity(o)] = o
        missing = [identity(o) for o in expected if identity(o) not in self.objects]
        for ident, live in zip(missing, gather([lambda i=i: cluster.get(i[0], i[1], i[3], i[2])
                                                for i in missing])):
            if live is not None:
                live.setdefault("apiVersion", ident[0])
                live.setdefault("kind", ident[1])
                self.objects[ident] = live

    def get(self, obj):
        from ..kube.apply import identity
        return self.objects.get(identity(obj))


class _Member:  # pylint: disable=too-many-instance-attributes  # what every member check reads
    """The context the member checks share: the reads are made up front, all at once
    (`reads`: name -> _Read), so no check waits for another's round trip."""

    def __init__(self, target, cluster, version, expected, live, nodes, reads=None, shared=None):
        from .check_reads import CheckReads
        self.t, self.cluster, self.version = target, cluster, version
        self.expected, self.live = expected, live
        self.linux_nodes = [n for n in nodes if node_os(n) == "linux"]
        self.reads = reads or {}
        self.shared = shared or CheckReads()    # what the check reads once for every member

    def read(self, name, fetch):
        """What the up-front read `name` found (raising what it raised), or `fetch()` now."""
        found = self.reads.get(name)
        return found.value() if found is not None else fetch()

    def find(self, kind, name):
        return next((o for o in self.expected if o["kind"] == kind and o["metadata"]["name"] == name), None)


def check_member_state(t):
    from .resume import resume_command, stalled
    state = t.props.get("provisioningState")
    operation = (t.props.get("operation") or {}).get("name") or "join"
    if state == "Succeeded":
        return result("provisioningState", PASSED, f"The last operation ({operation}) succeeded.")
    if state in ("Failed", "Canceled"):
        error = (t.props.get("error") or {}).get("message") or "no error recorded"
        verb = "failed" if state == "Failed" else "was interrupted"
        return result("provisioningState", FAILED, f"The last operation ({operation}) {verb}: {error}",
                      f"Run it again (it resumes where it stopped): '{resume_command(t.member)}'.")
    gone = stalled(t.member)
    if gone:
        return result("provisioningState", FAILED, gone,
                      f"Run it again (it resumes where it stopped): '{resume_command(t.member)}'.")
    return result("provisioningState", WARNING,
                  f"Operation '{operation}' is {state}; the cluster may still be changing.",
                  f"Wait for it: 'az appnet member wait {t.args} --updated', then check again.")


def check_kubernetes_version(m, kube_version):
    v = m.version
    if v.supports_kubernetes(kube_version):
        return result("kubernetesVersion", PASSED,
                      f"Kubernetes {kube_version} is supported by AppNet {v.version} "
                      f"({v.kubernetes_min} to {v.kubernetes_max}).")
    return result("kubernetesVersion", FAILED,
                  f"Kubernetes {kube_version} is not supported by the installed AppNet version "
                  f"{v.version} ({v.kubernetes_min} to {v.kubernetes_max}).",
                  "Move the member to a version that supports the cluster ('az appnet list-versions -l "
                  f"LOCATION --kubernetes-version {kube_version}', then 'az appnet member update "
                  f"{m.t.args} --version VERSION'), or change the cluster's Kubernetes version.")


def check_objects(m):
    missing = [o for o in m.expected if m.live.get(o) is None]
    if not missing:
        return result("objectsPresent", PASSED,
                      f"All {len(m.expected)} objects of AppNet {m.version.version} are on the cluster.")
    names = [_describe(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in missing]
    return result("objectsPresent", FAILED,
                  f"{len(missing)} of the {len(m.expected)} objects of AppNet {m.version.version} are "
                  f"missing from the cluster: {name_list(names)}.", m.t.reapply)


def check_labels(m):
    from ..constants import MANAGED_BY_KEY, MANAGED_BY_VALUE, MEMBER_LABEL, NETWORK_LABEL
    want = {MANAGED_BY_KEY: MANAGED_BY_VALUE, NETWORK_LABEL: m.t.network_name, MEMBER_LABEL: m.t.name}
    wrong = []
    for o in m.expected:
        live = m.live.get(o)
        if live is None:
            continue
        labels = (live.get("metadata") or {}).get("labels") or {}
        bad = [f"{k}={labels.get(k, '(none)')}" for k, v in want.items() if labels.get(k) != v]
        if bad:
            wrong.append(f"{_describe(o['kind'], o['metadata'].get('namespace'), o['metadata']['name'])} "
                         f"({', '.join(bad)})")
    labels_text = ", ".join(f"{k}={v}" for k, v in want.items())
    if not wrong:
        return result("ownershipLabels", PASSED, f"Every object present carries {labels_text}.")
    return result("ownershipLabels", FAILED,
                  f"{len(wrong)} objects lack the labels {labels_text}, so 'az appnet member update' "
                  f"and 'remove' would not manage them: {name_list(wrong)}.", m.t.reapply)


def check_istiod(m):
    from ..kube.apply import readiness
    expected = m.find("Deployment", "istiod")
    live = m.live.get(expected) if expected else None
    if live is None:
        return result("istiod", FAILED, f"Deployment {NAMESPACE}/istiod is missing.", m.t.reapply)
    ok, detail = readiness(live)
    if ok:
        return result("istiod", PASSED, f"istiod is available ({detail}).")
    return result("istiod", FAILED, f"istiod is not available: {detail}.",
                  f"Inspect it: '{m.t.kubectl} -n {NAMESPACE} describe deployment istiod' and "
                  f"'{m.t.kubectl} -n {NAMESPACE} logs deployment/istiod'; fix the cause, then check again.")


def check_daemonset(m, name, check_name):
    from ..kube.apply import readiness
    expected = m.find("DaemonSet", name)
    live = m.live.get(expected) if expected else None
    linux = len(m.linux_nodes)
    if live is None:
        return result(check_name, FAILED,
                      f"DaemonSet {NAMESPACE}/{name} is missing: no Linux node has the mesh data path.",
                      m.t.reapply)
    ok, detail = readiness(live)
    status = live.get("status") or {}
    ready, desired = status.get("numberReady", 0), status.get("desiredNumberScheduled", 0)
    counts = f"{name} ready on {ready} of {linux} Linux nodes ({desired} scheduled)"
    if ok and ready >= linux:
        return result(check_name, PASSED, f"{counts}.")
    selector = ",".join(f"{k}={v}" for k, v in
                        (((live.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}).items())
    return result(check_name, FAILED, f"{counts}; {detail}.",
                  f"Inspect it: '{m.t.kubectl} -n {NAMESPACE} describe daemonset {name}' and "
                  f"'{m.t.kubectl} -n {NAMESPACE} get pods -l {selector} -o wide' (pod events, node taints, "
                  "image pulls); fix the cause, then check again.")


def _containers(obj):
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or obj.get("spec") or {}
    return {c.get("name"): c.get("image") for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])}


def check_images(m):
    drift = []
    workloads = [o for o in m.expected if o["kind"] in ("Deployment", "DaemonSet")]
    for o in workloads:
        live = m.live.get(o)
        if live is None:
            continue
        running = _containers(live)
        for container, image in _containers(o).items():
            if running.get(container) != image:
                drift.append(f"{o['kind']} {o['metadata']['name']} container {container} runs "
                             f"{running.get(container) or '(no such container)'}, expected {image}")
    catalog = set(m.version.images.values()) | {img for o in workloads for img in _containers(o).values()}
    for pod in m.read("pods", lambda: _pods(m.cluster)):
        for container, image in _containers(pod).items():
            if image not in catalog:
                drift.append(f"Pod {pod['metadata']['name']} container {container} runs {image}")
    if not drift:
        return result("imageDrift", PASSED,
                      f"The workloads run the images of AppNet {m.version.version} "
                      f"(Istio {m.version.istio}).")
    return result("imageDrift", FAILED,
                  f"Images differ from those of AppNet {m.version.version} (Istio {m.version.istio}): "
                  f"{name_list(drift)}.", m.t.reapply)


def _pem_certs(text):
    from cryptography import x509
    return x509.load_pem_x509_certificates(text.encode("ascii")) if text and "BEGIN" in text else []


def _fingerprints(text):
    from ..pki.certs import fingerprint
    return [fingerprint(c) for c in _pem_certs(text)]


def _decode(secret, key):
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        return None
    try:
        return base64.b64decode(raw).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return ""


def _chains_to(cert, bundle_text):
    for root in _pem_certs(bundle_text):
        try:
            cert.verify_directly_issued_by(root)
            return True
        except Exception:  # pylint: disable=broad-except  # wrong issuer, signature or key type
            continue
    return False


def check_cacerts(m):
    t = m.t
    rotate = f"'az appnet member rotate-ca {t.args}'"
    expected = m.find("Secret", "cacerts")
    secret = m.live.get(expected) if expected else None
    if secret is None:
        return result("cacerts", FAILED, f"Secret {NAMESPACE}/cacerts is missing: istiod falls back to "
                      "a self-signed CA that no other member trusts.", t.reapply)
    # Only the public parts are decoded; ca-key.pem is checked for presence, never read.
    present = set((secret.get("data") or {}).keys())
    missing = [k for k in ("ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem") if k not in present]
    if missing:
        return result("cacerts", FAILED, f"Secret cacerts lacks {', '.join(missing)}: istiod rejects an "
                      "incomplete CA bundle.", t.reapply)
    certs = _pem_certs(_decode(secret, "ca-cert.pem"))
    if not certs:
        return result("cacerts", FAILED, "Secret cacerts holds no readable ca-cert.pem.", t.reapply)
    from ..pki.certs import fingerprint
    live_fp = fingerprint(certs[0])
    problems = []
    if t.intermediate is None:
        problems.append(f"the key store has no intermediate CA for member {t.name}")
    elif live_fp != t.intermediate.get("sha256Fingerprint"):
        problems.append(f"it holds intermediate CA '{certs[0].subject.rfc4514_string()}' (SHA-256 "
                        f"{live_fp}), not the member's current intermediate from the key store "
                        f"(SHA-256 {t.intermediate.get('sha256Fingerprint')})")
    if t.trust_bundle is not None:
        if not _chains_to(certs[0], t.trust_bundle):
            problems.append("its intermediate does not chain to the network's root CA")
        if _fingerprints(_decode(secret, "root-cert.pem")) != _fingerprints(t.trust_bundle):
            problems.append("its root-cert.pem is not the network's trust bundle")
    if problems:
        return result("cacerts", FAILED, "Secret cacerts is not this member's CA: " + "; ".join(problems) + ".",
                      f"{t.reapply} If the key store's intermediate is the stale one, rotate it: {rotate}.")
    return result("cacerts", PASSED, f"Secret cacerts holds the member's current intermediate CA "
                  f"(SHA-256 {live_fp}), which chains to the network's root CA.")


def check_root_configmap(m):
    from ..manifests.config import ROOT_CERT_CONFIGMAP
    t = m.t
    expected = m.find("ConfigMap", ROOT_CERT_CONFIGMAP)
    live = m.live.get(expected) if expected else None
    if live is None:
        return result("trustBundle", FAILED, f"ConfigMap {NAMESPACE}/{ROOT_CERT_CONFIGMAP} is missing.",
                      t.reapply), None
    found = _fingerprints((live.get("data") or {}).get("root-cert.pem") or "")
    if t.trust_bundle is None:
        return result("trustBundle", WARNING, f"ConfigMap {ROOT_CERT_CONFIGMAP} holds {len(found)} root(s); "
                      f"the network's trust bundle could not be read ({t.ca_error}).", None), found
    want = _fingerprints(t.trust_bundle)
    if found == want:
        return result("trustBundle", PASSED, f"ConfigMap {ROOT_CERT_CONFIGMAP} holds the network's trust "
                      f"bundle ({len(want)} root{'s' if len(want) != 1 else ''}).", None), found
    return result("trustBundle", FAILED,
                  f"ConfigMap {ROOT_CERT_CONFIGMAP} holds roots {', '.join(found) or '(none)'}; the network's "
                  f"trust bundle is {', '.join(want)}.", t.reapply), found


def check_gateway(m):
    from ..kube.apply import readiness
    from ..manifests.meta import EAST_WEST_GATEWAY_NAME, TOPOLOGY_NETWORK
    expected = m.find("Gateway", EAST_WEST_GATEWAY_NAME)
    live = m.live.get(expected) if expected else None
    if live is None:
        return result("eastWestGateway", FAILED,
                      f"Gateway {NAMESPACE}/{EAST_WEST_GATEWAY_NAME} is missing: other members cannot "
                      "reach this one.", m.t.reapply)
    ok, detail = readiness(live)
    programmed = next((c for c in (live.get("status") or {}).get("conditions") or []
                       if c.get("type") == "Programmed"), None)
    label = ((live.get("metadata") or {}).get("labels") or {}).get(TOPOLOGY_NETWORK)
    if ok and programmed is not None and programmed.get("status") == "True" and label == m.t.network_label:
        return result("eastWestGateway", PASSED, f"The east-west gateway is Programmed with {detail}.")
    problems = [] if ok else [detail]
    if ok and (programmed is None or programmed.get("status") != "True"):
        problems.append("no Programmed=True condition")
    if label != m.t.network_label:
        problems.append(f"its label {TOPOLOGY_NETWORK} is '{label}', not '{m.t.network_label}'")
    return result("eastWestGateway", FAILED, f"The east-west gateway is not usable: {'; '.join(problems)}.",
                  f"Inspect it: '{m.t.kubectl} -n {NAMESPACE} describe gateway {EAST_WEST_GATEWAY_NAME}' and its "
                  f"Service (a LoadBalancer: is one available for visibility {m.t.visibility}?). "
                  + (m.t.reapply if label != m.t.network_label else ""))


def check_network_label(m):
    from ..manifests.meta import TOPOLOGY_NETWORK
    ns = m.find("Namespace", NAMESPACE)
    live = m.live.get(ns) if ns else None
    if live is None:
        return result("networkLabel", FAILED, f"Namespace {NAMESPACE} is missing.", m.t.reapply), None
    label = ((live.get("metadata") or {}).get("labels") or {}).get(TOPOLOGY_NETWORK)
    if label == m.t.network_label:
        return result("networkLabel", PASSED, f"Namespace {NAMESPACE} has {TOPOLOGY_NETWORK}={label}, "
                      "the member's connectivityProfile.network."), label
    return result("networkLabel", FAILED,
                  f"Namespace {NAMESPACE} has {TOPOLOGY_NETWORK}={label or '(none)'}, but the member's "
                  f"connectivityProfile.network is '{m.t.network_label}': istiod announces the wrong network.",
                  m.t.reapply), label


def check_intermediate_ca(t):
    rotate = f"az appnet member rotate-ca {t.args}"
    inter = t.intermediate
    if inter is None:
        why = f" ({t.ca_error})" if t.ca_error else ""
        return result("intermediateCa", FAILED, f"The key store has no intermediate CA for member {t.name}{why}.",
                      f"Join the member again ('az appnet member join {t.args} ...'), or rotate its CA: '{rotate}'.")
    if inter.get("expired"):
        return result("intermediateCa", FAILED,
                      f"The intermediate CA expired on {inter['notAfter']}: istiod cannot issue workload certificates.",
                      f"Rotate it now: '{rotate}'.")
    if inter.get("rotationDue"):
        return result("intermediateCa", WARNING,
                      f"The intermediate CA is due for rotation since {inter['rotateAfter']} (expires "
                      f"{inter['notAfter']}).", f"Rotate it: '{rotate}'.")
    if inter.get("signedByActiveRoot") is False:
        return result("intermediateCa", WARNING,
                      "The intermediate CA is signed by the previous root of an open root rotation.",
                      f"Re-issue it: 'az appnet ca rotate -g {t.resource_group} -n {t.network_name}' (resumes).")
    return result("intermediateCa", PASSED, f"The intermediate CA is valid until {inter['notAfter']}; "
                  f"rotation is due after {inter['rotateAfter']}.")


def remote_secret_targets(secret, candidates):
    """Which of `candidates` (cluster ids: member names) a remote secret names. Tolerant of
    naming: a data key (what istiod reads: each key is a cluster id), the annotation
    networking.istio.io/cluster (what istioctl writes), the name istio-remote-secret-<id>,
    or any appnet.azure.com/* label or annotation other than our ownership ones."""
    from ..constants import MEMBER_LABEL, NETWORK_ID_ANNOTATION, NETWORK_LABEL, VERSION_ANNOTATION
    meta = secret.get("metadata") or {}
    names = set((secret.get("data") or {}).keys()) | set((secret.get("stringData") or {}).keys())
    annotations, labels = meta.get("annotations") or {}, meta.get("labels") or {}
    if annotations.get(CLUSTER_ANNOTATION):
        names.add(annotations[CLUSTER_ANNOTATION])
    if (meta.get("name") or "").startswith(REMOTE_SECRET_PREFIX):
        names.add(meta["name"][len(REMOTE_SECRET_PREFIX):])
    ours = {MEMBER_LABEL, NETWORK_LABEL, NETWORK_ID_ANNOTATION, VERSION_ANNOTATION}
    for key, value in list(labels.items()) + list(annotations.items()):
        if key.startswith("appnet.azure.com/") and key not in ours:
            names.add(value)
    lowered = {str(n).lower() for n in names}
    return {c for c in candidates if c.lower() in lowered}


def check_remote_secrets(m):
    t = m.t
    selector = f"{REMOTE_SECRET_LABEL}=true"
    secrets = m.read("remoteSecrets", lambda: _remote_secrets(m.cluster))
    others = sorted(o["name"] for o in t.others)
    linked = set()
    for s in secrets:
        linked |= remote_secret_targets(s, others)
    looked = (f"Secrets in {NAMESPACE} labelled {selector} naming the member by data key (cluster id), "
              f"annotation {CLUSTER_ANNOTATION}, or name {REMOTE_SECRET_PREFIX}<member>")
    if not others:
        return result("remoteSecrets", PASSED, "The network has no other member to link to."), linked
    missing = [o for o in others if o not in linked]
    if not missing:
        return result("remoteSecrets", PASSED, f"Remote secrets for every other member: {name_list(others)}."), linked
    if not secrets:
        return result("remoteSecrets", WARNING,
                      f"No remote secret on the cluster yet ({looked}): istiod here does not see the services "
                      f"of {name_list(others)}.",
                      "Remote secrets are exchanged by 'az appnet member join' in AppNet versions that "
                      "support it; join or update the members again once it is available."), linked
    return result("remoteSecrets", FAILED,
                  f"No remote secret for {name_list(missing)} ({looked}); istiod here does not see their "
                  "services.",
                  f"Exchange them again: run 'az appnet member update {t.args} --east-west-gateway "
                  f"{t.visibility}' (or join again) for this member and for {name_list(missing)}."), linked


def _token_answer(probe):
    """How the issuer's API server answered a read with the token of a remote secret (a
    check_reads.Probe): "accepted", "refused" (401), "forbidden" (403: a token, but not of
    the reader), "unreadable" (not a kubeconfig appnet writes) or "unreachable: <why>"."""
    from ..kube.client import ApiError
    ex = probe.error
    if probe.unreadable:
        return "unreadable"
    if ex is None:
        return "accepted"
    if isinstance(ex, ApiError):
        return {401: "refused", 403: "forbidden"}.get(ex.status, f"unreachable: HTTP {ex.status}")
    return f"unreachable: {ex.message}"


def _token_answers(t, secrets, shared):
    """[(secret, issuer, answer)] for each remote secret on the member that holds one token
    of one other member; every issuer is asked at once (one round trip, however many links).
    `shared`: the check's CheckReads, which sends each kubeconfig's read once."""
    others = [o["name"] for o in t.others]
    held = []
    for secret in secrets:
        targets = remote_secret_targets(secret, others)
        if len(targets) == 1 and len(secret.get("data") or {}) == 1:
            held.append((secret, next(iter(targets))))

    def ask(secret, issuer):
        (value,) = secret["data"].values()
        try:
            text = base64.b64decode(value).decode()
        except ValueError:
            return "unreadable"
        return _token_answer(shared.probe(text, t.name, issuer))

    answers = gather([lambda s=s, i=i: ask(s, i) for s, i in held])
    return [(s, i, a) for (s, i), a in zip(held, answers)]


def check_reader_tokens(m, now=None):
    """Each remote secret on this member: when its token expires, and whether the member it
    reads still accepts it; the message names each link."""
    import datetime
    from .mesh_links import EXPIRES_ANNOTATION, ROTATE_AT, parse_time
    t = m.t
    now = now or datetime.datetime.now(datetime.timezone.utc)
    recorded = m.shared.links_view([t.member] + list(t.others))
    links, refused, expired, due, legacy, unknown = [], [], [], [], [], []
    asked = m.read("tokens", lambda: _token_answers(
        t, m.read("remoteSecrets", lambda: _remote_secrets(m.cluster)), m.shared))
    for secret, issuer, answer in asked:
        expires = ((secret.get("metadata") or {}).get("annotations") or {}).get(EXPIRES_ANNOTATION)
        rec = recorded.get((issuer.lower(), t.name.lower())) or {}
        links.append({"member": issuer, "expiresOn": expires, "authenticates": answer == "accepted",
                      "answer": answer.split(":")[0]})
        if answer in ("refused", "forbidden", "unreadable"):
            refused.append(f"{issuer} ({answer})")
        elif answer != "accepted":
            unknown.append(f"{issuer} ({answer.split(': ', 1)[-1].rstrip('.')})")
        if not expires:
            legacy.append(issuer)
            continue
        try:
            end = parse_time(expires)
            start = parse_time(rec["issuedAt"]) if rec.get("issuedAt") else None
        except ValueError:
            legacy.append(issuer)
            continue
        if now >= end:
            expired.append(f"{issuer} ({expires})")
        elif start and now >= start + (end - start) * ROTATE_AT:
            due.append(f"{issuer} ({expires})")
    rotate = f"az appnet member rotate-credentials {t.args}"
    each = "; ".join(f"{link['member']}: expires {link['expiresOn'] or 'never (legacy token)'}, "
                     f"{'authenticates' if link['authenticates'] else link['answer']}"
                     for link in sorted(links, key=lambda link: link["member"]))
    if refused or expired:
        return result("readerTokens", FAILED,
                      f"The tokens this member reads {name_list(refused + expired)} with are refused or expired: "
                      f"istiod here no longer sees their services. Links: {each}.", f"Issue new ones: '{rotate}'.")
    if legacy:
        return result("readerTokens", WARNING,
                      f"The remote secrets for {name_list(legacy)} carry tokens with no recorded expiry (made by an "
                      f"older appnet: a shared, never-expiring reader token). Links: {each}.",
                      f"Replace them with per-link, short-lived tokens: '{rotate}'.")
    if due:
        return result("readerTokens", WARNING, f"Tokens past half their lifetime: {name_list(due)}. Links: {each}.",
                      f"Rotate them: '{rotate}'.")
    if unknown:
        return result("readerTokens", WARNING,
                      f"Could not ask {name_list(unknown)} whether the tokens still authenticate. Links: {each}.",
                      "Make those clusters reachable and check again.")
    if links:
        return result("readerTokens", PASSED, f"Every reader token ({len(links)}) authenticates. Links: {each}.")
    return result("readerTokens", PASSED, "This member holds no reader token.")


def _mesh_id(m):
    expected = m.find("ConfigMap", "istio")
    live = m.live.get(expected) if expected else None
    text = ((live or {}).get("data") or {}).get("mesh") or ""
    try:
        return (json.loads(text).get("defaultConfig") or {}).get("meshId")
    except ValueError:
        found = re.search(r"meshId:\s*['\"]?([^\s'\"]+)", text)
        return found.group(1) if found else None


def _guarded(name, fn):
    """fn()'s result; a check that cannot read the cluster fails itself, not the report."""
    try:
        return fn()
    except AppNetError as ex:
        return result(name, FAILED, f"Could not check: {ex.message}", ex.recommendation)


def _run_checks(checks, *fns):
    """Run the checks, one after another: what they read was read up front (_member_reads), so
    each is CPU only, which threads would not make faster. Results in the order given."""
    checks.extend(_guarded(n, f) for n, f in fns)


def _import_before_fanning_out():
    """Import, in the calling thread, what the checks import lazily: two threads importing
    the same package at once, each from another end, can be handed a half-initialised module
    (Python's import deadlock avoidance), which surfaces as a missing attribute."""
    import importlib
    for name in ("..manifests", "..manifests.config", "..manifests.meta", "..kube.apply", "..kube.client",
                 "..kube.token_client", "..pki.certs", "..versions", ".address_check", ".check_reads",
                 ".declaration_checks", ".member_ops", ".mesh_links", ".resume"):
        importlib.import_module(name, __package__)


def check_member(target, connect, snapshot=False, shared=None):
    """Every check of one member. Returns (report, facts); facts feed the network checks.
    `snapshot`: also read what the declarations' checks look at (declaration_checks.py),
    with the member's own reads, into facts["snapshot"]. `shared`: the CheckReads of the
    network check this is part of (None: a check of this member alone)."""
    _import_before_fanning_out()
    from .check_reads import CheckReads
    if shared is None:
        shared = CheckReads(listed=[target.name])
        try:
            return _check_member(target, connect, snapshot, shared)
        finally:
            shared.close()
    return _check_member(target, connect, snapshot, shared)


def _check_member(target, connect, snapshot, shared):
    from ..versions import load_catalog
    t = target
    checks = [check_member_state(t)]
    facts = {"member": t.name, "network": t.network_label, "reachable": False}
    report = {"member": t.name, "cluster": cluster_view(t.member),
              "installedVersion": t.props.get("installedVersion"), "checks": checks}
    version = None
    if t.props.get("installedVersion"):
        try:
            version = load_catalog().get(t.props["installedVersion"])
        except AppNetError as ex:
            checks.append(result("installedVersion", FAILED, ex.message, ex.recommendation))
    else:
        checks.append(result("installedVersion", FAILED, "The member has no installed AppNet version: its "
                             "join never finished.", f"Run 'az appnet member join {t.args} ...' again (it resumes)."))
    from .address_check import NAME as ADDRESS_CHECK, check_published_address
    try:
        cluster = shared.cluster(t.member, connect)
        # The version, every read of the cluster checks and the address check (through a
        # peer) at once: the member costs the round trips of its longest chain of reads,
        # not their sum. The reads are let go when the cluster does not answer.
        from .declaration_checks import snapshot_of
        kube, reads, address, snap = gather([
            lambda: _Read(cluster.server_version),
            lambda: _member_reads(t, cluster, version, shared) if version is not None else None,
            lambda: _guarded(ADDRESS_CHECK, lambda: check_published_address(t, connect, shared)),
            lambda: snapshot_of(t.member, cluster) if snapshot else None])
        kube_version = kube.value()
    except AppNetError as ex:
        checks.append(result("apiReachable", FAILED, f"Cannot reach the cluster of member {t.name}: {ex.message}",
                             ex.recommendation or "Make the cluster reachable (is it running? is the kubeconfig "
                             "current?), then check again."))
        checks.append(check_intermediate_ca(t))
        report["summary"] = summarize(checks)
        return report, facts
    facts["reachable"] = True
    if snap is not None:
        facts["snapshot"] = snap
    report["cluster"]["server"] = cluster.server
    report["cluster"]["kubernetesVersion"] = kube_version
    checks.append(result("apiReachable", PASSED, f"The API server at {cluster.server} answered "
                         f"(Kubernetes {kube_version})."))
    if version is not None:
        checks.extend(_member_cluster_checks(t, cluster, version, kube_version, facts, reads, shared))
    checks.append(address)
    checks.append(check_intermediate_ca(t))
    report["summary"] = summarize(checks)
    return report, facts


def _member_reads(t, cluster, version, shared):
    """Every read the cluster checks make, issued together: {name: _Read}. The member's
    Secrets are listed once (check_reads.SharedLists): the remote secrets and the rendering's
    Secrets come out of that one list."""
    from ..manifests import render
    from .member_ops import member_spec

    def expected():
        spec = member_spec(t.network, t.member, _PublicCA(t), version.version)
        return [o for phase in render(spec) for o in phase.objects]

    def secrets_and_tokens():
        # The tokens are tried as soon as the Secrets are listed, while the rest is read.
        secrets = _Read(lambda: _remote_secrets(cluster))
        return secrets, _Read(lambda: _token_answers(t, secrets.value(), shared))

    def rendered_and_live():
        # The rendering (CPU) while the other reads are out; then what it names is read.
        rendered = _Read(expected)
        if rendered._error is not None:  # pylint: disable=protected-access
            return rendered, rendered
        return rendered, _Read(lambda: _Live(cluster, rendered.value()))

    calls = {"nodes": lambda: _Read(lambda: cluster.list("v1", "nodes")),
             "pods": lambda: _Read(lambda: _pods(cluster)), "secrets": secrets_and_tokens,
             "live": rendered_and_live}
    names = list(calls)
    reads = dict(zip(names, gather([calls[n] for n in names])))
    reads["remoteSecrets"], reads["tokens"] = reads.pop("secrets")
    reads["expected"], reads["live"] = reads.pop("live")
    return reads


def _member_cluster_checks(t, cluster, version, kube_version, facts, reads, shared):  # pylint: disable=too-many-arguments
    checks = []
    try:
        expected = reads["expected"].value()
        live, nodes = reads["live"].value(), reads["nodes"].value()
    except AppNetError as ex:
        return [result("objectsPresent", FAILED, f"Could not read the cluster: {ex.message}", ex.recommendation)]
    m = _Member(t, cluster, version, expected, live, nodes, reads, shared)
    out = {}

    def keep(key, name, fn):
        def run():
            check, fact = fn()
            out[key] = fact
            return check
        return name, run

    _run_checks(checks,
                ("kubernetesVersion", lambda: check_kubernetes_version(m, kube_version)),
                ("objectsPresent", lambda: check_objects(m)),
                ("ownershipLabels", lambda: check_labels(m)),
                ("istiod", lambda: check_istiod(m)),
                ("ztunnel", lambda: check_daemonset(m, "ztunnel", "ztunnel")),
                ("istioCni", lambda: check_daemonset(m, "istio-cni-node", "istioCni")),
                ("imageDrift", lambda: check_images(m)),
                ("cacerts", lambda: check_cacerts(m)),
                keep("roots", "trustBundle", lambda: check_root_configmap(m)),
                ("eastWestGateway", lambda: check_gateway(m)),
                keep("namespaceNetwork", "networkLabel", lambda: check_network_label(m)),
                keep("remoteSecrets", "remoteSecrets", lambda: check_remote_secrets(m)),
                ("readerTokens", lambda: check_reader_tokens(m)))
    facts.update(out)
    facts["meshId"] = _mesh_id(m)
    return checks


# ---- the whole network --------------------------------------------------------------------

def check_network(network, targets, connect, ca, ca_error=None, parallelism=PARALLELISM):
    """Every member's checks (in parallel, bounded), then the checks across members."""
    _import_before_fanning_out()
    from .check_reads import CheckReads
    from .declaration_checks import check_declarations
    reports, facts = [], []
    # The members' checks share what they would each read again (check_reads.py).
    shared = CheckReads(listed=[t.name for t in targets], namespaces=True)
    try:
        if targets:
            # Each member's reads for the declarations' checks go out with its own checks.
            for report, fact in gather([lambda t=t: check_member(t, connect, snapshot=True, shared=shared)
                                        for t in targets], parallelism=parallelism):
                reports.append(report)
                facts.append(fact)
    finally:
        shared.close()
    snapshots = [f.pop("snapshot") for f in facts if "snapshot" in f]
    rg = ids.parse_id(network["id"])["resource_group"]
    checks = [check_root_ca(network, ca, ca_error, rg)]
    reachable = [f for f in facts if f["reachable"]]
    unreachable = [f["member"] for f in facts if not f["reachable"]]
    note = f" Not checked (cluster unreachable): {name_list(unreachable)}." if unreachable else ""
    checks.append(check_trust_bundles(ca, reachable, note))
    checks.append(check_mesh_ids(network, reachable, note))
    checks.append(check_network_names(facts))
    checks.append(check_remote_secret_mesh(facts, reachable, note))
    # Ambient namespaces, global Services and waypoints across members (declaration_checks.py).
    reached = {f["member"] for f in reachable}
    checks.extend(check_declarations(network, [t.member for t in targets if t.name in reached], connect, note,
                                     seen=snapshots))
    everything = checks + [c for r in reports for c in r["checks"]]
    return {"network": network["name"], "resourceGroup": rg, "members": reports, "checks": checks,
            "summary": dict(summarize(everything), members=len(reports),
                            membersFailed=sum(r["summary"]["failed"] > 0 for r in reports))}


def check_root_ca(network, ca, ca_error, rg):
    name = network["name"]
    if ca_error or not (ca or {}).get("roots"):
        return result("rootCa", FAILED, f"The network's root CA could not be read: {ca_error or 'none exists'}.",
                      f"Run 'az appnet create -g {rg} -n {name} -l LOCATION' again (it converges), or restore "
                      "the key store.")
    active = next((r for r in ca["roots"] if r.get("active")), ca["roots"][-1])
    if active.get("expired"):
        return result("rootCa", FAILED, f"The root CA expired on {active['notAfter']}.",
                      f"Rotate it: 'az appnet ca rotate -g {rg} -n {name}'.")
    if ca.get("rootRotationInProgress"):
        return result("rootCa", WARNING, "A root CA rotation is in progress: members trust the old and the new root.",
                      "Finish it once old workload certificates expired: "
                      f"'az appnet ca finish-rotation -g {rg} -n {name}'.")
    if active.get("rotationDue"):
        return result("rootCa", WARNING, f"The root CA is due for rotation since {active['rotateAfter']} "
                      f"(expires {active['notAfter']}).", f"Rotate it: 'az appnet ca rotate -g {rg} -n {name}'.")
    return result("rootCa", PASSED, f"The root CA is valid until {active['notAfter']}; rotation is due after "
                  f"{active['rotateAfter']}.")


def check_trust_bundles(ca, reachable, note):
    want = [r.get("sha256Fingerprint") for r in (ca or {}).get("roots") or []]
    differ = [f["member"] for f in reachable if f.get("roots") is not None and f["roots"] != want]
    unknown = [f["member"] for f in reachable if f.get("roots") is None]
    if differ:
        return result("trustBundles", FAILED,
                      f"The istio-root-cert of {name_list(differ)} differs from the network's trust bundle: their "
                      "workloads reject the others' certificates." + note,
                      "Re-apply those members ('az appnet member update ... --east-west-gateway VISIBILITY').")
    if unknown:
        return result("trustBundles", FAILED, f"No istio-root-cert on {name_list(unknown)}." + note,
                      "Re-apply those members ('az appnet member update ... --east-west-gateway VISIBILITY').")
    return result("trustBundles", WARNING if note else PASSED,
                  f"Every reachable member ({len(reachable)}) trusts the network's trust bundle." + note,
                  "Make the unreachable clusters reachable and check again." if note else None)


def check_mesh_ids(network, reachable, note):
    seen = {f["member"]: f.get("meshId") for f in reachable}
    wrong = [f"{m} ({v or 'none'})" for m, v in sorted(seen.items()) if v != network["name"]]
    if wrong:
        return result("meshId", FAILED, f"Mesh ids differ from '{network['name']}': {name_list(wrong)}." + note,
                      "Re-apply those members ('az appnet member update ... --east-west-gateway VISIBILITY').")
    return result("meshId", WARNING if note else PASSED,
                  f"Every reachable member ({len(seen)}) has mesh id '{network['name']}'." + note,
                  "Make the unreachable clusters reachable and check again." if note else None)


def check_network_names(facts):
    by_network = {}
    for f in facts:
        for value in (f["network"], f.get("namespaceNetwork") or f["network"]):
            by_network.setdefault(value, set()).add(f["member"])
    # Members given the same --network-name are one flat network: their pods reach each
    # other directly (istiod sends to pod IPs, no east-west hop). A member whose namespace
    # label disagrees with its record is the networkLabel check's failure, not a topology.
    flat = {n: sorted(ms) for n, ms in by_network.items() if len(ms) > 1}
    networks = len(by_network)
    if flat:
        text = "; ".join(f"{n}: {', '.join(ms)}" for n, ms in sorted(flat.items()))
        return result("networkNames", PASSED,
                      f"{networks} network(s); members on one flat network reach each other's pods "
                      f"directly, without the east-west gateway ({text}). This needs pod IPs routable "
                      "between those clusters.")
    return result("networkNames", PASSED, f"Every member has its own network ({len(facts)}).")


def check_remote_secret_mesh(facts, reachable, note):
    names = sorted(f["member"] for f in facts)
    if len(names) < 2:
        return result("remoteSecretMesh", PASSED, "Fewer than two members: nothing to link.")
    found = {f["member"]: f.get("remoteSecrets") or set() for f in reachable}
    if not any(found.values()):
        return result("remoteSecretMesh", WARNING,
                      f"No member has a remote secret for another yet (Secrets labelled {REMOTE_SECRET_LABEL}=true "
                      f"in {NAMESPACE}): services are not shared across clusters." + note,
                      "Remote secrets are exchanged by 'az appnet member join' in AppNet versions that support "
                      "it; join or update the members again once it is available.")
    missing = [f"{a} -> {b}" for a in sorted(found) for b in names if b != a and b not in found[a]]
    if missing:
        return result("remoteSecretMesh", FAILED,
                      f"{len(missing)} links lack a remote secret (member -> member it should see): "
                      f"{name_list(missing)}." + note,
                      "Re-apply the members named first ('az appnet member update ... --east-west-gateway "
                      "VISIBILITY', or join again).")
    pairs = len(found) * (len(names) - 1)
    return result("remoteSecretMesh", WARNING if note else PASSED,
                  f"All {pairs} links between reachable members have remote secrets." + note,
                  "Make the unreachable clusters reachable and check again." if note else None)

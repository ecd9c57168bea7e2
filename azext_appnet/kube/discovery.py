"""Kind -> REST resource (plural, namespaced), with as few discovery requests as possible.

Three sources, cheapest first:
1. a static table of the built-in kinds of stable API groups — these names are fixed by
   Kubernetes' API compatibility rules, so asking the server for them on every join would
   only cost requests;
2. CustomResourceDefinitions we apply ourselves (`register_crd`): the CRD states the
   plural and scope of its kind, so its instances need no discovery either;
3. the group-version discovery document (`GET /apis/G/V`), fetched once per group-version
   per Cluster and fetched again only when a kind is missing from it (a CRD installed
   since).
`fetches` counts the discovery requests made.
"""

import threading
from collections import namedtuple

Resource = namedtuple("Resource", "api_version kind plural namespaced")

_BUILTIN = {
    "v1": [
        ("Namespace", "namespaces", False), ("Node", "nodes", False),
        ("PersistentVolume", "persistentvolumes", False),
        ("ConfigMap", "configmaps", True), ("Secret", "secrets", True),
        ("ServiceAccount", "serviceaccounts", True), ("Service", "services", True),
        ("Pod", "pods", True), ("Endpoints", "endpoints", True), ("Event", "events", True),
        ("PersistentVolumeClaim", "persistentvolumeclaims", True),
        ("LimitRange", "limitranges", True), ("ResourceQuota", "resourcequotas", True),
    ],
    "apps/v1": [
        ("Deployment", "deployments", True), ("DaemonSet", "daemonsets", True),
        ("StatefulSet", "statefulsets", True), ("ReplicaSet", "replicasets", True),
        ("ControllerRevision", "controllerrevisions", True),
    ],
    "rbac.authorization.k8s.io/v1": [
        ("ClusterRole", "clusterroles", False),
        ("ClusterRoleBinding", "clusterrolebindings", False),
        ("Role", "roles", True), ("RoleBinding", "rolebindings", True),
    ],
    "admissionregistration.k8s.io/v1": [
        ("MutatingWebhookConfiguration", "mutatingwebhookconfigurations", False),
        ("ValidatingWebhookConfiguration", "validatingwebhookconfigurations", False),
    ],
    "apiextensions.k8s.io/v1": [
        ("CustomResourceDefinition", "customresourcedefinitions", False),
    ],
    "policy/v1": [("PodDisruptionBudget", "poddisruptionbudgets", True)],
    "autoscaling/v2": [("HorizontalPodAutoscaler", "horizontalpodautoscalers", True)],
    "batch/v1": [("Job", "jobs", True), ("CronJob", "cronjobs", True)],
    "networking.k8s.io/v1": [
        ("NetworkPolicy", "networkpolicies", True), ("Ingress", "ingresses", True),
        ("IngressClass", "ingressclasses", False),
    ],
    "coordination.k8s.io/v1": [("Lease", "leases", True)],
    "discovery.k8s.io/v1": [("EndpointSlice", "endpointslices", True)],
}


def _index(resources):
    """{kind: Resource, plural: Resource} — both spellings resolve."""
    out = {}
    for r in resources:
        out[r.kind] = r
        out[r.plural] = r
    return out


# Read-only, so one for every Discovery: a check makes a Cluster (and a Discovery) per token it tries.
_BUILTIN_INDEX = {gv: _index(Resource(gv, k, p, ns) for k, p, ns in rows) for gv, rows in _BUILTIN.items()}


class Discovery:
    def __init__(self, cluster):
        self._cluster = cluster
        self._lock = threading.Lock()
        self._builtin = _BUILTIN_INDEX
        self._learned = {}     # gv -> {kind|plural: Resource}, from CRDs and discovery
        self._gates = {}       # gv -> Lock held while a resolve reads its document
        self._answers = {}     # gv -> how many of its documents were read
        self.fetches = 0

    def resolve(self, api_version, kind_or_plural):
        """The Resource for a kind ("Deployment") or plural ("deployments") in
        api_version, or None when the server does not serve it."""
        hit = self._lookup(api_version, kind_or_plural)
        if hit is not None:
            return hit
        # Unknown here: read (or re-read: a CRD may have been installed since) the
        # group-version's discovery document, once. Resolves that miss while it is being read
        # take its answer instead of asking again (reads of one cluster go out together).
        with self._lock:
            answers = self._answers.get(api_version, 0)
            gate = self._gates.setdefault(api_version, threading.Lock())
        with gate:
            with self._lock:
                answered = self._answers.get(api_version, 0) != answers
            if not answered:
                self.refresh(api_version)
        return self._lookup(api_version, kind_or_plural)

    def _lookup(self, api_version, key):
        hit = self._builtin.get(api_version, {}).get(key)
        if hit is None:
            with self._lock:
                hit = self._learned.get(api_version, {}).get(key)
        return hit

    def refresh(self, api_version):
        """Fetch the group-version's discovery document. Returns True when served."""
        path = "/api/v1" if api_version == "v1" else "/apis/" + api_version
        with self._lock:
            self.fetches += 1
        doc = self._cluster.request("GET", path, ok_missing=True)
        resources = []
        for r in (doc or {}).get("resources") or []:
            name = r.get("name", "")
            if "/" in name or not r.get("kind"):   # subresources (deployments/scale)
                continue
            resources.append(Resource(api_version, r["kind"], name, bool(r.get("namespaced"))))
        with self._lock:
            # The server's answer is authoritative: it replaces what CRDs told us.
            self._learned[api_version] = _index(resources)
            self._answers[api_version] = self._answers.get(api_version, 0) + 1
        return doc is not None

    def served(self, api_version, plurals):
        """Whether the server serves every one of `plurals` (a name or a collection) in
        api_version now. Always asks (one request)."""
        if isinstance(plurals, str):
            plurals = [plurals]
        self.refresh(api_version)
        with self._lock:
            known = self._learned.get(api_version, {})
            return all(p in known and known[p].plural == p for p in plurals)

    def register_crd(self, crd):
        """Learn the kinds a CustomResourceDefinition defines, for each served version."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
        if not (group and kind and plural):
            return
        namespaced = spec.get("scope", "Namespaced") == "Namespaced"
        for v in spec.get("versions") or []:
            if v.get("served", True) and v.get("name"):
                gv = f"{group}/{v['name']}"
                with self._lock:
                    self._learned.setdefault(gv, {}).update(
                        _index([Resource(gv, kind, plural, namespaced)]))

"""Which resources a cluster serves: the built-in table plus types added by CRDs.

A ResourceType is what discovery lists and what the REST layer routes to. Objects are
stored per (group, plural), shared across the versions of a group (no conversion: a
custom resource written as v1alpha1 reads back as v1 with only apiVersion changed).
"""
import threading

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class ResourceType:
    def __init__(self, group, version, plural, kind, namespaced, short_names=(),
                 subresources=(), verbs=None, singular=None, categories=(), virtual=False,
                 crd_schema=None, printer_columns=None, storage=True):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.subresources = set(subresources)
        self.verbs = list(verbs or ALL_VERBS)
        self.singular = singular or kind.lower()
        self.categories = list(categories)
        # virtual: create-only review kinds (SelfSubjectAccessReview, TokenReview...) that
        # are answered, never stored.
        self.virtual = virtual
        self.crd_schema = crd_schema          # openAPIV3Schema for custom resources
        self.is_crd = crd_schema is not None or printer_columns is not None
        self.printer_columns = printer_columns or []
        self.storage = storage
        self.selectable_fields = []           # a CRD version's selectableFields paths

    @property
    def api_version(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    @property
    def key(self):
        return (self.group, self.plural)

    def __repr__(self):
        return "<ResourceType %s %s>" % (self.api_version, self.plural)


def _builtin():
    R = ResourceType
    nsv = ["create", "delete", "get", "list", "patch", "update", "watch"]
    create_only = ["create"]
    return [
        R("", "v1", "namespaces", "Namespace", False, ["ns"], ["status", "finalize"], nsv),
        R("", "v1", "nodes", "Node", False, ["no"], ["status"]),
        R("", "v1", "services", "Service", True, ["svc"], ["status"], categories=["all"]),
        R("", "v1", "endpoints", "Endpoints", True, ["ep"]),
        R("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
        R("", "v1", "secrets", "Secret", True),
        R("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"], ["token"]),
        R("", "v1", "pods", "Pod", True, ["po"], ["status", "eviction"], categories=["all"]),
        R("", "v1", "events", "Event", True, ["ev"]),
        R("apps", "v1", "deployments", "Deployment", True, ["deploy"], ["status", "scale"],
          categories=["all"]),
        R("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"], ["status"],
          categories=["all"]),
        R("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"], ["status", "scale"],
          categories=["all"]),
        R("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
        R("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
        R("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
        R("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
          False),
        R("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
          "MutatingWebhookConfiguration", False),
        R("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
          "ValidatingWebhookConfiguration", False),
        R("apiextensions.k8s.io", "v1", "customresourcedefinitions",
          "CustomResourceDefinition", False, ["crd", "crds"], ["status"]),
        R("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"],
          ["status"]),
        R("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True,
          ["hpa"], ["status"], categories=["all"]),
        R("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True,
          ["hpa"], ["status"], categories=["all"], storage=False),
        R("", "v1", "replicationcontrollers", "ReplicationController", True, ["rc"],
          ["status", "scale"], categories=["all"]),
        R("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"],
          ["status"]),
        R("", "v1", "persistentvolumes", "PersistentVolume", False, ["pv"], ["status"]),
        R("", "v1", "resourcequotas", "ResourceQuota", True, ["quota"], ["status"]),
        R("", "v1", "limitranges", "LimitRange", True, ["limits"]),
        R("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"], ["status", "scale"],
          categories=["all"]),
        R("apps", "v1", "controllerrevisions", "ControllerRevision", True),
        R("batch", "v1", "jobs", "Job", True, [], ["status"], categories=["all"]),
        R("batch", "v1", "cronjobs", "CronJob", True, ["cj"], ["status"], categories=["all"]),
        R("networking.k8s.io", "v1", "ingresses", "Ingress", True, ["ing"], ["status"]),
        R("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
        R("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ["netpol"]),
        R("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ["pc"]),
        R("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ["sc"]),
        R("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, [],
          ["status"]),
        R("coordination.k8s.io", "v1", "leases", "Lease", True),
        R("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
        R("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview",
          False, verbs=create_only, virtual=True),
        R("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview",
          False, verbs=create_only, virtual=True),
        R("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview",
          False, verbs=create_only, virtual=True),
        R("authorization.k8s.io", "v1", "localsubjectaccessreviews",
          "LocalSubjectAccessReview", True, verbs=create_only, virtual=True),
        R("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False,
          verbs=create_only, virtual=True),
        R("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False,
          verbs=create_only, virtual=True),
    ]


BUILTIN = _builtin()


class Registry:
    """The served resource types of one cluster (built-ins, plus CRD-backed ones)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._crd = {}           # crd name -> [ResourceType]
        self._rebuild()

    def _rebuild(self):
        types = list(BUILTIN)
        for rts in self._crd.values():
            types.extend(rts)
        by_gvr = {(t.group, t.version, t.plural): t for t in types}
        by_gvk = {(t.group, t.version, t.kind): t for t in types}
        groups = {}
        for t in types:
            g = groups.setdefault(t.group, [])
            if t.version not in g:
                g.append(t.version)
        self.types, self.by_gvr, self.by_gvk, self.groups = types, by_gvr, by_gvk, groups
        self.generation = getattr(self, "generation", 0) + 1

    def lookup(self, group, version, plural):
        return self.by_gvr.get((group, version, plural))

    def lookup_kind(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        return self.by_gvk.get((group, version, kind))

    def lookup_plural_any_version(self, group, plural):
        for t in self.types:
            if t.group == group and t.plural == plural:
                return t
        return None

    def preferred_version(self, group):
        vs = self.groups.get(group) or []
        storage = [t.version for t in self.types if t.group == group and t.storage]
        return storage[0] if storage else (vs[0] if vs else None)

    def set_crd(self, crd):
        """(Re)register the resource types a CRD serves."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        rts = []
        for v in spec.get("versions") or []:
            if not v.get("served", True):
                continue
            sub = v.get("subresources") or {}
            schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or {}
            rts.append(rt := ResourceType(
                spec.get("group", ""), v.get("name"), names.get("plural"), names.get("kind"),
                spec.get("scope", "Namespaced") == "Namespaced", names.get("shortNames") or [],
                [k for k in ("status", "scale") if k in sub],
                singular=names.get("singular") or names.get("kind", "").lower(),
                categories=names.get("categories") or [], crd_schema=schema,
                printer_columns=v.get("additionalPrinterColumns") or [],
                storage=bool(v.get("storage"))))
            rt.selectable_fields = [f.get("jsonPath", "").lstrip(".")
                                    for f in v.get("selectableFields") or []]
        with self._lock:
            self._crd[crd["metadata"]["name"]] = rts
            self._rebuild()

    def remove_crd(self, name):
        with self._lock:
            self._crd.pop(name, None)
            self._rebuild()

    def reset(self):
        with self._lock:
            self._crd.clear()
            self._rebuild()

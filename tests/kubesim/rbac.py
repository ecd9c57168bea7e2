"""RBAC authorisation: the rules of (Cluster)Roles reached through (Cluster)RoleBindings
whose subjects match the user. system:masters bypasses it, as in a real cluster."""

RBAC = "rbac.authorization.k8s.io"


class Attrs:
    def __init__(self, verb, group="", resource="", subresource="", name="", namespace="",
                 path=None):
        self.verb = verb
        self.group = group
        self.resource = resource
        self.subresource = subresource
        self.name = name
        self.namespace = namespace
        self.path = path        # non-resource request when set


def _subject_matches(s, user):
    kind = s.get("kind")
    if kind == "User":
        return s.get("name") == user.name
    if kind == "Group":
        return s.get("name") in user.groups
    if kind == "ServiceAccount":
        return user.sa is not None and user.sa == (s.get("namespace"), s.get("name"))
    return False


def _cluster_role_rules(store, name):
    # Aggregated ClusterRoles hold their rules: the aggregation controller fills them
    # (rbac_guard.on_change), so authorisation reads rules only, as the real one does.
    cr = store.get((RBAC, "clusterroles"), "", name)
    return list((cr or {}).get("rules") or [])


def rules_for(store, user, namespace):
    """All rules that apply to `user` in `namespace` ("" = cluster scope only)."""
    rules = []
    for b in store.list((RBAC, "clusterrolebindings")):
        if any(_subject_matches(s, user) for s in b.get("subjects") or []):
            rules.extend(_cluster_role_rules(store, (b.get("roleRef") or {}).get("name")))
    if namespace:
        for b in store.list((RBAC, "rolebindings"), namespace):
            if not any(_subject_matches(s, user) for s in b.get("subjects") or []):
                continue
            ref = b.get("roleRef") or {}
            if ref.get("kind") == "ClusterRole":
                rules.extend(_cluster_role_rules(store, ref.get("name")))
            else:
                role = store.get((RBAC, "roles"), namespace, ref.get("name"))
                rules.extend((role or {}).get("rules") or [])
    return rules


def _has(lst, v):
    lst = lst or []
    return "*" in lst or v in lst


def rule_allows(rule, a):
    if not _has(rule.get("verbs"), a.verb):
        return False
    if a.path is not None:
        for u in rule.get("nonResourceURLs") or []:
            if u == a.path or u == "*" or (u.endswith("*") and a.path.startswith(u[:-1])):
                return True
        return False
    if not _has(rule.get("apiGroups"), a.group):
        return False
    res = a.resource + ("/" + a.subresource if a.subresource else "")
    resources = rule.get("resources") or []
    if not ("*" in resources or res in resources or
            (a.subresource and "*/" + a.subresource in resources)):
        return False
    names = rule.get("resourceNames")
    if names:
        return bool(a.name) and a.name in names
    return True


def authorize(store, user, a):
    """Return (allowed, reason)."""
    if "system:masters" in user.groups:
        return True, ""
    for rule in rules_for(store, user, a.namespace if a.path is None else ""):
        if rule_allows(rule, a):
            return True, 'RBAC: allowed by rule %s' % _short(rule)
    return False, ""


def _short(rule):
    return "{verbs=%s, resources=%s}" % (rule.get("verbs"), rule.get("resources") or
                                         rule.get("nonResourceURLs"))


def default_objects():
    """The cluster roles and bindings every cluster starts with (a useful subset)."""
    read = ["get", "list", "watch"]
    write = ["create", "delete", "deletecollection", "patch", "update"]
    core_ro = ["configmaps", "endpoints", "persistentvolumeclaims", "pods", "services",
               "serviceaccounts", "events", "namespaces/status", "pods/status",
               "services/status", "replicationcontrollers", "resourcequotas", "limitranges",
               "bindings", "pods/log"]
    apps = ["deployments", "daemonsets", "replicasets", "statefulsets", "deployments/scale",
            "deployments/status", "daemonsets/status", "replicasets/status"]
    view = [
        {"apiGroups": [""], "resources": core_ro + ["namespaces"], "verbs": read},
        {"apiGroups": ["apps"], "resources": apps, "verbs": read},
        {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"],
         "verbs": read},
        {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": read},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": read},
    ]
    edit = view + [
        {"apiGroups": [""], "resources": core_ro + ["secrets"], "verbs": write},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": read},
        {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
        {"apiGroups": ["apps"], "resources": apps, "verbs": write},
        {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"],
         "verbs": write},
        {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": write},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": write},
    ]
    admin = edit + [
        {"apiGroups": [RBAC], "resources": ["roles", "rolebindings"], "verbs": read + write},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["localsubjectaccessreviews"],
         "verbs": ["create"]},
    ]

    def role(name, rules, labels=None):
        m = {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})}}
        return {"apiVersion": RBAC + "/v1", "kind": "ClusterRole", "metadata": m,
                "rules": rules}

    def binding(name, role_name, subjects):
        return {"apiVersion": RBAC + "/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": name,
                             "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
                "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role_name},
                "subjects": subjects}

    authn = [{"apiGroup": RBAC, "kind": "Group", "name": "system:authenticated"}]
    return [
        role("cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                               {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        role("admin", admin), role("edit", edit), role("view", view),
        role("system:discovery", [{"nonResourceURLs": [
            "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
            "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
        role("system:basic-user", [{"apiGroups": ["authorization.k8s.io"], "resources": [
            "selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]}, {
            "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"],
            "verbs": ["create"]}]),
        role("system:public-info-viewer", [{"nonResourceURLs": [
            "/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
        binding("cluster-admin", "cluster-admin",
                [{"apiGroup": RBAC, "kind": "Group", "name": "system:masters"}]),
        binding("system:discovery", "system:discovery", authn),
        binding("system:basic-user", "system:basic-user", authn),
        binding("system:public-info-viewer", "system:public-info-viewer",
                authn + [{"apiGroup": RBAC, "kind": "Group", "name": "system:unauthenticated"}]),
    ]

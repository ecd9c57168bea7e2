"""RBAC's own write rules, as the API server's rbac registry enforces them:

- escalation prevention: a user may create or update a Role/ClusterRole only with
  permissions they already hold (or with the `escalate` verb on it), and a
  RoleBinding/ClusterRoleBinding only to a role whose permissions they hold (or with the
  `bind` verb on that role); an aggregationRule needs cluster-admin;
- ClusterRole aggregation: the clusterrole-aggregation controller fills the rules of a
  ClusterRole carrying an aggregationRule from the ClusterRoles its selectors pick.
"""
import json

from .errors import ApiError
from .rbac import RBAC, Attrs, _cluster_role_rules, authorize, rules_for
from .selectors import labels_match, selector_object_to_reqs
from .util import deep_copy

_ROLE_KINDS = {"roles", "clusterroles"}
_BINDING_KINDS = {"rolebindings", "clusterrolebindings"}


# ------------------------------------------------------------------------ rule coverage

def _breakdown(rule):
    """One (kind, group, resource, name, verb) per atomic permission of a rule."""
    out = []
    verbs = rule.get("verbs") or []
    if rule.get("nonResourceURLs"):
        for u in rule["nonResourceURLs"]:
            for v in verbs:
                out.append(("url", "", u, "", v))
        return out
    names = rule.get("resourceNames") or [""]
    for g in rule.get("apiGroups") or []:
        for r in rule.get("resources") or []:
            for n in names:
                for v in verbs:
                    out.append(("res", g, r, n, v))
    return out


def _has(values, v):
    values = values or []
    return "*" in values or v in values


def _resource_covered(owned, r):
    if _has(owned, r):
        return True
    # "*/status" covers any status subresource; "pods/*" any subresource of pods.
    res, _, sub = r.partition("/")
    for o in owned or []:
        ores, _, osub = o.partition("/")
        if sub and ((ores == "*" and osub == sub) or (ores == res and osub == "*")):
            return True
    return False


def _covers(owner, perm):
    kind, g, r, n, v = perm
    if not _has(owner.get("verbs"), v):
        return False
    if kind == "url":
        for u in owner.get("nonResourceURLs") or []:
            if u == r or u == "*" or (u.endswith("*") and r.startswith(u[:-1])):
                return True
        return False
    if owner.get("nonResourceURLs") and not owner.get("resources"):
        return False
    if not _has(owner.get("apiGroups"), g) or not _resource_covered(owner.get("resources"), r):
        return False
    names = owner.get("resourceNames")
    return not names or (n != "" and n in names)


def uncovered(owned_rules, wanted_rules):
    missing = []
    for rule in wanted_rules:
        for perm in _breakdown(rule):
            if not any(_covers(o, perm) for o in owned_rules) and perm not in missing:
                missing.append(perm)
    return missing


def _q(values):
    return "[" + " ".join(json.dumps(v) for v in values) + "]"


def _format(missing):
    """The uncovered permissions, compacted by resource as the API server prints them."""
    merged = {}
    for kind, g, r, n, v in missing:
        merged.setdefault((kind, g, r, n), []).append(v)
    lines = []
    for (kind, g, r, n), verbs in merged.items():
        if kind == "url":
            lines.append("{NonResourceURLs:%s, Verbs:%s}" % (_q([r]), _q(verbs)))
            continue
        s = "{APIGroups:%s, Resources:%s" % (_q([g]), _q([r]))
        if n:
            s += ", ResourceNames:%s" % _q([n])
        lines.append(s + ", Verbs:%s}" % _q(verbs))
    return "\n".join(lines)


# ------------------------------------------------------------------------ write checks

def _forbidden(rt, name, why):
    return ApiError(403, "Forbidden", '%s.%s "%s" is forbidden: %s' % (rt.plural, RBAC, name,
                                                                       why),
                    {"name": name, "group": RBAC, "kind": rt.plural})


def _user_rules(store, user, namespace):
    return rules_for(store, user, namespace)


def _gc_only_change(obj, old):
    """An update touching only what garbage collection writes is always allowed."""
    if old is None:
        return False

    def rest(o):
        meta = {k: v for k, v in o["metadata"].items()
                if k in ("name", "namespace", "labels", "annotations")}
        return meta, {k: v for k, v in o.items() if k not in ("metadata", "apiVersion")}
    return rest(obj) == rest(old)


def _escalation(store, user, rt, name, namespace, wanted):
    missing = uncovered(_user_rules(store, user, namespace), wanted)
    if not missing:
        return None
    return 'user "%s" (groups=%s) is attempting to grant RBAC permissions not currently ' \
           "held:\n%s" % (user.name, _q(user.groups), _format(missing))


def check_write(store, user, rt, obj, old):
    """Raise 403 when `user` writing `obj` would grant permissions they do not hold."""
    if rt.group != RBAC or "system:masters" in user.groups:
        return
    if rt.plural not in _ROLE_KINDS and rt.plural not in _BINDING_KINDS:
        return
    if _gc_only_change(obj, old):
        return
    meta = obj["metadata"]
    name = meta.get("name", "")
    ns = meta.get("namespace", "") if rt.plural in ("roles", "rolebindings") else ""
    if rt.plural in _ROLE_KINDS:
        if obj.get("aggregationRule"):
            full = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                    {"nonResourceURLs": ["*"], "verbs": ["*"]}]
            if uncovered(_user_rules(store, user, ""), full):
                raise _forbidden(rt, name, "must have cluster-admin privileges to use the "
                                           "aggregationRule")
            return
        if authorize(store, user, Attrs("escalate", RBAC, rt.plural, "", name, ns))[0]:
            return
        why = _escalation(store, user, rt, name, ns, obj.get("rules") or [])
        if why:
            raise _forbidden(rt, name, why)
        return
    ref = obj.get("roleRef") or {}
    ref_plural = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
    if authorize(store, user, Attrs("bind", RBAC, ref_plural, "", ref.get("name", ""),
                                    ns))[0]:
        return
    if ref_plural == "clusterroles":
        role_rules = _cluster_role_rules(store, ref.get("name"))
    else:
        role = store.get((RBAC, "roles"), ns, ref.get("name"))
        role_rules = (role or {}).get("rules") or []
    why = _escalation(store, user, rt, name, ns, role_rules)
    if why:
        raise _forbidden(rt, name, why)


# ------------------------------------------------------------------------ aggregation

def _aggregated_rules(store, cr):
    sels = [selector_object_to_reqs(s) for s in
            (cr.get("aggregationRule") or {}).get("clusterRoleSelectors") or []]
    rules = []
    for other in store.list((RBAC, "clusterroles")):
        if other["metadata"]["name"] == cr["metadata"]["name"]:
            continue
        labels = other["metadata"].get("labels") or {}
        if any(s and labels_match(s, labels) for s in sels):
            for r in other.get("rules") or []:
                if r not in rules:
                    rules.append(r)
    return rules


def on_change(api, rt, obj):
    """After any ClusterRole write or delete: refill the aggregated ClusterRoles."""
    if rt.group != RBAC or rt.plural != "clusterroles" or getattr(api, "_aggregating", False):
        return
    api._aggregating = True     # its own writes must not re-enter it
    try:
        # A few passes: an aggregated role may itself be picked by another aggregation.
        for _ in range(4):
            changed = False
            for cr in api.store.list((RBAC, "clusterroles")):
                if not cr.get("aggregationRule"):
                    continue
                rules = _aggregated_rules(api.store, cr)
                if (cr.get("rules") or []) == rules:
                    continue
                new = deep_copy(cr)
                new["rules"] = rules
                api.put_internal(rt, new, cr)
                changed = True
            if not changed:
                break
    finally:
        api._aggregating = False

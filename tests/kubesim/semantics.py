"""Checks of the API server's per-kind validation that no schema expresses: what may not
change on update (Service clusterIP, Secret type, immutable ConfigMaps/Secrets, a
binding's roleRef), duplicates within a list (Service ports, container port names) and
projected token lifetimes.

causes(rt, obj, old) returns (field, reason, message) triples, as validation.py gathers
them into one 422 Invalid.
"""
import json

_IMMUTABLE = "Forbidden: field is immutable when `immutable` is set"


def _go_str(v):
    return json.dumps(v if v is not None else "")


def _service(obj, old, causes):
    spec = obj.get("spec") or {}
    ports = spec.get("ports") or []
    seen, names = set(), set()
    for i, p in enumerate(ports):
        if not isinstance(p, dict):
            continue
        key = (p.get("protocol") or "TCP", p.get("port"))
        if key in seen:
            causes.append(("spec.ports[%d]" % i, "FieldValueDuplicate",
                           "Duplicate value: core.ServicePort{Name:\"\", Protocol:%s, "
                           "AppProtocol:(*string)(nil), Port:%s, TargetPort:intstr.IntOrString"
                           "{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}"
                           % (_go_str(key[0]), key[1])))
        seen.add(key)
        name = p.get("name")
        if len(ports) > 1 and not name:
            causes.append(("spec.ports[%d].name" % i, "FieldValueRequired", "Required value"))
        elif name:
            if name in names:
                causes.append(("spec.ports[%d].name" % i, "FieldValueDuplicate",
                               "Duplicate value: %s" % _go_str(name)))
            names.add(name)
    if old is None:
        return
    old_spec = old.get("spec") or {}
    if "ExternalName" in (spec.get("type"), old_spec.get("type")):
        return
    was, now = old_spec.get("clusterIP"), spec.get("clusterIP")
    if was and now and was != now:
        causes.append(("spec.clusterIPs[0]", "FieldValueInvalid",
                       "Invalid value: []string{%s}: may not change once set"
                       % ", ".join(_go_str(x) for x in spec.get("clusterIPs") or [now])))


def _immutable_data(obj, old, causes, kind):
    if old is None or old.get("immutable") is not True:
        return
    if obj.get("immutable") is not True:
        causes.append(("immutable", "FieldValueForbidden", _IMMUTABLE))
    for f in ("data", "binaryData") if kind == "configmaps" else ("data",):
        if (obj.get(f) or {}) != (old.get(f) or {}):
            causes.append((f, "FieldValueForbidden", _IMMUTABLE))


def _secret(obj, old, causes):
    if old is not None and (old.get("type") or "Opaque") != (obj.get("type") or "Opaque"):
        causes.append(("type", "FieldValueInvalid", "Invalid value: %s: field is immutable"
                       % _go_str(obj.get("type"))))
    _immutable_data(obj, old, causes, "secrets")


def _binding(obj, old, causes):
    if old is None:
        return
    ref, was = obj.get("roleRef") or {}, old.get("roleRef") or {}
    if ref != was:
        causes.append(("roleRef", "FieldValueInvalid", "Invalid value: rbac.RoleRef{APIGroup:"
                       "%s, Kind:%s, Name:%s}: cannot change roleRef"
                       % (_go_str(ref.get("apiGroup")), _go_str(ref.get("kind")),
                          _go_str(ref.get("name")))))


def _container_port_names(pod, base, causes):
    for key in ("initContainers", "containers"):
        for i, c in enumerate(pod.get(key) or []):
            names = set()
            for j, p in enumerate((c.get("ports") or []) if isinstance(c, dict) else []):
                name = p.get("name") if isinstance(p, dict) else None
                if not name:
                    continue
                if name in names:
                    causes.append(("%s.%s[%d].ports[%d].name" % (base, key, i, j),
                                   "FieldValueDuplicate", "Duplicate value: %s" % _go_str(name)))
                names.add(name)


def _projected_tokens(pod, base, causes):
    for i, v in enumerate(pod.get("volumes") or []):
        srcs = ((v.get("projected") or {}).get("sources") or []) if isinstance(v, dict) else []
        for j, src in enumerate(srcs):
            exp = ((src or {}).get("serviceAccountToken") or {}).get("expirationSeconds")
            if isinstance(exp, int) and not isinstance(exp, bool) and \
                    not 600 <= exp <= 1 << 32:
                causes.append(("%s.volumes[%d].projected.sources[%d].serviceAccountToken."
                               "expirationSeconds" % (base, i, j), "FieldValueInvalid",
                               "Invalid value: %d: may not specify a duration %s" % (
                                   exp, "less than 10 minutes" if exp < 600
                                   else "larger than 2^32 seconds")))


def _pod(pod, base, causes):
    _container_port_names(pod, base, causes)
    _projected_tokens(pod, base, causes)


def causes(rt, obj, old):
    out = []
    g, p = rt.group, rt.plural
    if g == "" and p == "services":
        _service(obj, old, out)
    elif g == "" and p == "configmaps":
        _immutable_data(obj, old, out, p)
    elif g == "" and p == "secrets":
        _secret(obj, old, out)
    elif g == "rbac.authorization.k8s.io" and p in ("rolebindings", "clusterrolebindings"):
        _binding(obj, old, out)
    elif g == "" and p == "pods" and isinstance(obj.get("spec"), dict):
        _pod(obj["spec"], "spec", out)
    elif isinstance(((obj.get("spec") or {}).get("template") or {}).get("spec"), dict):
        _pod(obj["spec"]["template"]["spec"], "spec.template.spec", out)
    return out

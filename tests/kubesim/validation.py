"""Validation of objects before they are stored.

Built-in kinds: the official OpenAPI schema of the cluster's Kubernetes version, as
shipped by kubernetes-validate (JSON Schema; the "-strict" set marks every unknown field),
plus the few semantic checks a real API server makes that a schema cannot express.
Custom resources: their CRD's openAPIV3Schema (structural schema: typed, pruned,
defaulted). Unknown fields are rejected under fieldValidation=Strict, reported as warnings
under Warn (the default), silently dropped under Ignore -- and in every case not stored.
"""
import functools
import json
import re

import jsonschema
from referencing import Registry, Resource

from . import cel, fastschema, schemas, semantics, structural
from .errors import bad_request, invalid

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                  "characters, '-' or '.', and must start and end with an alphanumeric "
                  "character (e.g. 'example.com', regex used for validation is "
                  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric "
              "characters or '-', and must start and end with an alphanumeric character "
              "(e.g. 'my-name',  or '123-abc', regex used for validation is "
              "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
_DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or "
                "'-', start with an alphabetic character, and end with an alphanumeric "
                "character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
                "'[a-z]([-a-z0-9]*[a-z0-9])?')")

# Kinds whose names are DNS labels / DNS-1035 labels / free path segments, as in the
# apiserver's per-kind name validators. Everything else: DNS-1123 subdomain.
_LABEL_NAMED = {"namespaces"}
_DNS1035_NAMED = {"services"}
_PATH_SEGMENT_NAMED = {"roles", "rolebindings", "clusterroles", "clusterrolebindings"}


def _q(v):
    return json.dumps(v) if not isinstance(v, str) else '"%s"' % v


def validate_name(rt, name, causes):
    if rt.plural in _PATH_SEGMENT_NAMED:
        if name in (".", "..") or "/" in name or "%" in name:
            causes.append(("metadata.name", "FieldValueInvalid",
                           'Invalid value: "%s": may not contain \'/\' or \'%%\'' % name))
        return
    if rt.plural in _LABEL_NAMED:
        rx, msg, maxlen = DNS1123_LABEL, _LABEL_MSG, 63
    elif rt.plural in _DNS1035_NAMED:
        rx, msg, maxlen = DNS1035_LABEL, _DNS1035_MSG, 63
    else:
        rx, msg, maxlen = DNS1123_SUBDOMAIN, _SUBDOMAIN_MSG, 253
    if len(name) > maxlen:
        causes.append(("metadata.name", "FieldValueInvalid",
                       'Invalid value: "%s": must be no more than %d characters'
                       % (name, maxlen)))
    elif not rx.match(name):
        causes.append(("metadata.name", "FieldValueInvalid",
                       'Invalid value: "%s": %s' % (name, msg)))


def _validate_qualified_key(key, field, causes):
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        causes.append((field, "FieldValueInvalid", 'Invalid value: "%s": prefix part %s'
                       % (key, _SUBDOMAIN_MSG)))
    elif not name or len(name) > 63 or not QUALIFIED_NAME.match(name):
        causes.append((field, "FieldValueInvalid",
                       'Invalid value: "%s": name part must consist of alphanumeric '
                       "characters, '-', '_' or '.', and must start and end with an "
                       "alphanumeric character, and be no more than 63 characters" % key))


def validate_metadata(meta, causes):
    for k, v in (meta.get("labels") or {}).items():
        _validate_qualified_key(k, "metadata.labels", causes)
        if not isinstance(v, str) or len(v) > 63 or (v and not QUALIFIED_NAME.match(v)):
            causes.append(("metadata.labels", "FieldValueInvalid",
                           "Invalid value: %s: a valid label must be an empty string or "
                           "consist of alphanumeric characters, '-', '_' or '.', and must "
                           "start and end with an alphanumeric character" % _q(v)))
    for k in (meta.get("annotations") or {}):
        _validate_qualified_key(k, "metadata.annotations", causes)


# ------------------------------------------------------------------ built-in (JSON Schema)

@functools.lru_cache(maxsize=8)
def _fast_checks(ver):
    return fastschema.Checks(schemas.definitions(ver, strict=True))


@functools.lru_cache(maxsize=256)
def _builtin_validator(ver, group, version, kind):
    """(jsonschema validator, compiled yes/no check or None), or None for a kind without
    a schema. The check answers first; the validator reports the errors it finds."""
    # Always the strict schema set: its additionalProperties:false errors are how unknown
    # fields are found; what to do about them is decided per request.
    schema = schemas.kind_schema(ver, group, version, kind, strict=True)
    if schema is None:
        return None
    defs = schemas.definitions(ver, strict=True)
    registry = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(defs) @ registry
    return (jsonschema.validators.Draft202012Validator(schema, registry=registry),
            _fast_checks(ver).compile(schema))


def _path(parts):
    out = ""
    for p in parts:
        out += "[%d]" % p if isinstance(p, int) else ("." + p if out else p)
    return out


def _builtin_errors(validator, obj, causes, unknown):
    for e in validator.iter_errors(obj):
        path = list(e.absolute_path)
        field = _path(path)
        v = e.validator
        if v == "additionalProperties":
            props = set((e.schema.get("properties") or {}).keys())
            for k in e.instance:
                if k not in props:
                    unknown.append(path + [k])
        elif v == "required":
            m = re.match(r"^'([^']*)' is a required property", e.message)
            name = m.group(1) if m else "?"
            causes.append((_path(path + [name]), "FieldValueRequired", "Required value"))
        elif v == "type":
            types = e.validator_value if isinstance(e.validator_value, list) \
                else [e.validator_value]
            types = [t for t in types if t != "null"]
            causes.append((field, "FieldValueTypeInvalid", "Invalid value: %s: must be of "
                           "type %s" % (_q(e.instance), " or ".join(types))))
        elif v == "enum":
            allowed = [x for x in e.validator_value if x is not None]
            causes.append((field, "FieldValueNotSupported", "Unsupported value: %s: "
                           "supported values: %s" % (_q(e.instance),
                                                     ", ".join(_q(a) for a in allowed))))
        elif v in ("oneOf", "anyOf"):
            causes.append((field, "FieldValueTypeInvalid", "Invalid value: %s: must be an "
                           "integer or a string" % _q(e.instance)))
        else:
            causes.append((field, "FieldValueInvalid",
                           "Invalid value: %s: %s" % (_q(e.instance), e.message)))


# ----------------------------------------------------------- custom resources (structural)

_PY_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def _type_ok(value, t):
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool) or \
            (isinstance(value, float) and value.is_integer())
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    py = _PY_TYPES.get(t)
    return py is None or isinstance(value, py)


def _crd_walk(value, s, path, causes, unknown, root=False):
    """Validate `value` against structural schema `s`, filling defaults in place."""
    field = _path(path)
    if s.get("x-kubernetes-int-or-string"):
        if not (isinstance(value, (int, str)) and not isinstance(value, bool)):
            causes.append((field, "FieldValueTypeInvalid", "Invalid value: %s: %s in body "
                           "must be of type integer-or-string" % (_q(value), field)))
        return
    t = s.get("type")
    if t and not _type_ok(value, t):
        causes.append((field, "FieldValueTypeInvalid", "Invalid value: %s: %s in body must "
                       "be of type %s: %s" % (_q(value), field, t, _q(value))))
        return
    if "enum" in s and value not in s["enum"]:
        causes.append((field, "FieldValueNotSupported", "Unsupported value: %s: supported "
                       "values: %s" % (_q(value), ", ".join(_q(x) for x in s["enum"]))))
    if isinstance(value, str):
        if "pattern" in s and not re.search(s["pattern"], value):
            causes.append((field, "FieldValueInvalid", "Invalid value: %s: %s in body should "
                           "match '%s'" % (_q(value), field, s["pattern"])))
        if "maxLength" in s and len(value) > s["maxLength"]:
            causes.append((field, "FieldValueTooLong", "Too long: may not be more than %d "
                           "bytes" % s["maxLength"]))
        if "minLength" in s and len(value) < s["minLength"]:
            causes.append((field, "FieldValueInvalid", "Invalid value: %s: %s in body should "
                           "be at least %d chars long" % (_q(value), field, s["minLength"])))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in s and value < s["minimum"]:
            causes.append((field, "FieldValueInvalid", "Invalid value: %s: %s in body should "
                           "be greater than or equal to %s" % (value, field, s["minimum"])))
        if "maximum" in s and value > s["maximum"]:
            causes.append((field, "FieldValueInvalid", "Invalid value: %s: %s in body should "
                           "be less than or equal to %s" % (value, field, s["maximum"])))
    for sub in s.get("allOf") or []:
        _crd_walk(value, sub, path, causes, [], root)
    if isinstance(s.get("not"), dict):
        c = []
        _crd_walk(value, s["not"], path, c, [], root)
        if not c:
            causes.append((field, "FieldValueInvalid", "Invalid value: %s: %s in body must "
                           "not validate the schema (not)" % (_q(value), field or "<root>")))
    for key in ("anyOf", "oneOf"):
        alts = s.get(key)
        if alts:
            ok = 0
            for alt in alts:
                c = []
                _crd_walk(value, alt, path, c, [], root)
                ok += not c
            if ok == 0 or (key == "oneOf" and ok > 1):
                causes.append((field, "FieldValueInvalid", "Invalid value: %s: must validate "
                               "%s %s" % (_q(value), "one and only one schema" if key ==
                                          "oneOf" else "at least one schema", "(" + key + ")")))
    if isinstance(value, dict):
        props = s.get("properties") or {}
        for name, ps in props.items():
            if name not in value and "default" in ps:
                value[name] = json.loads(json.dumps(ps["default"]))
        for r in s.get("required") or []:
            if r not in value:
                causes.append((_path(path + [r]), "FieldValueRequired", "Required value"))
        ap = s.get("additionalProperties")
        keep_unknown = s.get("x-kubernetes-preserve-unknown-fields") or ap is True
        for k in list(value.keys()):
            if root and k in ("apiVersion", "kind", "metadata"):
                continue
            v = value[k]
            ps = props.get(k)
            if ps is None and isinstance(ap, dict):
                ps = ap
            if ps is None:
                if not keep_unknown and (props or "type" in s):
                    unknown.append(path + [k])
                continue
            if v is None and not ps.get("nullable"):
                del value[k]   # structural pruning drops nulls of non-nullable fields
                continue
            _crd_walk(v, ps, path + [k], causes, unknown)
        if "maxProperties" in s and len(value) > s["maxProperties"]:
            causes.append((field, "TooMany", "Too many: %d: must have at most %d items"
                           % (len(value), s["maxProperties"])))
    elif isinstance(value, list):
        if "maxItems" in s and len(value) > s["maxItems"]:
            causes.append((field, "FieldValueTooMany", "Too many: %d: must have at most %d "
                           "items" % (len(value), s["maxItems"])))
        if "minItems" in s and len(value) < s["minItems"]:
            causes.append((field, "FieldValueInvalid", "Invalid value: %d: %s in body should "
                           "have at least %d items" % (len(value), field, s["minItems"])))
        items = s.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(value):
                _crd_walk(v, items, path + [i], causes, unknown)


# ------------------------------------------------------------------------ semantic checks

def _workload_checks(obj, causes, old):
    spec = obj.get("spec") or {}
    sel = spec.get("selector")
    tmpl = spec.get("template") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    if isinstance(sel, dict):
        ml = sel.get("matchLabels") or {}
        if not ml and not sel.get("matchExpressions"):
            causes.append(("spec.selector", "FieldValueInvalid",
                           "Invalid value: {}: empty selector is invalid for deployment"))
        elif any(labels.get(k) != v for k, v in ml.items()):
            causes.append(("spec.template.metadata.labels", "FieldValueInvalid",
                           "Invalid value: %s: `selector` does not match template `labels`"
                           % json.dumps(labels)))
        if old is not None and (old.get("spec") or {}).get("selector") != sel:
            causes.append(("spec.selector", "FieldValueInvalid", "Invalid value: %s: field "
                           "is immutable" % json.dumps(sel)))
    pod = tmpl.get("spec")
    if isinstance(pod, dict):
        _pod_checks(pod, "spec.template.spec", causes)


def _pod_checks(pod, base, causes):
    cs = pod.get("containers")
    if not cs:
        causes.append((base + ".containers", "FieldValueRequired", "Required value"))
        return
    seen = set()
    for i, c in enumerate(cs):
        if not isinstance(c, dict):
            continue
        f = "%s.containers[%d]" % (base, i)
        if not c.get("name"):
            causes.append((f + ".name", "FieldValueRequired", "Required value"))
        elif c["name"] in seen:
            causes.append((f + ".name", "FieldValueDuplicate", 'Duplicate value: "%s"'
                           % c["name"]))
        seen.add(c.get("name"))
        if not c.get("image"):
            causes.append((f + ".image", "FieldValueRequired", "Required value"))
        for j, p in enumerate(c.get("ports") or []):
            cp = p.get("containerPort") if isinstance(p, dict) else None
            if isinstance(cp, int) and not 0 < cp < 65536:
                causes.append(("%s.ports[%d].containerPort" % (f, j), "FieldValueInvalid",
                               "Invalid value: %d: must be between 1 and 65535, inclusive"
                               % cp))


def _service_checks(obj, causes):
    spec = obj.get("spec") or {}
    for i, p in enumerate(spec.get("ports") or []):
        port = p.get("port") if isinstance(p, dict) else None
        if isinstance(port, int) and not 0 < port < 65536:
            causes.append(("spec.ports[%d].port" % i, "FieldValueInvalid",
                           "Invalid value: %d: must be between 1 and 65535, inclusive" % port))
    t = spec.get("type", "ClusterIP")
    if t not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        causes.append(("spec.type", "FieldValueNotSupported", 'Unsupported value: "%s": '
                       'supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
                       '"NodePort"' % t))
    elif t != "ExternalName" and not spec.get("ports") and spec.get("clusterIP") != "None":
        causes.append(("spec.ports", "FieldValueRequired", "Required value"))


def _crd_checks(obj, causes):
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    want = "%s.%s" % (names.get("plural"), spec.get("group"))
    name = (obj.get("metadata") or {}).get("name")
    if name != want:
        causes.append(("metadata.name", "FieldValueInvalid", 'Invalid value: "%s": must be '
                       'spec.names.plural+"."+spec.group' % name))
    versions = spec.get("versions") or []
    for i, v in enumerate(versions):
        sch = (v.get("schema") or {}).get("openAPIV3Schema") if isinstance(v, dict) else None
        if sch is None:
            continue
        base = "spec.versions[%d].schema.openAPIV3Schema" % i
        causes.extend(structural.errors(sch, base))
        causes.extend(cel.compile_errors(sch, base))
    if sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(("spec.versions", "FieldValueInvalid", "Invalid value: %s: must have "
                       "exactly one version marked as storage version"
                       % json.dumps([v.get("name") for v in versions])))


def validate(rt, obj, k8s_version, field_validation, old=None):
    """Validate (and prune) `obj` in place. Returns warning strings; raises ApiError."""
    causes, unknown = [], []
    cel_schema = None
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    if name:
        validate_name(rt, name, causes)
    validate_metadata(meta, causes)
    if rt.crd_schema is not None:
        s = rt.crd_schema
        if s:
            _crd_walk(obj, s, [], causes, unknown, root=True)
            if any(c[1] in ("FieldValueTypeInvalid", "FieldValueNotSupported")
                   for c in causes):
                # As the API server: rules are not run on an object of the wrong shape.
                causes.append(("", "FieldValueInvalid", "some validation rules were not "
                               "checked because the object was invalid; correct the existing "
                               "errors to complete validation"))
            else:
                cel_schema = s
    else:
        ver = schemas.schema_version(k8s_version)
        compiled = _builtin_validator(ver, rt.group, rt.version, rt.kind)
        if compiled is not None:
            validator, valid = compiled
            if valid is None or not valid(obj):
                _builtin_errors(validator, obj, causes, unknown)
        if rt.plural in ("deployments", "daemonsets", "replicasets"):
            _workload_checks(obj, causes, old)
        elif rt.plural == "pods" and isinstance(obj.get("spec"), dict):
            _pod_checks(obj["spec"], "spec", causes)
        elif rt.plural == "services":
            _service_checks(obj, causes)
        elif rt.plural == "customresourcedefinitions":
            _crd_checks(obj, causes)
        causes.extend(semantics.causes(rt, obj, old))
    warnings = []
    if unknown:
        paths = sorted(set(_path(u) for u in unknown))
        if field_validation == "Strict":
            # What the real server answers for unknown fields under Strict: 400, one
            # message naming every unknown field.
            raise bad_request("strict decoding error: " + ", ".join(
                'unknown field "%s"' % p for p in paths),
                [(p, "FieldValueInvalid", 'unknown field "%s"' % p) for p in paths])
        if field_validation != "Ignore":
            warnings = ['unknown field "%s"' % p for p in paths]
        for u in sorted(unknown, key=len, reverse=True):
            _drop(obj, u)
    if cel_schema is not None:      # rules see the pruned object, as on a real server
        cel.validate(obj, cel_schema, old, old is not None, [], causes)
    if causes:
        raise invalid(rt.kind, rt.group, name, causes)
    return warnings


def _drop(obj, path):
    cur = obj
    for p in path[:-1]:
        try:
            cur = cur[p]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(cur, dict):
        cur.pop(path[-1], None)

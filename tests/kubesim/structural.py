"""Structural-schema checks the API server makes when a CRD is created or updated
(apiextensions.k8s.io/v1 requires structural schemas): every specified node has a type
(unless it is int-or-string or preserves unknown fields), the root is an object,
properties and additionalProperties exclude each other, and the value validations under
allOf/anyOf/oneOf/not carry no type, default, nullable, description or x-kubernetes-*
extensions of their own.
"""

_JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
_FORBIDDEN_IN_JUNCTOR = ("type", "default", "nullable", "description", "additionalProperties",
                         "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
                         "x-kubernetes-int-or-string", "x-kubernetes-list-type",
                         "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
                         "x-kubernetes-validations")


def _junctor_errors(s, path, out):
    if not isinstance(s, dict):
        return
    for key in _FORBIDDEN_IN_JUNCTOR:
        if key in s and not (key == "x-kubernetes-int-or-string" and s[key] is False):
            out.append(("%s.%s" % (path, key), "FieldValueForbidden",
                        "Forbidden: must be empty to be structural"))
    for k, sub in (s.get("properties") or {}).items():
        _junctor_errors(sub, "%s.properties[%s]" % (path, k), out)
    if isinstance(s.get("items"), dict):
        _junctor_errors(s["items"], path + ".items", out)
    for j in _JUNCTORS:
        subs = s.get(j)
        for i, sub in enumerate([subs] if isinstance(subs, dict) else subs or []):
            _junctor_errors(sub, "%s.%s[%d]" % (path, j, i) if j != "not" else
                            "%s.not" % path, out)


def _node(s, path, out, where, root=False):
    if not isinstance(s, dict):
        out.append((path, "FieldValueInvalid", "Invalid value: must be an object"))
        return
    t = s.get("type")
    untyped_ok = s.get("x-kubernetes-int-or-string") or \
        s.get("x-kubernetes-preserve-unknown-fields")
    if root:
        if not t:
            out.append((path + ".type", "FieldValueRequired",
                        "Required value: must not be empty at the root"))
        elif t != "object":
            out.append((path + ".type", "FieldValueInvalid",
                        'Invalid value: "%s": must be object at the root' % t))
    elif not t and not untyped_ok:
        out.append((path + ".type", "FieldValueRequired",
                    "Required value: must not be empty for specified %s" % where))
    if s.get("x-kubernetes-int-or-string") and t:
        out.append((path + ".type", "FieldValueForbidden", "Forbidden: must be empty if "
                    "x-kubernetes-int-or-string is true"))
    if "properties" in s and isinstance(s.get("additionalProperties"), (dict, bool)) and \
            s.get("additionalProperties") is not True:
        out.append((path + ".additionalProperties", "FieldValueForbidden",
                    "Forbidden: additionalProperties and properties are mutual exclusive"))
    if t == "array" and not isinstance(s.get("items"), dict):
        out.append((path + ".items", "FieldValueRequired",
                    "Required value: must be specified"))
    for k, sub in (s.get("properties") or {}).items():
        _node(sub, "%s.properties[%s]" % (path, k), out, "object fields")
    if isinstance(s.get("items"), dict):
        _node(s["items"], path + ".items", out, "array items")
    if isinstance(s.get("additionalProperties"), dict):
        _node(s["additionalProperties"], path + ".additionalProperties", out,
              "object fields")
    for j in _JUNCTORS:
        subs = s.get(j)
        if subs is None:
            continue
        if j == "anyOf" and s.get("x-kubernetes-int-or-string") and \
                [x.get("type") for x in subs if isinstance(x, dict)][:2] == \
                ["integer", "string"]:
            continue    # the one typed junctor allowed: int-or-string spelled out
        for i, sub in enumerate([subs] if j == "not" else subs):
            _junctor_errors(sub, "%s.%s" % (path, j) if j == "not" else
                            "%s.%s[%d]" % (path, j, i), out)


def errors(schema, path):
    """Structural-schema violations of an openAPIV3Schema as (field, reason, message)."""
    out = []
    _node(schema, path, out, "object fields", root=True)
    return out

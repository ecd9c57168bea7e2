"""components.schemas of the OpenAPI v3 documents, so clients that read schemas from the
server (`kubectl explain`, kubectl's client-side apply, code generators) find them.

Built-in kinds: the definitions kubernetes-validate ships (JSON Schema), turned back
into the OpenAPI 3 form the API server publishes (single types, refs to
#/components/schemas/..., `allOf`-wrapped refs beside descriptions, int-or-string and
quantity formats). Custom resources: their CRD version's openAPIV3Schema, named
`<reversed group>.<version>.<Kind>` as the API server names them, with metadata typed as
ObjectMeta.
"""
import functools

from . import schemas

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_REF = "#/components/schemas/"
_SPECIAL = {"io.k8s.apimachinery.pkg.util.intstr.IntOrString": "int-or-string",
            "io.k8s.apimachinery.pkg.api.resource.Quantity": "quantity"}


def _convert(s):
    """One JSON-Schema node of kubernetes-validate -> the OpenAPI 3 node."""
    if isinstance(s, list):
        return [_convert(x) for x in s]
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k == "$ref":
            continue
        if k == "type" and isinstance(v, list):
            types = [t for t in v if t != "null"]
            if types:
                out["type"] = types[0]
        elif k in ("properties",):
            out[k] = {name: _convert(sub) for name, sub in v.items()}
        elif k == "enum" and isinstance(v, list):
            vals = [x for x in v if x is not None]
            if vals:
                out[k] = vals
        else:
            out[k] = _convert(v)
    if "$ref" in s:
        ref = {"$ref": _REF + s["$ref"].rsplit("/", 1)[-1]}
        if len(out) == 0:
            return ref
        out["allOf"] = [ref]
    return out


def _refs(s, acc):
    if isinstance(s, dict):
        r = s.get("$ref")
        if isinstance(r, str):
            acc.add(r.rsplit("/", 1)[-1])
        for v in s.values():
            _refs(v, acc)
    elif isinstance(s, list):
        for v in s:
            _refs(v, acc)


@functools.lru_cache(maxsize=16)
def _converted(ver):
    out = {}
    for name, d in schemas.definitions(ver)["$defs"].items():
        if name in _SPECIAL:
            out[name] = {"type": "string", "format": _SPECIAL[name],
                         "description": d.get("description", "")}
            continue
        c = _convert(d)
        if name.endswith((".Time", ".MicroTime")):
            c.pop("format", None)
            c.update(type="string", format="date-time")
        # Kinds carry no enum on apiVersion/kind in the server's documents.
        for p in ("apiVersion", "kind"):
            (c.get("properties") or {}).get(p, {}).pop("enum", None)
        out[name] = c
    return out


def _closure(ver, roots):
    defs = schemas.definitions(ver)["$defs"]
    seen, todo = set(), list(roots)
    while todo:
        n = todo.pop()
        if n in seen or n not in defs:
            continue
        seen.add(n)
        acc = set()
        _refs(defs[n], acc)
        todo.extend(acc - seen)
    return seen


@functools.lru_cache(maxsize=256)
def _builtin_components(ver, kinds):
    names = [schemas.gvk_definition_name(ver, g, v, k) for g, v, k in kinds]
    conv = _converted(ver)
    return {n: conv[n] for n in sorted(_closure(ver, [n for n in names if n]))}


def crd_schema_name(group, version, kind):
    return "%s.%s.%s" % (".".join(reversed(group.split("."))), version, kind)


def _crd_component(rt):
    s = dict(rt.crd_schema or {"type": "object",
                               "x-kubernetes-preserve-unknown-fields": True})
    props = dict(s.get("properties") or {})
    for p, desc in (("apiVersion", "APIVersion defines the versioned schema of this "
                                   "representation of an object."),
                    ("kind", "Kind is a string value representing the REST resource this "
                             "object represents.")):
        props.setdefault(p, {"type": "string", "description": desc})
    props["metadata"] = {"allOf": [{"$ref": _REF + _META}],
                         "description": "Standard object's metadata. More info: "
                                        "https://git.k8s.io/community/contributors/devel/"
                                        "sig-architecture/api-conventions.md#metadata"}
    s["properties"] = props
    s["x-kubernetes-group-version-kind"] = [{"group": rt.group, "version": rt.version,
                                             "kind": rt.kind}]
    return s


def components(rts, k8s_version):
    """components.schemas for one group-version's resource types."""
    ver = schemas.schema_version(k8s_version)
    builtin = tuple(sorted((t.group, t.version, t.kind) for t in rts if not t.is_crd))
    out = dict(_builtin_components(ver, builtin)) if builtin else {}
    crds = [t for t in rts if t.is_crd]
    if crds:
        conv = _converted(ver)
        out.update({n: conv[n] for n in _closure(ver, [_META])})
        for t in crds:
            out[crd_schema_name(t.group, t.version, t.kind)] = _crd_component(t)
    return out

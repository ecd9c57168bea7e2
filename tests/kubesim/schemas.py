"""Schemas of the kinds served: built-ins from kubernetes-validate, custom resources from
their CRD's openAPIV3Schema.

Two uses: validation (see validation.py) and navigation. Navigation answers "what kind of
list is spec.template.spec.containers?" (map keyed by name, set, atomic), which strategic
merge patch and server-side apply both need; the built-in schemas carry
x-kubernetes-list-type / -list-map-keys / -patch-merge-key / -patch-strategy.
"""
import functools
import json
import os
import re
import threading

import kubernetes_validate

_SCHEMA_ROOT = os.path.join(os.path.dirname(kubernetes_validate.__file__),
                            "kubernetes-json-schema")
_lock = threading.Lock()


def _versions():
    out = []
    for d in os.listdir(_SCHEMA_ROOT):
        m = re.match(r"^v(\d+)\.(\d+)\.\d+-local$", d)
        if m:
            out.append((int(m.group(1)), int(m.group(2))))
    return sorted(out)


_AVAILABLE = _versions()


def schema_version(k8s_version):
    """The newest schema set not newer than the cluster's version ("1.33" -> (1, 33))."""
    try:
        want = tuple(int(x) for x in str(k8s_version).lstrip("v").split(".")[:2])
    except ValueError:
        want = _AVAILABLE[-1]
    older = [v for v in _AVAILABLE if v <= want]
    return older[-1] if older else _AVAILABLE[0]


def _dir(ver, strict):
    return os.path.join(_SCHEMA_ROOT, "v%d.%d.0-local%s" % (ver[0], ver[1], "-strict" if strict else ""))


@functools.lru_cache(maxsize=8)
def definitions(ver, strict=False):
    with open(os.path.join(_dir(ver, strict), "_definitions.json")) as f:
        return json.load(f)


def kind_file(group, version, kind):
    prefix = group.split(".")[0] + "-" if group else ""
    return "%s-%s%s.json" % (kind.lower(), prefix, version)


@functools.lru_cache(maxsize=256)
def kind_schema(ver, group, version, kind, strict=False):
    path = os.path.join(_dir(ver, strict), kind_file(group, version, kind))
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def gvk_definition_name(ver, group, version, kind):
    """Name of the definition for a kind in _definitions.json (for OpenAPI documents)."""
    defs = definitions(ver)["$defs"]
    idx = _gvk_index(ver)
    return idx.get((group, version, kind)) if defs else None


@functools.lru_cache(maxsize=8)
def _gvk_index(ver):
    idx = {}
    for name, d in definitions(ver)["$defs"].items():
        for gvk in d.get("x-kubernetes-group-version-kind") or []:
            idx[(gvk.get("group", ""), gvk.get("version"), gvk.get("kind"))] = name
    return idx


# ----------------------------------------------------------------------------- navigation

class Node:
    """A position in a schema. Unknown positions are a Node over {} (untyped: maps are
    granular, lists atomic), so callers never need None checks."""

    __slots__ = ("s", "defs")

    def __init__(self, schema, defs):
        self.defs = defs
        s = schema or {}
        # Resolve $ref (built-in schemas) and single-element allOf wrappers.
        for _ in range(8):
            if "$ref" in s and defs is not None:
                s = defs.get(s["$ref"].rsplit("/", 1)[-1], {})
            elif "allOf" in s and len(s["allOf"]) == 1 and "properties" not in s:
                s = s["allOf"][0]
            else:
                break
        self.s = s

    def field(self, name):
        props = self.s.get("properties")
        if props and name in props:
            return Node(props[name], self.defs)
        ap = self.s.get("additionalProperties")
        if isinstance(ap, dict):
            return Node(ap, self.defs)
        return Node(None, self.defs)

    def items(self):
        return Node(self.s.get("items"), self.defs)

    def list_type(self):
        """('map', keys) | ('set', None) | ('atomic', None)."""
        lt = self.s.get("x-kubernetes-list-type")
        if lt == "map":
            keys = self.s.get("x-kubernetes-list-map-keys") or \
                [self.s.get("x-kubernetes-patch-merge-key")]
            return "map", [k for k in keys if k]
        if lt == "set":
            return "set", None
        if lt == "atomic":
            return "atomic", None
        mk = self.s.get("x-kubernetes-patch-merge-key")
        if mk:
            return "map", [mk]
        if "merge" in (self.s.get("x-kubernetes-patch-strategy") or ""):
            return "set", None
        return "atomic", None

    def patch_strategy(self):
        return self.s.get("x-kubernetes-patch-strategy") or ""

    def patch_merge_key(self):
        return self.s.get("x-kubernetes-patch-merge-key")

    def is_atomic_map(self):
        return self.s.get("x-kubernetes-map-type") == "atomic"


def root_node(rt, k8s_version):
    """Navigation root for objects of a ResourceType."""
    if rt.crd_schema is not None:
        return Node(rt.crd_schema, None)
    ver = schema_version(k8s_version)
    s = kind_schema(ver, rt.group, rt.version, rt.kind)
    if s is None:
        return Node(None, None)
    return Node(s, definitions(ver)["$defs"])

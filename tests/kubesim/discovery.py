"""Discovery documents (/api, /apis, /apis/G/V) and the OpenAPI v3 documents kubectl needs.

kubectl apply only needs, per group-version, an OpenAPI v3 document whose PATCH operations
carry x-kubernetes-group-version-kind and a fieldValidation parameter; with it kubectl
leaves validation to the server. The documents also carry the kinds' schemas
(openapi_schemas.py), which `kubectl explain` reads. PATCH advertises no strategic-merge
body, so client-side `kubectl apply` computes its patches from the types compiled into
kubectl (JSON merge patch for custom resources).
"""
import hashlib
import json

from . import openapi_schemas

_SUB_KIND = {"scale": ("autoscaling", "v1", "Scale"),
             "token": ("authentication.k8s.io", "v1", "TokenRequest"),
             "eviction": ("policy", "v1", "Eviction")}
_SUB_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"],
              "token": ["create"], "finalize": ["update"], "eviction": ["create"]}


def api_versions(server_address):
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group_doc(registry, group):
    versions = registry.groups.get(group) or []
    pref = registry.preferred_version(group)
    # Preferred version first, as the real server orders them.
    vs = sorted(versions, key=lambda v: v != pref)
    return {"name": group, "versions": [{"groupVersion": "%s/%s" % (group, v), "version": v}
                                        for v in vs],
            "preferredVersion": {"groupVersion": "%s/%s" % (group, pref), "version": pref}}


def api_group_list(registry):
    groups = [g for g in registry.groups if g]
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_doc(registry, g) for g in groups]}


def api_group(registry, group):
    if group not in registry.groups or not group:
        return None
    d = _group_doc(registry, group)
    d.update(kind="APIGroup", apiVersion="v1")
    return d


def resource_list(registry, group, version):
    rts = [t for t in registry.types if t.group == group and t.version == version]
    if not rts:
        return None
    out = []
    for t in rts:
        r = {"name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
             "kind": t.kind, "verbs": t.verbs}
        if t.short_names:
            r["shortNames"] = t.short_names
        if t.categories:
            r["categories"] = t.categories
        if not t.virtual:
            r["storageVersionHash"] = hashlib.sha256(
                ("%s/%s/%s" % (t.group, t.version, t.kind)).encode()).hexdigest()[:11]
        out.append(r)
        for sub in sorted(t.subresources):
            s = {"name": "%s/%s" % (t.plural, sub), "singularName": "",
                 "namespaced": t.namespaced, "kind": t.kind, "verbs": _SUB_VERBS[sub]}
            if sub in _SUB_KIND:
                g, v, k = _SUB_KIND[sub]
                s.update(group=g, version=v, kind=k)
            out.append(s)
    gv = "%s/%s" % (group, version) if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": out}


# ---------------------------------------------------------------------------- OpenAPI v3

def _gv_path(group, version):
    return "api/%s" % version if not group else "apis/%s/%s" % (group, version)


def openapi_v3_doc(registry, group, version, k8s_version="1.33"):
    rts = [t for t in registry.types if t.group == group and t.version == version]
    if not rts:
        return None
    paths = {}
    params_patch = [{"name": n, "in": "query", "schema": {"type": "string"},
                     "uniqueItems": True}
                    for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
    for t in rts:
        gvk = {"group": t.group, "version": t.version, "kind": t.kind}
        base = "/" + _gv_path(t.group, t.version)
        coll = base + ("/namespaces/{namespace}/" if t.namespaced else "/") + t.plural
        ok = {"200": {"description": "OK"}}

        def op(action, extra=(), t=t, gvk=gvk):
            return {"x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk,
                    "parameters": list(extra), "responses": ok, "operationId": "%s%s" % (action, t.kind)}
        if t.virtual:
            paths[coll] = {"post": op("post", params_patch[:3])}
            continue
        paths[coll] = {"get": op("list"), "post": op("post", params_patch[:3]),
                       "delete": op("deletecollection")}
        item = {"get": op("get"), "put": op("put", params_patch[:3]),
                "patch": op("patch", params_patch), "delete": op("delete")}
        item["patch"]["requestBody"] = {"content": {
            "application/apply-patch+yaml": {}, "application/json-patch+json": {},
            "application/merge-patch+json": {}}}
        paths[coll + "/{name}"] = item
        for sub in t.subresources:
            if sub in ("status", "scale"):
                paths[coll + "/{name}/" + sub] = {"get": op("get"), "put": op("put"),
                                                  "patch": op("patch", params_patch)}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "unversioned"},
            "paths": paths, "components": {"schemas": openapi_schemas.components(
                [t for t in rts if not t.virtual], k8s_version)}}


class OpenAPICache:
    """Documents are rebuilt only when the set of served types changes (CRDs)."""

    def __init__(self, registry, k8s_version=lambda: "1.33"):
        self.registry = registry
        self.k8s_version = k8s_version      # callable: the cluster's current version
        self.gen = None
        self.docs = {}
        self.index = {}

    def _refresh(self):
        gen = (self.registry.generation, self.k8s_version())
        if self.gen == gen:
            return
        docs, index = {}, {}
        gvs = {(t.group, t.version) for t in self.registry.types}
        for g, v in sorted(gvs):
            body = json.dumps(openapi_v3_doc(self.registry, g, v, gen[1])).encode()
            h = hashlib.sha512(body).hexdigest()[:64].upper()
            p = _gv_path(g, v)
            docs[p] = body
            index[p] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (p, h)}
        self.docs, self.index, self.gen = docs, index, gen

    def root(self):
        self._refresh()
        return {"paths": self.index}

    def doc(self, gv_path):
        self._refresh()
        return self.docs.get(gv_path)

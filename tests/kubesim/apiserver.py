"""REST semantics of the API server, independent of HTTP: get/list/create/update/patch/
apply/delete on typed objects, with the metadata, defaulting, validation, managedFields,
deletion (finalizers, propagation, namespace cascade) and controller hooks a real server
has; HTTP writes also pass RBAC's escalation checks (rbac_guard.py) and admission
webhooks (admission.py). The HTTP layer (handler.py) and the control API (cluster.py) both call this.
"""
import base64
import json
import uuid

import yaml

from . import admission, istiod_webhooks, rbac_guard, tokens
from . import apply as ssa
from . import merge, schemas, validation, workload_defaults, yamlbody
from .deletion import Deletion
from .errors import ApiError, bad_request, already_exists, conflict, not_found, \
    patch_type_unsupported, unsupported_media_type
from .selectors import fields_match, labels_match
from .util import deep_copy, now, random_suffix


class Options:
    """Per-request write options (query parameters of the real API)."""

    def __init__(self, dry_run=False, field_manager=None, field_validation="Warn",
                 force=False, propagation=None, preconditions=None, user=None, grace_period=None):
        self.dry_run = dry_run
        self.field_manager = field_manager
        self.field_validation = field_validation or "Warn"
        self.force = force
        self.propagation = propagation
        self.grace_period = grace_period        # DeleteOptions.gracePeriodSeconds
        self.preconditions = preconditions or {}
        self.warnings = []
        # The authenticated user of an HTTP request: its writes go through RBAC
        # escalation checks and admission webhooks (control-API writes do not).
        self.user = user


MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"


def _strip_volatile(obj):
    """The object minus what changes on every write (to detect no-op writes)."""
    o = dict(obj)
    m = dict(o.get("metadata") or {})
    m.pop("resourceVersion", None)
    m["managedFields"] = [{k: v for k, v in e.items() if k != "time"}
                          for e in m.get("managedFields") or []]
    o["metadata"] = m
    return o


def _spec_part(obj, has_status):
    return {k: v for k, v in obj.items()
            if k not in ("metadata", "apiVersion", "kind") and not (has_status and k == "status")}


class ApiServer:
    def __init__(self, sim, store, registry):
        self.sim = sim
        self.store = store
        self.registry = registry
        self.controllers = None      # set by the cluster once built
        self.deletion = Deletion(self)
        self._ip_next = 2
        self._node_port_next = 30000

    # ------------------------------------------------------------------------ helpers
    def node(self, rt):
        return schemas.root_node(rt, self.sim.version)

    def _ns_check(self, rt, ns, creating, name=""):
        if creating:
            self.deletion.refuse_create(rt)
        if not rt.namespaced:
            return
        nsobj = self.store.get(("", "namespaces"), "", ns)
        if nsobj is None:
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                           {"name": ns, "kind": "namespaces"})
        if creating and (nsobj.get("metadata") or {}).get("deletionTimestamp"):
            cause = {"reason": "NamespaceTerminating", "field": "metadata.namespace",
                     "message": "namespace %s is being terminated" % ns}
            raise ApiError(403, "Forbidden", "%s \"%s\" is forbidden: unable to create new "
                           "content in namespace %s because it is being terminated"
                           % (rt.plural, name, ns), {"name": name, "kind": rt.plural, "causes": [cause]})

    def _check_body(self, rt, ns, obj, name=None):
        if not isinstance(obj, dict):
            raise bad_request("the object provided is not a JSON object")
        av, kind = obj.get("apiVersion"), obj.get("kind")
        if av and av != rt.api_version:
            # Same group, another served version: accepted (no conversion needed).
            g = av.rpartition("/")[0]
            if g != rt.group or self.registry.lookup_kind(av, kind or rt.kind) is None:
                raise bad_request("the API version in the data (%s) does not match the "
                                  "expected API version (%s)" % (av, rt.api_version))
        if kind and kind != rt.kind:
            raise bad_request("the kind in the data (%s) does not match the expected kind "
                              "(%s)" % (kind, rt.kind))
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if name is not None and meta.get("name") and meta["name"] != name:
            raise bad_request("the name of the object (%s) does not match the name on the URL "
                              "(%s)" % (meta["name"], name))
        if name is not None and not meta.get("name"):
            meta["name"] = name
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind

    def _manager(self, opts, user_agent):
        if opts.field_manager:
            return opts.field_manager
        return (user_agent or "unknown").split("/")[0] or "unknown"

    @staticmethod
    def _has_generation(rt):
        # Kinds whose registry strategy maintains metadata.generation (ConfigMaps, Secrets,
        # Services... have none).
        return rt.is_crd or rt.group in ("apps", "policy", "autoscaling", "apiextensions.k8s.io",
                                         "admissionregistration.k8s.io")

    # ------------------------------------------------------------------------ defaults
    def _defaults(self, rt, obj, old):
        p = rt.plural
        spec = obj.get("spec")
        if p == "namespaces":
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            st = obj.setdefault("status", {})
            st.setdefault("phase", "Active")
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = \
                obj["metadata"]["name"]
        elif p == "secrets":
            obj.setdefault("type", "Opaque")
            sd = obj.pop("stringData", None)
            if sd:
                data = obj.setdefault("data", {})
                for k, v in sd.items():
                    data[k] = base64.b64encode(str(v).encode()).decode()
        elif p == "services" and isinstance(spec, dict):
            self._service_defaults(spec, (old or {}).get("spec") or {})
            if old is None:
                obj["status"] = {"loadBalancer": {}}
        elif p in ("deployments", "daemonsets", "replicasets") and isinstance(spec, dict):
            if p != "daemonsets":
                spec.setdefault("replicas", 1)
            if p != "replicasets":     # ReplicaSetSpec has no such field
                spec.setdefault("revisionHistoryLimit", 10)
            if p == "deployments":
                spec.setdefault("progressDeadlineSeconds", 600)
                spec.setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {
                    "maxSurge": "25%", "maxUnavailable": "25%"}})
            elif p == "daemonsets":
                spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {
                    "maxSurge": 0, "maxUnavailable": 1}})
        elif p in ("rolebindings", "clusterrolebindings"):
            for s in obj.get("subjects") or []:
                if isinstance(s, dict) and "apiGroup" not in s:
                    s["apiGroup"] = "" if s.get("kind") == "ServiceAccount" else \
                        "rbac.authorization.k8s.io"
        workload_defaults.defaults(rt, obj)
        self.key_defaults(rt, obj)

    def key_defaults(self, rt, obj):
        """Defaults that are list-map keys (port protocols): server-side apply needs them
        on the applied configuration too, to address the same list items."""
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        pods = []
        if rt.plural == "pods":
            pods.append(spec)
        elif isinstance((spec.get("template") or {}).get("spec"), dict):
            pods.append(spec["template"]["spec"])
        for pod in pods:
            for c in (pod.get("containers") or []) + (pod.get("initContainers") or []):
                for port in (c.get("ports") or []) if isinstance(c, dict) else []:
                    if isinstance(port, dict):
                        port.setdefault("protocol", "TCP")
        if rt.plural == "services":
            for port in spec.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")

    def _service_defaults(self, spec, old_spec):
        t = spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
        if t == "ExternalName":
            return
        if not spec.get("clusterIP"):
            spec["clusterIP"] = old_spec.get("clusterIP") or self._alloc_ip()
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        if spec["clusterIP"] != "None":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        if t in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
            old_ports = {(p.get("port"), p.get("protocol")): p.get("nodePort")
                         for p in old_spec.get("ports") or [] if isinstance(p, dict)}
            for port in spec.get("ports") or []:
                if isinstance(port, dict) and not port.get("nodePort"):
                    port["nodePort"] = old_ports.get((port.get("port"), port.get("protocol"))) \
                        or self._alloc_node_port()
            if t == "LoadBalancer":
                spec.setdefault("allocateLoadBalancerNodePorts", True)

    def _alloc_ip(self):
        n = self._ip_next
        self._ip_next += 1
        return "10.0.%d.%d" % (n // 250, n % 250 + 1)

    def _alloc_node_port(self):
        n = self._node_port_next
        self._node_port_next += 1
        return n

    # ------------------------------------------------------------------------ reads
    def get(self, rt, ns, name):
        obj = self.store.get(rt.key, ns if rt.namespaced else "", name)
        if obj is None:
            raise not_found(rt, name)
        return self._as_version(rt, obj)

    def _as_version(self, rt, obj):
        if obj.get("apiVersion") != rt.api_version:
            obj = dict(obj)
            obj["apiVersion"] = rt.api_version
        return obj

    def list(self, rt, ns, label_reqs=None, field_reqs=None, limit=None, cont=None):
        with self.store.lock:
            objs = self.store.list(rt.key, ns if rt.namespaced else None)
            rv = self.store.rv
        if label_reqs:
            objs = [o for o in objs if labels_match(label_reqs, o["metadata"].get("labels"))]
        if field_reqs:
            objs = [o for o in objs if fields_match(field_reqs, o)]
        start = 0
        if cont:
            try:
                c = json.loads(base64.urlsafe_b64decode(cont.encode()).decode())
                after = (c["ns"], c["name"])
            except Exception:
                raise bad_request("continue key is not valid")
            start = next((i for i, o in enumerate(objs)
                          if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > after),
                         len(objs))
        meta = {"resourceVersion": str(rv)}
        items = objs[start:]
        if limit and limit > 0 and len(items) > limit:
            last = items[limit - 1]["metadata"]
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(
                {"ns": last.get("namespace", ""), "name": last["name"], "rv": rv}).encode()
            ).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return {"kind": rt.kind + "List", "apiVersion": rt.api_version, "metadata": meta,
                "items": [self._as_version(rt, o) for o in items]}

    # ------------------------------------------------------------------------ writes
    def create(self, rt, ns, obj, opts, user_agent=None):
        with self.store.lock:
            self._check_body(rt, ns, obj)
            meta = obj["metadata"]
            if not meta.get("name"):
                if meta.get("generateName"):
                    meta["name"] = meta["generateName"] + random_suffix()
                else:
                    raise ApiError(422, "Invalid", "%s \"\" is invalid: metadata.name: Required "
                                   "value: name or generateName is required" % rt.kind,
                                   {"kind": rt.kind, "group": rt.group, "causes": [{
                                       "reason": "FieldValueRequired",
                                       "message": "Required value: name or generateName is "
                                                  "required", "field": "metadata.name"}]})
            self._ns_check(rt, ns, creating=True, name=meta["name"])
            if self.store.get(rt.key, meta.get("namespace", ""), meta["name"]) is not None:
                raise already_exists(rt, meta["name"])
            return self._commit(rt, None, obj, opts, manager=self._manager(opts, user_agent))

    def update(self, rt, ns, name, obj, opts, user_agent=None, subresource=""):
        with self.store.lock:
            self._check_body(rt, ns, obj, name)
            old = self.store.get(rt.key, ns if rt.namespaced else "", name)
            if old is None:
                if subresource:
                    raise not_found(rt, name)
                # PUT on a missing object creates it, as the real server does for most kinds.
                self._ns_check(rt, ns, creating=True, name=name)
                obj["metadata"].pop("resourceVersion", None)
                return self._commit(rt, None, obj, opts, manager=self._manager(opts, user_agent))
            want_rv = obj["metadata"].get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt, name, "the object has been modified; please apply your "
                               "changes to the latest version and try again")
            return self._commit(rt, old, obj, opts, manager=self._manager(opts, user_agent),
                                subresource=subresource)

    def patch(self, rt, ns, name, body, ctype, opts, user_agent=None, subresource=""):
        ctype = (ctype or "").split(";")[0].strip()
        with self.store.lock:
            old = self.store.get(rt.key, ns if rt.namespaced else "", name)
            if ctype in (APPLY_PATCH, APPLY_PATCH_CBOR):
                return self._apply(rt, ns, name, old, body, opts, subresource)
            if old is None:
                raise not_found(rt, name)
            try:
                patch = json.loads(body) if isinstance(body, (bytes, str)) else body
            except ValueError as e:
                raise bad_request("error decoding patch: %s" % e)
            base = self._as_version(rt, old)
            if ctype == JSON_PATCH:
                new = merge.json_patch(base, patch)
            elif ctype == MERGE_PATCH:
                if not isinstance(patch, dict):
                    raise bad_request("merge patch must be a JSON object")
                new = merge.json_merge_patch(base, patch)
            elif ctype == STRATEGIC_PATCH:
                if rt.is_crd:
                    raise unsupported_media_type(ctype + " (strategic merge patch is not "
                                                 "supported for custom resources)")
                if not isinstance(patch, dict):
                    raise bad_request("strategic merge patch must be a JSON object")
                new = merge.strategic_merge(base, patch, self.node(rt))
            else:
                raise patch_type_unsupported(ctype, rt.is_crd)
            if not isinstance(new, dict):
                raise bad_request("patch produced a non-object")
            new = deep_copy(new)
            want_rv = (new.get("metadata") or {}).get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt, name, "the object has been modified; please apply your "
                               "changes to the latest version and try again")
            self._check_body(rt, ns, new, name)
            return self._commit(rt, old, new, opts, manager=self._manager(opts, user_agent),
                                subresource=subresource)

    def _apply(self, rt, ns, name, old, body, opts, subresource):
        if not opts.field_manager:
            raise bad_request("PATCH, application/apply-patch+yaml requires fieldManager "
                              "parameter")
        try:
            applied = yamlbody.load(body) if isinstance(body, (bytes, str)) else body
        except yaml.YAMLError as e:
            raise bad_request("error decoding YAML: %s" % e)
        if not isinstance(applied, dict):
            raise bad_request("apply configuration must be an object")
        if not applied.get("apiVersion") or not applied.get("kind"):
            raise bad_request("apiVersion and kind must be set in an apply configuration")
        applied = deep_copy(applied)
        self._check_body(rt, ns, applied, name)
        self.key_defaults(rt, applied)
        node = self.node(rt)
        has_status = "status" in rt.subresources
        if subresource == "status":
            applied = {"apiVersion": applied["apiVersion"], "kind": applied["kind"],
                       "metadata": {"name": name}, "status": applied.get("status") or {}}
        elif has_status:
            applied.pop("status", None)
        if old is None:
            if subresource:
                raise not_found(rt, name)
            self._ns_check(rt, ns, creating=True, name=name)
        live = deep_copy(self._as_version(rt, old)) if old is not None else \
            {"apiVersion": rt.api_version, "kind": rt.kind,
             "metadata": {"name": name, **({"namespace": ns} if rt.namespaced else {})}}
        new = ssa.server_side_apply(live, applied, opts.field_manager, opts.force, node,
                                    rt.api_version, subresource)
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        return self._commit(rt, old, new, opts, manager=None, subresource=subresource)

    def _commit(self, rt, old, obj, opts, manager, subresource=""):
        """The common tail of every write: server fields, defaults, validation, generation,
        managedFields, no-op detection, dry run, store, controllers."""
        if rt.virtual:
            raise ApiError(405, "MethodNotAllowed", "not stored")
        meta = obj.setdefault("metadata", {})
        # ObjectMeta's maps and lists are omitempty: a write that leaves one empty (a merge
        # patch removing the last label) reads back without the field, as from a real server.
        for k in ("labels", "annotations", "finalizers", "ownerReferences"):
            if k in meta and not meta[k]:
                del meta[k]
        has_status = "status" in rt.subresources
        if old is None:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            if self._has_generation(rt):
                meta["generation"] = 1
            for k in ("deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(k, None)
            if has_status and subresource != "status" and rt.is_crd:
                obj.pop("status", None)
        else:
            om = old["metadata"]
            for k in ("uid", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds"):
                if k in om:
                    meta[k] = om[k]
                else:
                    meta.pop(k, None)
            if "generation" in om:
                meta["generation"] = om["generation"]
            if subresource == "status":
                # A status write changes status only (and nothing else).
                st = obj.get("status")
                obj = deep_copy(self._as_version(rt, old))
                if st is None:
                    obj.pop("status", None)
                else:
                    obj["status"] = st
                meta = obj["metadata"]
            elif has_status:
                if "status" in old:
                    obj["status"] = old["status"]
                else:
                    obj.pop("status", None)
            if om.get("deletionTimestamp"):
                added = [f for f in meta.get("finalizers") or []
                         if f not in (om.get("finalizers") or [])]
                if added:
                    raise ApiError(422, "Invalid", '%s "%s" is invalid: metadata.finalizers: '
                                   'Forbidden: no new finalizers can be added if the object '
                                   'is being deleted, found new finalizers %s'
                                   % (rt.kind, meta.get("name"), json.dumps(added)),
                                   {"name": meta.get("name"), "kind": rt.kind,
                                    "group": rt.group, "causes": [{
                                        "reason": "FieldValueForbidden",
                                        "field": "metadata.finalizers",
                                        "message": "Forbidden: no new finalizers can be "
                                        "added if the object is being deleted"}]})
        self._defaults(rt, obj, old)
        if opts.user is not None:
            rbac_guard.check_write(self.store, opts.user, rt, obj, old)
            self._admit("mutating", rt, obj, old, subresource)
        opts.warnings = validation.validate(rt, obj, self.sim.version, opts.field_validation,
                                            old if subresource != "status" else None)
        if opts.user is not None:
            self._admit("validating", rt, obj, old, subresource)
        if old is not None and "generation" in meta and \
                _spec_part(old, has_status) != _spec_part(obj, has_status):
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        if manager is not None:
            ssa.track_update(old, obj, manager, self.node(rt), rt.api_version, subresource,
                             with_status=not has_status or subresource == "status")
        if old is not None:
            meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            if _strip_volatile(obj) == _strip_volatile(self._as_version(rt, old)):
                return self._as_version(rt, old)        # no-op write: nothing changes
        if opts.dry_run:
            meta["resourceVersion"] = old["metadata"]["resourceVersion"] if old else ""
            return obj
        meta["resourceVersion"] = str(self.store.next_rv())
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and \
                rt.plural != "namespaces":
            self._remove(rt, obj)
            return obj
        self.store.put(rt.key, obj, "ADDED" if old is None else "MODIFIED", old)
        if rt.plural == "namespaces" and self.deletion.maybe_remove_namespace(obj):
            return obj
        if self.controllers:
            self.controllers.on_write(rt, obj, old)
        rbac_guard.on_change(self, rt, obj)
        istiod_webhooks.on_write(self, rt, obj)
        return obj

    def _admit(self, phase, rt, obj, old, subresource="", operation=None):
        m = (obj or old)["metadata"]
        admission.admit(self.store, phase, rt, operation or ("CREATE" if old is None
                                                             else "UPDATE"),
                        m.get("namespace"), m.get("name"), obj, old, subresource)

    def put_internal(self, rt, obj, old=None):
        """Store a controller's write (no auth, validation or managedFields)."""
        with self.store.lock:
            obj["metadata"]["resourceVersion"] = str(self.store.next_rv())
            self.store.put(rt.key, obj, "ADDED" if old is None else "MODIFIED", old)
            if self.controllers:
                self.controllers.on_write(rt, obj, old)
            istiod_webhooks.on_write(self, rt, obj)
            return obj

    def create_internal(self, rt, obj):
        """Create an object as a controller would (fills server fields, defaults). Its
        write goes through admission webhooks like any API write: when one refuses it,
        nothing is created and None is returned (the controller's create failed)."""
        with self.store.lock:
            meta = obj["metadata"]
            if self.store.get(rt.key, meta.get("namespace", ""), meta["name"]) is not None:
                return None
            try:
                self._admit("mutating", rt, obj, None)
                self._admit("validating", rt, obj, None)
            except ApiError:
                return None
            return self._commit(rt, None, obj, Options(field_validation="Ignore"),
                                manager=None)

    # ------------------------------------------------------------------------ deletes
    def delete(self, rt, ns, name, opts):
        with self.store.lock:
            old = self.store.get(rt.key, ns if rt.namespaced else "", name)
            if old is None:
                raise not_found(rt, name)
            pre = opts.preconditions
            if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
                raise conflict(rt, name, "Precondition failed: UID in precondition: %s, UID in "
                               "object meta: %s" % (pre["uid"], old["metadata"]["uid"]))
            if pre.get("resourceVersion") and \
                    pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise conflict(rt, name, "Precondition failed: ResourceVersion in precondition: "
                               "%s, ResourceVersion in object meta: %s"
                               % (pre["resourceVersion"], old["metadata"]["resourceVersion"]))
            if opts.user is not None:
                for phase in ("mutating", "validating"):
                    self._admit(phase, rt, None, old, operation="DELETE")
            if opts.dry_run:
                return self._as_version(rt, old)
            return self.delete_object(rt, old, opts.propagation, opts.grace_period)

    def delete_object(self, rt, old, propagation=None, grace_period=None):
        return self.deletion.delete(rt, old, propagation, grace_period)

    def _remove(self, rt, final):
        meta = final["metadata"]
        self.store.remove(rt.key, meta.get("namespace", ""), meta["name"], final)
        if self.controllers:
            self.controllers.on_delete(rt, final)
        tokens.on_delete(self, rt, final)
        rbac_guard.on_change(self, rt, final)
        # Garbage collection (background propagation): dependents whose owners are gone.
        self._delete_dependents(meta["uid"], "Background")
        self.deletion.removed(rt, final)

    def _dependents(self, uid):
        out = []
        for key in self.store.list_keys():
            rt = self.registry.lookup_plural_any_version(*key)
            if rt is None:
                continue
            for o in self.store.list(key):
                refs = o["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == uid for r in refs):
                    out.append((rt, o))
        return out

    def _owner_exists(self, uid):
        for key in self.store.list_keys():
            for o in self.store.list(key):
                if o["metadata"].get("uid") == uid:
                    return True
        return False

    def _delete_dependents(self, uid, propagation):
        for rt, dep in self._dependents(uid):
            cur = self.store.get(rt.key, dep["metadata"].get("namespace", ""),
                                 dep["metadata"]["name"])
            if cur is None:
                continue
            others = [r for r in cur["metadata"].get("ownerReferences") or []
                      if r.get("uid") != uid]
            if any(self._owner_exists(r.get("uid")) for r in others):
                continue
            self.delete_object(rt, cur, propagation)

    def _orphan_dependents(self, uid):
        for rt, dep in self._dependents(uid):
            obj = deep_copy(dep)
            obj["metadata"]["ownerReferences"] = [
                r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
            if not obj["metadata"]["ownerReferences"]:
                del obj["metadata"]["ownerReferences"]
            self.put_internal(rt, obj, dep)

    def delete_collection(self, rt, ns, label_reqs, field_reqs, opts):
        with self.store.lock:
            lst = self.list(rt, ns, label_reqs, field_reqs)
            out = []
            for o in lst["items"]:
                cur = self.store.get(rt.key, o["metadata"].get("namespace", ""),
                                     o["metadata"]["name"])
                if cur is None:
                    continue
                if opts.user is not None:
                    for phase in ("mutating", "validating"):
                        self._admit(phase, rt, None, cur, operation="DELETE")
                out.append(self._as_version(rt, cur) if opts.dry_run
                           else self.delete_object(rt, cur, opts.propagation, opts.grace_period))
            return {"kind": rt.kind + "List", "apiVersion": rt.api_version,
                    "metadata": {"resourceVersion": str(self.store.rv)}, "items": out}

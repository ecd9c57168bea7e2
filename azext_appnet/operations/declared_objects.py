"""One member's cluster made to match the network's declarations, and what it shows of them.

`converge(cluster, network_name, declared)` labels, creates, unlabels and deletes so that the
cluster holds exactly what `declared` (a `Declared`) asks for, and returns what it changed.
It touches only:

- labels it sets itself on objects it did not create (named in the label
  `appnet.azure.com/declared-labels`, e.g. `global` or `dataplane-mode.use-waypoint`, so
  removing takes back only those, never a label the user had set; on the user's objects it
  writes labels only), and
- objects it created (stub Services, waypoint Gateways, namespaces that were absent), which
  carry `app.kubernetes.io/managed-by=az-appnet` and the annotation `appnet.azure.com/declared-created`.

Both kinds carry the label `appnet.azure.com/declared-by=<network>`, which is how a later run
finds what an earlier one left behind (a declaration removed while the member was
unreachable). These objects deliberately carry no `appnet.azure.com/member` label: the data
plane's prune (member update/remove) selects by it and must not take them.

`Snapshot` reads what a member shows (namespaces, global Services, waypoints, EndpointSlices)
for the list commands and `az appnet check`; it never writes.
"""

from ..constants import DECLARATIONS_FIELD_MANAGER as FIELD_MANAGER, MANAGED_BY_KEY, MANAGED_BY_VALUE
from ..errors import AppNetError
from ..kube.client import api_path

DECLARED_BY = "appnet.azure.com/declared-by"
DECLARED_LABELS = "appnet.azure.com/declared-labels"
DECLARED_CREATED = "appnet.azure.com/declared-created"

DATAPLANE_MODE = "istio.io/dataplane-mode"
USE_WAYPOINT = "istio.io/use-waypoint"
USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace"
GLOBAL = "istio.io/global"
WAYPOINT_FOR = "istio.io/waypoint-for"
#: The labels we may set on objects we did not create, by the short name DECLARED_LABELS lists
#: them with (a label value cannot hold '/').
_SHORT = {"istio.io/global": "global", "istio.io/dataplane-mode": "dataplane-mode",
          "istio.io/use-waypoint": "use-waypoint"}
_LONG = {v: k for k, v in _SHORT.items()}
SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # EndpointSlice -> its Service
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
WAYPOINT_CLASS = "istio-waypoint"
GATEWAY_API = "gateway.networking.k8s.io/v1"
HBONE_PORT = 15008

# Actions, strongest first: a member's result for a command is the strongest action among
# the changes that concern the command's item.
CREATED, DELETED, LABELLED, UNLABELLED, UPDATED, KEPT, FAILED, UNCHANGED = (
    "Created", "Deleted", "Labelled", "Unlabelled", "Updated", "Kept", "Failed", "Unchanged")
ORDER = (FAILED, CREATED, DELETED, LABELLED, UNLABELLED, UPDATED, KEPT)

#: Namespaced kinds whose objects make a namespace "in use" (it is kept when we created it).
_CONTENT = (("v1", "services"), ("v1", "pods"), ("v1", "configmaps"), ("v1", "secrets"),
            ("apps/v1", "deployments"), ("apps/v1", "statefulsets"), ("apps/v1", "daemonsets"),
            ("batch/v1", "jobs"), (GATEWAY_API, "gateways"))
_AUTOMATIC = {("ConfigMap", "kube-root-ca.crt"), ("ConfigMap", "istio-ca-root-cert")}


class Declared:
    """What the network declares, as the cluster side needs it."""

    def __init__(self, namespaces=(), services=None, waypoints=()):
        self.namespaces = set(namespaces)              # ambient namespaces
        self.services = dict(services or {})            # (ns, service) -> [port dicts]
        self.waypoints = set(waypoints)                 # (ns, name)

    @classmethod
    def from_state(cls, declarations):
        d = declarations or {}
        return cls([n["namespace"] for n in d.get("ambientNamespaces") or []],
                   {(s["namespace"], s["service"]): s.get("ports") or [] for s in d.get("globalServices") or []},
                   [(w["namespace"], w["name"]) for w in d.get("waypoints") or []])

    def namespace_labels(self):
        wanted = {ns: {DATAPLANE_MODE: "ambient"} for ns in self.namespaces}
        for ns, name in self.waypoints:
            wanted.setdefault(ns, {})[USE_WAYPOINT] = name
        return wanted

    def needed_namespaces(self):
        return set(self.namespace_labels()) | {ns for ns, _ in self.services}


def item_key(kind, namespace, name=None):
    return (kind, namespace, name)


def _change(action, kind, namespace, name, item, detail=""):
    return {"action": action, "object": f"{kind} {namespace}/{name}" if name and kind != "Namespace"
            else f"Namespace {namespace}", "item": item, "detail": detail}


def _meta(obj):
    return (obj or {}).get("metadata") or {}


def object_labels(obj):
    """The labels of a Kubernetes object (None or without any: empty)."""
    return _meta(obj).get("labels") or {}


def _annotations(obj):
    return _meta(obj).get("annotations") or {}


def _ours_labels(obj):
    return {_LONG[k] for k in (object_labels(obj).get(DECLARED_LABELS) or "").split(".") if k in _LONG}


def _declared_value(keys):
    return ".".join(sorted(_SHORT[k] for k in keys)) or None


def created_by_us(obj, network):
    return object_labels(obj).get(DECLARED_BY) == network and _annotations(obj).get(DECLARED_CREATED) == "true"


def _merge_patch(cluster, api_version, plural, namespace, name, labels, annotations):
    res = cluster.discovery.resolve(api_version, plural)
    path = api_path(api_version, res.plural, name, namespace if res.namespaced else None)
    body = {"metadata": {"labels": labels}}
    if annotations:
        body["metadata"]["annotations"] = annotations
    what = f"{res.kind} {namespace}/{name}" if namespace else f"{res.kind} {name}"
    return cluster.request("PATCH", path, body=body, content_type="application/merge-patch+json", what=what)


def _relabel(cluster, api_version, plural, obj, network, set_labels, drop_labels):
    """Set `set_labels` and drop `drop_labels` (only ones we set) on an object we did not
    create, keeping the marker and the list of our labels in step."""
    meta = _meta(obj)
    ours = (_ours_labels(obj) | set(set_labels)) - set(drop_labels)
    labels = dict(set_labels)
    labels.update({k: None for k in drop_labels})
    labels[DECLARED_LABELS] = _declared_value(ours)
    labels[DECLARED_BY] = network if ours or created_by_us(obj, network) else None
    _merge_patch(cluster, api_version, plural, meta.get("namespace"), meta["name"], labels, {})


# ---- the objects we create ------------------------------------------------------------------

def _created_meta(network, name, namespace=None, labels=None, wanted_labels=()):
    meta = {"name": name, "labels": dict(labels or {}, **{MANAGED_BY_KEY: MANAGED_BY_VALUE, DECLARED_BY: network}),
            "annotations": {DECLARED_CREATED: "true"}}
    if wanted_labels:
        meta["labels"][DECLARED_LABELS] = _declared_value(wanted_labels)
    if namespace:
        meta["namespace"] = namespace
    return meta


def stub_service(network, namespace, name, ports):
    """A selector-less Service with the global Service's ports: Istio needs a Service in every
    client cluster to give the name a VIP and DNS; its endpoints come from the other members."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": _created_meta(network, name, namespace, {GLOBAL: "true"}),
            "spec": {"type": "ClusterIP", "ports": [dict(p) for p in ports]}}


def waypoint_gateway(network, namespace, name):
    """The waypoint: a Gateway of class istio-waypoint with the HBONE listener. Labelled
    global, and its infrastructure labels make istiod label the Service it creates for it
    global too (cross-cluster L7 traffic goes through waypoints only when they are global)."""
    return {"apiVersion": GATEWAY_API, "kind": "Gateway",
            "metadata": _created_meta(network, name, namespace, {GLOBAL: "true", WAYPOINT_FOR: "service"}),
            "spec": {"gatewayClassName": WAYPOINT_CLASS,
                     "infrastructure": {"labels": {GLOBAL: "true"}},
                     "listeners": [{"name": "mesh", "port": HBONE_PORT, "protocol": "HBONE"}]}}


def port_key(ports):
    """What makes two Services' ports the same for a global Service: port and protocol."""
    return sorted((int(p.get("port")), (p.get("protocol") or "TCP").upper()) for p in ports or [])


def stub_ports(ports):
    """The ports a stub copies: name, port, protocol, appProtocol (no targetPort or nodePort:
    a selector-less Service has no pods of its own)."""
    out = []
    for p in ports or []:
        port = {"port": int(p["port"]), "protocol": (p.get("protocol") or "TCP").upper()}
        for key in ("name", "appProtocol"):
            if p.get(key):
                port[key] = p[key]
        out.append(port)
    return sorted(out, key=lambda p: (p["port"], p["protocol"]))


def describe_ports(ports):
    return ", ".join(f"{p['port']}/{(p.get('protocol') or 'TCP').upper()}" for p in ports or []) or "none"


# ---- converge -------------------------------------------------------------------------------

def converge(cluster, network, declared):
    """Make `cluster` hold what `declared` asks of network `network`; returns the changes.
    An object that cannot be changed is a Failed change; the others still run."""
    changes = []
    wanted = declared.namespace_labels()
    ns_items = {}
    for ns in declared.namespaces:
        ns_items[ns] = item_key("namespace", ns)
    for ns, name in sorted(declared.waypoints):
        ns_items.setdefault(ns, item_key("waypoint", ns, name))
    for ns, svc in sorted(declared.services):
        ns_items.setdefault(ns, item_key("globalService", ns, svc))

    def guarded(item, what, fn):
        try:
            fn()
        except AppNetError as ex:
            changes.append({"action": FAILED, "object": what, "item": item, "detail": ex.with_fix()})

    for ns in sorted(declared.needed_namespaces()):
        guarded(ns_items[ns], f"Namespace {ns}",
                lambda ns=ns: _ensure_namespace(cluster, network, ns, wanted.get(ns, {}), declared, changes))
    for (ns, svc), ports in sorted(declared.services.items()):
        item = item_key("globalService", ns, svc)
        guarded(item, f"Service {ns}/{svc}",
                lambda ns=ns, svc=svc, ports=ports, item=item:
                _ensure_global(cluster, network, ns, svc, ports, item, changes))
    for ns, name in sorted(declared.waypoints):
        item = item_key("waypoint", ns, name)
        guarded(item, f"Gateway {ns}/{name}",
                lambda ns=ns, name=name, item=item: _ensure_waypoint(cluster, network, ns, name, item, changes))
    _prune(cluster, network, declared, changes, guarded)
    return changes


def _ensure_namespace(cluster, network, ns, wanted, declared, changes):
    live = cluster.get("v1", "namespaces", ns)

    def item_for(label):
        if label == DATAPLANE_MODE:
            return item_key("namespace", ns)
        name = wanted.get(USE_WAYPOINT) or next((w for n, w in declared.waypoints if n == ns), None)
        return item_key("waypoint", ns, name)

    first = item_key("namespace", ns) if ns in declared.namespaces else (
        next((item_key("waypoint", ns, w) for n, w in sorted(declared.waypoints) if n == ns), None)
        or next(item_key("globalService", ns, s) for n, s in sorted(declared.services) if n == ns))
    if live is None:
        cluster.apply({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": _created_meta(network, ns, labels=wanted, wanted_labels=wanted)},
                      field_manager=FIELD_MANAGER)
        changes.append(_change(CREATED, "Namespace", ns, None, first,
                               ", ".join(f"{k}={v}" for k, v in sorted(wanted.items())) or "for global Services"))
        return
    if (live.get("status") or {}).get("phase") == "Terminating":
        changes.append(_change(FAILED, "Namespace", ns, None, first,
                               "the namespace is being deleted; run the command again once it is gone"))
        return
    labels, ours = object_labels(live), _ours_labels(live)
    to_set = {k: v for k, v in wanted.items() if labels.get(k) != v}
    to_drop = {k for k in ours if k not in wanted}
    if not to_set and not to_drop:
        return
    _relabel(cluster, "v1", "namespaces", live, network, to_set, to_drop)
    for k, v in sorted(to_set.items()):
        changes.append(_change(LABELLED, "Namespace", ns, None, item_for(k), f"{k}={v}"))
    for k in sorted(to_drop):
        item = item_key("namespace", ns) if k == DATAPLANE_MODE else item_key("waypoint", ns, labels.get(k))
        changes.append(_change(UNLABELLED, "Namespace", ns, None, item, f"removed {k}"))


def _ensure_global(cluster, network, ns, svc, ports, item, changes):
    live = cluster.get("v1", "services", svc, ns)
    if live is None or created_by_us(live, network):
        stub = stub_service(network, ns, svc, ports)
        if live is not None and port_key((live.get("spec") or {}).get("ports")) == port_key(ports) \
                and object_labels(live).get(GLOBAL) == "true":
            return
        cluster.apply(stub, field_manager=FIELD_MANAGER)
        changes.append(_change(CREATED if live is None else UPDATED, "Service", ns, svc, item,
                               f"stub with ports {describe_ports(ports)}"))
        return
    if object_labels(live).get(GLOBAL) != "true":
        _relabel(cluster, "v1", "services", live, network, {GLOBAL: "true"}, ())
        changes.append(_change(LABELLED, "Service", ns, svc, item, f"{GLOBAL}=true"))


def _ensure_waypoint(cluster, network, ns, name, item, changes):
    live = cluster.get(GATEWAY_API, "gateways", name, ns)
    if live is None or created_by_us(live, network):
        gateway = waypoint_gateway(network, ns, name)
        if live is not None and _same_gateway(live, gateway):
            return
        cluster.apply(gateway, field_manager=FIELD_MANAGER)
        changes.append(_change(CREATED if live is None else UPDATED, "Gateway", ns, name, item,
                               f"class {WAYPOINT_CLASS}, HBONE {HBONE_PORT}, {GLOBAL}=true"))
        return
    cls = (live.get("spec") or {}).get("gatewayClassName")
    if cls != WAYPOINT_CLASS:
        changes.append(_change(FAILED, "Gateway", ns, name, item,
                               f"a Gateway of class '{cls}' already has this name; it is not a waypoint, "
                               "so it was left alone. Delete or rename it, or pick another --name"))
        return
    if object_labels(live).get(GLOBAL) != "true":
        _relabel(cluster, GATEWAY_API, "gateways", live, network, {GLOBAL: "true"}, ())
        changes.append(_change(LABELLED, "Gateway", ns, name, item, f"{GLOBAL}=true (an existing waypoint)"))


def _same_gateway(live, wanted):
    spec, want = live.get("spec") or {}, wanted["spec"]
    labels = object_labels(live)
    return (spec.get("gatewayClassName") == want["gatewayClassName"]
            and ((spec.get("infrastructure") or {}).get("labels") or {}).get(GLOBAL) == "true"
            and [(x.get("name"), x.get("port"), x.get("protocol")) for x in spec.get("listeners") or []]
            == [(x["name"], x["port"], x["protocol"]) for x in want["listeners"]]
            and all(labels.get(k) == v for k, v in wanted["metadata"]["labels"].items()))


def _prune(cluster, network, declared, changes, guarded):
    """Take back what an earlier run set and nothing declares any more."""
    from ..kube.concurrent import gather
    selector = f"{DECLARED_BY}={network}"
    # The three lists at once (one round trip); what each finds is handled in turn.
    gateways, services, namespaces = gather(
        [lambda: cluster.list(GATEWAY_API, "gateways", label_selector=selector),
         lambda: cluster.list("v1", "services", label_selector=selector),
         lambda: cluster.list("v1", "namespaces", label_selector=selector)])
    for gw in gateways:
        ns, name = _meta(gw).get("namespace"), _meta(gw)["name"]
        if (ns, name) not in declared.waypoints:
            guarded(item_key("waypoint", ns, name), f"Gateway {ns}/{name}",
                    lambda gw=gw, ns=ns, name=name:
                    _take_back(cluster, network, GATEWAY_API, "gateways", gw, item_key("waypoint", ns, name), changes))
    for svc in services:
        ns, name = _meta(svc).get("namespace"), _meta(svc)["name"]
        if (ns, name) not in declared.services:
            guarded(item_key("globalService", ns, name), f"Service {ns}/{name}",
                    lambda svc=svc, ns=ns, name=name:
                    _take_back(cluster, network, "v1", "services", svc, item_key("globalService", ns, name), changes))
    needed = declared.needed_namespaces()
    for ns_obj in namespaces:
        name = _meta(ns_obj)["name"]
        if name not in needed:
            guarded(item_key("namespace", name), f"Namespace {name}",
                    lambda ns_obj=ns_obj, name=name: _release_namespace(cluster, network, ns_obj, changes))


def _take_back(cluster, network, api_version, plural, obj, item, changes):
    meta = _meta(obj)
    kind = obj.get("kind") or ("Gateway" if plural == "gateways" else "Service")
    if created_by_us(obj, network):
        if cluster.delete(api_version, plural, meta["name"], meta.get("namespace")):
            changes.append(_change(DELETED, kind, meta.get("namespace"), meta["name"], item,
                                   "stub" if plural == "services" else "waypoint"))
        return
    ours = _ours_labels(obj)
    _relabel(cluster, api_version, plural, obj, network, {}, ours)
    changes.append(_change(UNLABELLED, kind, meta.get("namespace"), meta["name"], item,
                           "removed " + (", ".join(sorted(ours)) or DECLARED_BY)))


def _release_namespace(cluster, network, ns_obj, changes):
    name = _meta(ns_obj)["name"]
    ours = _ours_labels(ns_obj)
    item = item_key("namespace", name)
    if created_by_us(ns_obj, network):
        held = namespace_content(cluster, name)
        if not held:
            if cluster.delete("v1", "namespaces", name):
                changes.append(_change(DELETED, "Namespace", name, None, item, "created by az appnet, empty"))
            return
        # Someone put their own objects in it since: it is theirs now; only our marks go.
        _merge_patch(cluster, "v1", "namespaces", None, name,
                     dict({k: None for k in ours}, **{DECLARED_BY: None, DECLARED_LABELS: None,
                                                      MANAGED_BY_KEY: None}),
                     {DECLARED_CREATED: None})
        changes.append(_change(KEPT, "Namespace", name, None, item,
                               f"it holds objects that are not ours ({', '.join(held[:3])}); our labels removed"))
        return
    _relabel(cluster, "v1", "namespaces", ns_obj, network, {}, ours)
    changes.append(_change(UNLABELLED, "Namespace", name, None, item,
                           "removed " + (", ".join(sorted(ours)) or DECLARED_BY)))


def namespace_content(cluster, namespace):
    """'Kind name' of the objects in `namespace` that are neither automatic nor owned by
    something else (they go with their owner)."""
    out = []
    for api_version, plural in _CONTENT:
        for obj in cluster.list(api_version, plural, namespace=namespace):
            meta = _meta(obj)
            if (obj.get("kind"), meta.get("name")) in _AUTOMATIC or meta.get("ownerReferences"):
                continue
            if obj.get("type") == "kubernetes.io/service-account-token":
                continue
            out.append(f"{obj.get('kind')} {meta.get('name')}")
    return out


# ---- what a member shows --------------------------------------------------------------------

class Snapshot:
    """What one member shows of namespaces, global Services and waypoints, read once
    (lists), with per-object reads cached. Read-only."""

    def __init__(self, cluster):
        from ..kube.concurrent import gather
        self.cluster = cluster
        # The three lists at once: one round trip.
        namespaces, services, gateways = gather([
            lambda: cluster.list("v1", "namespaces"),
            lambda: cluster.list("v1", "services", label_selector=f"{GLOBAL}=true"),
            lambda: cluster.list(GATEWAY_API, "gateways")])
        self.namespaces = {_meta(n)["name"]: n for n in namespaces}
        self.global_services = {(_meta(s).get("namespace"), _meta(s)["name"]): s for s in services}
        self.gateways = {(_meta(g).get("namespace"), _meta(g)["name"]): g for g in gateways}
        self._services, self._slices = {}, {}

    def service(self, ns, name):
        key = (ns, name)
        if key in self.global_services:
            return self.global_services[key]
        if key not in self._services:
            self._services[key] = self.cluster.get("v1", "services", name, ns) if ns in self.namespaces else None
        return self._services[key]

    def ready_endpoints(self, ns, name):
        """Ready endpoints of the Service, counted from its EndpointSlices (an endpoint with
        no `ready` condition counts as ready, as the API defines)."""
        key = (ns, name)
        if key not in self._slices:
            slices = self.cluster.list("discovery.k8s.io/v1", "endpointslices", namespace=ns,
                                       label_selector=f"{SERVICE_NAME_LABEL}={name}")
            self._slices[key] = sum(1 for s in slices for e in s.get("endpoints") or []
                                    if (e.get("conditions") or {}).get("ready") is not False)
        return self._slices[key]

    def waypoints(self):
        return {k: g for k, g in self.gateways.items()
                if (g.get("spec") or {}).get("gatewayClassName") == WAYPOINT_CLASS}

    def waypoint_service(self, ns, name):
        """The Service istiod made for a waypoint (named after the Gateway)."""
        svc = self.service(ns, name)
        if svc is not None and object_labels(svc).get(GATEWAY_NAME_LABEL) == name:
            return svc
        return None

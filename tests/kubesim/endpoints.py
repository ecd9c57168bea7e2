"""The endpoints and EndpointSlice controllers: a Service with a selector gets an Endpoints
object and an EndpointSlice listing the Pods it selects, ready ones as addresses, the rest
as not ready, with the Service's ports resolved against the containers' named ports."""
from .util import deep_copy

EP_KEY, SLICE_KEY = ("", "endpoints"), ("discovery.k8s.io", "endpointslices")


def _ready(pod):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _target(port, pod):
    tp = port.get("targetPort", port.get("port"))
    if isinstance(tp, int) or (isinstance(tp, str) and tp.isdigit()):
        return int(tp)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == tp:
                return p.get("containerPort")
    return None


def _terminating(pod):
    return bool(pod["metadata"].get("deletionTimestamp"))


def _members(store, svc):
    sel = (svc.get("spec") or {}).get("selector") or {}
    return [p for p in store.list(("", "pods"), svc["metadata"]["namespace"])
            if (p.get("status") or {}).get("podIP") and
            (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed") and
            all((p["metadata"].get("labels") or {}).get(k) == v for k, v in sel.items())]


def _address(pod):
    return {"ip": pod["status"]["podIP"], "nodeName": (pod.get("spec") or {}).get("nodeName"),
            "targetRef": {"kind": "Pod", "namespace": pod["metadata"]["namespace"],
                          "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}}


def _write(api, key, want, cur):
    rt = api.registry.lookup_plural_any_version(*key)
    if cur is None:
        api.create_internal(rt, want)
        return
    new = deep_copy(cur)
    changed = False
    for k, v in want.items():
        if k == "metadata":
            for mk in ("labels", "ownerReferences"):
                if new["metadata"].get(mk) != v.get(mk):
                    new["metadata"][mk], changed = v.get(mk), True
        elif new.get(k) != v:
            new[k], changed = v, True
    if changed:
        api.put_internal(rt, new, cur)


def sync_service(api, svc):
    """Bring the Service's Endpoints and EndpointSlice in line with its Pods."""
    ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
    spec = svc.get("spec") or {}
    if not spec.get("selector") or spec.get("type") == "ExternalName":
        return
    nsobj = api.store.get(("", "namespaces"), "", ns)
    if nsobj is None or nsobj["metadata"].get("deletionTimestamp"):
        return
    pods = sorted(_members(api.store, svc), key=lambda p: p["metadata"]["name"])
    ports = spec.get("ports") or []
    subsets = {}
    # Endpoints leave terminating Pods out (unless the Service publishes not-ready
    # addresses); EndpointSlices keep them, marked terminating, as the real controllers do.
    publish = bool(spec.get("publishNotReadyAddresses"))
    for pod in pods:
        if _terminating(pod) and not publish:
            continue
        resolved = []
        for p in ports:
            tp = _target(p, pod)
            if tp is None:
                continue
            e = {"port": tp, "protocol": p.get("protocol", "TCP")}
            if p.get("name"):
                e["name"] = p["name"]
            if p.get("appProtocol"):
                e["appProtocol"] = p["appProtocol"]
            resolved.append(e)
        key = repr(resolved)
        sub = subsets.setdefault(key, {"ports": resolved})
        sub.setdefault("addresses" if _ready(pod) or publish else "notReadyAddresses", []).append(
            _address(pod))
    ep = {"apiVersion": "v1", "kind": "Endpoints",
          "metadata": {"name": name, "namespace": ns,
                       "labels": dict(svc["metadata"].get("labels") or {})}}
    if subsets:
        ep["subsets"] = [s for _, s in sorted(subsets.items())]
    _write(api, EP_KEY, ep, api.store.get(EP_KEY, ns, name))
    slice_ports = []
    for p in ports:
        tp = _target(p, pods[0]) if pods else None
        e = {"name": p.get("name", ""), "protocol": p.get("protocol", "TCP")}
        if tp is not None:
            e["port"] = tp
        if p.get("appProtocol"):
            e["appProtocol"] = p["appProtocol"]
        slice_ports.append(e)
    sl = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
          "metadata": {"name": name + "-" + svc["metadata"]["uid"][:5], "namespace": ns,
                       "labels": dict(svc["metadata"].get("labels") or {}, **{
                           "kubernetes.io/service-name": name,
                           "endpointslice.kubernetes.io/managed-by":
                               "endpointslice-controller.k8s.io"}),
                       "ownerReferences": [{"apiVersion": "v1", "kind": "Service",
                                            "name": name, "uid": svc["metadata"]["uid"],
                                            "controller": True, "blockOwnerDeletion": True}]},
          "addressType": "IPv4", "ports": slice_ports,
          "endpoints": [{"addresses": [p["status"]["podIP"]],
                         "conditions": {"ready": _ready(p) and not _terminating(p),
                                        "serving": _ready(p), "terminating": _terminating(p)},
                         "nodeName": (p.get("spec") or {}).get("nodeName"),
                         "targetRef": _address(p)["targetRef"]} for p in pods]}
    _write(api, SLICE_KEY, sl, api.store.get(SLICE_KEY, ns, sl["metadata"]["name"]))


def sync_namespace(api, ns, pod=None):
    """After a Pod changed: the Services of its namespace that select it."""
    for svc in api.store.list(("", "services"), ns):
        sel = (svc.get("spec") or {}).get("selector")
        if not sel:
            continue
        if pod is not None and not all((pod["metadata"].get("labels") or {}).get(k) == v
                                       for k, v in sel.items()):
            continue
        sync_service(api, svc)


def service_deleted(api, svc):
    ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
    cur = api.store.get(EP_KEY, ns, name)
    if cur is not None:
        api.delete_object(api.registry.lookup_plural_any_version(*EP_KEY), cur, "Background")

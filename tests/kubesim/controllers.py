"""Controllers: what kube-controller-manager, a cloud provider and Istio would do to the
objects we care about. Workloads and Pods are workloads.py's, deletion is deletion.py's.

They run as hooks after every stored write (under the store lock). Anything that should
take time (workloads becoming ready, load balancers getting an address) goes through the
Scheduler with the cluster's ready_delay; with ready_delay == 0 it happens at once, within
the request that caused it, so tests never wait on timing.
"""
import base64
import heapq
import threading
import time

from . import endpoints
from .util import deep_copy, now
from .workloads import Workloads

GW = "gateway.networking.k8s.io"

# Istio's gateway classes and the Service it creates for a Gateway of that class.
ISTIO_CLASSES = {
    "istio-east-west": ("{name}", "LoadBalancer"),
    "istio": ("{name}-istio", "LoadBalancer"),
    "istio-waypoint": ("{name}", "ClusterIP"),
}


class Scheduler:
    """Runs callbacks after a delay on one background thread (or at once if delay <= 0)."""

    def __init__(self, lock):
        self.lock = lock
        self.heap = []
        self.seq = 0
        self.cv = threading.Condition()
        self.thread = None
        self.running = False

    def call_later(self, delay, fn):
        if delay <= 0:
            fn()
            return
        with self.cv:
            self.seq += 1
            heapq.heappush(self.heap, (time.monotonic() + delay, self.seq, fn))
            self.cv.notify()

    def start(self):
        with self.cv:
            if self.running:
                return
            self.running = True
        self.thread = threading.Thread(target=self._run, name="kubesim-controllers",
                                       daemon=True)
        self.thread.start()

    def stop(self):
        with self.cv:
            self.running = False
            self.cv.notify()
        if self.thread:
            self.thread.join(5)
            self.thread = None

    def clear(self):
        with self.cv:
            self.heap = []

    def _run(self):
        while True:
            with self.cv:
                if not self.running:
                    return
                if not self.heap:
                    self.cv.wait(1.0)
                    continue
                due = self.heap[0][0]
                wait = due - time.monotonic()
                if wait > 0:
                    self.cv.wait(min(wait, 1.0))
                    continue
                _, _, fn = heapq.heappop(self.heap)
            with self.lock:
                try:
                    fn()
                except Exception:      # a controller bug must not kill the loop
                    import traceback
                    traceback.print_exc()


def _cond(ctype, status, reason, message="", generation=None):
    c = {"type": ctype, "status": status, "reason": reason, "message": message,
         "lastTransitionTime": now()}
    if generation is not None:
        c["observedGeneration"] = generation
    return c


def _same_conditions(a, b):
    def strip(cs):
        return [{k: v for k, v in c.items() if k not in ("lastTransitionTime", "lastUpdateTime")}
                for c in cs or []]
    return strip(a) == strip(b)


class Controllers:
    def __init__(self, sim, api):
        self.sim = sim
        self.api = api
        self.store = api.store
        self.registry = api.registry
        self.scheduler = Scheduler(self.store.lock)
        self.never_ready = set()           # (group, plural, ns, name)
        self.workloads = Workloads(self)
        self._lb_next = 2

    # ------------------------------------------------------------------------ plumbing
    def _rt(self, group, plural):
        return self.registry.lookup_plural_any_version(group, plural)

    def _write_status(self, rt, cur, status):
        if cur.get("status") == status:
            return cur
        new = deep_copy(cur)
        new["status"] = status
        return self.api.put_internal(rt, new, cur)

    def _later(self, fn):
        self.scheduler.call_later(self.sim.ready_delay, fn)

    def _is_never_ready(self, rt, obj):
        m = obj["metadata"]
        return (rt.group, rt.plural, m.get("namespace", ""), m["name"]) in self.never_ready

    def reconcile_all(self):
        """Re-run every controller over the whole store (after restart, make_ready...)."""
        with self.store.lock:
            for key in list(self.store.list_keys()):
                rt = self._rt(*key)
                if rt is None:
                    continue
                for o in self.store.list(key):
                    self.on_write(rt, o, o)

    # ------------------------------------------------------------------------ dispatch
    def on_write(self, rt, obj, old):
        p, g = rt.plural, rt.group
        if self.workloads.on_write(rt, obj, old):
            return
        if g == "" and p == "namespaces":
            if old is None:
                self._namespace_created(obj)
        elif g == "" and p == "serviceaccounts":
            self._fill_tokens_for_sa(obj)
        elif g == "" and p == "secrets":
            self._fill_token_secret(obj)
        elif g == "" and p == "services":
            self._service(rt, obj)
            self._gateways_for_service(obj)
            endpoints.sync_service(self.api, obj)
        elif g == "apiextensions.k8s.io" and p == "customresourcedefinitions":
            self._crd(rt, obj)
        elif g == GW and p == "gateways":
            self._gateway(rt, obj)

    def on_delete(self, rt, obj):
        self.workloads.on_delete(rt, obj)
        if rt.group == "apiextensions.k8s.io" and rt.plural == "customresourcedefinitions":
            spec = obj.get("spec") or {}
            key = (spec.get("group", ""), (spec.get("names") or {}).get("plural"))
            for o in self.store.list(key):
                final = deep_copy(o)
                final["metadata"]["resourceVersion"] = str(self.store.next_rv())
                self.store.remove(key, o["metadata"].get("namespace", ""),
                                  o["metadata"]["name"], final)
            self.registry.remove_crd(obj["metadata"]["name"])
        elif rt.group == "" and rt.plural == "services":
            self._gateways_for_service(obj)
            endpoints.service_deleted(self.api, obj)

    # ------------------------------------------------------------------------ namespaces
    def _namespace_created(self, ns):
        name = ns["metadata"]["name"]
        sa_rt, cm_rt = self._rt("", "serviceaccounts"), self._rt("", "configmaps")
        self.api.create_internal(sa_rt, {"apiVersion": "v1", "kind": "ServiceAccount",
                                         "metadata": {"name": "default", "namespace": name}})
        self.api.create_internal(cm_rt, {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "namespace": name, "annotations": {
                "kubernetes.io/description": "Contains a CA bundle that can be used to "
                "verify the kube-apiserver when using internal endpoints such as the "
                "internal service IP or kubernetes.default.svc. No other usage is "
                "guaranteed across distributions of Kubernetes clusters."}},
            "data": {"ca.crt": self.sim.pki.ca_pem.decode()}})

    # ------------------------------------------------------------------------ tokens
    def _fill_tokens_for_sa(self, sa):
        ns = sa["metadata"]["namespace"]
        for s in self.store.list(("", "secrets"), ns):
            self._fill_token_secret(s)

    def _fill_token_secret(self, secret):
        if secret.get("type") != "kubernetes.io/service-account-token":
            return
        meta = secret["metadata"]
        ann = meta.get("annotations") or {}
        sa_name = ann.get("kubernetes.io/service-account.name")
        sa = self.store.get(("", "serviceaccounts"), meta["namespace"], sa_name)
        if sa is None:
            return
        data = secret.get("data") or {}
        if data.get("token") and ann.get("kubernetes.io/service-account.uid") == \
                sa["metadata"]["uid"]:
            return
        new = deep_copy(secret)
        token = self.sim.authn.legacy_token(sa, meta["name"])
        new.setdefault("data", {}).update({
            "token": base64.b64encode(token.encode()).decode(),
            "ca.crt": base64.b64encode(self.sim.pki.ca_pem).decode(),
            "namespace": base64.b64encode(meta["namespace"].encode()).decode()})
        new["metadata"].setdefault("annotations", {})[
            "kubernetes.io/service-account.uid"] = sa["metadata"]["uid"]
        self.api.put_internal(self._rt("", "secrets"), new, secret)

    # ------------------------------------------------------------------------ services
    def _service(self, rt, svc):
        spec = svc.get("spec") or {}
        if spec.get("type") != "LoadBalancer":
            if (svc.get("status") or {}).get("loadBalancer", {}).get("ingress"):
                self._write_status(rt, svc, {"loadBalancer": {}})
            return
        if (svc.get("status") or {}).get("loadBalancer", {}).get("ingress"):
            return
        key = (svc["metadata"]["namespace"], svc["metadata"]["name"])

        def assign():
            cur = self.store.get(("", "services"), *key)
            if cur is None or (cur.get("spec") or {}).get("type") != "LoadBalancer" or \
                    (cur.get("status") or {}).get("loadBalancer", {}).get("ingress"):
                return
            if self._is_never_ready(rt, cur):
                return
            ip = "172.18.%d.%d" % (self.sim.index % 256, self._lb_next)
            self._lb_next += 1
            self._write_status(rt, cur, {"loadBalancer": {
                "ingress": [{"ip": ip, "ipMode": "VIP"}]}})
        self._later(assign)

    # ------------------------------------------------------------------------ CRDs
    def _crd(self, rt, crd):
        self.registry.set_crd(crd)
        spec = crd.get("spec") or {}
        names = dict(spec.get("names") or {})
        names.setdefault("singular", names.get("kind", "").lower())
        names.setdefault("listKind", names.get("kind", "") + "List")
        old = crd.get("status") or {}
        conds = [_cond("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
                 _cond("Established", "True", "InitialNamesAccepted",
                       "the initial names have been accepted")]
        # The deletion controller's condition (see deletion.py) stays as it set it.
        conds += [c for c in old.get("conditions") or [] if c.get("type") == "Terminating"]
        if _same_conditions(old.get("conditions"), conds):
            conds = old["conditions"]
        stored = list(old.get("storedVersions") or [])
        for v in spec.get("versions") or []:
            if v.get("storage") and v.get("name") not in stored:
                stored.append(v["name"])
        self._write_status(rt, crd, {"acceptedNames": names, "conditions": conds,
                                     "storedVersions": stored})

    # ------------------------------------------------------------------------ gateways
    def _gateway_service_name(self, gw):
        cls = (gw.get("spec") or {}).get("gatewayClassName", "")
        name = gw["metadata"]["name"]
        if cls in ISTIO_CLASSES:
            return ISTIO_CLASSES[cls][0].format(name=name)
        ns = gw["metadata"]["namespace"]
        for cand in ("%s-%s" % (name, cls), name):
            if self.store.get(("", "services"), ns, cand) is not None:
                return cand
        return None

    def _gateway(self, rt, gw):
        cls = (gw.get("spec") or {}).get("gatewayClassName", "")
        ns, name = gw["metadata"]["namespace"], gw["metadata"]["name"]
        svc_name = self._gateway_service_name(gw)
        if cls in ISTIO_CLASSES and self.store.get(("", "services"), ns, svc_name) is None:
            self._create_gateway_service(gw, svc_name, ISTIO_CLASSES[cls][1])
        self._gateway_status(rt, self.store.get(rt.key, ns, name))

    def _create_gateway_service(self, gw, svc_name, svc_type):
        spec = gw.get("spec") or {}
        infra = spec.get("infrastructure") or {}
        labels = dict(infra.get("labels") or {})
        labels.update({"gateway.networking.k8s.io/gateway-name": gw["metadata"]["name"],
                       "gateway.istio.io/managed": "istio.io-gateway-controller"})
        ports = [{"name": "status-port", "port": 15021, "protocol": "TCP",
                  "appProtocol": "tcp"}]
        for lst in spec.get("listeners") or []:
            if any(p["port"] == lst.get("port") for p in ports):
                continue
            ports.append({"name": lst.get("name") or "port-%s" % lst.get("port"),
                          "port": lst.get("port"), "protocol": "TCP"})
        meta = {"name": svc_name, "namespace": gw["metadata"]["namespace"], "labels": labels,
                "annotations": dict(infra.get("annotations") or {}),
                "ownerReferences": [{"apiVersion": gw["apiVersion"], "kind": "Gateway",
                                     "name": gw["metadata"]["name"], "uid": gw["metadata"]["uid"],
                                     "controller": True}]}
        svc = {"apiVersion": "v1", "kind": "Service", "metadata": meta,
               "spec": {"type": svc_type, "ports": ports,
                        "selector": {"gateway.networking.k8s.io/gateway-name": gw["metadata"]["name"]}}}
        self.api.create_internal(self._rt("", "services"), svc)

    def _gateways_for_service(self, svc):
        rt = self._rt(GW, "gateways")
        if rt is None:
            return
        ns = svc["metadata"]["namespace"]
        for gw in self.store.list(rt.key, ns):
            if self._gateway_service_name(gw) == svc["metadata"]["name"]:
                self._gateway_status(rt, gw)

    def _gateway_status(self, rt, gw):
        if gw is None:
            return
        ns = gw["metadata"]["namespace"]
        gen = gw["metadata"].get("generation", 1)
        svc_name = self._gateway_service_name(gw)
        svc = self.store.get(("", "services"), ns, svc_name) if svc_name else None
        addresses = []
        if svc is not None:
            for ing in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") \
                    or []:
                if ing.get("ip"):
                    addresses.append({"type": "IPAddress", "value": ing["ip"]})
                elif ing.get("hostname"):
                    addresses.append({"type": "Hostname", "value": ing["hostname"]})
            if not addresses and (svc.get("spec") or {}).get("type") == "ClusterIP":
                addresses.append({"type": "Hostname", "value": "%s.%s.svc.cluster.local"
                                  % (svc_name, ns)})
        for a in (gw.get("spec") or {}).get("addresses") or []:
            if not addresses and a.get("value"):
                addresses.append({"type": a.get("type", "IPAddress"), "value": a["value"]})
        programmed = bool(addresses) and not self._is_never_ready(rt, gw)
        if programmed:
            pc = _cond("Programmed", "True", "Programmed",
                       "Resource programmed, assigned to service(s) %s.%s.svc.cluster.local"
                       % (svc_name, ns), gen)
        else:
            pc = _cond("Programmed", "False", "AddressNotAssigned",
                       "Assigned to service(s) %s.%s.svc.cluster.local, but failed to assign "
                       "to all requested addresses" % (svc_name, ns), gen)
        conds = [_cond("Accepted", "True", "Accepted", "Resource accepted", gen), pc]
        listeners = []
        for lst in (gw.get("spec") or {}).get("listeners") or []:
            lc = [_cond("Accepted", "True", "Accepted", "No errors found", gen),
                  _cond("NoConflicts", "True", "NoConflicts", "No conflicts", gen),
                  _cond("Programmed", "True" if programmed else "False",
                        "Programmed" if programmed else "Pending", "", gen),
                  _cond("ResolvedRefs", "True", "ResolvedRefs", "No errors found", gen)]
            listeners.append({"name": lst.get("name"), "attachedRoutes": 0,
                              "supportedKinds": [], "conditions": lc})
        old = gw.get("status") or {}
        if _same_conditions(old.get("conditions"), conds):
            conds = old["conditions"]
        st = {"addresses": addresses, "conditions": conds}
        if listeners:
            if [x.get("name") for x in old.get("listeners") or []] == \
                    [x["name"] for x in listeners] and all(
                        _same_conditions(a.get("conditions"), b["conditions"])
                        for a, b in zip(old.get("listeners") or [], listeners)):
                listeners = old["listeners"]
            st["listeners"] = listeners
        if not addresses:
            st.pop("addresses")
        self._write_status(rt, gw, st)

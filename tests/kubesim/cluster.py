"""KubeSim: one emulated cluster -- its lifecycle (start/stop/restart/reset) and the
control API tests use to inspect objects, inject faults and flip readiness."""
import collections
import itertools
import os
import shutil
import tempfile
import threading
import time
import weakref

from . import rbac
from .apiserver import ApiServer, Options
from .auth import Authenticator
from .controllers import Controllers
from .discovery import OpenAPICache
from .faults import Faults
from .kubeconfig import write_kubeconfig
from .resources import Registry
from .selectors import parse_label_selector
from .server import HTTPSServer
from .store import Store
from .tls import ClusterPKI
from .util import deep_copy, now, now_micro, random_token

_index = itertools.count(1)


class LoggedConnection(collections.namedtuple("LoggedConnection", "opened ready")):
    """One TLS connection of sim.connection_log: accepted at `opened`, its handshake done at
    `ready` (time.monotonic(); the emulated latency delays it by two round trips)."""


class LoggedRequest(collections.namedtuple("LoggedRequest",
                                           "method path status started answered")):
    """One answered request of sim.request_log; times are time.monotonic()."""

    def overlaps(self, other):
        return self.started < other.answered and other.started < self.answered


DEFAULT_NODES = [{"os": "linux", "zone": "eastus-%d" % i, "region": "eastus"}
                 for i in (1, 2, 3)]


class KubeSim:
    def __init__(self, name="c1", version="1.33", nodes=None, ready_delay=0.0, port=0,
                 namespace_delete_delay=0.0, latency=0.0, pod_termination_delay=0.0):
        """ready_delay: seconds from a Pod's binding to its containers running (and being
        ready); namespace_delete_delay: seconds a deleted Namespace (or a CRD being cleaned
        of its custom resources) stays Terminating at least. 0: at once, within the
        request that caused it. latency: seconds added to every answer, and twice that to
        every new connection's handshake (as a far-away API server; the same as
        faults.set(latency=...)). pod_termination_delay: seconds a
        deleted Pod on a node stays Terminating while its containers stop (at most its
        grace period; 0: deleted at once)."""
        self.name = name
        self.context = name
        self.index = next(_index)
        self._version = str(version).lstrip("v")
        self.node_specs = list(nodes) if nodes is not None else list(DEFAULT_NODES)
        self.ready_delay = float(ready_delay)
        self.namespace_delete_delay = float(namespace_delete_delay)
        self.pod_termination_delay = float(pod_termination_delay)
        self.port = port
        self.pki = ClusterPKI(name)
        self.admin_token = random_token(48)
        self.store = Store()
        self.registry = Registry()
        self.api = ApiServer(self, self.store, self.registry)
        self.authn = Authenticator(self.pki, self.admin_token, self.store)
        self.controllers = Controllers(self, self.api)
        self.api.controllers = self.controllers
        self.openapi = OpenAPICache(self.registry, lambda: self.version)
        self.faults = Faults()
        if latency:
            self.faults.set(latency=latency)
        self.requests = []
        # The same requests with when each arrived and was answered (time.monotonic(); a
        # watch is "answered" when its stream opens), so a test can see which overlapped.
        self.request_log = []
        self.connection_log = []        # LoggedConnection per TLS connection a client opened
        self._requests_lock = threading.Lock()
        self._server = None
        self._thread = None
        self._stopping = False
        self._tmpdir = tempfile.mkdtemp(prefix="kubesim-%s-" % name)
        # The kubeconfig must outlive stop() (tests point clients at a stopped cluster);
        # the directory goes when the KubeSim is collected or the process exits.
        weakref.finalize(self, shutil.rmtree, self._tmpdir, True)
        self.kubeconfig_path = os.path.join(self._tmpdir, "kubeconfig")
        self._seed()

    # ------------------------------------------------------------------------ lifecycle
    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    @property
    def running(self):
        return self._server is not None

    def start(self, port=None):
        """Serve HTTPS on 127.0.0.1 (a free port the first time; the same port on restart)."""
        if self._server is not None:
            return self
        if port is not None:
            self.port = port
        self._stopping = False
        self._server = HTTPSServer(("127.0.0.1", self.port), self, self.pki.ssl_context())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="kubesim-%s" % self.name, daemon=True)
        self._thread.start()
        self.controllers.scheduler.start()
        self.write_kubeconfig(self.kubeconfig_path)
        return self

    def stop(self):
        """Stop serving (connections are refused and open ones closed); objects are kept."""
        if self._server is None:
            return
        self._stopping = True
        with self.store.lock:
            self.store.changed.notify_all()    # wake watch streams so they end
        self._server.shutdown()
        self._server.server_close()
        self._server.close_all()
        self._thread.join(5)
        self._server = self._thread = None
        self.controllers.scheduler.stop()

    def reset(self):
        """Drop every object: the cluster was deleted and created again, empty."""
        with self.store.lock:
            self.store.drop_all()
            self.registry.reset()
            self.controllers.scheduler.clear()
            self.controllers.never_ready.clear()
            self.controllers.workloads.ready_at.clear()
            self.api.deletion.due.clear()
            self._seed()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def advance_clock(self, seconds):
        """Move this API server's clock forward: tokens it issued age by `seconds`."""
        self.authn.clock_skew += seconds

    def write_kubeconfig(self, path, context=None):
        return write_kubeconfig(path, context or self.context, self.url, self.pki.ca_pem,
                                self.admin_token)

    # ------------------------------------------------------------------------ version
    @property
    def version(self):
        return self._version

    @version.setter
    def version(self, v):
        self._version = str(v).lstrip("v")
        with self.store.lock:
            for n in self.store.list(("", "nodes")):
                new = deep_copy(n)
                new["status"]["nodeInfo"]["kubeletVersion"] = self.git_version
                new["status"]["nodeInfo"]["kubeProxyVersion"] = self.git_version
                self.api.put_internal(self.registry.lookup("", "v1", "nodes"), new, n)

    @property
    def git_version(self):
        v = self._version
        return "v" + (v if v.count(".") >= 2 else v + ".0")

    def version_info(self):
        major, minor = (self._version.split(".") + ["0"])[:2]
        return {"major": major, "minor": minor, "gitVersion": self.git_version,
                "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z",
                "goVersion": "go1.24.0", "compiler": "gc", "platform": "linux/amd64"}

    # ------------------------------------------------------------------------ seeding
    def _seed(self):
        """What a new cluster has: system namespaces, nodes, default RBAC, the
        kubernetes Service."""
        reg = self.registry
        with self.store.lock:
            for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
                self.api.create_internal(reg.lookup("", "v1", "namespaces"), {
                    "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            for obj in rbac.default_objects():
                rt = reg.lookup_kind(obj["apiVersion"], obj["kind"])
                self.api.create_internal(rt, obj)
            counts = {}
            for spec in self.node_specs:
                os_ = spec.get("os", "linux")
                i = counts[os_] = counts.get(os_, -1) + 1
                self._add_node(spec, "%s-%s-%d" % (self.name, "win" if os_ == "windows"
                                                   else "node", i), i)
            self.api.create_internal(reg.lookup("", "v1", "services"), {
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "kubernetes", "namespace": "default",
                             "labels": {"component": "apiserver", "provider": "kubernetes"}},
                "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.1",
                         "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                    "targetPort": 6443}]}})

    def _add_node(self, spec, name, i):
        os_ = spec.get("os", "linux")
        labels = {"kubernetes.io/os": os_, "beta.kubernetes.io/os": os_,
                  "kubernetes.io/arch": spec.get("arch", "amd64"),
                  "kubernetes.io/hostname": name,
                  "node.kubernetes.io/instance-type": spec.get("instance_type",
                                                               "Standard_D4s_v5")}
        if spec.get("zone"):
            labels["topology.kubernetes.io/zone"] = spec["zone"]
        if spec.get("region"):
            labels["topology.kubernetes.io/region"] = spec["region"]
        labels.update(spec.get("labels") or {})
        ts = now()
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
                "spec": {"podCIDR": "10.244.%d.0/24" % i},
                "status": {
                    "conditions": [
                        dict(type=t, status=st, reason=r, message=m, lastHeartbeatTime=ts,
                             lastTransitionTime=ts) for t, st, r, m in (
                            ("MemoryPressure", "False", "KubeletHasSufficientMemory",
                             "kubelet has sufficient memory available"),
                            ("DiskPressure", "False", "KubeletHasNoDiskPressure",
                             "kubelet has no disk pressure"),
                            ("PIDPressure", "False", "KubeletHasSufficientPID",
                             "kubelet has sufficient PID available"),
                            ("Ready", "True", "KubeletReady",
                             "kubelet is posting ready status"))],
                    "addresses": [{"type": "InternalIP", "address": "10.224.%d.%d"
                                   % (self.index % 256, i + 4)},
                                  {"type": "Hostname", "address": name}],
                    # A Standard_D4s_v5 node as AKS reports it: 4 CPUs, 16 GiB.
                    "capacity": {"cpu": "4", "memory": "16374624Ki", "pods": "110",
                                 "ephemeral-storage": "129886128Ki", "hugepages-1Gi": "0",
                                 "hugepages-2Mi": "0"},
                    "allocatable": {"cpu": "3860m", "memory": "12880736Ki", "pods": "110",
                                    "ephemeral-storage": "119703055367", "hugepages-1Gi": "0",
                                    "hugepages-2Mi": "0"},
                    "nodeInfo": {"kubeletVersion": self.git_version,
                                 "kubeProxyVersion": self.git_version,
                                 "operatingSystem": os_, "architecture": "amd64",
                                 "osImage": "Windows Server 2022 Datacenter" if os_ ==
                                 "windows" else "Ubuntu 22.04.5 LTS",
                                 "containerRuntimeVersion": "containerd://1.7.27",
                                 "kernelVersion": "5.15.0", "machineID": "", "systemUUID": "",
                                 "bootID": ""}}}
        if spec.get("taints"):
            node["spec"]["taints"] = spec["taints"]
        self.api.create_internal(self.registry.lookup("", "v1", "nodes"), node)
        # The kubelet's heartbeat Lease.
        self.api.create_internal(self.registry.lookup("coordination.k8s.io", "v1", "leases"), {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                     "renewTime": now_micro()}})

    # ------------------------------------------------------------------------ control API
    def _rt(self, api_version, kind_plural):
        group, _, version = api_version.rpartition("/")
        rt = self.registry.lookup(group, version, kind_plural)
        if rt is None:
            raise KeyError("%s %s is not served by %s" % (api_version, kind_plural, self.name))
        return rt

    def get_object(self, api_version, kind_plural, namespace, name):
        rt = self._rt(api_version, kind_plural)
        obj = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        return deep_copy(self.api._as_version(rt, obj)) if obj is not None else None

    def list_objects(self, api_version, kind_plural, namespace=None, label_selector=None):
        rt = self._rt(api_version, kind_plural)
        reqs = parse_label_selector(label_selector) if label_selector else None
        lst = self.api.list(rt, namespace, reqs)
        return deep_copy(lst["items"])

    def put_object(self, obj):
        """Create or replace `obj` directly (no auth, faults or resourceVersion checks);
        the server fills metadata, defaults and validates as for a client write."""
        obj = deep_copy(obj)
        rt = self.registry.lookup_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
        if rt is None:
            raise KeyError("%s %s is not served" % (obj.get("apiVersion"), obj.get("kind")))
        meta = obj.setdefault("metadata", {})
        ns = meta.get("namespace") or ("default" if rt.namespaced else None)
        with self.store.lock:
            old = self.store.get(rt.key, ns or "", meta.get("name", ""))
            opts = Options(field_manager="kubesim")
            if old is None:
                return deep_copy(self.api.create(rt, ns, obj, opts))
            meta.pop("resourceVersion", None)
            if "status" in rt.subresources and "status" in obj:
                status = obj["status"]
                out = self.api.update(rt, ns, meta["name"], obj, opts)
                if self.store.get(rt.key, ns or "", meta["name"]) is None:
                    return deep_copy(out)       # its last finalizer went: deleted
                out = deep_copy(out)
                out["status"] = status
                return deep_copy(self.api.update(rt, ns, meta["name"], out, opts,
                                                 subresource="status"))
            return deep_copy(self.api.update(rt, ns, meta["name"], obj, opts))

    def delete_object(self, api_version, kind_plural, namespace, name):
        rt = self._rt(api_version, kind_plural)
        with self.store.lock:
            old = self.store.get(rt.key, namespace if rt.namespaced else "", name)
            if old is None:
                return None
            return deep_copy(self.api.delete_object(rt, old, "Background"))

    def never_ready(self, api_version, kind_plural, namespace, name):
        rt = self._rt(api_version, kind_plural)
        with self.store.lock:
            self.controllers.never_ready.add((rt.group, rt.plural, namespace or "", name))
            obj = self.store.get(rt.key, namespace or "", name)
            if obj is not None:
                self.controllers.on_write(rt, obj, obj)
            self.controllers.workloads.refresh()

    def make_ready(self, api_version, kind_plural, namespace, name):
        rt = self._rt(api_version, kind_plural)
        with self.store.lock:
            self.controllers.never_ready.discard((rt.group, rt.plural, namespace or "", name))
            obj = self.store.get(rt.key, namespace or "", name)
            if obj is not None:
                saved = self.ready_delay
                self.ready_delay = 0.0       # "make ready" means now
                try:
                    self.controllers.on_write(rt, obj, obj)
                    self.controllers.workloads.refresh()
                finally:
                    self.ready_delay = saved

    def _record(self, method, path, status, started=None):
        answered = time.monotonic()
        with self._requests_lock:
            self.requests.append((method, path, status))
            self.request_log.append(LoggedRequest(method, path, status,
                                                  answered if started is None else started,
                                                  answered))

    def record_connection(self, opened, ready):
        with self._requests_lock:
            self.connection_log.append(LoggedConnection(opened, ready))

    @property
    def connection_count(self):
        """TLS connections clients opened (and completed the handshake of) so far."""
        return len(self.connection_log)

    def __repr__(self):
        return "<KubeSim %s %s%s>" % (self.name, self.url, "" if self.running else " stopped")

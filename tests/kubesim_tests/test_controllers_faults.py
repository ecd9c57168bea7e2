"""Controllers (readiness, load balancers, gateways), faults, and the cluster lifecycle."""
import os
import signal
import subprocess
import sys
import time

import pytest
import urllib3
import yaml
from kubernetes import client

from tests.kubesim import KubeSim

from .helpers import api_client, daemonset, deployment, make_ns, raw

GATEWAY_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gateways.gateway.networking.k8s.io"},
    "spec": {"group": "gateway.networking.k8s.io", "scope": "Namespaced",
             "names": {"plural": "gateways", "singular": "gateway", "kind": "Gateway",
                       "shortNames": ["gtw"]},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {
                               "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def test_workloads_become_ready_and_daemonsets_follow_node_selectors(v1, apps):
    ns = make_ns(v1)
    apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=2))
    d = apps.read_namespaced_deployment("web", ns)
    assert (d.status.ready_replicas, d.status.available_replicas) == (2, 2)
    assert d.status.observed_generation == d.metadata.generation
    assert {c.type: c.status for c in d.status.conditions}["Available"] == "True"
    apps.create_namespaced_daemon_set(ns, daemonset("all", ns))
    apps.create_namespaced_daemon_set(ns, daemonset("win", ns, {"kubernetes.io/os": "windows"}))
    apps.create_namespaced_daemon_set(ns, daemonset("z1", ns, {
        "topology.kubernetes.io/zone": "eastus-1"}))
    got = {n: apps.read_namespaced_daemon_set(n, ns).status for n in ("all", "win", "z1")}
    assert got["all"].desired_number_scheduled == 3 and got["all"].number_ready == 3
    assert got["win"].desired_number_scheduled == 0
    assert got["z1"].desired_number_scheduled == 1 and got["z1"].number_ready == 1


def test_windows_nodes_and_ready_delay():
    nodes = [{"os": "linux", "zone": "z1", "region": "r"},
             {"os": "windows", "zone": "z1", "region": "r"}]
    # A delay far longer than the test: the workload must not be ready right after create.
    with KubeSim(name="slow", nodes=nodes, ready_delay=3600) as sim:
        apps = client.AppsV1Api(api_client(sim))
        apps.create_namespaced_daemon_set("default", daemonset(
            "win", "default", {"kubernetes.io/os": "windows"}))
        st = apps.read_namespaced_daemon_set("win", "default").status
        assert (st.desired_number_scheduled, st.number_ready) == (1, 0)
        sim.make_ready("apps/v1", "daemonsets", "default", "win")
        assert apps.read_namespaced_daemon_set("win", "default").status.number_ready == 1


def test_never_ready_and_make_ready(sim, v1, apps):
    ns = make_ns(v1)
    sim.never_ready("apps/v1", "deployments", ns, "stuck")
    apps.create_namespaced_deployment(ns, deployment("stuck", ns))
    st = apps.read_namespaced_deployment("stuck", ns).status
    assert not st.ready_replicas and st.unavailable_replicas == 1
    sim.make_ready("apps/v1", "deployments", ns, "stuck")
    assert apps.read_namespaced_deployment("stuck", ns).status.ready_replicas == 1


def test_services_get_cluster_ips_and_load_balancer_addresses(v1):
    ns = make_ns(v1)
    v1.create_namespaced_service(ns, {"metadata": {"name": "a"}, "spec": {
        "selector": {"app": "a"}, "ports": [{"port": 80}]}})
    v1.create_namespaced_service(ns, {"metadata": {"name": "lb"}, "spec": {
        "type": "LoadBalancer", "selector": {"app": "a"}, "ports": [{"port": 443}]}})
    a = v1.read_namespaced_service("a", ns)
    assert a.spec.cluster_ip.startswith("10.0.") and a.spec.ports[0].protocol == "TCP"
    lb = v1.read_namespaced_service("lb", ns)
    assert lb.spec.cluster_ip != a.spec.cluster_ip and lb.spec.ports[0].node_port >= 30000
    assert lb.status.load_balancer.ingress[0].ip


def test_east_west_gateway_gets_a_service_and_an_address(sim, api, v1):
    client.ApiextensionsV1Api(api).create_custom_resource_definition(GATEWAY_CRD)
    ns = make_ns(v1)
    co = client.CustomObjectsApi(api)
    co.create_namespaced_custom_object("gateway.networking.k8s.io", "v1", ns, "gateways", {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "istio-eastwestgateway",
                     "labels": {"topology.istio.io/network": "net1"}},
        "spec": {"gatewayClassName": "istio-east-west", "listeners": [{
            "name": "mesh", "port": 15008, "protocol": "HBONE",
            "tls": {"mode": "Terminate"}}]}})
    svc = v1.read_namespaced_service("istio-eastwestgateway", ns)
    assert svc.spec.type == "LoadBalancer"
    assert 15008 in [p.port for p in svc.spec.ports]
    ip = svc.status.load_balancer.ingress[0].ip
    gw = co.get_namespaced_custom_object("gateway.networking.k8s.io", "v1", ns, "gateways",
                                         "istio-eastwestgateway")
    assert gw["status"]["addresses"] == [{"type": "IPAddress", "value": ip}]
    conds = {c["type"]: c["status"] for c in gw["status"]["conditions"]}
    assert conds["Programmed"] == "True"
    # The Service is owned by the Gateway: deleting the Gateway removes it.
    co.delete_namespaced_custom_object("gateway.networking.k8s.io", "v1", ns, "gateways",
                                       "istio-eastwestgateway")
    with pytest.raises(client.ApiException):
        v1.read_namespaced_service("istio-eastwestgateway", ns)


def test_gateway_not_programmed_while_never_ready(sim, api, v1):
    if sim.get_object("apiextensions.k8s.io/v1", "customresourcedefinitions", None,
                      "gateways.gateway.networking.k8s.io") is None:
        sim.put_object(GATEWAY_CRD)
    ns = make_ns(v1)
    sim.never_ready("gateway.networking.k8s.io/v1", "gateways", ns, "gw")
    sim.put_object({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                    "metadata": {"name": "gw", "namespace": ns},
                    "spec": {"gatewayClassName": "istio-east-west", "listeners": [
                        {"name": "mesh", "port": 15008, "protocol": "HBONE"}]}})
    gw = sim.get_object("gateway.networking.k8s.io/v1", "gateways", ns, "gw")
    assert {c["type"]: c["status"] for c in gw["status"]["conditions"]}["Programmed"] == "False"
    sim.make_ready("gateway.networking.k8s.io/v1", "gateways", ns, "gw")
    gw = sim.get_object("gateway.networking.k8s.io/v1", "gateways", ns, "gw")
    assert {c["type"]: c["status"] for c in gw["status"]["conditions"]}["Programmed"] == "True"


# ------------------------------------------------------------------------------- faults

def test_injected_errors_carry_status_and_retry_after(sim):
    # urllib3 (under the Python client) retries 429/503 answers that carry Retry-After,
    # sleeping as told: turn that off to see the answers themselves.
    api = api_client(sim, retries=False)
    sim.faults.set(error_rate=1.0, codes=(429,), retry_after=7)
    try:
        code, st = raw(api, "GET", "/api/v1/namespaces")
    finally:
        sim.faults.clear()
    assert (code, st["reason"], st["details"]["retryAfterSeconds"]) == (429, "TooManyRequests", 7)
    sim.faults.set(error_rate=1.0, codes=(500, 503))
    try:
        codes = {raw(api, "GET", "/api/v1/namespaces")[0] for _ in range(12)}
    finally:
        sim.faults.clear()
    assert codes <= {500, 503} and codes
    assert raw(api, "GET", "/api/v1/namespaces")[0] == 200


def test_dropped_connections_and_latency(sim):
    api = api_client(sim, retries=False)
    sim.faults.set(drop_rate=1.0)
    try:
        with pytest.raises(urllib3.exceptions.HTTPError):
            raw(api, "GET", "/api/v1/namespaces")
    finally:
        sim.faults.clear()
    sim.faults.set(latency=0.05)
    try:
        assert raw(api, "GET", "/version")[0] == 200
    finally:
        sim.faults.clear()
    n = len(sim.requests)
    raw(api, "GET", "/api/v1/nodes?limit=1")
    assert sim.requests[n:] == [("GET", "/api/v1/nodes?limit=1", 200)]


def _twice_at_once(sim, path):
    """GET `path` from two clients of their own (two connections) at the same time."""
    import threading
    both = [threading.Thread(target=raw, args=(api_client(sim, retries=False), "GET", path))
            for _ in range(2)]
    for t in both:
        t.start()
    for t in both:
        t.join()


def test_latency_keyword_and_request_log_show_concurrent_requests():
    far = KubeSim(name="far", latency=0.5).start()
    try:
        api = api_client(far, retries=False)
        n = len(far.request_log)
        raw(api, "GET", "/version")
        one = far.request_log[n]
        assert (one.method, one.path, one.status) == ("GET", "/version", 200)
        assert one.answered - one.started >= 0.5
        n = len(far.request_log)
        # Two clients issue at once: each waits out the latency, and so the two overlap.
        _twice_at_once(far, "/api/v1/namespaces")
        a, b = far.request_log[n:]
        assert a.overlaps(b)
        # One after another: no overlap.
        n = len(far.request_log)
        raw(api, "GET", "/version")
        raw(api, "GET", "/version")
        c, d = far.request_log[n:]
        assert not c.overlaps(d)
    finally:
        far.stop()


def test_latency_delays_each_new_connection_by_two_round_trips_and_kept_alive_ones_not_again():
    far = KubeSim(name="far", latency=0.2).start()
    try:
        api = api_client(far, retries=False)
        opened = far.connection_count
        n = len(far.request_log)
        raw(api, "GET", "/version")
        raw(api, "GET", "/version")
        # Two requests over one kept-alive connection, whose handshake waited two round trips
        # (TCP's and TLS's) before the first request could go out.
        assert far.connection_count == opened + 1
        (conn,) = far.connection_log[opened:]
        assert conn.ready - conn.opened >= 0.4
        first, second = far.request_log[n:]
        assert conn.ready <= first.started <= first.answered <= second.started
        # A second client opens a connection of its own, and waits for it the same.
        raw(api_client(far, retries=False), "GET", "/version")
        assert far.connection_count == opened + 2
        assert far.connection_log[-1].ready - far.connection_log[-1].opened >= 0.4
        # Without latency, connections are still counted.
        far.faults.clear()
        raw(api_client(far, retries=False), "GET", "/version")
        assert far.connection_count == opened + 3
    finally:
        far.stop()


def test_connection_delay_follows_run_time_latency_and_does_not_serialize_accepts():
    far = KubeSim(name="far", latency=0.1).start()
    try:
        opened = far.connection_count
        far.faults.set(latency=0.4)
        raw(api_client(far, retries=False), "GET", "/version")
        (conn,) = far.connection_log[opened:]
        assert conn.ready - conn.opened >= 0.8
        # Two clients connect at once: the second is accepted while the first still waits
        # out its handshake, so their setups overlap.
        _twice_at_once(far, "/version")
        a, b = far.connection_log[opened + 1:]
        assert a.opened < b.ready and b.opened < a.ready
    finally:
        far.stop()


# ------------------------------------------------------------------------------ lifecycle

def test_stop_restart_keeps_objects_reset_drops_them():
    sim = KubeSim(name="life").start()
    try:
        v1 = client.CoreV1Api(api_client(sim))
        v1.create_namespace({"metadata": {"name": "keep"}})
        port = sim.port
        sim.stop()
        api = api_client(sim, retries=False)
        with pytest.raises(urllib3.exceptions.HTTPError):
            raw(api, "GET", "/api/v1/namespaces")
        sim.start()
        assert sim.port == port
        assert v1.read_namespace("keep").metadata.name == "keep"
        sim.reset()
        names = [n.metadata.name for n in v1.list_namespace().items]
        assert "keep" not in names and "default" in names
        assert len(v1.list_node().items) == 3
    finally:
        sim.stop()


def test_fixture_merges_kubeconfigs(kubesim, tmp_path):
    c1, c2 = kubesim(2)
    assert (c1.context, c2.context) == ("c1", "c2") and c1.port != c2.port
    with open(tmp_path / "kubeconfig") as f:
        cfg = yaml.safe_load(f)
    assert sorted(c["name"] for c in cfg["contexts"]) == ["c1", "c2"]
    from kubernetes import config
    for sim in (c1, c2):
        api = config.new_client_from_config(config_file=str(tmp_path / "kubeconfig"),
                                            context=sim.context)
        client.CoreV1Api(api).create_namespace({"metadata": {"name": "only-" + sim.name}})
    assert c1.get_object("v1", "namespaces", None, "only-c2") is None
    assert c2.get_object("v1", "namespaces", None, "only-c2") is not None


def test_command_line_serves_until_sigterm(tmp_path):
    kc = tmp_path / "out.yaml"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = subprocess.Popen([sys.executable, "-m", "tests.kubesim", "--name", "demo",
                          "--kubeconfig", str(kc), "--nodes", "2", "--windows-nodes", "1",
                          "--latency", "0.3"],
                         cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        url, ctx = line.split()
        assert url.startswith("https://127.0.0.1:") and ctx == "demo"
        from kubernetes import config
        api = config.new_client_from_config(config_file=str(kc), context="demo")
        nodes = client.CoreV1Api(api).list_node().items
        assert sorted(n.metadata.labels["kubernetes.io/os"] for n in nodes) == \
            ["linux", "linux", "windows"]
        t0 = time.monotonic()
        client.VersionApi(api).get_code()
        assert time.monotonic() - t0 >= 0.3      # --latency: every answer is that late
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(30) == 0

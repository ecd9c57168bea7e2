"""Cluster's connections: kept alive through a proxy-url, still there after close(), opened
ahead for an operation's rounds."""

import selectors
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from azext_appnet.kube import config as kube_config
from azext_appnet.kube.client import Cluster
from azext_appnet.kube.concurrent import gather
from azext_appnet.kube.config import ClusterConfig


class _Proxy:
    """An HTTP proxy that tunnels CONNECT and answers plain requests itself, recording both
    (a tunnel is one client connection)."""

    def __init__(self):
        self.tunnels, self.forwarded = [], []
        proxy = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_CONNECT(self):
                host, port = self.path.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)))
                proxy.tunnels.append(self.path)
                self.send_response(200)
                self.end_headers()
                _pump(self.connection, upstream)
                self.close_connection = True

            def do_GET(self):
                proxy.forwarded.append((self.path, self.headers.get("Host")))
                body = b'{"kind": "Namespace", "metadata": {"name": "default"}}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _pump(a, b):
    """Copy bytes both ways until either side closes."""
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    try:
        while True:
            for key, _ in sel.select():
                data = key.fileobj.recv(65536)
                if not data:
                    return
                key.data.sendall(data)
    finally:
        sel.close()
        b.close()


@pytest.fixture
def proxy():
    p = _Proxy()
    yield p
    p.close()


def test_an_https_server_behind_a_proxy_is_reached_through_one_kept_alive_tunnel(kubesim, proxy):
    (sim,) = kubesim(1)
    cfg = kube_config.load(sim.kubeconfig_path, sim.context)
    cfg.proxy = proxy.url
    cluster = Cluster(cfg)
    try:
        names = [cluster.request("GET", "/api/v1/namespaces/default")["metadata"]["name"]
                 for _ in range(3)]
    finally:
        cluster.close()
    assert names == ["default"] * 3
    # The tunnel goes to the server of the kubeconfig (TLS inside it, verified as ever),
    # and the three requests shared it.
    assert proxy.tunnels == [sim.url.split("://", 1)[1]]


def test_a_plain_http_server_behind_a_proxy_is_asked_by_absolute_url(proxy):
    cfg = ClusterConfig(server="http://cluster.invalid:8080", ssl_context=None, context="ctx",
                        kubeconfig="/tmp/kc", proxy=proxy.url)
    cluster = Cluster(cfg, timeout=5)
    try:
        got = cluster.request("GET", "/api/v1/namespaces/default", query={"limit": 1})
    finally:
        cluster.close()
    assert got["metadata"]["name"] == "default"
    assert proxy.forwarded == [("http://cluster.invalid:8080/api/v1/namespaces/default?limit=1",
                                "cluster.invalid:8080")]


def test_a_closed_cluster_connects_anew_when_asked_again(kubesim):
    (sim,) = kubesim(1)
    cluster = Cluster(kube_config.load(sim.kubeconfig_path, sim.context))
    assert cluster.request("GET", "/api/v1/namespaces/default")["metadata"]["name"] == "default"
    cluster.close()
    try:
        assert cluster.request("GET", "/api/v1/namespaces/kube-system")["metadata"]["name"] == \
            "kube-system"
    finally:
        cluster.close()
    assert cluster.request_count == 2


def _connections_reach(sim, count, within=30):
    deadline = time.monotonic() + within    # a wait for the background, not a measurement
    while sim.connection_count < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return sim.connection_count


def test_connections_opened_ahead_carry_a_round_of_requests_without_new_ones(kubesim):
    (sim,) = kubesim(1)
    cluster = Cluster(kube_config.load(sim.kubeconfig_path, sim.context))
    try:
        before = sim.connection_count
        cluster.preconnect(8)
        cluster.preconnect(8)           # asked again: nothing more
        assert _connections_reach(sim, before + 8) == before + 8
        # TLS 1.3 session tickets arrive after the handshake; read by preconnect, they do not
        # make urllib3 take the idle connections for closed ones and open others.
        names = gather([lambda: cluster.request("GET", "/api/v1/namespaces/default")["metadata"]["name"]] * 8)
        assert names == ["default"] * 8
        assert sim.connection_count == before + 8
        cluster.preconnect(10)          # a larger count opens what it adds
        assert _connections_reach(sim, before + 10) == before + 10
    finally:
        cluster.close()


def test_a_watch_left_early_gives_back_an_open_connection_not_one_still_streaming(kubesim):
    (sim,) = kubesim(1)
    cluster = Cluster(kube_config.load(sim.kubeconfig_path, sim.context))
    try:
        cluster.preconnect(4)
        assert _connections_reach(sim, 4) == 4
        events = cluster.watch("v1", "namespaces", "default", timeout=60)
        assert next(events)[0] == "ADDED"
        events.close()                  # what a wait does once it saw what it waited for
        # The server still streams that watch for a minute: its connection is replaced in
        # the background, and a round of requests finds open connections at once.
        assert _connections_reach(sim, 5) == 5
        names = gather([lambda: cluster.request("GET", "/api/v1/namespaces/default")["metadata"]["name"]] * 4)
        assert names == ["default"] * 4
        assert sim.connection_count == 5
    finally:
        cluster.close()

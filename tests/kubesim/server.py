"""HTTPS transport: a threaded HTTP/1.1 server (one thread per connection, keep-alive),
TLS handshakes done in the connection's thread so a slow or silent client never blocks
the accept loop, and every open connection tracked so stop() really closes them.

The emulated latency (faults.set(latency=S)) delays a new connection too: a far-away API
server costs a client two round trips before its first request can go out, TCP's handshake
and TLS 1.3's. The connection's thread waits 2*S before it answers the TLS handshake, so
other connections are not held up, and a kept-alive connection pays it once."""
import http.server
import socket
import socketserver
import threading
import time

from .handler import KubeHandler


class HTTPSServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, sim, ssl_ctx):
        self.sim = sim
        self.ssl_ctx = ssl_ctx
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, KubeHandler)

    def finish_request(self, request, client_address):
        try:
            # Headers and body go out in separate writes: without TCP_NODELAY, Nagle plus
            # the client's delayed ACK add ~40 ms to every answer.
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request.settimeout(30)
            opened = time.monotonic()
            latency = self.sim.faults.latency
            if latency:
                time.sleep(2 * latency)     # SYN/SYN-ACK, then ClientHello/ServerHello
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
            tls.settimeout(None)
            self.sim.record_connection(opened, time.monotonic())
        except (OSError, ValueError):
            try:
                request.close()
            except OSError:
                pass
            return
        with self.conns_lock:
            self.conns.add(tls)
        try:
            KubeHandler(tls, client_address, self)
        except (OSError, ValueError):
            pass
        finally:
            with self.conns_lock:
                self.conns.discard(tls)
            try:
                tls.close()
            except OSError:
                pass

    def shutdown_request(self, request):
        try:
            request.close()
        except OSError:
            pass

    def close_all(self):
        with self.conns_lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

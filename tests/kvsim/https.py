"""An HTTPS server on a free loopback port, with a CA made at run time: the part the
emulators of Azure services (kvsim, armsim) share. Subclasses say which request handler
serves it."""

import shutil
import socket
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.kvsim.tls import make_server_tls


class LoopbackHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 with TCP_NODELAY: headers and body go out as separate writes, and
    without NODELAY each response stalls on the client's delayed ACK (~40 ms)."""

    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class LoopbackHttpsServer:
    #: Names the thread and the temporary directory of the server's TLS files.
    name = "https"

    def __init__(self):
        self._server = self._thread = self._dir = None
        self.url = self.ca_file = None

    def handler_class(self):
        """The BaseHTTPRequestHandler subclass that answers requests (bound to self)."""
        raise NotImplementedError

    def start(self):
        self._dir = tempfile.mkdtemp(prefix=f"{self.name}-")
        paths = make_server_tls(self._dir)
        self.ca_file = paths["ca.pem"]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(paths["server.pem"], paths["server-key.pem"])
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class())
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

"""Clients for the kubeconfig of a remote secret: an API server address, the CA it pins and
a bearer token, which is what a peer's istiod reads a member with and what `check` tries.

Such a kubeconfig is read from a member cluster, so whoever controls that cluster wrote it:
only the shape appnet writes (one https server with an inline CA, one token) is accepted.
Any other (an exec plugin, an auth provider, a client-certificate file, a proxy) is refused
without being loaded, because loading it could run a command or read a file on this machine.

`check` tries one such kubeconfig per link, hundreds at once in a large network: they are
read here directly, with one SSL context per CA, not through the kubernetes package's loader
(a private temporary directory each, behind one process-wide lock), which would make those
tries wait for each other.
"""

import base64
import binascii
import ssl
import threading

from ..errors import ClusterError
from .config import ClusterConfig, _fingerprint

_CLUSTER_KEYS = {"server", "certificate-authority-data"}
_contexts = {}
_contexts_lock = threading.Lock()


class _Bearer:
    """What ClusterConfig asks for the Authorization header; never shows the token."""

    def __init__(self, token):
        self._token = token

    def get_api_key_with_prefix(self, identifier, alias=None):  # pylint: disable=unused-argument
        return "Bearer " + self._token

    def __repr__(self):
        return "_Bearer(...)"


def _ssl_context(ca):
    with _contexts_lock:
        ctx = _contexts.get(ca)
        if ctx is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)   # verifies, checks the host name
            ctx.load_verify_locations(cadata=ca.decode("ascii"))
            _contexts[ca] = ctx
        return ctx


def _one(doc, section):
    entries = doc.get(section)
    if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
        return None
    return entries[0]


def token_config(doc, source):
    """The ClusterConfig of a kubeconfig document of exactly one cluster (https server and
    inline CA) and one user with a token, or None when it has any other shape."""
    if not isinstance(doc, dict):
        return None
    cluster, user, context = _one(doc, "clusters"), _one(doc, "users"), _one(doc, "contexts")
    if cluster is None or user is None or context is None:
        return None
    body, creds = cluster.get("cluster"), user.get("user")
    ctx = context.get("context") or {}
    # Exactly these fields, and a context that names the two entries and no namespace.
    fields = (set(body) if isinstance(body, dict) else None, set(creds) if isinstance(creds, dict) else None)
    if fields != (_CLUSTER_KEYS, {"token"}) or ctx.get("cluster") != cluster.get("name") \
            or ctx.get("user") != user.get("name") or ctx.get("namespace"):
        return None
    server, token = body.get("server"), creds.get("token")
    if not isinstance(server, str) or not server.startswith("https://") or \
            not isinstance(token, str) or not token:
        return None
    try:
        ca = base64.b64decode(body["certificate-authority-data"], validate=True)
        ssl_context = _ssl_context(ca)
    except (binascii.Error, TypeError, ValueError, ssl.SSLError):
        return None
    return ClusterConfig(server=server.rstrip("/"), ssl_context=ssl_context,
                         context=context.get("name"), kubeconfig=source, auth=_Bearer(token),
                         ca_fingerprint=_fingerprint(ca), auth_expires=False)


def token_client(doc, source, timeout=5, retry=None):
    """A Cluster for the kubeconfig document `doc`, which must have the shape appnet writes
    (see the module docstring); `source` names it in messages."""
    from .client import Cluster
    return Cluster(_checked_config(doc, source), timeout=timeout, retry=retry)


class TokenClients:
    """token_client()s that share kept-alive connections by server and CA: a check tries every
    token the members hold, so each API server gets one try per other member, which would
    otherwise each open (and verify) a TLS connection of its own. A bearer token authenticates
    a request, not a connection, so tries of different tokens may share one; they share it only
    with tries that name the same server and the same CA (the one the connection was verified
    against), and never with a client that presented a client certificate (an admin
    kubeconfig's): those have connections of their own. close() ends them all."""

    def __init__(self, timeout=5, retry=None):
        self._timeout, self._retry = timeout, retry
        self._pools = {}
        self._lock = threading.Lock()

    def client(self, doc, source):
        from .client import Cluster, pool_manager
        config = _checked_config(doc, source)
        key = (config.server, config.ssl_context)    # one SSL context per CA (_ssl_context)
        with self._lock:
            http = self._pools.get(key)
            if http is None:
                http = self._pools[key] = pool_manager(config)
        return Cluster(config, timeout=self._timeout, retry=self._retry, http=http)

    def close(self):
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for http in pools:
            http.clear()


def _checked_config(doc, source):
    config = token_config(doc, source)
    if config is None:
        raise ClusterError(f"{source[:1].upper()}{source[1:]} is not a kubeconfig of the shape appnet "
                           "writes (one https server with its CA inline, one token), so it was not "
                           "loaded: a credential plugin or file in it could run or read something on "
                           "this machine.",
                           "Write it again with 'az appnet member rotate-credentials' for the member "
                           "that issued it, and find out who changed it.")
    return config

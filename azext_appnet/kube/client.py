"""The `Cluster` class: raw REST against one API server, with bounded retries.

Raw REST over one urllib3 PoolManager (thread-safe, keeps connections alive) rather than the
kubernetes dynamic client: the dynamic client fetches discovery documents on its own and
costs many requests; here every request is ours and counted in `request_count`.
"""

import json
import logging
import os
import random
import threading
import time
from urllib.parse import quote, urlencode

from ..constants import FIELD_MANAGER, TRANSIENT_STATUSES, USER_AGENT
from ..errors import ClusterError

logger = logging.getLogger(__name__)


class ApiError(ClusterError):
    """The API server answered with an error status. `status` is the HTTP status,
    `reason` the Status reason (e.g. "NotFound", "Conflict", "Invalid"). `api_error()` picks
    the subclass of a status; callers catch the one they handle."""

    def __init__(self, message, recommendation=None, status=None, reason=None,
                 server_message=None):
        super().__init__(message, recommendation)
        self.status = status
        self.reason = reason
        self.server_message = server_message


class Unauthorized(ApiError):
    """401: the credential is missing, expired or not accepted."""


class Forbidden(ApiError):
    """403: RBAC or an admission rule (a namespace being deleted, a policy) refused it."""


class NotFound(ApiError):
    """404: the object, or its kind, is not there."""


class Conflict(ApiError):
    """409: another field manager owns the fields, or the object changed meanwhile."""


class Invalid(ApiError):
    """422: the server's validation rejected the object."""


class Unavailable(ApiError):
    """A transient status (TRANSIENT_STATUSES) that persisted through every retry."""


_ERROR_TYPES = {401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 422: Invalid}


def api_error(status, message, recommendation=None, reason=None, server_message=None):
    """The typed ApiError of an HTTP status: the one place a status becomes a class."""
    kind = Unavailable if status in TRANSIENT_STATUSES else _ERROR_TYPES.get(status, ApiError)
    return kind(message, recommendation, status=status, reason=reason,
                server_message=server_message)


class RetryPolicy:
    """Jittered exponential backoff, bounded in attempts, honouring Retry-After.

    Connection failures get fewer attempts than HTTP errors: an API server that refuses
    connections is usually down or the kubeconfig points at the wrong place, and the user
    should learn that in about a second, not after a minute of backoff.
    """

    def __init__(self, attempts=6, base=0.1, cap=4.0, max_retry_after=10.0,
                 connect_attempts=3, rng=None, sleep=time.sleep):
        self.attempts = attempts
        self.base = base
        self.cap = cap
        self.max_retry_after = max_retry_after
        self.connect_attempts = connect_attempts
        self._rng = rng or random.Random()
        self.sleep = sleep

    def should_retry(self, attempt, status=None, connection_error=False):
        """`attempt` counts from 1 (the attempt that just failed)."""
        if connection_error:
            return attempt < self.connect_attempts
        return status in TRANSIENT_STATUSES and attempt < self.attempts

    def delay(self, attempt, retry_after=None):
        """Seconds to wait after failed attempt number `attempt` (from 1)."""
        backoff = min(self.cap, self.base * (2 ** (attempt - 1)))
        # "Equal jitter": at least half the backoff, so clients that failed together
        # spread out but none retries immediately.
        jittered = backoff / 2 + self._rng.uniform(0, backoff / 2)
        ra = parse_retry_after(retry_after)
        if ra is not None:
            # The server said when; wait that long (capped so a bogus value cannot hang
            # us) plus a little jitter so a crowd of clients does not return at once.
            return min(ra, self.max_retry_after) + self._rng.uniform(0, self.base)
        return jittered


def parse_retry_after(value):
    """Retry-After in seconds (delta-seconds form; HTTP dates are not used by apiservers)."""
    if value is None:
        return None
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def build_label_selector(labels=None, **kw):
    """A label selector string from a mapping: {"a": "b", "c": None} -> "a=b,c".
    A value None means "key exists"; a value starting with "!" means "not equal"."""
    labels = dict(labels or {}, **kw)
    parts = []
    for key in sorted(labels):
        value = labels[key]
        if value is None:
            parts.append(key)
        elif isinstance(value, str) and value.startswith("!"):
            parts.append(f"{key}!={value[1:]}")
        else:
            parts.append(f"{key}={value}")
    return ",".join(parts)


def api_path(api_version, plural, name=None, namespace=None, subresource=None):
    """REST path of a resource: /api/v1/... for the core group, /apis/G/V/... otherwise."""
    base = "/api/v1" if api_version == "v1" else "/apis/" + api_version
    if namespace:
        base += "/namespaces/" + quote(namespace, safe="")
    base += "/" + plural
    if name:
        base += "/" + quote(name, safe="")
    if subresource:
        base += "/" + subresource
    return base


def describe(obj_or_kind, namespace=None, name=None):
    """'Kind namespace/name' or 'Kind name', the way we name objects in messages."""
    if isinstance(obj_or_kind, dict):
        meta = obj_or_kind.get("metadata") or {}
        kind = obj_or_kind.get("kind", "?")
        namespace, name = meta.get("namespace"), meta.get("name")
    else:
        kind = obj_or_kind
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def pool_manager(config, pool_size=None):
    """The urllib3 pool manager (thread-safe, keeps connections alive) for a ClusterConfig's
    server, TLS context and proxy."""
    import urllib3
    # maxsize: a kept-alive connection per request of the largest round and some to spare
    # (concurrent.KEPT_CONNECTIONS), so the next round reuses them.
    from .concurrent import KEPT_CONNECTIONS
    kw = {"maxsize": pool_size or KEPT_CONNECTIONS, "block": False, "retries": False}
    if config.ssl_context is not None and config.ssl_context.verify_mode == 0:
        # insecure-skip-tls-verify is the user's explicit choice, warned about once per
        # cluster when the kubeconfig is loaded; not urllib3's warning on every request.
        import warnings
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    if config.ssl_context is not None:
        kw["ssl_context"] = config.ssl_context
        if config.server_hostname:
            kw["server_hostname"] = config.server_hostname
    from .connections import use_ticket_reading_pools
    manager = urllib3.ProxyManager(config.proxy, **kw) if config.proxy else urllib3.PoolManager(**kw)
    use_ticket_reading_pools(manager)   # connections opened ahead stay usable (connections.py)
    # Clusters hold on to their pool (Cluster._send), so clear() must close the pools it
    # drops: merely forgetting them would leave those Clusters' connections open.
    manager.pools.dispose_func = lambda pool: pool.close()
    return manager


class Cluster:  # pylint: disable=too-many-instance-attributes  # a client and what it learnt of its cluster
    """One Kubernetes cluster reached through one kubeconfig context."""

    def __init__(self, config, timeout=10, retry=None, pool_size=None, http=None):
        """`http`: the connections to use, from pool_manager(config) and shared with other
        Clusters of the same server and TLS settings (close() leaves them to their owner)."""
        import urllib3

        self.config = config
        self.server = config.server
        self.context = config.context
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._count = 0
        self._count_lock = threading.Lock()
        self._owns_http = http is None
        self._http = pool_manager(config, pool_size) if http is None else http
        self._urllib3 = urllib3
        # Every request goes to the one server, so its pool is looked up once, not by the
        # manager parsing the URL and building a pool key per request (a tenth of the
        # client's CPU per request). A plain-http server behind a proxy is the exception:
        # the proxy needs the absolute URL and its headers, which only the manager adds.
        url = urllib3.util.parse_url(self.server)
        self._origin = (url.host, url.port, url.scheme)
        self._prefix = url.path or ""    # a server URL may have a path (e.g. Rancher's)
        self._direct = not (config.proxy and url.scheme == "http")
        self._pool = None
        self._preconnected = 0
        # urllib3 never retries (RetryPolicy does): the Retry that says so is made once, not
        # converted from `retries=False` on every request.
        self._no_retries = urllib3.Retry(False, redirect=False)
        # Discovery is cached per Cluster (i.e. per connect()).
        from .discovery import Discovery
        self.discovery = Discovery(self)

    def _connections(self):
        pool = self._pool
        if pool is None or pool.pool is None:
            # Not looked up yet, or closed since (close(), or the owner of a shared manager
            # cleared it): the manager gives a new one.
            pool = self._pool = self._http.connection_from_host(*self._origin)
        return pool

    def _send(self, method, target, **kw):
        """One HTTP exchange; `target` is the path (with query) below the server URL."""
        if not self._direct:
            return self._http.request(method, self.server + target, redirect=False,
                                      retries=self._no_retries, **kw)
        return self._connections().urlopen(method, self._prefix + target, redirect=False,
                                           assert_same_host=False, retries=self._no_retries, **kw)

    def preconnect(self, count):
        """Open `count` connections to the server in the background, all at once, and return
        at once; they join the kept-alive ones the requests use. Asked again, it opens only
        what a larger count adds.

        An API server far away costs two round trips (TCP's and TLS's handshakes) before a
        new connection carries its first request. An operation sends rounds of more and more
        requests at once (a join: preflight's reads, then the apply's waves; a remove: its
        lists, then its deletes), and each round that needs more connections than the last
        left open would pay those two round trips again. Opened together while the first
        round runs, they are paid once. A connection that fails to open is dropped here;
        the request that would have used it reports the failure."""
        with self._count_lock:
            if count <= self._preconnected or not self._direct:
                return  # asked for already; or through a proxy, which picks the connection
            self._preconnected = count
        from .connections import open_ahead
        open_ahead(self._connections(), count, timeout=4 * self.timeout)

    def _abandon(self, resp):
        """After a streamed response the server was still sending (a watch left early): its
        connection cannot carry another request, and urllib3, closing the stream, closed it
        and put it back on top of the pool, where the next request would take it and wait
        two round trips to open it again. It is taken back here at once and opened again in
        the background instead."""
        resp.release_conn()             # when urllib3 has not already
        if self._direct:
            from .connections import reopen
            reopen(self._connections())

    def _stamp(self, headers):
        """Every request, watches included: the current credential (an exec plugin may have
        renewed it) and one more in `request_count`."""
        auth = self.config.auth_header()
        if auth:
            headers["Authorization"] = auth
        with self._count_lock:
            self._count += 1

    @property
    def kubectl(self):
        """kubectl aimed at this cluster, for the hints a user pastes from a message: without
        --kubeconfig and --context it would run against whatever cluster is current."""
        import shlex
        words = ["kubectl"]
        if self.config.kubeconfig and os.path.isfile(str(self.config.kubeconfig)):
            words += ["--kubeconfig", str(self.config.kubeconfig)]
        if self.context:
            words += ["--context", self.context]
        return " ".join(shlex.quote(w) for w in words)

    def __repr__(self):
        return f"Cluster(server={self.server!r}, context={self.context!r})"

    @property
    def request_count(self):
        """Number of HTTP requests sent, retries included."""
        return self._count

    def close(self):
        if self._owns_http:
            self._http.clear()

    # -- low level ---------------------------------------------------------------------

    def request(self, method, path, body=None, query=None, content_type="application/json",
                ok_missing=False, what=None, timeout=None, retry_conflict=False):
        """Send one API request, retrying transient failures. Returns the decoded JSON body
        (a dict), or None for a 404 when `ok_missing`. Raises ApiError for an error status
        and ClusterError when the server cannot be reached. `what` names the object in
        messages ("Deployment ns/name"). `retry_conflict`: also retry a 409 (for a forced
        apply a 409 can only be an optimistic-concurrency race inside the server)."""
        target = path
        if query:
            target += "?" + urlencode([(k, v) for k, v in query.items() if v is not None])
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            headers["Content-Type"] = content_type
        timeout = self.timeout if timeout is None else timeout
        attempt = 0
        while True:
            attempt += 1
            self._stamp(headers)
            try:
                resp = self._send(method, target, body=data, headers=headers,
                                  timeout=timeout, preload_content=True)
            except self._urllib3.exceptions.HTTPError as e:
                # Connection refused/reset, TLS failure, timeout. TLS errors are not
                # transient: retrying a bad certificate only delays the message.
                tls = isinstance(e, self._urllib3.exceptions.SSLError) or "SSL" in str(e)
                if not tls and self.retry.should_retry(attempt, connection_error=True):
                    self.retry.sleep(self.retry.delay(attempt))
                    continue
                raise self._unreachable(e) from None
            status = resp.status
            if 200 <= status < 300:
                if not resp.data:
                    return {}
                try:
                    return json.loads(resp.data)
                except ValueError:
                    raise ClusterError(
                        f"The API server at {self.server} answered {method} {path} with a body "
                        "that is not JSON.",
                        f"Check that context '{self.context}' points at a Kubernetes API server.") from None
            if status == 404 and ok_missing:
                return None
            if self.retry.should_retry(attempt, status=status) or (
                    retry_conflict and status == 409 and attempt < self.retry.attempts):
                ra = resp.headers.get("Retry-After")
                if ra is None:
                    ra = _status_retry_after(resp.data)
                delay = self.retry.delay(attempt, ra)
                logger.debug("%s %s: HTTP %s, retry %d in %.2fs", method, path, status,
                             attempt, delay)
                self.retry.sleep(delay)
                continue
            raise self._api_error(method, path, status, resp.data, what)

    def _unreachable(self, exc):
        return ClusterError(
            f"Cannot reach the API server at {self.server}: {_short_reason(exc)}.",
            f"Check that the cluster is running and that context '{self.context}' of kubeconfig "
            f"{self.config.kubeconfig} points at it (try: kubectl --context {self.context} version).")

    def _api_error(self, method, path, status, data, what):
        reason, message = None, None
        try:
            st = json.loads(data) if data else {}
            if isinstance(st, dict):
                reason, message = st.get("reason"), st.get("message")
        except ValueError:
            pass
        message = message or (data or b"").decode("utf-8", "replace")[:300] or "no message"
        text, fix = self._explain(method, status, reason, message, what or f"{method} {path}")
        return api_error(status, text, fix, reason=reason, server_message=message)

    def _explain(self, method, status, reason, message, target):  # pylint: disable=too-many-return-statements  # one per status
        """(message, recommendation) for an error status answered about `target`."""
        where = f"context '{self.context}' of kubeconfig {self.config.kubeconfig}"
        if status == 401 and not self.config.auth_header() and not getattr(self.config, "client_cert", True):
            return (f"The API server at {self.server} answered 401 Unauthorized: {where} has no "
                    "credentials (its user sets no token, client certificate, exec plugin or "
                    "auth-provider).",
                    "Use a kubeconfig with the cluster's credentials (e.g. az aks get-credentials).")
        if status == 401:
            return (f"The API server at {self.server} rejected the credentials of {where} "
                    "(401 Unauthorized).",
                    "Refresh them (e.g. az aks get-credentials, or your exec plugin's login) and retry.")
        if status == 403 and " cannot " in message:
            # RBAC's own words: 'User "x" cannot create resource "y" in API group ...'.
            return (f"{target}: forbidden (403): {message}.",
                    f"The identity of context '{self.context}' needs cluster-admin rights to join "
                    "the cluster.")
        if status == 403:
            # Forbidden for another reason than RBAC (a namespace being deleted, a policy):
            # the server's message says which; rights would not help.
            return f"{target}: the API server refused it (403 Forbidden): {message}", None
        if status == 409 and method == "PATCH":
            return (f"{target}: conflict (409): {message}.",
                    "Another field manager owns these fields: apply with force to take them over, "
                    "or remove the other tool's changes.")
        if status in TRANSIENT_STATUSES:
            return (f"{target}: the API server at {self.server} kept failing (HTTP {status}: "
                    f"{message}) after {self.retry.attempts} attempts.",
                    "Retry later; if it persists, check the API server's health.")
        return f"{target}: the API server refused it (HTTP {status} {reason or ''}): {message}", None

    # -- API ---------------------------------------------------------------------------

    def server_version(self):
        """'MAJOR.MINOR' of the API server, e.g. '1.33'."""
        try:
            v = self.request("GET", "/version")
        except ApiError as e:
            if e.status not in (404, 405, 400):
                raise
            raise ClusterError(
                f"The server at {self.server} is not a Kubernetes API server: it answered GET "
                f"/version with HTTP {e.status}.",
                f"Check the server URL of context '{self.context}' in kubeconfig "
                f"{self.config.kubeconfig} (try: kubectl --context {self.context} version).") from None
        if not isinstance(v, dict):
            raise ClusterError(f"The server at {self.server} answered GET /version with something "
                               "that is not a Kubernetes version object.",
                               f"Check the server URL of context '{self.context}'.")
        return parse_version(v)

    def get(self, api_version, kind_or_plural, name, namespace=None):
        """The object, or None when it does not exist (or its kind is not served)."""
        res = self.discovery.resolve(api_version, kind_or_plural)
        if res is None:
            return None
        return self.request("GET", api_path(api_version, res.plural, name,
                                            namespace if res.namespaced else None),
                            ok_missing=True, what=describe(res.kind, namespace, name))

    def list(self, api_version, plural, namespace=None, label_selector=None, limit=500):
        """Every object (all pages), each with apiVersion and kind filled in (list items
        lack them). [] when the kind is not served. `label_selector`: a string or a dict
        (see build_label_selector)."""
        if isinstance(label_selector, dict):
            label_selector = build_label_selector(label_selector)
        res = self.discovery.resolve(api_version, plural)
        if res is None:
            return []
        path = api_path(api_version, res.plural, namespace=namespace if res.namespaced else None)
        items, cont = [], None
        while True:
            page = self.request("GET", path, query={"labelSelector": label_selector or None,
                                                    "limit": limit, "continue": cont},
                                ok_missing=True)
            if page is None:
                return []
            for item in page.get("items") or []:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", res.kind)
                items.append(item)
            cont = (page.get("metadata") or {}).get("continue")
            if not cont:
                return items

    def apply(self, obj, field_manager=FIELD_MANAGER, force=True):
        """Server-side apply of `obj` (PATCH application/apply-patch+yaml). Returns the
        object as the server stored it."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        meta = obj.get("metadata") or {}
        name, namespace = meta.get("name"), meta.get("namespace")
        what = describe(kind, namespace, name)
        if not (api_version and kind and name):
            raise ClusterError(f"{what}: an object to apply needs apiVersion, kind and metadata.name.")
        res = self.discovery.resolve(api_version, kind)
        if res is None:
            raise ClusterError(
                f"{what}: the API server does not serve kind {kind} in {api_version}.",
                "Install its CustomResourceDefinition (or the API it belongs to) first.")
        if res.namespaced and not namespace:
            raise ClusterError(f"{what}: kind {kind} is namespaced, and metadata.namespace is not set.",
                               "Set metadata.namespace.")
        path = api_path(api_version, res.plural, name, namespace if res.namespaced else None)
        query = {"fieldManager": field_manager, "force": "true" if force else "false"}
        # JSON is YAML, so the apply-patch+yaml content type takes a JSON body.
        return self.request("PATCH", path, body=obj, query=query,
                            content_type="application/apply-patch+yaml", what=what,
                            retry_conflict=force)

    def watch(self, api_version, plural, name, namespace=None, resource_version=None,
              timeout=10):
        """Watch one object: yields (event type, object) as the server sends them, from
        `resource_version` on, until the server ends the stream after `timeout` seconds.
        One request, not retried (a caller that waits looks again and watches anew)."""
        res = self.discovery.resolve(api_version, plural)
        if res is None:
            return
        path = api_path(api_version, res.plural, namespace=namespace if res.namespaced else None)
        query = {"watch": "true", "fieldSelector": f"metadata.name={name}",
                 "resourceVersion": resource_version, "timeoutSeconds": max(1, int(timeout)),
                 "allowWatchBookmarks": "true"}
        target = path + "?" + urlencode([(k, v) for k, v in query.items() if v is not None])
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        self._stamp(headers)
        try:
            resp = self._send(
                "GET", target, headers=headers, preload_content=False,
                timeout=self._urllib3.Timeout(connect=self.timeout, read=timeout + self.timeout))
        except self._urllib3.exceptions.HTTPError as e:
            raise self._unreachable(e) from None
        ended = False
        try:
            if not 200 <= resp.status < 300:
                ended = True       # read whole: the connection carries the next request
                raise self._api_error("GET", path, resp.status, resp.read(),
                                      describe(res.kind, namespace, name))
            buf = b""
            try:
                for chunk in resp.stream(4096):
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        if line.strip():
                            event = json.loads(line)
                            yield event.get("type"), event.get("object") or {}
                ended = True
            except (self._urllib3.exceptions.HTTPError, ValueError):
                return             # the stream broke off: the caller looks again
        finally:
            if ended:
                resp.release_conn()
            else:
                self._abandon(resp)

    def delete(self, api_version, plural, name, namespace=None):
        """Delete one object (dependents in the background). False if already gone."""
        res = self.discovery.resolve(api_version, plural)
        if res is None:
            return False
        path = api_path(api_version, res.plural, name, namespace if res.namespaced else None)
        out = self.request("DELETE", path, query={"propagationPolicy": "Background"},
                           ok_missing=True, what=describe(res.kind, namespace, name))
        return out is not None


def parse_version(version_info):
    """'1.33' from a /version answer; minor may read '33+' on managed clusters."""
    import re
    major = re.sub(r"\D", "", str(version_info.get("major", "")))
    minor = re.sub(r"\D", "", str(version_info.get("minor", "")))
    if not (major and minor):
        m = re.match(r"v?(\d+)\.(\d+)", str(version_info.get("gitVersion", "")))
        if not m:
            raise ClusterError(f"The API server's /version answer has no version: {version_info!r}.",
                               "Check that the kubeconfig points at a Kubernetes API server.")
        major, minor = m.group(1), m.group(2)
    return f"{int(major)}.{int(minor)}"


def _status_retry_after(data):
    """Status.details.retryAfterSeconds, which some apiservers send instead of a header."""
    try:
        st = json.loads(data)
        return (st.get("details") or {}).get("retryAfterSeconds")
    except (ValueError, AttributeError, TypeError):
        return None


def _short_reason(exc):
    """A one-line reason from a urllib3 error chain ("connection refused", ...)."""
    inner = getattr(exc, "reason", None) or exc
    text = str(inner)
    low = text.lower()
    for needle, short in (("connection refused", "connection refused"),
                          ("connection reset", "connection reset"),
                          ("timed out", "timed out"),
                          ("name or service not known", "host name not found"),
                          ("nodename nor servname", "host name not found"),
                          ("certificate verify failed", "TLS certificate verification "
                                                        "failed (check certificate-authority)"),
                          ("no route to host", "no route to host")):
        if needle in low:
            return short
    # urllib3 messages embed the connection object's repr; keep just the tail.
    return text.split(": ", 1)[-1][:200]

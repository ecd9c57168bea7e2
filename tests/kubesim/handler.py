"""HTTP request handling: path routing, authentication, authorisation, faults, content
negotiation, the verbs, and watch streams. Transport (TLS, threads, keep-alive) is in
server.py; REST semantics are in apiserver.py.
"""
import http.server
import json
import time
import urllib.parse
import uuid

from . import discovery, disruption, metaonly, protobuf, tables, tokens
from .apiserver import Options
from .auth import API_AUDIENCES, user_from_name
from .errors import ApiError, bad_request, forbidden, method_not_allowed, unauthorized
from .rbac import Attrs, authorize, rules_for
from .selectors import check_field_selector, fields_match, labels_match, \
    parse_field_selector, parse_label_selector

_REASONS = {500: "InternalError", 503: "ServiceUnavailable", 429: "TooManyRequests",
            504: "Timeout", 502: "InternalError", 409: "Conflict"}
_VIRTUAL_NAMES = {"selfsubjectaccessreviews", "selfsubjectrulesreviews",
                  "subjectaccessreviews", "localsubjectaccessreviews", "tokenreviews",
                  "selfsubjectreviews"}


class _Drop(Exception):
    """Close the connection without answering (fault injection)."""


class Request:
    def __init__(self, method, raw_path, headers, body):
        self.method = method
        self.raw_path = raw_path
        u = urllib.parse.urlsplit(raw_path)
        self.path = u.path
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query,
                                                                 keep_blank_values=True).items()}
        self.headers = headers
        self.body = body
        self.user = None
        self.started = time.monotonic()

    def q(self, name, default=None):
        return self.query.get(name, default)

    @property
    def wants_table(self):
        return "as=Table" in (self.headers.get("Accept") or "")

    @property
    def wants_metadata(self):
        return metaonly.wanted(self.headers.get("Accept"))


class KubeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubesim"
    sys_version = ""

    def log_message(self, *args):
        pass

    def version_string(self):
        return "kubesim"

    def _body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if te == "chunked":
            out = b""
            while True:
                ln = int(self.rfile.readline().strip().split(b";")[0], 16)
                if ln == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(ln)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _handle(self):
        sim = self.server.sim
        req = Request(self.command, self.path, self.headers, self._body())
        try:
            Dispatcher(sim, self, req).run()
        except _Drop:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    # -------------------------------------------------------------------- responses
    def send_json(self, req, code, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        # Recorded before the answer leaves, so a client that has its answer always finds
        # its request in sim.requests.
        self.server.sim._record(req.method, req.raw_path, code, req.started)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            if isinstance(v, list):
                for x in v:
                    self.send_header(k, x)
            else:
                self.send_header(k, v)
        self.end_headers()
        if req.method != "HEAD":
            self.wfile.write(data)


class Dispatcher:
    def __init__(self, sim, h, req):
        self.sim = sim
        self.h = h
        self.req = req
        self.api = sim.api

    def run(self):
        req = self.req
        try:
            action, code, latency = self.sim.faults.decide()
            if latency:
                time.sleep(latency)
            if action == "drop":
                raise _Drop()
            if action == "error":
                hdrs = {}
                details = None
                if code in (429, 503):
                    hdrs["Retry-After"] = str(self.sim.faults.retry_after)
                    details = {"retryAfterSeconds": int(self.sim.faults.retry_after)}
                raise ApiError(code, _REASONS.get(code, "InternalError"),
                               "kubesim: injected fault (HTTP %d)" % code, details, hdrs)
            self._authenticate()
            self._route()
        except ApiError as e:
            self.h.send_json(req, e.code, e.status(), e.headers)

    # -------------------------------------------------------------------- auth
    def _authenticate(self):
        auth = self.req.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        user = self.sim.authn.authenticate(token)
        if user is None:
            raise unauthorized()
        imp = self.req.headers.get("Impersonate-User")
        if imp:
            groups = self.req.headers.get_all("Impersonate-Group") or []
            a = Attrs("impersonate", "", "users", name=imp)
            if not authorize(self.sim.store, user, a)[0]:
                raise forbidden(user.name, "impersonate", "users", "", imp, "")
            user = user_from_name(imp, groups)
        self.req.user = user

    def _authorize(self, attrs):
        ok, _ = authorize(self.sim.store, self.req.user, attrs)
        if not ok:
            if attrs.path is not None:
                raise ApiError(403, "Forbidden", 'forbidden: User "%s" cannot %s path "%s"'
                               % (self.req.user.name, attrs.verb, attrs.path), {})
            res = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
            raise forbidden(self.req.user.name, attrs.verb, res, attrs.group, attrs.name,
                            attrs.namespace)

    def reply(self, body, code=200, headers=None):
        self.h.send_json(self.req, code, body, headers)

    # -------------------------------------------------------------------- routing
    def _route(self):
        req = self.req
        parts = [urllib.parse.unquote(p) for p in req.path.strip("/").split("/") if p]
        if not parts or parts[0] in ("version", "healthz", "livez", "readyz", "openapi") or \
                (parts[0] in ("api", "apis") and len(parts) <= 3 and not
                 (parts[0] == "api" and len(parts) == 3)):
            self._authorize(Attrs("get", path=req.path))
            if req.method != "GET" and req.method != "HEAD":
                raise method_not_allowed()
            return self._non_resource(parts)
        if parts[0] == "api" and len(parts) >= 3:
            return self._resource("", parts[1], parts[2:])
        if parts[0] == "apis" and len(parts) >= 4:
            return self._resource(parts[1], parts[2], parts[3:])
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _non_resource(self, parts):
        reg = self.sim.registry
        if not parts:
            return self.reply({"paths": ["/api", "/api/v1", "/apis", "/openapi/v3",
                                         "/version", "/healthz"]})
        head = parts[0]
        if head == "version":
            return self.reply(self.sim.version_info())
        if head in ("healthz", "livez", "readyz"):
            self.sim._record(self.req.method, self.req.raw_path, 200, self.req.started)
            self.h.send_response(200)
            self.h.send_header("Content-Type", "text/plain")
            self.h.send_header("Content-Length", "2")
            self.h.end_headers()
            self.h.wfile.write(b"ok")
            return
        if head == "openapi":
            if parts[1:2] == ["v3"]:
                if len(parts) == 2:
                    return self.reply(self.sim.openapi.root())
                doc = self.sim.openapi.doc("/".join(parts[2:]))
                if doc is not None:
                    return self.reply(doc)
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if head == "api":
            if len(parts) == 1:
                return self.reply(discovery.api_versions(self.sim.url[len("https://"):]))
            doc = discovery.resource_list(reg, "", parts[1])
        elif len(parts) == 1:
            doc = discovery.api_group_list(reg)
        elif len(parts) == 2:
            doc = discovery.api_group(reg, parts[1])
        else:
            doc = discovery.resource_list(reg, parts[1], parts[2])
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return self.reply(doc)

    # -------------------------------------------------------------------- resources
    def _resource(self, group, version, rest):
        req = self.req
        watch_path = False
        if rest and rest[0] == "watch":
            watch_path, rest = True, rest[1:]
        ns = None
        if rest and rest[0] == "namespaces" and len(rest) >= 3 and \
                not (len(rest) == 3 and rest[2] in ("status", "finalize")):
            ns, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        rt = self.sim.registry.lookup(group, version, plural)
        if rt is None or (ns is not None and not rt.namespaced) or \
                (rt.namespaced and ns is None and name is not None) or \
                (sub and sub not in rt.subresources):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        m = req.method
        watch = watch_path or req.q("watch") in ("true", "1")
        if m in ("GET", "HEAD"):
            verb = "watch" if watch else ("get" if name else "list")
        elif m == "POST":
            verb = "create"
        elif m == "PUT":
            verb = "update"
        elif m == "PATCH":
            verb = "patch"
        elif m == "DELETE":
            verb = "delete" if name else "deletecollection"
        else:
            raise method_not_allowed()
        if verb not in rt.verbs and not sub:
            raise method_not_allowed()
        if verb == "create" and name and not sub:
            raise method_not_allowed()
        self._authorize(Attrs(verb, group, plural, sub, name or "", ns or ""))
        if rt.virtual:
            return self._review(rt, ns)
        if sub == "token":
            return self._token_request(rt, ns, name)
        if sub == "scale":
            return self._scale(rt, ns, name)
        if sub == "eviction" and verb == "create":
            return self.reply(disruption.evict(self.api, ns, name), 201)
        opts = self._options()
        ua = req.headers.get("User-Agent")
        if verb == "get":
            return self._send_obj(rt, self.api.get(rt, ns, name))
        if verb == "list":
            return self._list(rt, ns)
        if verb == "watch":
            return self._watch(rt, ns, name)
        if verb == "create":
            self._require_ns(rt, ns)
            obj = self.api.create(rt, ns, self._decode_body(), opts, ua)
            return self._send_obj(rt, obj, 201, opts)
        if verb == "update":
            if sub == "finalize":
                sub = ""
            obj = self.api.update(rt, ns, name, self._decode_body(), opts, ua, sub)
            return self._send_obj(rt, obj, 200, opts)
        if verb == "patch":
            ctype = req.headers.get("Content-Type") or ""
            existed = self.sim.store.get(rt.key, ns or "", name) is not None
            obj = self.api.patch(rt, ns, name, req.body, ctype, opts, ua, sub)
            return self._send_obj(rt, obj, 200 if existed else 201, opts)
        if verb == "delete":
            return self._send_obj(rt, self.api.delete(rt, ns, name, opts))
        if verb == "deletecollection":
            lreq, freq = self._selectors(rt)
            return self.reply(self.api.delete_collection(rt, ns, lreq, freq, opts))

    def _require_ns(self, rt, ns):
        if rt.namespaced and ns is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _options(self):
        q = self.req.q
        opts = Options(dry_run=q("dryRun") == "All", field_manager=q("fieldManager"),
                       field_validation=q("fieldValidation") or "Warn", user=self.req.user,
                       force=q("force") in ("true", "1"), propagation=q("propagationPolicy"))
        if q("orphanDependents") == "true":
            opts.propagation = "Orphan"
        if q("gracePeriodSeconds") is not None:
            opts.grace_period = self._grace(q("gracePeriodSeconds"))
        if self.req.method == "DELETE" and self.req.body:
            try:
                d = json.loads(self.req.body)
            except ValueError:
                raise bad_request("invalid DeleteOptions body")
            if isinstance(d, dict):
                opts.propagation = d.get("propagationPolicy") or opts.propagation
                if d.get("orphanDependents") is True:
                    opts.propagation = "Orphan"
                if "All" in (d.get("dryRun") or []):
                    opts.dry_run = True
                opts.preconditions = d.get("preconditions") or {}
                if d.get("gracePeriodSeconds") is not None:
                    opts.grace_period = self._grace(d["gracePeriodSeconds"])
        if opts.field_validation not in ("Strict", "Warn", "Ignore"):
            raise bad_request("fieldValidation must be one of Strict, Warn, Ignore")
        return opts

    @staticmethod
    def _grace(value):
        try:
            return max(int(value), 0)
        except (TypeError, ValueError):
            raise bad_request("invalid gracePeriodSeconds %r" % (value,)) from None

    def _decode_body(self):
        ctype = (self.req.headers.get("Content-Type") or "application/json").split(";")[0]
        body = self.req.body
        if ctype == "application/vnd.kubernetes.protobuf":
            return protobuf.decode(body)
        if ctype in ("application/yaml", "application/apply-patch+yaml"):
            import yaml
            from . import yamlbody
            try:
                return yamlbody.load(body)
            except yaml.YAMLError as e:
                raise bad_request("error decoding YAML: %s" % e)
        try:
            return json.loads(body or b"null")
        except ValueError as e:
            raise bad_request("error decoding JSON body: %s" % e)

    def _send_obj(self, rt, obj, code=200, opts=None):
        headers = {}
        if opts is not None and opts.warnings:
            headers["Warning"] = ['299 - "%s"' % w.replace('"', '\\"') for w in opts.warnings]
        if self.req.wants_table and self.req.method == "GET":
            obj = tables.table(rt, [obj], self.req.q("includeObject"))
        elif self.req.wants_metadata and self.req.method == "GET":
            obj = metaonly.partial(obj, self.req.wants_metadata)
        return self.reply(obj, code, headers)

    def _selectors(self, rt=None):
        freq = parse_field_selector(self.req.q("fieldSelector"))
        if rt is not None:
            check_field_selector(rt, freq, rt.selectable_fields)
        return parse_label_selector(self.req.q("labelSelector")), freq

    def _list(self, rt, ns):
        lreq, freq = self._selectors(rt)
        limit = self.req.q("limit")
        lst = self.api.list(rt, ns, lreq, freq, int(limit) if limit else None,
                            self.req.q("continue"))
        if self.req.wants_table:
            t = tables.table(rt, lst["items"], self.req.q("includeObject"))
            t["metadata"] = lst["metadata"]
            return self.reply(t)
        if self.req.wants_metadata:
            return self.reply(metaonly.partial_list(lst, self.req.wants_metadata))
        return self.reply(lst)

    # -------------------------------------------------------------------- watch
    def _watch(self, rt, ns, name):
        req, store, h = self.req, self.sim.store, self.h
        lreq, freq = self._selectors(rt)
        if name:
            freq = freq + [("metadata.name", "=", name)]
        rv = req.q("resourceVersion") or ""
        timeout = float(req.q("timeoutSeconds") or 0) or None
        send_initial = req.q("sendInitialEvents") == "true"
        bookmarks = req.q("allowWatchBookmarks") == "true"
        as_table = req.wants_table
        as_meta = req.wants_metadata
        ns_key = ns if rt.namespaced else None

        def matches(o):
            if o is None:
                return False
            m = o["metadata"]
            if ns_key and m.get("namespace") != ns_key:
                return False
            return labels_match(lreq, m.get("labels")) and (not freq or fields_match(freq, o))

        with store.lock:
            epoch = store.epoch
            initial = []
            if rv in ("", "0") or send_initial:
                initial = [o for o in store.list(rt.key, ns_key) if matches(o)]
                last = store.rv
            else:
                try:
                    last = int(rv)
                except ValueError:
                    raise bad_request("invalid resourceVersion %r" % rv)
                too_old = store.events and last < store.events[0][0] - 1 and \
                    len(store.events) == store.events.maxlen
                if too_old or last > store.rv:
                    initial = None
        self.sim._record(req.method, req.raw_path, 200, req.started)
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Cache-Control", "no-cache, private")
        h.end_headers()

        def emit(etype, obj):
            if as_table and etype != "ERROR" and etype != "BOOKMARK":
                obj = tables.table(rt, [obj], req.q("includeObject"))
            elif as_meta and etype != "ERROR":
                obj = metaonly.partial(obj, as_meta)
            elif etype != "ERROR":
                obj = self.api._as_version(rt, obj)
            data = json.dumps({"type": etype, "object": obj}).encode() + b"\n"
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        try:
            if initial is None:
                emit("ERROR", ApiError(410, "Expired", "too old resource version: %s (%d)"
                                       % (rv, store.oldest_event_rv())).status())
                return self._end_chunks()
            for o in initial:
                emit("ADDED", o)
            if send_initial and bookmarks:
                emit("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {
                    "resourceVersion": str(last),
                    "annotations": {"k8s.io/initial-events-end": "true"}}})
            h.wfile.flush()
            deadline = time.monotonic() + timeout if timeout else None
            while True:
                with store.lock:
                    while True:
                        if self.sim._stopping or store.epoch != epoch:
                            return self._end_chunks(False)
                        if store.rv > last and store.events and store.events[-1][0] > last:
                            break
                        left = deadline - time.monotonic() if deadline else 1.0
                        if left <= 0:
                            return self._end_chunks()
                        store.changed.wait(min(left, 1.0))
                    new = []
                    for ev in reversed(store.events):
                        if ev[0] <= last:
                            break
                        new.append(ev)
                    new.reverse()
                    last = new[-1][0]
                for _, key, etype, obj, old in new:
                    if key != rt.key:
                        continue
                    now_m = matches(obj)
                    if etype == "MODIFIED" and (lreq or freq):
                        was = matches(old)
                        if now_m and not was:
                            etype = "ADDED"
                        elif was and not now_m:
                            etype, now_m = "DELETED", True
                    if now_m:
                        emit(etype, obj)
                h.wfile.flush()
        except (BrokenPipeError, ConnectionError, OSError):
            self.h.close_connection = True

    def _end_chunks(self, ok=True):
        try:
            self.h.wfile.write(b"0\r\n\r\n")
            self.h.wfile.flush()
        except OSError:
            pass
        if not ok:
            self.h.close_connection = True

    # -------------------------------------------------------------------- subresources
    def _token_request(self, rt, ns, name):
        sa = self.api.get(rt, ns, name)
        return self.reply(tokens.token_request(self.sim, sa, self._decode_body() or {}), 201)

    def _scale(self, rt, ns, name):
        obj = self.api.get(rt, ns, name)
        if self.req.method in ("PUT", "PATCH"):
            body = self._decode_body() if self.req.method == "PUT" else json.loads(
                self.req.body or b"{}")
            replicas = ((body or {}).get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise bad_request("spec.replicas must be a non-negative integer")
            obj = self.api.patch(rt, ns, name, {"spec": {"replicas": replicas}},
                                 "application/merge-patch+json", self._options(),
                                 self.req.headers.get("User-Agent"))
        m = obj["metadata"]
        sel = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        return self.reply({
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": m["name"], "namespace": m.get("namespace"), "uid": m["uid"],
                         "resourceVersion": m["resourceVersion"],
                         "creationTimestamp": m["creationTimestamp"]},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": ",".join("%s=%s" % kv for kv in sorted(sel.items()))}})

    def _review(self, rt, ns):
        body = self._decode_body() or {}
        spec = body.get("spec") or {}
        user = self.req.user
        p = rt.plural
        if p in ("subjectaccessreviews", "localsubjectaccessreviews"):
            user = user_from_name(spec.get("user") or "", spec.get("groups") or [])
            user.groups = list(spec.get("groups") or []) + \
                [g for g in user.groups if g not in (spec.get("groups") or [])]
        if p in ("selfsubjectaccessreviews", "subjectaccessreviews",
                 "localsubjectaccessreviews"):
            ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
            if ra:
                a = Attrs(ra.get("verb", ""), ra.get("group", ""), ra.get("resource", ""),
                          ra.get("subresource", ""), ra.get("name", ""),
                          ra.get("namespace", "") or (ns or ""))
            elif nra:
                a = Attrs(nra.get("verb", ""), path=nra.get("path", ""))
            else:
                raise ApiError(422, "Invalid", "%s.authorization.k8s.io \"\" is invalid: "
                               "spec: Invalid value: ...: exactly one of nonResourceAttributes "
                               "or resourceAttributes must be specified" % rt.kind)
            allowed, reason = authorize(self.sim.store, user, a)
            status = {"allowed": allowed}
            if reason:
                status["reason"] = reason
        elif p == "selfsubjectrulesreviews":
            rules = rules_for(self.sim.store, user, spec.get("namespace") or "")
            if "system:masters" in user.groups:
                rules = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                         {"verbs": ["*"], "nonResourceURLs": ["*"]}]
            status = {"resourceRules": [r for r in rules if r.get("resources")],
                      "nonResourceRules": [r for r in rules if r.get("nonResourceURLs")],
                      "incomplete": False}
        elif p == "tokenreviews":
            want = spec.get("audiences") or list(API_AUDIENCES)
            u = self.sim.authn.authenticate(spec.get("token"), want)
            status = {"authenticated": u is not None}
            if u is not None:
                status["user"] = u.info()
                status["audiences"] = self.sim.authn.token_audiences(spec.get("token"),
                                                                     want)
        else:   # selfsubjectreviews
            status = {"userInfo": user.info()}
        out = {"kind": rt.kind, "apiVersion": rt.api_version,
               "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}
        return self.reply(out, 201)

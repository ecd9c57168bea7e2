"""Pure logic of the REST layer: retry policy, backoff, Retry-After, paths, selectors,
and Cluster.request against a tiny local HTTP stub (no emulator needed)."""

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from azext_appnet.errors import ClusterError
from azext_appnet.kube.client import (ApiError, Cluster, Conflict, Forbidden, Invalid, NotFound,
                                      RetryPolicy, Unauthorized, Unavailable, api_path,
                                      build_label_selector, parse_retry_after, parse_version)
from azext_appnet.kube.config import ClusterConfig


def test_retry_policy_retries_transient_statuses_only():
    p = RetryPolicy(attempts=6)
    for status in (429, 500, 502, 503, 504):
        assert p.should_retry(1, status=status)
        assert p.should_retry(5, status=status)
        assert not p.should_retry(6, status=status)   # bounded
    for status in (400, 401, 403, 404, 409, 422):
        assert not p.should_retry(1, status=status)


def test_connection_errors_get_few_attempts():
    p = RetryPolicy(attempts=6, connect_attempts=3)
    assert p.should_retry(1, connection_error=True)
    assert p.should_retry(2, connection_error=True)
    assert not p.should_retry(3, connection_error=True)


def test_backoff_grows_is_jittered_and_capped():
    p = RetryPolicy(base=0.1, cap=1.0, rng=random.Random(1))
    for attempt in range(1, 10):
        full = min(1.0, 0.1 * 2 ** (attempt - 1))
        delays = [p.delay(attempt) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays)
        assert len(set(delays)) > 1                    # jittered
    assert max(p.delay(20) for _ in range(50)) <= 1.0


def test_retry_after_is_honoured_and_capped():
    p = RetryPolicy(base=0.1, max_retry_after=10.0, rng=random.Random(2))
    assert 3.0 <= p.delay(1, "3") <= 3.1
    assert 0.0 <= p.delay(4, "0") <= 0.1
    assert 10.0 <= p.delay(1, "3600") <= 10.1          # a bogus value cannot hang us
    assert p.delay(1, "not-a-number") <= 0.1           # falls back to backoff


@pytest.mark.parametrize("value,expected", [("2", 2.0), (" 1.5 ", 1.5), (3, 3.0),
                                            ("-1", 0.0), (None, None),
                                            ("Wed, 21 Oct 2015 07:28:00 GMT", None)])
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_build_label_selector():
    assert build_label_selector({"b": "2", "a": "1"}) == "a=1,b=2"
    assert build_label_selector({"app.kubernetes.io/managed-by": "az-appnet",
                                 "x": None, "y": "!z"}) == \
        "app.kubernetes.io/managed-by=az-appnet,x,y!=z"
    assert build_label_selector(None) == ""
    assert build_label_selector(app="istiod") == "app=istiod"


def test_api_path():
    assert api_path("v1", "namespaces", "applink-system") == "/api/v1/namespaces/applink-system"
    assert api_path("v1", "configmaps", "c", "ns") == "/api/v1/namespaces/ns/configmaps/c"
    assert api_path("apps/v1", "deployments", namespace="ns") == \
        "/apis/apps/v1/namespaces/ns/deployments"
    assert api_path("apiextensions.k8s.io/v1", "customresourcedefinitions") == \
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


@pytest.mark.parametrize("info,expected", [
    ({"major": "1", "minor": "33"}, "1.33"),
    ({"major": "1", "minor": "29+", "gitVersion": "v1.29.4-eks"}, "1.29"),
    ({"gitVersion": "v1.31.2+k3s1"}, "1.31"),
])
def test_parse_version(info, expected):
    assert parse_version(info) == expected


# -- Cluster.request against a stub server --------------------------------------------

class _Stub:
    """Answers from a script: a list of (status, headers, body) consumed per request."""

    def __init__(self, script):
        self.script = list(script)
        self.seen = []
        stub = self

        class H(BaseHTTPRequestHandler):
            def _serve(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                stub.seen.append((self.command, self.path, dict(self.headers), body))
                status, headers, payload = (stub.script.pop(0) if stub.script
                                            else (200, {}, {"ok": True}))
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PATCH = do_DELETE = _serve

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class _Token:
    def get_api_key_with_prefix(self, *a, **k):
        return "Bearer s3cr3t-token"


@pytest.fixture
def stub_cluster():
    made = []

    def make(script):
        stub = _Stub(script)
        sleeps = []
        cfg = ClusterConfig(server=stub.url, ssl_context=None, context="ctx",
                            kubeconfig="/tmp/kc", auth=_Token())
        cluster = Cluster(cfg, timeout=5, retry=RetryPolicy(rng=random.Random(0),
                                                            sleep=sleeps.append))
        made.append((stub, cluster))
        return stub, cluster, sleeps

    yield make
    for stub, cluster in made:
        cluster.close()
        stub.close()


def _status(code, reason, message, **details):
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "reason": reason, "message": message}
    if details:
        body["details"] = details
    return body


def test_request_retries_503_and_429_honouring_retry_after(stub_cluster):
    stub, cluster, sleeps = stub_cluster([
        (503, {}, _status(503, "ServiceUnavailable", "busy")),
        (429, {"Retry-After": "2"}, _status(429, "TooManyRequests", "slow down")),
        (429, {}, _status(429, "TooManyRequests", "slow", retryAfterSeconds=1)),
        (200, {}, {"major": "1", "minor": "33"}),
    ])
    assert cluster.server_version() == "1.33"
    assert cluster.request_count == 4
    assert len(sleeps) == 3
    assert sleeps[0] < 0.2
    assert 2.0 <= sleeps[1] <= 2.1
    assert 1.0 <= sleeps[2] <= 1.1
    # the token goes in the header, never elsewhere
    assert stub.seen[0][2]["Authorization"] == "Bearer s3cr3t-token"


def test_request_gives_up_after_bounded_attempts(stub_cluster):
    stub, cluster, sleeps = stub_cluster([(503, {}, _status(503, "ServiceUnavailable",
                                                             "etcd down"))] * 10)
    with pytest.raises(ApiError) as e:
        cluster.request("GET", "/version")
    assert e.value.status == 503 and isinstance(e.value, Unavailable)
    assert cluster.request_count == 6
    assert "etcd down" in e.value.message and "6 attempts" in e.value.message


def test_4xx_fails_at_once_with_server_message_naming_object(stub_cluster):
    stub, cluster, sleeps = stub_cluster([
        (422, {}, _status(422, "Invalid", 'Deployment.apps "istiod" is invalid: '
                                         'spec.template: Required value')),
    ])
    obj = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "istiod", "namespace": "applink-system"}}
    with pytest.raises(ApiError) as e:
        cluster.apply(obj)
    assert cluster.request_count == 1 and not sleeps
    assert e.value.status == 422 and isinstance(e.value, Invalid)
    assert "Deployment applink-system/istiod" in e.value.message
    assert "spec.template: Required value" in e.value.message
    method, path, headers, body = stub.seen[0]
    assert method == "PATCH"
    assert path == ("/apis/apps/v1/namespaces/applink-system/deployments/istiod"
                    "?fieldManager=az-appnet&force=true")
    assert headers["Content-Type"] == "application/apply-patch+yaml"
    assert json.loads(body) == obj


def test_401_message_names_context_not_token(stub_cluster):
    stub, cluster, _ = stub_cluster([(401, {}, _status(401, "Unauthorized", "Unauthorized"))])
    with pytest.raises(ApiError) as e:
        cluster.server_version()
    assert isinstance(e.value, Unauthorized)
    assert "context 'ctx'" in e.value.message and "401" in e.value.message
    assert "s3cr3t" not in e.value.message


def test_403_names_the_refused_verb_and_blames_rights_only_when_rbac_refused(stub_cluster):
    rbac = ('configmaps "istio" is forbidden: User "dev" cannot patch resource "configmaps" in API '
            'group "" in the namespace "applink-system"')
    terminating = ('configmaps "istio" is forbidden: unable to create new content in namespace '
                   'applink-system because it is being terminated')
    stub, cluster, _ = stub_cluster([(403, {}, _status(403, "Forbidden", rbac)),
                                     (403, {}, _status(403, "Forbidden", terminating))])
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "applink-system"}}
    with pytest.raises(ApiError) as e:
        cluster.apply(obj)
    assert isinstance(e.value, Forbidden)
    assert 'cannot patch resource "configmaps"' in e.value.message
    assert e.value.recommendation.count("cluster-admin") == 1
    with pytest.raises(ApiError) as e:
        cluster.apply(obj)
    assert "because it is being terminated" in e.value.message
    assert "cluster-admin" not in e.value.message + str(e.value.recommendation)


def test_a_missing_object_asked_for_by_request_is_a_not_found(stub_cluster):
    stub, cluster, _ = stub_cluster([(404, {}, _status(404, "NotFound", 'configmaps "c" not found'))])
    with pytest.raises(NotFound) as e:
        cluster.request("GET", "/api/v1/namespaces/ns/configmaps/c", what="ConfigMap ns/c")
    assert e.value.message == 'ConfigMap ns/c: the API server refused it (HTTP 404 NotFound): configmaps "c" not found'
    assert e.value.recommendation is None and e.value.reason == "NotFound"


def test_delete_and_get_of_missing_object(stub_cluster):
    stub, cluster, _ = stub_cluster([(404, {}, _status(404, "NotFound", "gone")),
                                     (404, {}, _status(404, "NotFound", "gone")),
                                     (200, {}, {"kind": "Status", "status": "Success"})])
    assert cluster.delete("v1", "configmaps", "c", "ns") is False
    assert cluster.get("v1", "ConfigMap", "c", "ns") is None
    assert cluster.delete("v1", "configmaps", "c", "ns") is True
    assert stub.seen[0][1] == "/api/v1/namespaces/ns/configmaps/c?propagationPolicy=Background"


def test_list_pages_and_fills_kind(stub_cluster):
    stub, cluster, _ = stub_cluster([
        (200, {}, {"kind": "ConfigMapList", "metadata": {"continue": "tok"},
                   "items": [{"metadata": {"name": "a"}}]}),
        (200, {}, {"kind": "ConfigMapList", "metadata": {},
                   "items": [{"metadata": {"name": "b"}}]}),
    ])
    items = cluster.list("v1", "configmaps", namespace="ns", label_selector={"x": "y"})
    assert [i["metadata"]["name"] for i in items] == ["a", "b"]
    assert all(i["kind"] == "ConfigMap" and i["apiVersion"] == "v1" for i in items)
    assert "labelSelector=x%3Dy" in stub.seen[0][1]
    assert "continue=tok" in stub.seen[1][1]


def test_unreachable_server_fails_fast_with_fix():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                                   # nothing listens there now
    sleeps = []
    cfg = ClusterConfig(server="http://127.0.0.1:%d" % port, ssl_context=None,
                        context="ctx", kubeconfig="/tmp/kc")
    cluster = Cluster(cfg, timeout=2, retry=RetryPolicy(sleep=sleeps.append))
    with pytest.raises(ClusterError) as e:
        cluster.server_version()
    msg = e.value.message
    assert msg.startswith("Cannot reach the API server at http://127.0.0.1:%d: " % port)
    assert "connection refused" in msg and "kubectl --context ctx" in e.value.recommendation
    assert cluster.request_count == 3 and len(sleeps) == 2


def test_conflict_on_forced_apply_is_retried_but_not_on_plain_apply(stub_cluster):
    conflict = (409, {}, _status(409, "Conflict", "Apply failed with 1 conflict: conflict "
                                                  "with \"kubectl\": .data.k"))
    obj = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "c", "namespace": "ns"}}
    stub, cluster, sleeps = stub_cluster([conflict, (200, {}, obj)])
    assert cluster.apply(obj) == obj and cluster.request_count == 2
    stub2, cluster2, _ = stub_cluster([conflict])
    with pytest.raises(ApiError) as e:
        cluster2.apply(obj, force=False)
    assert cluster2.request_count == 1 and e.value.status == 409 and isinstance(e.value, Conflict)
    assert "ConfigMap ns/c: conflict" in e.value.message and "kubectl" in e.value.message
    assert "force=false" in stub2.seen[0][1]

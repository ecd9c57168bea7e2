"""Operations wait for round trips, not requests: independent reads go out together. Each
test gives the emulated clusters latency, so requests issued together are seen overlapping
in the emulator's request log, and requests issued one after another are not. Nothing here
is timed: only which requests overlapped, and which kinds of request were sent."""

from urllib.parse import parse_qs, urlsplit

from azext_appnet.kube import connect
from azext_appnet.kube.apply import apply_phases, wait_ready
from azext_appnet.kube.preflight import preflight
from azext_appnet.manifests import Phase
from tests.integration.conftest import join

LATENCY = 1.0      # long enough that requests sent together overlap even on a loaded machine
NS = "applink-system"
NET = "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.AppLink/appLinks/net-01"


def _since(sim, n):
    return sim.request_log[n:]


def _connect(sim):
    return connect(kubeconfig=sim.kubeconfig_path, context=sim.context)


def test_preflight_issues_its_reads_together(clusters):
    (sim,) = clusters(1)
    cluster = _connect(sim)
    sim.faults.set(latency=LATENCY)
    n = len(sim.request_log)
    facts = preflight(cluster, NET)
    sent = _since(sim, n)
    assert facts["gatewayApi"] and facts["nodes"]["linux"] == 3
    paths = {urlsplit(r.path).path for r in sent}
    assert {"/version", "/api/v1/nodes", "/api/v1/namespaces/%s" % NS,
            "/apis/apps/v1/deployments"} <= paths
    # Every read overlaps every other: none waited for another's answer.
    for a in sent:
        for b in sent:
            assert a is b or a.overlaps(b), (a, b)


def _deployment_readiness_requests(kubesim):
    """A readiness wait on a just-applied Deployment (ready 1.5 s later): (the emulated
    cluster, what the apply answered, the requests the wait sent about Deployments)."""
    (sim,) = kubesim(1, ready_delay=1.5)
    cluster = _connect(sim)
    dep = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "default"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}
    applied = apply_phases(cluster, [Phase("workload", [dep])])
    n = len(sim.request_log)
    wait_ready(cluster, applied, timeout=60, poll=0.05)
    return sim, applied, [r for r in _since(sim, n) if "/deployments" in r.path]


def test_readiness_is_awaited_by_a_watch_not_by_polling(kubesim):
    _, _, sent = _deployment_readiness_requests(kubesim)
    watches = [r for r in sent if parse_qs(urlsplit(r.path).query).get("watch") == ["true"]]
    assert watches, sent
    query = parse_qs(urlsplit(watches[0].path).query)
    assert query["fieldSelector"] == ["metadata.name=web"]
    # Polling every 0.05 s for 1.5 s would have sent about 30 GETs; a watch needs one look.
    gets = [r for r in sent if r not in watches]
    assert len(gets) <= 2, gets


def _far_members(engine, clusters, n):
    """n joined members whose API servers then answer LATENCY late; (sims, how many requests
    each had logged before)."""
    sims = clusters(n)
    for i, sim in enumerate(sims):
        join(engine, sim, member="member-%02d" % (i + 1))
    for sim in sims:
        sim.faults.set(latency=LATENCY)
    return sims, [len(s.request_log) for s in sims]


def test_check_visits_members_at_once(engine, network, clusters):
    sims, marks = _far_members(engine, clusters, 2)
    report = engine.check_network("rg1", "net-01")
    assert report["summary"]["members"] == 2
    first, second = (_since(s, n) for s, n in zip(sims, marks))
    # Each member's first request (its /version) went out before the other's was answered.
    assert first[0].overlaps(second[0]), (first[0], second[0])
    # And a member's own reads go out together: some of them overlap.
    assert any(a.overlaps(b) for a in first for b in first if a is not b)


def _plain_path(r):
    return urlsplit(r.path).path


def _is_watch(r):
    return parse_qs(urlsplit(r.path).query).get("watch") == ["true"]


def test_crds_are_awaited_established_by_a_watch(kubesim):
    (sim,) = kubesim(1)
    cluster = _connect(sim)
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.test.appnet.io"},
           "spec": {"group": "test.appnet.io", "scope": "Namespaced",
                    "names": {"kind": "Widget", "plural": "widgets"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                        "openAPIV3Schema": {"type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True}}}]}}
    sim.faults.set(latency=LATENCY)
    n = len(sim.request_log)
    applied = apply_phases(cluster, [{"name": "crds", "objects": [crd]}])
    assert applied[0]["metadata"]["name"] == "widgets.test.appnet.io"
    sent = [r for r in _since(sim, n) if "/customresourcedefinitions" in r.path]
    watches = [r for r in sent if _is_watch(r)]
    # A CRD not yet Established when applied is awaited by a watch on it, not by GETs.
    assert watches and all(parse_qs(urlsplit(w.path).query)["fieldSelector"]
                           == ["metadata.name=widgets.test.appnet.io"] for w in watches), sent
    assert not [r for r in sent if r.method == "GET" and not _is_watch(r)], sent


def test_join_applies_istiod_cni_ztunnel_and_gateway_together(engine, network, clusters):
    (sim,) = clusters(1)
    sim.faults.set(latency=LATENCY)
    n = len(sim.request_log)
    join(engine, sim)
    workloads = [r for r in _since(sim, n) if r.method == "PATCH" and _plain_path(r).split("/")[-2]
                 in ("deployments", "daemonsets", "gateways")]
    names = {_plain_path(r).split("/")[-1] for r in workloads}
    assert {"istiod", "istio-cni-node", "ztunnel", "istio-eastwestgateway"} <= names, names
    # No phase barrier between them: each was sent before the others were answered ...
    for a in workloads:
        for b in workloads:
            assert a is b or a.overlaps(b), (a, b)
    # ... but istiod only once its CA material (cacerts) was stored.
    cacerts = next(r for r in _since(sim, n) if r.method == "PATCH" and _plain_path(r).endswith("/secrets/cacerts"))
    istiod = next(r for r in workloads if _plain_path(r).endswith("/deployments/istiod"))
    assert istiod.started >= cacerts.answered


def test_remove_sends_its_deletes_together(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim)
    sim.faults.set(latency=LATENCY)
    n = len(sim.request_log)
    engine.remove_member("rg1", "net-01", "member-01")
    deletes = [r for r in _since(sim, n) if r.method == "DELETE"]
    last = [r for r in deletes if "/customresourcedefinitions/" in r.path
            or _plain_path(r) == "/api/v1/namespaces/%s" % NS]
    rest = [r for r in deletes if r not in last]
    assert len(rest) > 10 and len(last) > 10, deletes
    # The data plane goes in one round, then its Namespace and CRDs in one more.
    for group in (rest, last):
        for a in group:
            for b in group:
                assert a is b or a.overlaps(b), (a, b)
    assert min(r.started for r in last) >= max(r.answered for r in rest)


def test_check_of_a_network_reads_each_member_and_its_declarations_at_once(engine, network, clusters):
    sims, marks = _far_members(engine, clusters, 3)
    report = engine.check_network("rg1", "net-01")
    assert report["summary"]["members"] == 3
    for sim, n in zip(sims, marks):
        sent = _since(sim, n)
        version = next(r for r in sent if _plain_path(r) == "/version")
        # The declarations' read of global Services goes out with the member's own checks.
        services = next(r for r in sent if _plain_path(r) == "/api/v1/services"
                        and "istio.io%2Fglobal" in r.path)
        assert services.overlaps(version), (services, version)
        # The two peers' reader tokens (and the published address) are tried at once.
        probes = [r for r in sent if r.method == "GET" and _plain_path(r) == "/api/v1/namespaces/%s" % NS]
        assert len(probes) >= 2, sent
        assert all(a is b or a.overlaps(b) for a in probes for b in probes), probes


def test_remove_revokes_on_a_peer_in_one_round(engine, network, clusters):
    sims = clusters(2)
    for i, sim in enumerate(sims):
        join(engine, sim, member="member-%02d" % (i + 1))
    peer = sims[1]
    peer.faults.set(latency=LATENCY)
    n = len(peer.request_log)
    engine.remove_member("rg1", "net-01", "member-01")
    revoked = [r for r in _since(peer, n) if r.method == "DELETE"]
    # The remote secret and the reader identities of the removed member (a collection
    # delete per kind): sent together, none waiting for another.
    assert {_plain_path(r) for r in revoked} >= {
        "/api/v1/namespaces/%s/secrets/istio-remote-secret-member-01" % NS,
        "/api/v1/namespaces/%s/serviceaccounts" % NS,
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"}, revoked
    for a in revoked:
        for b in revoked:
            assert a is b or a.overlaps(b), (a, b)
    assert not [r for r in _since(peer, n) if r.method == "GET" and "reader-member" in r.path]


def test_remove_publishes_the_revocation_while_the_data_plane_is_deleted(engine, network, clusters):
    sims = clusters(2)
    for i, sim in enumerate(sims):
        join(engine, sim, member="member-%02d" % (i + 1))
    leaving, peer = sims
    marks = [len(s.request_log) for s in sims]
    for sim in sims:
        sim.faults.set(latency=LATENCY)
    engine.remove_member("rg1", "net-01", "member-01")
    # The prune of the leaving cluster's data plane: its lists by the ownership labels, then
    # the deletes of what they found.
    owned = "appnet.azure.com%2Fmember%3Dmember-01"
    pruned = [r for r in _since(leaving, marks[0]) if (r.method == "GET" and owned in r.path)
              or (r.method == "DELETE" and _plain_path(r).startswith("/apis/apps/v1/"))]
    pushed = [r for r in _since(peer, marks[1]) if r.method == "PATCH"
              and _plain_path(r) == "/api/v1/namespaces/%s/secrets/cacerts" % NS]
    assert pruned and pushed, (pruned, pushed)
    # The peer's new revocation list is in flight with the prune: neither waited for the other.
    assert any(a.overlaps(b) for a in pruned for b in pushed), (pruned, pushed)
    # What was pushed is the revocation list (test_member_revocation checks what it says).
    assert "ca-crl.pem" in peer.get_object("v1", "secrets", NS, "cacerts")["data"]


def test_a_join_sends_its_preflight_reads_once(engine, network, clusters, monkeypatch):
    (sim,) = clusters(1)
    import azext_appnet.manifests as manifests
    renders = []
    render = manifests.render
    monkeypatch.setattr(manifests, "render", lambda spec: renders.append(spec) or render(spec))
    n = len(sim.request_log)
    join(engine, sim)
    reads = [r for r in _since(sim, n) if r.method == "GET" and not _is_watch(r)]
    # The join's checks before the operation is recorded are its only ones: the operation
    # reads neither the version nor what preflight judges again.
    for path in ("/version", "/api/v1/nodes", "/api/v1/namespaces/istio-system",
                 "/api/v1/namespaces/aks-istio-system",
                 "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gateways.gateway.networking.k8s.io"):
        assert [_plain_path(r) for r in reads].count(path) == 1, (path, reads)
    assert len([r for r in reads if "labelSelector=app%3Distiod" in r.path]) == 1, reads
    # Nor, before it applies, what an earlier removal may have left terminating: the check
    # listed every CRD and read applink-system moments before.
    unfiltered = [r for r in reads if "labelSelector" not in r.path]
    assert [_plain_path(r) for r in unfiltered].count("/apis/apiextensions.k8s.io/v1/customresourcedefinitions") == 1
    assert "/api/v1/namespaces" not in [_plain_path(r) for r in unfiltered], unfiltered
    # What the check found is on the record, which a resumed run chooses its version from.
    cluster = engine.show_member("rg1", "net-01", "member-01")["properties"]["cluster"]
    assert cluster["kubernetesVersion"] and cluster["nodes"]["linux"] == 3 and cluster["gatewayApi"]
    # One rendering of the data plane: the readiness wait takes what the apply answered.
    assert len(renders) == 1


def test_readiness_of_what_was_just_applied_is_watched_from_the_apply_answer(kubesim):
    sim, applied, sent = _deployment_readiness_requests(kubesim)
    # No GET of the Deployment first: the watch starts at the version the apply answered.
    assert sent and _is_watch(sent[0]), [r.path for r in sent]
    query = parse_qs(urlsplit(sent[0].path).query)
    assert query["resourceVersion"] == [applied[0]["metadata"]["resourceVersion"]]
    assert sim.get_object("apps/v1", "deployments", "default", "web")["status"]["availableReplicas"] == 1


def test_an_update_waits_for_its_data_plane_without_reading_it_again(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim)
    n = len(sim.request_log)
    engine.update_member("rg1", "net-01", "member-01", east_west_gateway="Internal")
    names = ("deployments/istiod", "daemonsets/ztunnel", "daemonsets/istio-cni-node",
             "gateways/istio-eastwestgateway")
    looks = [r for r in _since(sim, n) if r.method == "GET" and not _is_watch(r)
             and _plain_path(r).endswith(names)]
    assert not looks, looks
    gateway = sim.get_object("gateway.networking.k8s.io/v1", "gateways", NS, "istio-eastwestgateway")
    assert gateway["spec"]["infrastructure"]["annotations"] == {
        "service.beta.kubernetes.io/azure-load-balancer-internal": "true"}


def test_a_join_opens_its_connections_to_the_peers_while_it_applies_the_data_plane(engine, network, clusters):
    peer, sim = clusters(2)
    join(engine, peer, member="member-01")
    for s in (peer, sim):
        s.faults.set(latency=LATENCY)
    requests, connections = len(peer.request_log), len(peer.connection_log)
    own = len(sim.request_log)
    join(engine, sim, member="member-02")
    opened = peer.connection_log[connections:]
    applied = [r for r in _since(sim, own) if r.method == "PATCH" and "/deployments/" in r.path]
    assert opened and applied
    # Opened before the data plane was even applied, not by the links after it was ready; so
    # no request of the links waited for a connection to open.
    assert max(c.opened for c in opened) < min(r.answered for r in applied)
    assert max(c.ready for c in opened) <= min(r.started for r in _since(peer, requests))

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

LATENCY = 0.3      # long enough that requests sent together always overlap
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


def test_readiness_is_awaited_by_a_watch_not_by_polling(kubesim):
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
    sent = [r for r in _since(sim, n) if "/deployments" in r.path]
    watches = [r for r in sent if parse_qs(urlsplit(r.path).query).get("watch") == ["true"]]
    assert watches, sent
    query = parse_qs(urlsplit(watches[0].path).query)
    assert query["fieldSelector"] == ["metadata.name=web"]
    # Polling every 0.05 s for 1.5 s would have sent about 30 GETs; a watch needs one look.
    gets = [r for r in sent if r not in watches]
    assert len(gets) <= 2, gets


def test_check_visits_members_at_once(engine, network, clusters):
    sims = clusters(2)
    for i, sim in enumerate(sims):
        join(engine, sim, member="member-%02d" % (i + 1))
    for sim in sims:
        sim.faults.set(latency=LATENCY)
    marks = [len(s.request_log) for s in sims]
    report = engine.check_network("rg1", "net-01")
    assert report["summary"]["members"] == 2
    first, second = (_since(s, n) for s, n in zip(sims, marks))
    # Each member's first request (its /version) went out before the other's was answered.
    assert first[0].overlaps(second[0]), (first[0], second[0])
    # And a member's own reads go out together: some of them overlap.
    assert any(a.overlaps(b) for a in first for b in first if a is not b)

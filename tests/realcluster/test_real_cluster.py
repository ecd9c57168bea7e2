"""Opt-in: join a real Kubernetes cluster, check it, remove it.

Runs only when APPNET_REAL_KUBECONFIG names a kubeconfig (and APPNET_REAL_CONTEXT, if not
its current context) of a disposable cluster with Gateway API installed and no other Istio.
No real API server can run on the project's machines, so CI skips it.
"""

import os

import pytest

from azext_appnet.engine import AppNet

KUBECONFIG = os.environ.get("APPNET_REAL_KUBECONFIG")

pytestmark = pytest.mark.skipif(
    not KUBECONFIG, reason="set APPNET_REAL_KUBECONFIG (and APPNET_REAL_CONTEXT) to run against a real cluster")


def test_join_check_remove_on_a_real_cluster(tmp_path, monkeypatch):
    monkeypatch.delenv("APPNET_STATE_PATH", raising=False)
    engine = AppNet(str(tmp_path / "azure"), progress=print)
    engine.create_network("rg1", "real-net", "westus2")
    context = os.environ.get("APPNET_REAL_CONTEXT")
    try:
        member = engine.join_member("rg1", "real-net", "real-member", kubeconfig=KUBECONFIG, context=context)
        assert member["properties"]["provisioningState"] == "Succeeded"
        report = engine.check_member("rg1", "real-net", "real-member")
        failed = [c for c in report["checks"] if c["status"] == "Failed"]
        assert not failed, failed
    finally:
        engine.remove_member("rg1", "real-net", "real-member")
        engine.delete_network("rg1", "real-net")


def _two_contexts():
    """The two contexts APPNET_REAL_CONTEXTS names (comma-separated), or the kubeconfig's
    contexts when it has exactly two."""
    named = [c.strip() for c in os.environ.get("APPNET_REAL_CONTEXTS", "").split(",") if c.strip()]
    if named:
        return named
    if not KUBECONFIG:
        return []
    import yaml
    with open(KUBECONFIG, encoding="utf-8") as f:
        contexts = [c["name"] for c in (yaml.safe_load(f) or {}).get("contexts") or []]
    return contexts if len(contexts) == 2 else []


@pytest.mark.skipif(len(_two_contexts()) != 2, reason="APPNET_REAL_KUBECONFIG must name two contexts "
                    "(its only two, or the two of APPNET_REAL_CONTEXTS=A,B)")
def test_two_real_clusters_answer_each_other_over_mtls(tmp_path, monkeypatch):
    """What scripts/try-on-kind.sh checks, on two clusters of the user's: join both
    (APPNET_REAL_API_SERVER_URLS=URL_A,URL_B gives the addresses the clusters reach each
    other at; APPNET_REAL_NETWORK=flat puts both on one network), check the network, then
    the cross-cluster checks of tests/realcluster/crosscluster.py."""
    from tests.realcluster import crosscluster
    monkeypatch.delenv("APPNET_STATE_PATH", raising=False)
    engine = AppNet(str(tmp_path / "azure"), progress=print)
    engine.create_network("rg1", "real-net", "westus2")
    contexts = dict(zip(("east", "west"), _two_contexts()))
    urls = [u.strip() or None for u in os.environ.get("APPNET_REAL_API_SERVER_URLS", ",").split(",")]
    flat = os.environ.get("APPNET_REAL_NETWORK")
    joined = []
    try:
        for (member, context), url in zip(contexts.items(), urls + [None, None]):
            engine.join_member("rg1", "real-net", member, kubeconfig=KUBECONFIG, context=context,
                               east_west_gateway="External", api_server_url=url, network_name=flat)
            joined.append(member)
        report = engine.check_network("rg1", "real-net")
        failed = [c for m in report["members"] for c in m["checks"] if c["status"] == "Failed"]
        assert not failed + [c for c in report["checks"] if c["status"] == "Failed"], failed
        crosscluster.deploy(KUBECONFIG, contexts)
        assert crosscluster.verify(KUBECONFIG, contexts)
    finally:
        crosscluster.clean(KUBECONFIG, contexts)
        for member in joined:
            engine.remove_member("rg1", "real-net", member)
        engine.delete_network("rg1", "real-net")

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

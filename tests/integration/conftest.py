"""Helpers for engine-level tests against emulated clusters."""

import pytest

from azext_appnet.engine import AppNet


@pytest.fixture
def engine(tmp_path, monkeypatch):
    """An engine with its own config dir (state file and key store), printing nothing."""
    for name in ("APPNET_STATE_PATH", "APPNET_STATE_URL", "APPNET_STATE_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    messages = []
    eng = AppNet(str(tmp_path / "azure"), progress=messages.append)
    eng.messages = messages
    return eng


@pytest.fixture
def network(engine):
    return engine.create_network("rg1", "net-01", "westus2")


def join(engine, sim, member="member-01", **kwargs):
    return engine.join_member("rg1", "net-01", member, kubeconfig=sim.kubeconfig_path,
                              context=sim.context, **kwargs)


def ours(sim, api_version, plural, namespace=None, member="member-01"):
    return sim.list_objects(api_version, plural, namespace,
                            label_selector=f"app.kubernetes.io/managed-by=az-appnet,appnet.azure.com/member={member}")

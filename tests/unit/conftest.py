"""Fixtures of the unit tests."""

import pytest

from azext_appnet.model import ids
from azext_appnet.model import resources as res
from azext_appnet.operations import catalog
from tests.fixtures.memory_store import MemoryStore
from tests.unit.pki_support import T0, Clock


@pytest.fixture(autouse=True)
def _no_passphrase(monkeypatch):
    # A developer's APPNET_KEYSTORE_PASSPHRASE must not change what the key store does here.
    monkeypatch.delenv("APPNET_KEYSTORE_PASSPHRASE", raising=False)


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def store():
    """An in-memory state store (operations' unit tests)."""
    return MemoryStore()


@pytest.fixture
def network(store):
    doc = res.new_network(ids.LOCAL_SUBSCRIPTION, "rg1", "net-01", "westus2")
    doc["properties"]["provisioningState"] = res.SUCCEEDED
    return store.create(doc, catalog.NETWORK_KIND)

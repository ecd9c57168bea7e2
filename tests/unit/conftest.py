"""Fixtures of the unit tests."""

import pytest

from tests.unit.pki_support import T0, Clock


@pytest.fixture(autouse=True)
def _no_passphrase(monkeypatch):
    # A developer's APPNET_KEYSTORE_PASSPHRASE must not change what the key store does here.
    monkeypatch.delenv("APPNET_KEYSTORE_PASSPHRASE", raising=False)


@pytest.fixture
def clock():
    return Clock(T0)

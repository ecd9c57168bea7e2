"""What only the SQLite store has: its file (corruption, modes, path). The store contract both
stores keep (versions, stale writes, locks, several processes) is tested in
tests/integration/test_state_blob.py, against SQLite and Azure Blob Storage alike."""

import os
import stat

import pytest

from azext_appnet.errors import StateError
from azext_appnet.model import ids
from azext_appnet.state import default_state_path, open_store

NET = ids.network_id(ids.LOCAL_SUBSCRIPTION, "rg1", "net-01")


def test_corrupted_file_gives_state_error_and_is_left_alone(tmp_path):
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(StateError) as err:
        open_store(str(path)).get(NET)
    assert "not a readable appnet state store" in err.value.message
    assert "APPNET_STATE_PATH" in err.value.recommendation
    assert path.read_bytes() == before


def test_file_is_private(tmp_path):
    path = tmp_path / "sub" / "state.db"
    open_store(str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_path_override(tmp_path, monkeypatch):
    monkeypatch.delenv("APPNET_STATE_PATH", raising=False)
    assert default_state_path("/cfg") == "/cfg/appnet/state.db"
    monkeypatch.setenv("APPNET_STATE_PATH", str(tmp_path / "ci.db"))
    assert default_state_path("/cfg") == str(tmp_path / "ci.db")


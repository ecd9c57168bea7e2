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



def _rows(path):
    import sqlite3
    with sqlite3.connect(path) as db:
        return db.execute("SELECT key, body FROM resources").fetchall()


def _store_with_one_network(tmp_path):
    path = tmp_path / "state.db"
    store = open_store(str(path))
    store.create({"id": NET, "name": "net-01", "properties": {"provisioningState": "Succeeded"}}, "appLink")
    store.close()
    return path


def _set_body(path, body):
    import sqlite3
    with sqlite3.connect(path) as db:
        db.execute("UPDATE resources SET body=?", (body,))


def test_zero_length_file_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "state.db"
    path.write_bytes(b"")
    with pytest.raises(StateError) as err:
        open_store(str(path)).list("appLink")
    assert str(path) in err.value.message and "empty" in err.value.message
    assert "backup" in err.value.recommendation
    assert path.read_bytes() == b"" and os.listdir(tmp_path) == ["state.db"]


def test_another_sqlite_database_is_refused_and_left_alone(tmp_path):
    import sqlite3
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    before = path.read_bytes()
    with pytest.raises(StateError) as err:
        open_store(str(path))
    assert "not an appnet state store" in err.value.message
    assert path.read_bytes() == before


def test_a_new_store_never_shows_an_empty_file(tmp_path):
    # Made under a temporary name and linked into place: nothing else is left beside it.
    open_store(str(tmp_path / "state.db"))
    assert os.listdir(tmp_path) == ["state.db"]
    assert os.path.getsize(tmp_path / "state.db") > 0


@pytest.mark.parametrize("body, what", [
    ("{not json", "not valid JSON"),
    ('["a", "list"]', "not a resource object"),
    ('{"id": "%s", "name": "net-01", "properties": "Succeeded"}' % NET, "properties is a string"),
    ('{"id": "%s", "name": 7, "properties": {}}' % NET, "name is a number"),
    ('{"id": "%s", "name": "net-01", "properties": {"operation": {"name": "join", "id": "x", '
     '"status": "InProgress", "completedSteps": "connect"}}}' % NET, "completedSteps is a string"),
    ('{"id": "/subscriptions/x/resourceGroups/rg9/providers/Microsoft.AppLink/appLinks/other", '
     '"name": "other", "properties": {}}', "not the one it is stored under"),
])
def test_damaged_rows_give_state_errors_naming_file_and_resource(tmp_path, body, what):
    path = _store_with_one_network(tmp_path)
    _set_body(path, body)
    before = path.read_bytes()
    store = open_store(str(path))
    for read in (lambda: store.get(NET), lambda: store.list("appLink")):
        with pytest.raises(StateError) as err:
            read()
        assert str(path) in err.value.message and what in err.value.message
        assert "net-01" in err.value.message.lower()
    assert path.read_bytes() == before


def test_read_only_filesystem_is_refused_before_any_work(tmp_path):
    import shutil
    import subprocess
    import sys
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) to mount a read-only filesystem")
    path = _store_with_one_network(tmp_path)
    mnt = tmp_path / "ro"
    mnt.mkdir()
    code = ("import sys; from azext_appnet.state import open_store; from azext_appnet.errors import "
            "StateError\ntry:\n    open_store(sys.argv[1])\nexcept StateError as e:\n    print(e.message)")
    script = (f"mount -t tmpfs tmpfs {mnt} && cp {path} {mnt}/state.db && mount -o remount,ro {mnt} && "
              f"{sys.executable} -c '{code}' {mnt}/state.db")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, cwd=root,
                         timeout=120)
    if "mount:" in out.stderr and "permission denied" in out.stderr.lower():
        pytest.skip("mounting is not permitted here: " + out.stderr.strip())
    assert "read-only" in out.stdout and f"{mnt}/state.db" in out.stdout, out

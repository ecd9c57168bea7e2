"""The SQLite state store: versions, stale writes, corrupted files, several processes."""

import multiprocessing
import os
import stat

import pytest

from azext_appnet.errors import StateError
from azext_appnet.model import ids
from azext_appnet.state import default_state_path, open_store
from azext_appnet.state.sqlite import StaleWriteError

NET = ids.network_id(ids.LOCAL_SUBSCRIPTION, "rg1", "net-01")


def _doc(rid=NET, **extra):
    return {"id": rid, "name": rid.rsplit("/", 1)[-1], "properties": {"provisioningState": "Accepted"}, **extra}


def test_create_get_update_delete(tmp_path):
    store = open_store(str(tmp_path / "state.db"))
    created = store.create(_doc(), "appLink")
    assert created["_version"] == 1
    # ids are case-insensitive, as in ARM
    fetched = store.get(NET.upper().replace("MICROSOFT.APPLINK", "Microsoft.AppLink"))
    assert fetched["name"] == "net-01" and fetched["_version"] == 1
    fetched["tags"] = {"a": "b"}
    updated = store.update(fetched)
    assert updated["_version"] == 2 and store.get(NET)["tags"] == {"a": "b"}
    assert store.delete(NET) is True
    assert store.get(NET) is None


def test_stale_write_is_refused(tmp_path):
    store = open_store(str(tmp_path / "state.db"))
    store.create(_doc(), "appLink")
    first, second = store.get(NET), store.get(NET)
    first["tags"] = {"writer": "first"}
    store.update(first)
    second["tags"] = {"writer": "second"}
    with pytest.raises(StaleWriteError):
        store.update(second)
    assert store.get(NET)["tags"] == {"writer": "first"}


def test_duplicate_create_is_refused(tmp_path):
    store = open_store(str(tmp_path / "state.db"))
    store.create(_doc(), "appLink")
    with pytest.raises(StaleWriteError):
        store.create(_doc(), "appLink")


def test_list_filters(tmp_path):
    store = open_store(str(tmp_path / "state.db"))
    other = ids.network_id(ids.LOCAL_SUBSCRIPTION, "rg2", "net-02")
    store.create(_doc(), "appLink")
    store.create(_doc(other), "appLink")
    member = NET + "/appLinkMembers/m-01"
    store.create(_doc(member), "appLinkMember", parent_id=NET)
    assert [r["name"] for r in store.list("appLink")] == ["net-01", "net-02"]
    assert [r["name"] for r in store.list("appLink", resource_group="RG2")] == ["net-02"]
    assert [r["name"] for r in store.list("appLinkMember", parent_id=NET)] == ["m-01"]
    assert store.list("appLinkMember", parent_id=other) == []


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


def _bump(path, n):
    store = open_store(path)
    done = 0
    while done < n:
        doc = store.get(NET)
        doc["properties"]["count"] = doc["properties"].get("count", 0) + 1
        try:
            store.update(doc)
            done += 1
        except StaleWriteError:
            continue


def test_concurrent_processes_lose_no_update(tmp_path):
    path = str(tmp_path / "state.db")
    open_store(path).create(_doc(), "appLink")
    procs = [multiprocessing.Process(target=_bump, args=(path, 25)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert open_store(path).get(NET)["properties"]["count"] == 100


def _hold(path, name, seconds, ready):
    store = open_store(path)
    with store.lock(name):
        ready.set()
        import time
        time.sleep(seconds)


def test_lock_serialises_and_is_released(tmp_path):
    import time
    path = str(tmp_path / "state.db")
    store = open_store(path)
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(path, "network-x", 1.5, ready))
    holder.start()
    assert ready.wait(30)
    start = time.monotonic()
    with store.lock("network-x"):
        waited = time.monotonic() - start
    holder.join(30)
    assert waited > 0.5  # it had to wait for the other process to let go
    with store.lock("network-x", wait=0):
        pass  # free again


def test_lock_of_a_dead_holder_is_taken_over(tmp_path):
    path = str(tmp_path / "state.db")
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(path, "network-x", 60, ready))
    holder.start()
    assert ready.wait(30)
    holder.kill()
    holder.join(30)
    with open_store(path).lock("network-x", wait=5):
        pass


def test_lock_held_by_a_live_process_times_out(tmp_path):
    path = str(tmp_path / "state.db")
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(path, "network-x", 5, ready))
    holder.start()
    assert ready.wait(30)
    from azext_appnet.errors import ConflictError
    with pytest.raises(ConflictError) as err:
        with open_store(path).lock("network-x", wait=0.5):
            pass
    assert "holds the lock" in err.value.message
    holder.kill()
    holder.join(30)

"""A tags-only update of a network leaves it Succeeded on both stores, so members joining
at the same time never find it Accepted; concurrent tag writers all succeed."""

import threading

import pytest

from azext_appnet.engine import AppNet
from tests.fixtures.azurite import azurite  # noqa: F401  pylint: disable=unused-import


@pytest.fixture(params=["sqlite", "blob"])
def engine_dir(request, tmp_path, monkeypatch):
    for name in ("APPNET_STATE_PATH", "APPNET_STATE_URL", "APPNET_STATE_CONNECTION_STRING",
                 "APPNET_STATE_CONTAINER"):
        monkeypatch.delenv(name, raising=False)
    if request.param == "blob":
        server = request.getfixturevalue("azurite")
        monkeypatch.setenv("APPNET_STATE_CONNECTION_STRING", server.connection_string())
        monkeypatch.setenv("APPNET_STATE_CONTAINER", server.new_container())
    return str(tmp_path / "azure")


def test_tags_only_updates_never_move_the_network_out_of_succeeded(engine_dir):
    AppNet(engine_dir).create_network("rg1", "net-01", "westus2")
    seen, stop, errors = set(), threading.Event(), []

    def watch():
        watcher = AppNet(engine_dir)
        while not stop.is_set():
            seen.add(watcher.show_network("rg1", "net-01")["properties"]["provisioningState"])

    def tag(writer):
        engine = AppNet(engine_dir)
        try:
            for i in range(8):
                engine.update_network("rg1", "net-01", tags={"writer": writer, "n": str(i)})
        except Exception as e:  # pylint: disable=broad-except
            errors.append(e)

    watcher = threading.Thread(target=watch)
    watcher.start()
    writers = [threading.Thread(target=tag, args=(w,)) for w in ("a", "b", "c")]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    watcher.join()
    assert errors == []
    assert seen == {"Succeeded"}
    final = AppNet(engine_dir).show_network("rg1", "net-01")
    assert final["tags"]["n"] == "7" and final["properties"]["provisioningState"] == "Succeeded"

"""The state store contract, run against both stores: the SQLite file and Blob Storage
(Azurite). Plus what only the blob store has: selection by environment, unreachable or
unauthorised accounts, a missing container."""

import json
import multiprocessing
import time

import pytest

from azext_appnet.errors import ConflictError, StateError
from azext_appnet.model import ids
from azext_appnet.state import open_store
from azext_appnet.state import StaleWriteError
from tests.fixtures.azurite import ACCOUNT_KEY, azurite  # noqa: F401  pylint: disable=unused-import

NET = ids.network_id(ids.LOCAL_SUBSCRIPTION, "rg1", "net-01")
CS = "APPNET_STATE_CONNECTION_STRING"


def _doc(rid=NET, **extra):
    return {"id": rid, "name": rid.rsplit("/", 1)[-1], "properties": {"provisioningState": "Accepted"}, **extra}


@pytest.fixture(params=["sqlite", "blob"])
def location(request, tmp_path, monkeypatch):
    """A fresh, empty store of each kind, named by its location string (what a --no-wait
    worker gets on its command line)."""
    if request.param == "sqlite":
        return str(tmp_path / "state.db")
    server = request.getfixturevalue("azurite")
    monkeypatch.setenv(CS, server.connection_string())
    return f"env:{CS}/{server.new_container()}/team-a"


@pytest.fixture
def blob_env(azurite, monkeypatch):  # noqa: F811
    monkeypatch.setenv(CS, azurite.connection_string())
    return azurite


def test_create_get_update_delete(location):
    store = open_store(location)
    created = store.create(_doc(), "appLink")
    assert created["_version"] is not None
    fetched = store.get(NET.upper().replace("MICROSOFT.APPLINK", "Microsoft.AppLink"))
    assert fetched["name"] == "net-01" and fetched["_version"] == created["_version"]
    fetched["tags"] = {"a": "b"}
    updated = store.update(fetched)
    assert updated["_version"] != created["_version"]
    again = store.get(NET)
    assert again["tags"] == {"a": "b"} and again["_version"] == updated["_version"]
    assert store.delete(NET, expected_version=created["_version"]) is False  # stale
    assert store.delete(NET) is True
    assert store.get(NET) is None and store.delete(NET) is False
    store.close()


def test_stale_write_is_refused(location):
    store = open_store(location)
    store.create(_doc(), "appLink")
    first, second = store.get(NET), store.get(NET)
    first["tags"] = {"writer": "first"}
    store.update(first)
    second["tags"] = {"writer": "second"}
    with pytest.raises(StaleWriteError):
        store.update(second)
    assert store.get(NET)["tags"] == {"writer": "first"}


def test_duplicate_create_is_refused(location):
    store = open_store(location)
    store.create(_doc(), "appLink")
    with pytest.raises(StaleWriteError):
        store.create(_doc(tags={"x": "y"}), "appLink")
    assert "tags" not in store.get(NET)


def test_list_filters(location):
    store = open_store(location)
    other = ids.network_id(ids.LOCAL_SUBSCRIPTION, "rg2", "net-02")
    store.create(_doc(), "appLink")
    store.create(_doc(other), "appLink")
    member = NET + "/appLinkMembers/m-01"
    store.create(_doc(member), "appLinkMember", parent_id=NET)
    assert [r["name"] for r in store.list("appLink")] == ["net-01", "net-02"]
    assert [r["name"] for r in store.list("appLink", subscription=ids.LOCAL_SUBSCRIPTION,
                                          resource_group="RG2")] == ["net-02"]
    assert [r["name"] for r in store.list("appLink", resource_group="rg1")] == ["net-01"]
    assert store.list("appLink", subscription="11111111-1111-1111-1111-111111111111") == []
    assert [r["name"] for r in store.list("appLinkMember", parent_id=NET)] == ["m-01"]
    assert store.list("appLinkMember", parent_id=other) == []
    assert all(r["_version"] for r in store.list("appLink"))


def _bump(location, n):
    store = open_store(location)
    done = 0
    while done < n:
        doc = store.get(NET)
        doc["properties"]["count"] = doc["properties"].get("count", 0) + 1
        try:
            store.update(doc)
            done += 1
        except StaleWriteError:
            continue


def test_concurrent_processes_lose_no_update(location):
    open_store(location).create(_doc(), "appLink")
    procs = [multiprocessing.Process(target=_bump, args=(location, 10)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert open_store(location).get(NET)["properties"]["count"] == 30


def _hold(location, name, seconds, ready):
    store = open_store(location)
    with store.lock(name):
        ready.set()
        time.sleep(seconds)


def test_lock_serialises_and_is_released(location):
    store = open_store(location)
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(location, "network-x", 1.5, ready))
    holder.start()
    assert ready.wait(30)
    start = time.monotonic()
    with store.lock("network-x"):
        waited = time.monotonic() - start
        with store.lock("network-x", wait=0):
            pass  # re-entrant in the holding process
    holder.join(30)
    assert waited > 0.5  # it had to wait for the other process to let go
    with store.lock("network-x", wait=0):
        pass  # free again
    with store.lock("network-y", wait=0):
        pass  # locks are per name


def test_lock_of_a_dead_holder_is_taken_over(location):
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(location, "network-x", 60, ready))
    holder.start()
    assert ready.wait(30)
    holder.kill()
    holder.join(30)
    with open_store(location).lock("network-x", wait=5):
        pass


def test_lock_held_by_a_live_process_times_out(location):
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(location, "network-x", 8, ready))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(ConflictError) as err:
            with open_store(location).lock("network-x", wait=0.5):
                pass
        assert "holds the lock" in err.value.message
    finally:
        holder.kill()
        holder.join(30)


def _hold_without_renewing(location, name, ready):
    from azext_appnet.state import base
    base._Heartbeat.run = lambda self: None  # frozen: it holds the lock but never renews it
    with open_store(location).lock(name, ttl=1):
        ready.set()
        time.sleep(60)


def test_lock_of_a_holder_that_stopped_renewing_is_taken_over(location):
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_without_renewing, args=(location, "network-x", ready))
    holder.start()
    try:
        assert ready.wait(30)
        with open_store(location).lock("network-x", wait=60, poll=0.05):
            pass  # its lease ran out although the process is alive
    finally:
        holder.kill()
        holder.join(30)


def _lock_expiry(location, name):
    """The expiry recorded on the lock, read the way each store keeps it."""
    store = open_store(location)
    if location.startswith("env:"):
        props = store._lock_blob(name).get_blob_properties()  # pylint: disable=protected-access
        return float((props.metadata or {}).get("expires") or 0)
    row = store._query("SELECT expires FROM locks WHERE name=?", (name,))  # pylint: disable=protected-access
    return row[0][0] if row else 0


def _hold_renewing(location, name, ready):
    with open_store(location).lock(name, ttl=1):
        ready.set()
        time.sleep(60)


def test_a_live_holder_renews_its_lease_and_keeps_the_lock(location):
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_renewing, args=(location, "network-x", ready))
    holder.start()
    try:
        assert ready.wait(30)
        first = _lock_expiry(location, "network-x")
        while _lock_expiry(location, "network-x") < first + 1.5:  # renewed after its first expiry
            assert holder.is_alive()
            time.sleep(0.05)
        with pytest.raises(ConflictError):
            with open_store(location).lock("network-x", wait=0):
                pass
    finally:
        holder.kill()
        holder.join(30)


def _dead_pid():
    import subprocess
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _hold_in_another_pid_namespace(location, name, pid, ready, entered):
    """A process on a machine with our hostname, in another PID namespace (another CI
    container), whose pid happens to be one that is dead in ours."""
    import os
    from azext_appnet import processes
    os.getpid = lambda: pid
    processes._namespace_id = lambda: "pid:[4026599999]"
    with open_store(location).lock(name):
        entered.value += 1
        ready.set()
        time.sleep(60)


def test_same_hostname_and_pid_in_another_namespace_is_not_taken_for_dead(location):
    entered = multiprocessing.Value("i", 0)
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_in_another_pid_namespace,
                                     args=(location, "network-x", _dead_pid(), ready, entered))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(ConflictError) as err:
            with open_store(location).lock("network-x", wait=1, poll=0.05):
                entered.value += 1
        assert "holds the lock" in err.value.message
        assert entered.value == 1  # never both
    finally:
        holder.kill()
        holder.join(30)


def test_lock_is_reentrant_and_the_outer_hold_survives_an_inner_release(location):
    import threading
    store = open_store(location)
    outcome = []

    def other_thread():
        try:  # the same store object, another thread: a holder like any other
            with store.lock("network-x", wait=0):
                outcome.append("entered")
        except ConflictError:
            outcome.append("refused")

    with store.lock("network-x"):
        with store.lock("network-x", wait=0):
            pass  # re-entrant: depth 2, then back to 1
        with open_store(location).lock("network-x", wait=0):
            pass  # another store object of the same store, same thread: re-entrant too
        t = threading.Thread(target=other_thread)
        t.start()
        t.join(60)
        with pytest.raises(ConflictError):  # another process: still held
            _in_process(_try_lock, location, "network-x")
    assert outcome == ["refused"]
    _in_process(_try_lock, location, "network-x")  # released by the outermost exit


def _try_lock(location, name):
    with open_store(location).lock(name, wait=0):
        pass


def _in_process(func, *args):
    """Run func in a child process; re-raise its ConflictError here."""
    queue = multiprocessing.Queue()

    def target():
        try:
            func(*args)
            queue.put(None)
        except ConflictError as ex:
            queue.put(ex.message)

    proc = multiprocessing.Process(target=target)
    proc.start()
    message = queue.get(timeout=60)
    proc.join(30)
    if message is not None:
        raise ConflictError(message)


# ---- blob store only -------------------------------------------------------------------


def test_blob_layout_holds_no_secret(blob_env):
    container = blob_env.new_container()
    store = open_store(f"env:{CS}/{container}/team-a")
    store.create(_doc(), "appLink")
    store.create(_doc(NET + "/appLinkMembers/m-01"), "appLinkMember", parent_id=NET)
    with store.lock("network-x"):
        pass
    from azure.storage.blob import ContainerClient
    client = ContainerClient.from_connection_string(blob_env.connection_string(), container)
    names = sorted(b.name for b in client.list_blobs())
    assert names[0] == "team-a/appnet-state.json"
    assert [n for n in names if "/resources/" in n] == [
        "team-a/resources" + ids.key(NET), "team-a/resources" + ids.key(NET) + "/applinkmembers/m-01"]
    assert len([n for n in names if "/locks/" in n]) == 1
    blob = client.get_blob_client("team-a/resources" + ids.key(NET))
    assert json.loads(blob.download_blob().readall())["name"] == "net-01"
    assert blob.get_blob_properties().metadata["kind"] == "appLink"
    for name in names:
        assert ACCOUNT_KEY not in client.get_blob_client(name).download_blob().readall().decode()


def test_missing_container_is_created(blob_env):
    container = blob_env.new_container()
    open_store(f"env:{CS}/{container}").create(_doc(), "appLink")
    assert open_store(f"env:{CS}/{container}").get(NET)["name"] == "net-01"


def test_prefixes_are_separate_stores(blob_env):
    container = blob_env.new_container()
    open_store(f"env:{CS}/{container}/a").create(_doc(), "appLink")
    assert open_store(f"env:{CS}/{container}/b").get(NET) is None
    assert open_store(f"env:{CS}/{container}/b").list("appLink") == []


def test_wrong_key_gives_state_error_with_a_fix(blob_env, monkeypatch):
    wrong = "A" * 20 + ACCOUNT_KEY[20:]
    monkeypatch.setenv(CS, blob_env.connection_string(key=wrong))
    with pytest.raises(StateError) as err:
        open_store(f"env:{CS}/{blob_env.new_container()}")
    assert "refused access (403" in err.value.message
    assert CS in err.value.recommendation
    assert wrong not in err.value.message + err.value.recommendation


def test_unreachable_account_gives_state_error_with_a_fix(blob_env, monkeypatch):
    from azext_appnet.state import blob
    monkeypatch.setitem(blob.CLIENT_OPTIONS, "retry_total", 0)
    monkeypatch.setenv(CS, blob_env.connection_string().replace(f":{blob_env.port}/", ":9/"))
    with pytest.raises(StateError) as err:
        open_store(f"env:{CS}/{blob_env.new_container()}")
    assert "Cannot reach the state store" in err.value.message
    assert "firewall" in err.value.recommendation


def test_bad_settings_give_state_errors(monkeypatch):
    monkeypatch.setenv(CS, "not a connection string")
    with pytest.raises(StateError) as err:
        open_store(f"env:{CS}/c1")
    assert "not a valid" in err.value.message and "not a connection string" not in err.value.message
    with pytest.raises(StateError) as err:
        open_store(f"env:{CS}/")
    assert "APPNET_STATE_CONTAINER" in err.value.recommendation
    monkeypatch.delenv(CS)
    with pytest.raises(StateError) as err:
        open_store(f"env:{CS}/c1")
    assert "is not set" in err.value.message
    with pytest.raises(StateError) as err:
        open_store("https://acct.blob.core.windows.net/c1?sv=2024&sig=s3cr3tSig")
    assert "SAS" in err.value.message and "s3cr3tSig" not in err.value.message
    with pytest.raises(StateError):
        open_store("https://acct.blob.core.windows.net/")
    with pytest.raises(StateError) as err:  # a token is never sent in clear text
        open_store("http://acct.example.com/c1", credential=type("C", (), {"get_token": None})())
    assert "https" in err.value.recommendation


def _closed_https(container="c1"):
    return f"https://127.0.0.1:9/devstoreaccount1/{container}"


def test_url_signs_with_the_credential_given(monkeypatch):
    """APPNET_STATE_URL signs with the TokenCredential it is given (the az login). Azurite
    takes tokens only over HTTPS with a certificate, so this checks the wiring against a
    closed port: the storage token is asked for before the request is sent."""
    from azure.core.credentials import AccessToken
    from azext_appnet.state import blob
    monkeypatch.setitem(blob.CLIENT_OPTIONS, "retry_total", 0)

    class Credential:
        scopes = []

        def get_token(self, *scopes, **kwargs):
            self.scopes.extend(scopes)
            return AccessToken("not-a-real-token", int(time.time()) + 3600)

    cred = Credential()
    with pytest.raises(StateError) as err:
        open_store(_closed_https(), credential=cred)
    assert cred.scopes == ["https://storage.azure.com/.default"]
    assert "Cannot reach" in err.value.message


def test_a_failing_login_gives_state_error(monkeypatch):
    from azure.core.exceptions import ClientAuthenticationError
    from azext_appnet.state import blob
    monkeypatch.setitem(blob.CLIENT_OPTIONS, "retry_total", 0)

    class NotLoggedIn:
        def get_token(self, *scopes, **kwargs):
            raise ClientAuthenticationError(message="not logged in to Azure")

    with pytest.raises(StateError) as err:
        open_store(_closed_https(), credential=NotLoggedIn())
    assert "Could not get a token" in err.value.message and "az login" in err.value.recommendation


def test_refusal_of_an_identity_names_the_role_to_grant():
    from azure.core.exceptions import HttpResponseError
    from azext_appnet.state.blob import BlobStore
    store = BlobStore.__new__(BlobStore)
    store.where, store._via_env = "https://acct.blob.core.windows.net/c1", None  # pylint: disable=protected-access
    store._exc = __import__("azure.core.exceptions", fromlist=["x"])  # pylint: disable=protected-access
    ex = HttpResponseError(message="denied")
    ex.status_code, ex.error_code = 403, "AuthorizationPermissionMismatch"
    error = store._error(ex)  # pylint: disable=protected-access
    assert "refused access (403 AuthorizationPermissionMismatch)" in error.message
    assert "Storage Blob Data Contributor" in error.recommendation


def test_location_selection(monkeypatch):
    from azext_appnet.state import default_state_location
    for var in ("APPNET_STATE_URL", CS, "APPNET_STATE_CONTAINER", "APPNET_STATE_PATH"):
        monkeypatch.delenv(var, raising=False)
    assert default_state_location("/cfg") == "/cfg/appnet/state.db"
    monkeypatch.setenv(CS, "AccountName=a;AccountKey=" + ACCOUNT_KEY)
    monkeypatch.setenv("APPNET_STATE_CONTAINER", "shared/team-a/")
    assert default_state_location("/cfg") == f"env:{CS}/shared/team-a"  # no secret in it
    monkeypatch.setenv("APPNET_STATE_URL", "https://acct.blob.core.windows.net/shared")
    assert default_state_location("/cfg") == "https://acct.blob.core.windows.net/shared"


def test_url_parsing():
    from azext_appnet.state.blob import parse_url
    assert parse_url("https://acct.blob.core.windows.net/shared") == (
        "https://acct.blob.core.windows.net", "shared", "")
    assert parse_url("https://acct.blob.core.windows.net/shared/team/a/") == (
        "https://acct.blob.core.windows.net", "shared", "team/a")
    assert parse_url("http://127.0.0.1:10000/devstoreaccount1/c1/p") == (
        "http://127.0.0.1:10000/devstoreaccount1", "c1", "p")



@pytest.mark.parametrize("shared", [False, True], ids=["own-store", "shared-store"])
def test_lock_excludes_threads_of_one_process(location, shared):
    import threading
    import time
    spans, errors = [], []
    one = open_store(location)

    def hold():
        try:
            store = one if shared else open_store(location)  # as two operations in one process would
            with store.lock("network-x", wait=30, poll=0.05):
                start = time.monotonic()
                time.sleep(0.3)
                spans.append((start, time.monotonic()))
        except Exception as ex:  # pylint: disable=broad-except
            errors.append(ex)

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(spans) == 3
    spans.sort()
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:])), spans


def _overwrite_body(location, store, body):
    if location.startswith("env:"):
        blob = store._container.get_blob_client(store._name(NET))  # pylint: disable=protected-access
        blob.upload_blob(body.encode(), overwrite=True, metadata=blob.get_blob_properties().metadata)
    else:
        import sqlite3
        with sqlite3.connect(location) as db:
            db.execute("UPDATE resources SET body=?", (body,))


@pytest.mark.parametrize("body", ["{not json", '{"id": "%s", "name": "net-01", "properties": []}' % NET])
def test_a_damaged_record_is_a_state_error_naming_store_and_resource(location, body):
    store = open_store(location)
    store.create(_doc(), "appLink")
    _overwrite_body(location, store, body)
    for read in (lambda: store.get(NET), lambda: store.list("appLink")):
        with pytest.raises(StateError) as err:
            read()
        assert store.where in err.value.message and "damaged record" in err.value.message
        assert "net-01" in err.value.message.lower()


_NS_HOLDER = """
import sys, time
from azext_appnet.state import open_store
with open_store(sys.argv[1]).lock("network-x"):
    open(sys.argv[2], "w").close()
    time.sleep(60)
"""
_NS_TAKER = """
import os, sys
from azext_appnet.errors import ConflictError
from azext_appnet.state import open_store
try:
    with open_store(sys.argv[1]).lock("network-x", wait=1, poll=0.05):
        print("entered as pid", os.getpid())
except ConflictError as ex:
    print("refused:", ex.message)
"""


def test_processes_in_separate_pid_namespaces_never_both_hold_a_lock(tmp_path):
    """Real PID namespaces (unshare, as root): the holder is pid 2 in its namespace, the taker
    pid 1 in another, where pid 2 does not exist. Same hostname, same pid numbers space."""
    import os
    import shutil
    import subprocess
    import sys
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) for PID namespaces")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    location, ready = str(tmp_path / "state.db"), tmp_path / "held"
    open_store(location).close()
    # `sh -c '...; true'` keeps sh as pid 1 of the holder's namespace, so python is pid 2.
    holder = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "sh", "-c",
                               f'{sys.executable} -c "$0" "$1" "$2"; true', _NS_HOLDER, location, str(ready)],
                              cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if holder.poll() is not None or time.monotonic() > deadline:
                pytest.skip("could not start a process in a new PID namespace: "
                            + holder.stderr.read().decode(errors="replace")[-500:])
            time.sleep(0.05)
        taker = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", _NS_TAKER,
                                location], cwd=root, capture_output=True, text=True, timeout=120)
        assert taker.stdout.startswith("refused:"), taker
    finally:
        holder.kill()
        holder.wait(30)


@pytest.mark.parametrize("marker", [b"", b"[1, 2]", b"\xff\xfe garbage"])
def test_an_unreadable_store_marker_is_a_state_error(blob_env, marker):
    from azure.storage.blob import ContainerClient
    container = blob_env.new_container()
    open_store(f"env:{CS}/{container}")
    client = ContainerClient.from_connection_string(blob_env.connection_string(), container)
    client.get_blob_client("appnet-state.json").upload_blob(marker, overwrite=True)
    with pytest.raises(StateError) as err:
        open_store(f"env:{CS}/{container}")
    assert "appnet-state.json" in err.value.message and container in err.value.message
    assert client.get_blob_client("appnet-state.json").download_blob().readall() == marker

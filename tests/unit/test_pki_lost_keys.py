"""A lost or damaged key store is named, never refilled with a new root by accident."""

import os
import shutil
import subprocess
import sys

import pytest

from azext_appnet.errors import KeyStoreError
from azext_appnet.pki import NetworkPKI
from tests.unit.pki_support import NET


def _network_with_member(keys_dir):
    pki = NetworkPKI(NET, keys_dir)
    root = pki.create_root("net1 root CA")
    pki.ensure_intermediate("m1")
    return root["sha256Fingerprint"]


def _dir(keys_dir):
    (entry,) = os.listdir(keys_dir)
    return os.path.join(keys_dir, entry)


def test_a_deleted_key_store_is_refused_and_no_new_root_is_minted(tmp_path):
    keys = str(tmp_path / "keys")
    fingerprint = _network_with_member(keys)
    shutil.rmtree(_dir(keys))
    pki = NetworkPKI(NET, keys, recorded_root=fingerprint)
    for call in (lambda: pki.create_root("net1 root CA"), lambda: pki.ensure_intermediate("m2"),
                 pki.describe, lambda: pki.preflight("m1"), pki.rotate_root):
        with pytest.raises(KeyStoreError) as err:
            call()
        assert "has no PKI manifest" in err.value.message and fingerprint in err.value.message
        assert "Restore the key store" in err.value.recommendation
    assert not os.listdir(keys), "nothing may be written in place of the lost key store"
    # Removing members and deleting the network still finish.
    pki.retire_intermediate("m1")
    assert pki.delete() == []


def test_without_a_recorded_root_a_new_network_still_gets_one(tmp_path):
    pki = NetworkPKI(NET, str(tmp_path / "keys"))
    assert pki.create_root("net1 root CA")["sha256Fingerprint"]


def test_a_missing_root_key_is_found_before_anything_is_signed(tmp_path):
    keys = str(tmp_path / "keys")
    fingerprint = _network_with_member(keys)
    d = _dir(keys)
    (root_key,) = [f for f in os.listdir(d) if f.startswith("root-") and f.endswith(".key.pem")]
    os.unlink(os.path.join(d, root_key))
    pki = NetworkPKI(NET, keys, recorded_root=fingerprint)
    pki.preflight("m1")                       # its intermediate is current: no signing needed
    with pytest.raises(KeyStoreError) as err:
        pki.preflight("m2")                   # a new member would need the root key
    assert "root CA" in err.value.message and "ca rotate" in err.value.recommendation
    assert pki.describe()["missingKeys"] == [pki.describe()["roots"][0]["keyId"]]
    pki.rotate_root()                         # the documented recovery works without the old key


def test_a_missing_intermediate_key_is_found_up_front(tmp_path):
    keys = str(tmp_path / "keys")
    fingerprint = _network_with_member(keys)
    d = _dir(keys)
    for f in os.listdir(d):
        if f.startswith("member-") and f.endswith(".key.pem"):
            os.unlink(os.path.join(d, f))
    with pytest.raises(KeyStoreError, match="missing"):
        NetworkPKI(NET, keys, recorded_root=fingerprint).preflight("m1")


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00garbage", b"[1, 2]", b'{"schema": 1, "roots": 3}',
                                     b'{"schema": 1, "roots": [{}], "intermediates": {}}'])
def test_a_damaged_manifest_is_a_key_store_error_naming_the_file(tmp_path, content):
    keys = str(tmp_path / "keys")
    fingerprint = _network_with_member(keys)
    manifest = os.path.join(_dir(keys), "manifest.json")
    with open(manifest, "wb") as f:
        f.write(content)
    with pytest.raises(KeyStoreError) as err:
        NetworkPKI(NET, keys, recorded_root=fingerprint).describe()
    assert manifest in err.value.message or "damaged" in err.value.message
    with open(manifest, "rb") as f:
        assert f.read() == content


def test_a_key_file_replaced_by_a_directory_is_named(tmp_path):
    keys = str(tmp_path / "keys")
    fingerprint = _network_with_member(keys)
    d = _dir(keys)
    (key,) = [f for f in os.listdir(d) if f.startswith("member-") and f.endswith(".key.pem")]
    os.unlink(os.path.join(d, key))
    os.mkdir(os.path.join(d, key))
    with pytest.raises(KeyStoreError, match="cannot be read"):
        NetworkPKI(NET, keys, recorded_root=fingerprint).cacerts("m1")


def test_a_killed_writers_temp_file_is_removed_on_the_next_run(tmp_path):
    keys = str(tmp_path / "keys")
    fingerprint = _network_with_member(keys)
    d = _dir(keys)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = os.path.join(d, f".manifest.json.{dead}-abc123.tmp")
    live = os.path.join(d, f".manifest.json.{os.getpid()}-def456.tmp")
    for path in (stale, live):
        with open(path, "w") as f:
            f.write("{}")
    NetworkPKI(NET, keys, recorded_root=fingerprint).describe()      # a read is enough
    assert not os.path.exists(stale)
    assert os.path.exists(live), "a file of a running writer is left alone"

"""The local key store: file modes, encryption at rest, atomic writes."""

import logging
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest
from cryptography.hazmat.primitives import serialization

from azext_appnet.errors import KeyStoreError
from azext_appnet.pki import NetworkPKI, keystore
from tests.unit.pki_support import NET

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def network_dir(keys_dir):
    (entry,) = os.listdir(keys_dir)
    return os.path.join(keys_dir, entry)


def key_files(keys_dir):
    d = network_dir(keys_dir)
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".key.pem"))


def test_directories_are_0700_and_files_0600_whatever_the_umask(tmp_path):
    keys_dir = str(tmp_path / "keys")
    old = os.umask(0o022)
    try:
        pki = NetworkPKI(NET, keys_dir)
        pki.create_root("net1 root CA")
        pki.ensure_intermediate("cluster-a")
    finally:
        os.umask(old)
    assert mode(keys_dir) == 0o700
    assert mode(network_dir(keys_dir)) == 0o700
    files = os.listdir(network_dir(keys_dir))
    assert "manifest.json" in files and len(key_files(keys_dir)) == 2
    for name in files:
        assert mode(os.path.join(network_dir(keys_dir), name)) == 0o600, name


def test_a_key_directory_left_open_to_others_is_tightened(tmp_path):
    keys_dir = str(tmp_path / "keys")
    pki = NetworkPKI(NET, keys_dir)
    pki.create_root("net1 root CA")
    os.chmod(network_dir(keys_dir), 0o755)
    pki.ensure_intermediate("cluster-a")
    assert mode(network_dir(keys_dir)) == 0o700


def test_keys_are_encrypted_with_the_passphrase(tmp_path, monkeypatch):
    monkeypatch.setenv("APPNET_KEYSTORE_PASSPHRASE", "correct horse battery staple")
    keys_dir = str(tmp_path / "keys")
    pki = NetworkPKI(NET, keys_dir)
    pki.create_root("net1 root CA")
    pki.ensure_intermediate("cluster-a")

    for path in key_files(keys_dir):
        data = open(path, "rb").read()
        assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE" b" KEY-----")
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(data, password=None)
        serialization.load_pem_private_key(data, password=b"correct horse battery staple")
    # The store reads them back (a new object: a later az invocation).
    material = NetworkPKI(NET, keys_dir).cacerts("cluster-a")
    assert material["ca-key.pem"].startswith("-----BEGIN PRIVATE" " KEY-----")


def test_wrong_or_missing_passphrase_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("APPNET_KEYSTORE_PASSPHRASE", "right passphrase")
    keys_dir = str(tmp_path / "keys")
    pki = NetworkPKI(NET, keys_dir)
    pki.create_root("net1 root CA")
    pki.ensure_intermediate("cluster-a")

    monkeypatch.setenv("APPNET_KEYSTORE_PASSPHRASE", "wrong passphrase")
    with pytest.raises(KeyStoreError) as err:
        pki.cacerts("cluster-a")
    assert "APPNET_KEYSTORE_PASSPHRASE" in err.value.message and "wrong" in err.value.message
    assert "right passphrase" not in str(err.value.to_error()) and "wrong passphrase" not in str(err.value.to_error())
    with pytest.raises(KeyStoreError):
        pki.ensure_intermediate("cluster-b")  # signing with the root fails the same way

    monkeypatch.delenv("APPNET_KEYSTORE_PASSPHRASE")
    with pytest.raises(KeyStoreError) as err:
        pki.cacerts("cluster-a")
    assert "encrypted" in err.value.message and "APPNET_KEYSTORE_PASSPHRASE" in err.value.recommendation


def test_unencrypted_store_warns_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(keystore, "_warned_unencrypted", False)
    caplog.set_level(logging.WARNING, logger="azext_appnet.pki")
    pki = NetworkPKI(NET, str(tmp_path / "keys"))
    pki.create_root("net1 root CA")
    pki.ensure_intermediate("cluster-a")
    pki.ensure_intermediate("cluster-b")
    warnings = [r for r in caplog.records if "unencrypted" in r.getMessage()]
    assert len(warnings) == 1
    assert "APPNET_KEYSTORE_PASSPHRASE" in warnings[0].getMessage()


def test_no_warning_when_a_passphrase_is_set(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(keystore, "_warned_unencrypted", False)
    monkeypatch.setenv("APPNET_KEYSTORE_PASSPHRASE", "s3cret")
    caplog.set_level(logging.WARNING, logger="azext_appnet.pki")
    NetworkPKI(NET, str(tmp_path / "keys")).create_root("net1 root CA")
    assert not [r for r in caplog.records if "unencrypted" in r.getMessage()]


def test_interrupted_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = str(tmp_path / "ca.key.pem")
    keystore.atomic_write(path, b"old key\n")

    def crash(fd):
        raise KeyboardInterrupt  # Ctrl-C after the new bytes were written, before the rename

    monkeypatch.setattr(keystore.os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        keystore.atomic_write(path, b"new key, longer than the old one\n")
    assert open(path, "rb").read() == b"old key\n"
    assert os.listdir(tmp_path) == ["ca.key.pem"]


def test_crash_while_rotating_leaves_the_previous_intermediate_usable(tmp_path, monkeypatch):
    pki = NetworkPKI(NET, str(tmp_path / "keys"))
    pki.create_root("net1 root CA")
    pki.ensure_intermediate("cluster-a")
    before = pki.cacerts("cluster-a")

    real_replace = os.replace
    calls = []

    def crash_on_second_write(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the new key is on disk; crash while writing its certificate
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(keystore.os, "replace", crash_on_second_write)
    with pytest.raises(KeyboardInterrupt):
        pki.rotate_intermediate("cluster-a")
    monkeypatch.setattr(keystore.os, "replace", real_replace)

    assert NetworkPKI(NET, str(tmp_path / "keys")).cacerts("cluster-a") == before
    # And the rotation can simply be run again.
    after = pki.rotate_intermediate("cluster-a")
    assert pki.cacerts("cluster-a")["ca-cert.pem"] == after["certificatePem"] != before["ca-cert.pem"]


_WRITER = textwrap.dedent("""
    import sys
    from azext_appnet.pki.keystore import atomic_write
    path, a, b = sys.argv[1], open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()
    i = 0
    while True:
        atomic_write(path, a if i % 2 else b)
        i += 1
        if i == 20:
            print("ready", flush=True)
""")


def test_readers_and_a_killed_writer_only_ever_see_a_whole_key(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    blobs = []
    for name in ("a", "b"):
        key = ec.generate_private_key(ec.SECP256R1())
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
        (tmp_path / f"{name}.src").write_bytes(data)
        blobs.append(data)
    target = str(tmp_path / "out" / "ca.key.pem")
    os.mkdir(tmp_path / "out")
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, target, str(tmp_path / "a.src"),
                             str(tmp_path / "b.src")], stdout=subprocess.PIPE, cwd=REPO)
    try:
        assert proc.stdout.readline().strip() == b"ready"
        for _ in range(200):  # read while the writer keeps replacing the file
            assert open(target, "rb").read() in blobs
    finally:
        proc.send_signal(signal.SIGKILL)  # a crash at whatever point the writer was
        proc.wait()
    content = open(target, "rb").read()
    assert content in blobs
    serialization.load_pem_private_key(content, password=None)


def test_clear_keys_are_encrypted_in_place_once_a_passphrase_is_set(tmp_path, monkeypatch, caplog):
    keys_dir = str(tmp_path / "keys")
    pki = NetworkPKI(NET, keys_dir)
    pki.create_root("net1 root CA")
    pki.ensure_intermediate("cluster-a")
    for path in key_files(keys_dir):
        assert b"ENCRYPTED" not in open(path, "rb").read()

    monkeypatch.setenv("APPNET_KEYSTORE_PASSPHRASE", "set later")
    with caplog.at_level(logging.WARNING, logger="azext_appnet.pki"):
        NetworkPKI(NET, keys_dir).ensure_intermediate("cluster-b")   # reads the root key
    for path in key_files(keys_dir):
        data = open(path, "rb").read()
        assert b"ENCRYPTED PRIVATE KEY" in data, path
        assert mode(path) == 0o600
    warned = [r.getMessage() for r in caplog.records if "stored in clear text" in r.getMessage()]
    assert len(warned) == 1 and "APPNET_KEYSTORE_PASSPHRASE" in warned[0] and "set later" not in warned[0]

    monkeypatch.delenv("APPNET_KEYSTORE_PASSPHRASE")
    with pytest.raises(KeyStoreError):   # they now need the passphrase
        NetworkPKI(NET, keys_dir).ensure_intermediate("cluster-c")


def test_a_key_directory_reached_through_a_symlink_is_refused(tmp_path):
    keys_dir = str(tmp_path / "keys")
    pki = NetworkPKI(NET, keys_dir)
    pki.create_root("net1 root CA")
    real = network_dir(keys_dir)
    elsewhere = str(tmp_path / "elsewhere")
    os.rename(real, elsewhere)
    os.symlink(elsewhere, real)
    with pytest.raises(KeyStoreError) as err:
        NetworkPKI(NET, keys_dir).ensure_intermediate("cluster-a")
    assert "symbolic link" in err.value.message and real in err.value.message


def test_a_key_directory_owned_by_another_user_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("giving a directory to another user needs root")
    keys_dir = str(tmp_path / "keys")
    pki = NetworkPKI(NET, keys_dir)
    pki.create_root("net1 root CA")
    os.chown(network_dir(keys_dir), 65534, 65534)
    with pytest.raises(KeyStoreError) as err:
        NetworkPKI(NET, keys_dir).ensure_intermediate("cluster-a")
    assert "belongs to another user" in err.value.message

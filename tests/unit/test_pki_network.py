"""NetworkPKI as the operations layer uses it: idempotency, due dates, errors, teardown, no leaks."""

import base64
import datetime
import json
import logging
import os
import subprocess
import sys

import pytest

from azext_appnet.errors import ConflictError, InvalidInputError, KeyStoreError, NotFoundError
from azext_appnet.pki import NetworkPKI
from tests.unit.pki_support import NET, T0

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def pki(tmp_path, clock):
    p = NetworkPKI(NET, str(tmp_path / "keys"), clock=clock)
    p.create_root("net1 root CA")
    return p


def test_ensure_intermediate_is_idempotent_until_due(pki, clock):
    first = pki.ensure_intermediate("cluster-a")
    assert pki.ensure_intermediate("cluster-a") == first
    assert pki.ensure_intermediate("CLUSTER-A") == first  # ARM names are case-insensitive

    clock.now = T0 + datetime.timedelta(days=44)
    assert pki.ensure_intermediate("cluster-a") == first
    clock.now = T0 + datetime.timedelta(days=45)  # 45 days after notBefore (now - 5 min): due
    renewed = pki.ensure_intermediate("cluster-a")
    assert renewed["serialNumber"] != first["serialNumber"]
    assert pki.cacerts("cluster-a")["ca-cert.pem"] == renewed["certificatePem"]


def test_describe_reports_validity_and_due_flags_without_keys(pki, clock):
    pki.ensure_intermediate("cluster-b")
    pki.ensure_intermediate("cluster-a")
    shown = pki.describe()
    assert shown["networkId"] == NET and shown["keyLocation"] == "local"
    assert shown["rootRotationInProgress"] is False
    (root,) = shown["roots"]
    assert root["active"] is True and root["rotationDue"] is False and root["expired"] is False
    assert [i["member"] for i in shown["intermediates"]] == ["cluster-a", "cluster-b"]
    for inter in shown["intermediates"]:
        assert inter["issuerSha256Fingerprint"] == root["sha256Fingerprint"]
        assert inter["signedByActiveRoot"] is True and inter["rotationDue"] is False
    assert "PRIVATE KEY" not in json.dumps(shown)

    clock.now = T0 + datetime.timedelta(days=200)
    shown = pki.describe()
    assert shown["roots"][0]["rotationDue"] is True and shown["roots"][0]["expired"] is False
    assert all(i["rotationDue"] and i["expired"] for i in shown["intermediates"])


def test_retire_removes_the_member_key_and_is_idempotent(pki, tmp_path):
    info = pki.ensure_intermediate("cluster-a")
    key_path = os.path.join(str(tmp_path / "keys"), info["keyId"].split(":", 1)[1])
    assert os.path.exists(key_path)
    pki.retire_intermediate("cluster-a")
    pki.retire_intermediate("cluster-a")
    assert not os.path.exists(key_path)
    assert pki.describe()["intermediates"] == []
    with pytest.raises(NotFoundError) as err:
        pki.cacerts("cluster-a")
    assert "cluster-a" in err.value.message and err.value.recommendation


def test_errors_say_what_is_missing(tmp_path):
    empty = NetworkPKI(NET, str(tmp_path / "keys"))
    with pytest.raises(NotFoundError, match="no root CA"):
        empty.ensure_intermediate("cluster-a")
    with pytest.raises(NotFoundError):
        empty.root_pem()
    with pytest.raises(NotFoundError):
        empty.rotate_intermediate("cluster-a")
    with pytest.raises(InvalidInputError):
        empty.create_root("  ")
    with pytest.raises(InvalidInputError):
        NetworkPKI("", str(tmp_path))
    with pytest.raises(InvalidInputError):
        empty.ensure_intermediate("")


def test_expired_root_cannot_sign(pki, clock):
    clock.now = T0 + datetime.timedelta(days=366)
    with pytest.raises(ConflictError) as err:
        pki.ensure_intermediate("cluster-a")
    assert "expired" in err.value.message and "ca rotate" in err.value.recommendation


def test_missing_key_file_is_a_clear_key_store_error(pki, tmp_path):
    info = pki.ensure_intermediate("cluster-a")
    os.unlink(os.path.join(str(tmp_path / "keys"), info["keyId"].split(":", 1)[1]))
    with pytest.raises(KeyStoreError) as err:
        pki.cacerts("cluster-a")
    assert "missing" in err.value.message and "--key-vault" in err.value.recommendation


def test_networks_get_separate_directories_and_ids_are_case_insensitive(tmp_path):
    keys_dir = str(tmp_path / "keys")
    a = NetworkPKI(NET, keys_dir)
    a.create_root("net1 root CA")
    NetworkPKI(NET.replace("net1", "net2"), keys_dir).create_root("net2 root CA")
    assert len(os.listdir(keys_dir)) == 2
    assert all(name.startswith(("net1-", "net2-")) for name in os.listdir(keys_dir))
    assert NetworkPKI(NET.upper(), keys_dir).root_pem() == a.root_pem()


def test_delete_removes_every_key(pki, tmp_path):
    pki.ensure_intermediate("cluster-a")
    assert pki.delete() == []
    assert os.listdir(str(tmp_path / "keys")) == []
    assert pki.describe()["roots"] == []
    assert pki.delete() == []  # nothing left to delete: still fine


def test_importing_the_package_loads_no_crypto(tmp_path):
    code = ("import sys, azext_appnet.pki as p; "
            "heavy = [m for m in ('azext_appnet.pki.network', 'azext_appnet.pki.signers', 'azure.keyvault.keys', "
            "'azure.identity') if m in sys.modules]; print(heavy); assert not heavy; "
            f"pki = p.NetworkPKI({NET!r}, {str(tmp_path)!r}); "
            "assert 'azure.keyvault.keys' not in sys.modules and 'azure.identity' not in sys.modules")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- no private key anywhere but cacerts() ------------------------------------------------

def _secret_markers(keys):
    """Strings that would betray a private key, even in part: windows of its secret numbers.

    Only the secret numbers are used (not whole PEM/DER, whose public-key part legitimately
    appears in certificates). Any PEM/DER/JWK/hex dump of a key, or a slice of one holding
    the secret, contains one of these windows: hex at every byte, base64 at every alignment.
    """
    markers = set()
    for key in keys:
        numbers = key.private_numbers()
        secrets = [numbers.private_value] if hasattr(numbers, "private_value") else [numbers.d, numbers.p, numbers.q]
        for secret in secrets:
            raw = secret.to_bytes((secret.bit_length() + 7) // 8, "big")
            markers.add(str(secret))
            hexed = raw.hex()
            for i in range(0, len(hexed) - 24 + 1, 2):
                markers.update({hexed[i:i + 24], hexed[i:i + 24].upper(), ":".join(
                    hexed[j:j + 2] for j in range(i, i + 24, 2))})
            for shift in range(3):
                aligned = raw[shift:]
                full = len(aligned) // 3 * 4  # quanta that do not depend on the following bytes
                for encoded in (base64.b64encode(aligned).decode(), base64.urlsafe_b64encode(aligned).decode()):
                    encoded = encoded[:full]
                    markers.update(encoded[i:i + 16] for i in range(0, full - 16 + 1, 4))
    return markers


def _current_keys(keys_dir):
    from azext_appnet.pki import keystore
    found = []
    for root, _, files in os.walk(keys_dir):
        for name in files:
            if name.endswith(".key.pem"):
                store = keystore.LocalKeyStore(keys_dir, os.path.basename(root), "t")
                found.append(store.load_private_key(name[:-len(".key.pem")]))
    return found


def test_no_private_key_in_results_reprs_errors_or_debug_logs(tmp_path, monkeypatch, caplog, clock):
    caplog.set_level(logging.DEBUG)
    keys_dir = str(tmp_path / "keys")
    pki = NetworkPKI(NET, keys_dir, clock=clock)
    outputs, keys = [], []

    def step(value):
        outputs.append(json.dumps(value) if isinstance(value, (dict, list)) else repr(value))
        keys.extend(_current_keys(keys_dir))

    step(pki.create_root("net1 root CA"))
    step(pki.ensure_intermediate("cluster-a"))
    step(pki.ensure_intermediate("cluster-b"))
    material = pki.cacerts("cluster-a")  # the one call that returns a key, on purpose
    assert "PRIVATE KEY" in material["ca-key.pem"]
    step(pki.rotate_intermediate("cluster-a"))
    step(pki.rotate_root())
    step(pki.rotate_intermediate("cluster-a"))
    step(pki.rotate_intermediate("cluster-b"))
    step(pki.finish_root_rotation())
    step(pki.describe())
    step(pki.root_pem())
    step(pki)
    step(pki._store)
    step(pki._store.root_signer(json.loads(open(os.path.join(
        keys_dir, os.listdir(keys_dir)[0], "manifest.json")).read())["roots"][0]["ref"]))
    for failing in (lambda: pki.cacerts("nobody"), lambda: pki.create_root("x", key_type="dsa"),
                    lambda: pki.rotate_intermediate("nobody")):
        with pytest.raises(Exception) as err:
            failing()
        outputs += [str(err.value), repr(err.value), json.dumps(err.value.to_error())]
    monkeypatch.setenv("APPNET_KEYSTORE_PASSPHRASE", "first")  # older clear keys stay readable
    step(pki.ensure_intermediate("cluster-c"))  # written encrypted
    monkeypatch.setenv("APPNET_KEYSTORE_PASSPHRASE", "another")
    with pytest.raises(KeyStoreError) as err:
        pki.cacerts("cluster-c")
    outputs += [str(err.value), repr(err.value)]
    outputs.append(caplog.text)
    # Public files of the store (what a backup or a state row would copy) hold no key either.
    for root, _, files in os.walk(keys_dir):
        outputs += [open(os.path.join(root, f)).read() for f in files if not f.endswith(".key.pem")]

    text = "\n".join(outputs)
    assert "PRIVATE KEY" not in text
    markers = _secret_markers(keys)
    assert len(keys) >= 6 and markers
    leaked = [m for m in markers if m in text]
    assert not leaked, "private key material found in output"

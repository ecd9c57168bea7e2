"""NetworkPKI with the root key in Key Vault, driven by the real SDK against tests/kvsim."""

import json
import logging
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from azext_appnet.errors import InvalidInputError, KeyStoreError
from azext_appnet.pki import NetworkPKI
from tests.fixtures import workload_certs as testing
from azext_appnet.pki.keyvault import SKIP_CHALLENGE_CHECK_ENV, vault_url
from tests.kvsim import KeyVaultSim, StaticTokenCredential

NET = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.AppLink/appLinks/net1"


@pytest.fixture
def kv():
    with KeyVaultSim() as sim:
        yield sim
    assert not sim.unsupported, f"the SDK called operations kvsim does not emulate: {sim.unsupported}"


def make_pki(kv, keys_dir, credential=None, **kwargs):
    return NetworkPKI(NET, str(keys_dir), key_vault=kv.url, credential=credential or StaticTokenCredential(kv.token),
                      key_vault_options=kv.client_options(), **kwargs)


def certs_of(pem):
    return x509.load_pem_x509_certificates(pem.encode())


def test_root_key_is_created_non_exportable_and_never_leaves_the_vault(kv, tmp_path):
    pki = make_pki(kv, tmp_path / "keys")
    root = pki.create_root("net1 root CA")
    pki.ensure_intermediate("cluster-a")
    pki.cacerts("cluster-a")

    assert root["keyLocation"] == "keyvault" and root["keyId"].startswith(f"{kv.url}/keys/")
    (create,) = [e for e in kv.log if e["method"] == "POST" and e["path"].endswith("/create") and e["authorized"]]
    assert create["request"]["attributes"]["exportable"] is False
    assert create["request"]["kty"] == "EC" and create["request"]["crv"] == "P-256"
    key_name = create["path"].split("/")[2]
    assert kv.key_attributes(key_name)["exportable"] is False
    # The root signed its own certificate and the intermediate through the vault's sign operation.
    signs = [e for e in kv.log if e["path"].endswith("/sign") and e["status"] == 200]
    assert len(signs) == 2 and all(e["request"]["alg"] == "ES256" for e in signs)
    # ...and its private part was never asked for nor returned.
    assert not [p for _, p in kv.requests if p.rsplit("/", 1)[-1] in ("export", "backup", "release")]
    kv.assert_no_private_key_returned()
    # Nothing was written locally: the root key never existed outside the vault.
    assert not os.path.exists(tmp_path / "keys")


@pytest.mark.parametrize("key_type, alg", [("ec-p256", "ES256"), ("rsa-2048", "RS256")])
def test_chain_signed_in_the_vault_verifies(kv, tmp_path, key_type, alg):
    pki = make_pki(kv, tmp_path / "keys")
    pki.create_root("net1 root CA", key_type=key_type)
    pki.ensure_intermediate("cluster-a")
    material = pki.cacerts("cluster-a")
    leaf = testing.issue_workload_cert(material, "shop", "checkout")

    assert {e["request"]["alg"] for e in kv.log if e["path"].endswith("/sign") and e["authorized"]} == {alg}
    testing.verify_with_cryptography(leaf.cert, certs_of(material["ca-cert.pem"]), certs_of(material["root-cert.pem"]))
    ok, output = testing.verify_with_openssl(material["root-cert.pem"], material["ca-cert.pem"],
                                             testing.pem_of(leaf.cert), str(tmp_path), ["-x509_strict"])
    assert ok, output


def test_bearer_challenge_flow(kv, tmp_path):
    credential = StaticTokenCredential(kv.token)
    make_pki(kv, tmp_path, credential=credential).create_root("net1 root CA")
    first = kv.log[0]
    assert first["status"] == 401 and first["authorized"] is False
    assert all(e["authorized"] for e in kv.log[1:] if e["status"] != 401)
    assert set(credential.requested_scopes) == {"https://vault.azure.net/.default"}


def test_intermediate_key_is_a_vault_secret_shared_with_other_machines(kv, tmp_path):
    pki = make_pki(kv, tmp_path / "machine-1")
    root = pki.create_root("net1 root CA")
    inter = pki.ensure_intermediate("cluster-a")
    assert inter["keyId"].startswith(f"{kv.url}/secrets/")
    secret_name = inter["keyId"].rsplit("/", 1)[-1]
    secret = kv.secrets[secret_name][-1]
    assert secret["contentType"] == "application/x-pem-file"
    key = serialization.load_pem_private_key(secret["value"].encode(), password=None)
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key.public_key().public_bytes(*spki) == \
        certs_of(inter["certificatePem"])[0].public_key().public_bytes(*spki)

    # A CI runner with an empty config dir sees the same network PKI through the vault.
    other = make_pki(kv, tmp_path / "machine-2")
    assert other.create_root("net1 root CA") == root
    assert other.ensure_intermediate("cluster-a") == inter
    assert other.cacerts("cluster-a") == pki.cacerts("cluster-a")


def test_root_rotation_with_the_vault(kv, tmp_path):
    pki = make_pki(kv, tmp_path)
    pki.create_root("net1 root CA")
    pki.ensure_intermediate("cluster-a")
    old = pki.cacerts("cluster-a")
    old_leaf = testing.issue_workload_cert(old, "shop", "checkout")
    old_key = [n for n in kv.keys]
    pki.rotate_root()
    pki.rotate_intermediate("cluster-a")
    new = pki.cacerts("cluster-a")
    new_leaf = testing.issue_workload_cert(new, "shop", "checkout")
    for leaf, inter in ((old_leaf, old), (new_leaf, new)):
        testing.verify_with_cryptography(leaf.cert, certs_of(inter["ca-cert.pem"]), certs_of(new["root-cert.pem"]))
        ok, output = testing.verify_with_openssl(new["root-cert.pem"], inter["ca-cert.pem"],
                                                 testing.pem_of(leaf.cert), str(tmp_path))
        assert ok, output
    pki.finish_root_rotation()
    assert len(certs_of(pki.root_pem())) == 1
    assert not set(old_key) & set(kv.keys) and not kv.deleted_keys  # old root key deleted and purged
    kv.assert_no_private_key_returned()


def test_delete_removes_and_purges_every_vault_object(kv, tmp_path):
    pki = make_pki(kv, tmp_path)
    pki.create_root("net1 root CA")
    pki.ensure_intermediate("cluster-a")
    pki.ensure_intermediate("cluster-b")
    assert kv.keys and kv.secrets
    assert pki.delete() == []
    assert (kv.keys, kv.secrets, kv.deleted_keys, kv.deleted_secrets) == ({}, {}, {}, {})


def test_delete_without_purge_permission_still_deletes(kv, tmp_path):
    pki = make_pki(kv, tmp_path)
    pki.create_root("net1 root CA")
    kv.forbidden_operations.add("purge")
    assert pki.delete() == []
    assert kv.keys == {} and kv.secrets == {} and kv.deleted_keys  # left in the recycle bin


def test_rejected_token_is_a_key_store_error_without_the_token(kv, tmp_path):
    pki = make_pki(kv, tmp_path, credential=StaticTokenCredential("not-the-right-token-0123456789"))
    with pytest.raises(KeyStoreError) as err:
        pki.create_root("net1 root CA")
    text = json.dumps(err.value.to_error()) + repr(err.value)
    assert "authentication failed" in err.value.message and "az login" in err.value.recommendation
    assert "not-the-right-token" not in text and kv.token not in text


def test_missing_permission_says_which_roles_to_grant(kv, tmp_path):
    kv.forbidden_operations.add("keys/sign")
    with pytest.raises(KeyStoreError) as err:
        make_pki(kv, tmp_path).create_root("net1 root CA")
    assert "access denied" in err.value.message and "sign" in err.value.message
    assert "Key Vault Crypto Officer" in err.value.recommendation


def test_environment_settings_reach_the_sdk(kv, tmp_path, monkeypatch):
    # What an end-to-end test of `az` does: no constructor options, only environment.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", kv.ca_file)
    monkeypatch.setenv(SKIP_CHALLENGE_CHECK_ENV, "1")
    pki = NetworkPKI(NET, str(tmp_path), key_vault=kv.url, credential=StaticTokenCredential(kv.token))
    assert pki.create_root("net1 root CA")["keyLocation"] == "keyvault"


def test_challenge_resource_check_stays_on_by_default(kv, tmp_path):
    pki = NetworkPKI(NET, str(tmp_path), key_vault=kv.url, credential=StaticTokenCredential(kv.token),
                     key_vault_options={"connection_verify": kv.ca_file})
    with pytest.raises(Exception) as err:
        pki.create_root("net1 root CA")
    assert "does not match the requested domain" in str(err.value)


def test_no_key_material_or_token_in_debug_logs_and_results(kv, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    pki = make_pki(kv, tmp_path)
    outputs = [json.dumps(pki.create_root("net1 root CA")), json.dumps(pki.ensure_intermediate("cluster-a"))]
    material = pki.cacerts("cluster-a")
    outputs += [json.dumps(pki.rotate_intermediate("cluster-a")), json.dumps(pki.describe()), repr(pki)]
    outputs.append(caplog.text)
    text = "\n".join(outputs)
    assert "PRIVATE KEY" not in text
    body = "".join(material["ca-key.pem"].splitlines()[1:-1])
    assert body[20:60] not in text
    assert kv.token not in text
    assert any(r.name.startswith("azure.") for r in caplog.records)  # SDK logging was on and captured


def test_vault_names_and_urls():
    assert vault_url("MyVault-01") == "https://myvault-01.vault.azure.net"
    assert vault_url("https://myvault.vault.azure.cn/") == "https://myvault.vault.azure.cn"
    for bad in ("http://myvault.vault.azure.net", "1vault", "ab", "my_vault", "a--b"):
        with pytest.raises(InvalidInputError):
            vault_url(bad)


def test_the_emulator_notices_an_attempt_to_get_a_key_out(kv):
    # The proof above is only worth something if the emulator would catch an export.
    from azure.core.exceptions import HttpResponseError
    from azure.keyvault.keys import KeyClient

    client = KeyClient(kv.url, StaticTokenCredential(kv.token), **kv.client_options())
    client.create_ec_key("k", curve="P-256", exportable=False)
    with pytest.raises(HttpResponseError):
        client.backup_key("k")
    with pytest.raises(AssertionError, match="export/backup/release attempted"):
        kv.assert_no_private_key_returned()


def test_revocation_list_is_signed_by_the_root_key_in_the_vault(kv, tmp_path):
    pki = make_pki(kv, tmp_path / "keys")
    pki.create_root("net1 root CA")
    pki.ensure_intermediate("cluster-a")
    pki.ensure_intermediate("cluster-b")
    revoked = certs_of(pki.cacerts("cluster-b")["ca-cert.pem"])[0]
    signs_before = len([e for e in kv.log if e["path"].endswith("/sign") and e["status"] == 200])
    pki.retire_intermediate("cluster-b", revoke=True)
    assert len([e for e in kv.log if e["path"].endswith("/sign") and e["status"] == 200]) == signs_before + 1
    bundle = pki.cacerts("cluster-a")
    crl = x509.load_pem_x509_crl(bundle["ca-crl.pem"].encode())
    root = certs_of(bundle["root-cert.pem"])[0]
    assert crl.is_signature_valid(root.public_key())
    assert crl.get_revoked_certificate_by_serial_number(revoked.serial_number) is not None
    assert [r["member"] for r in pki.describe()["revokedIntermediates"]] == ["cluster-b"]
    pki.retire_intermediate("cluster-b", revoke=True)  # idempotent: nothing signed again
    assert pki.cacerts("cluster-a")["ca-crl.pem"] == bundle["ca-crl.pem"]
    kv.assert_no_private_key_returned()

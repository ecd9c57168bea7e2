"""An Application Network whose root key lives in Key Vault, end to end through the engine:
create, join a member, remove, delete — the real Key Vault SDK against tests/kvsim."""

import base64
import subprocess

import pytest

from azext_appnet.engine import AppNet
from azext_appnet.pki.keyvault import SKIP_CHALLENGE_CHECK_ENV
from tests.kvsim import KeyVaultSim, StaticTokenCredential


@pytest.fixture
def kv(monkeypatch):
    with KeyVaultSim() as sim:
        # What a user's environment never sets: the emulator's CA, and no challenge-domain
        # check (a loopback address is never under vault.azure.net).
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca_file)
        monkeypatch.setenv(SKIP_CHALLENGE_CHECK_ENV, "1")
        yield sim


def test_network_with_root_key_in_key_vault(kv, clusters, tmp_path, monkeypatch):
    monkeypatch.delenv("APPNET_STATE_PATH", raising=False)
    config_dir = tmp_path / "azure"
    engine = AppNet(str(config_dir), credential=StaticTokenCredential(kv.token))
    network = engine.create_network("rg1", "net-kv", "westus2", key_vault=kv.url)
    root = network["properties"]["certificateAuthority"]["root"]
    assert root["keyLocation"] == "keyvault" and root["keyId"].startswith(kv.url)

    (sim,) = clusters(1)
    member = engine.join_member("rg1", "net-kv", "member-01", kubeconfig=sim.kubeconfig_path, context=sim.context)
    assert member["properties"]["provisioningState"] == "Succeeded"
    data = sim.get_object("v1", "secrets", "applink-system", "cacerts")["data"]
    (tmp_path / "root.pem").write_bytes(base64.b64decode(data["root-cert.pem"]))
    (tmp_path / "ca.pem").write_bytes(base64.b64decode(data["ca-cert.pem"]))
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "root.pem"), str(tmp_path / "ca.pem")],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr

    # The root key was used through the vault's sign operation only; no key is kept locally.
    kv.assert_no_private_key_returned()
    assert any(e["path"].endswith("/sign") and e["status"] == 200 for e in kv.log)
    keys_dir = config_dir / "appnet" / "keys"
    assert not keys_dir.exists() or not any(p.is_file() for p in keys_dir.rglob("*"))

    engine.remove_member("rg1", "net-kv", "member-01")
    engine.delete_network("rg1", "net-kv")
    assert engine.list_networks() == []
    assert kv.keys == {}  # the root key was deleted with the network (and purged where allowed)

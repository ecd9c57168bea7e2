"""Joining an AKS member by --member-resource-id: Services.connect and the engine's join and
remove, against armsim (ARM) and kubesim (the cluster), with credentials from a
TokenCredential and never stored."""

import os

import pytest

from azext_appnet.engine import AppNet
from azext_appnet.errors import ClusterError
from azext_appnet.operations.services import PUBLIC_ARM_ENDPOINT, Services
from tests.armsim import AKS_AAD_SERVER_APP_ID, ArmSim, TestCredential, entra_user_token
from tests.fixtures import gateway_api

AKS_ID = ("/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-aks/"
          "providers/Microsoft.ContainerService/managedClusters/aks1")
AKS_SCOPE = AKS_AAD_SERVER_APP_ID + "/.default"


@pytest.fixture
def arm(monkeypatch):
    with ArmSim() as sim:
        monkeypatch.setenv("APPNET_ARM_ENDPOINT", sim.url)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca_file)   # trust the emulator's CA
        yield sim


@pytest.fixture
def sim(kubesim):
    cluster = kubesim(1, names=["aks1"])[0]
    gateway_api.install(cluster)
    return cluster


def _member(operation="join"):
    return {"properties": {"clusterType": "AKS", "metadata": {"resourceId": AKS_ID},
                           "cluster": {"type": "AKS"}, "operation": {"name": operation}}}


def test_arm_endpoint_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("APPNET_ARM_ENDPOINT", raising=False)
    assert Services(str(tmp_path)).arm_endpoint == PUBLIC_ARM_ENDPOINT
    assert Services(str(tmp_path), arm_endpoint="https://management.chinacloudapi.cn/"
                    ).arm_endpoint == "https://management.chinacloudapi.cn"
    monkeypatch.setenv("APPNET_ARM_ENDPOINT", "https://127.0.0.1:1")
    assert Services(str(tmp_path), arm_endpoint="https://x").arm_endpoint == "https://127.0.0.1:1"


def test_services_connect_an_entra_aks_member(arm, sim, tmp_path):
    arm.add_cluster(AKS_ID, kubesim=sim, aad=True)
    cred = TestCredential({arm.scope: arm.token, AKS_SCOPE: entra_user_token(sim)})
    cluster = Services(str(tmp_path), cred).connect(_member())
    assert cluster.server_version() == "1.33"
    assert set(cred.requested_scopes) == {arm.scope, AKS_SCOPE}


def test_only_a_join_checks_arm_facts(arm, sim, tmp_path):
    arm.add_cluster(AKS_ID, kubesim=sim, istio_addon=True)
    services = Services(str(tmp_path), TestCredential({arm.scope: arm.token}))
    with pytest.raises(ClusterError) as e:
        services.connect(_member("join"))
    assert "az aks mesh disable" in e.value.recommendation
    # remove must still reach a cluster whose add-on was enabled after it joined
    assert services.connect(_member("remove")).server_version() == "1.33"


def test_without_a_credential_the_azure_cli_login_is_used(tmp_path, monkeypatch):
    import sys
    from azure.identity import AzureCliCredential
    from azext_appnet.kube.aks import AzureCliTokenCredential
    services = Services(str(tmp_path))
    assert isinstance(services.azure_credential(), AzureCliCredential)
    assert services.credential is None          # Key Vault keeps its own default
    monkeypatch.setitem(sys.modules, "azure.identity", None)   # azure-cli lacks it
    assert isinstance(Services(str(tmp_path)).azure_credential(), AzureCliTokenCredential)
    given = TestCredential({})
    assert Services(str(tmp_path), given).azure_credential() is given


def test_engine_joins_and_removes_an_aks_member(arm, sim, tmp_path, monkeypatch):
    monkeypatch.delenv("APPNET_STATE_PATH", raising=False)
    arm.add_cluster(AKS_ID, kubesim=sim, aad=True)
    entra = entra_user_token(sim)
    cred = TestCredential({arm.scope: arm.token, AKS_SCOPE: entra})
    config_dir = tmp_path / "azure"
    engine = AppNet(str(config_dir), progress=lambda *a: None, credential=cred)
    engine.create_network("rg1", "net-01", "westus2")

    member = engine.join_member("rg1", "net-01", "aks-member", member_resource_id=AKS_ID)
    props = member["properties"]
    assert props["provisioningState"] == "Succeeded", props.get("error")
    assert props["clusterType"] == "AKS" and props["metadata"]["resourceId"] == AKS_ID
    assert sim.get_object("apps/v1", "daemonsets", "applink-system", "ztunnel") is not None
    assert cred.count(AKS_SCOPE) >= 1

    # No credential in the state or anywhere under the config dir.
    for root, _, files in os.walk(config_dir):
        for name in files:
            data = open(os.path.join(root, name), "rb").read()
            for secret in (arm.token, entra, sim.admin_token):
                assert secret.encode() not in data, name

    engine.remove_member("rg1", "net-01", "aks-member")
    assert sim.get_object("apps/v1", "daemonsets", "applink-system", "ztunnel") is None


def test_an_aks_join_fetches_its_kubeconfig_and_entra_token_once(arm, sim, tmp_path, monkeypatch):
    monkeypatch.delenv("APPNET_STATE_PATH", raising=False)
    arm.add_cluster(AKS_ID, kubesim=sim, aad=True)
    cred = TestCredential({arm.scope: arm.token, AKS_SCOPE: entra_user_token(sim)})
    engine = AppNet(str(tmp_path / "azure"), progress=lambda *a: None, credential=cred)
    engine.create_network("rg1", "net-01", "westus2")
    n, tokens = len(arm.requests), cred.count(AKS_SCOPE)
    member = engine.join_member("rg1", "net-01", "aks-member", member_resource_id=AKS_ID)
    assert member["properties"]["provisioningState"] == "Succeeded"
    # The check before the operation is recorded reaches the cluster; every step goes on
    # with that client, also after it pinned the cluster's identity on the record.
    fetched = [r for r in arm.requests[n:] if r[1].endswith("/listClusterUserCredential")]
    assert len(fetched) == 1, arm.requests[n:]
    assert cred.count(AKS_SCOPE) - tokens == 1


def test_the_azure_cli_profile_credential_works_for_arm_and_entra(arm, sim, tmp_path):
    """What the az layer passes: Profile(cli_ctx).get_login_credentials()[0], azure-cli's
    CredentialAdaptor around an MSAL credential (faked here: no Entra on this machine)."""
    from azure.cli.core.auth.credential_adaptor import CredentialAdaptor

    entra = entra_user_token(sim)
    asked = []

    class FakeMsalCredential:
        def acquire_token(self, scopes, **kwargs):
            asked.append(tuple(scopes))
            token = {arm.scope: arm.token, AKS_SCOPE: entra}[scopes[0]]
            return {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    arm.add_cluster(AKS_ID, kubesim=sim, aad=True)
    services = Services(str(tmp_path), CredentialAdaptor(FakeMsalCredential()))
    assert services.connect(_member()).server_version() == "1.33"
    assert sorted(set(asked)) == sorted({(arm.scope,), (AKS_SCOPE,)})

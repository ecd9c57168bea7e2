"""fetch_kubeconfig() / connect_aks() through the real azure-mgmt-core pipeline against
armsim (ARM emulator) and kubesim (the cluster behind the AKS kubeconfig)."""

import json
import logging
import os
import ssl
import time
import urllib.error
import urllib.request

import pytest
import yaml

from azext_appnet.errors import ClusterError, InvalidInputError, NotFoundError
from azext_appnet.kube import connect_aks
from azext_appnet.kube import aks
from tests.armsim import AKS_AAD_SERVER_APP_ID, ArmSim, NoLoginCredential, TestCredential, \
    entra_user_token

AKS_ID = ("/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-aks/"
          "providers/Microsoft.ContainerService/managedClusters/aks1")
AKS_SCOPE = AKS_AAD_SERVER_APP_ID + "/.default"


@pytest.fixture
def arm():
    with ArmSim() as sim:
        yield sim


@pytest.fixture
def sim(kubesim):
    return kubesim(1, names=["aks1"])[0]


def _secrets(*objs):
    out = []
    for o in objs:
        out += [o.token] if isinstance(o, ArmSim) else []
        out += [o.admin_token] if hasattr(o, "admin_token") else []
        out += list(getattr(o, "tokens", {}).values())
    return [s for s in out if s]


def _raises(kind, fn, *secrets):
    """fn() raises `kind`; no secret appears in anything the error shows."""
    with pytest.raises(kind) as e:
        fn()
    err = e.value
    shown = " ".join([str(err), repr(err), err.message, err.recommendation or "",
                      json.dumps(err.to_error())])
    for secret in secrets:
        assert secret not in shown
    assert "eyJ" not in shown and "Bearer " not in shown
    return err


def _opts(arm):
    return dict(arm.client_options(), retry_total=0)


# ----------------------------------------------------------------------------- happy paths

def test_fetch_kubeconfig_of_a_token_cluster(arm, sim):
    arm.add_cluster(AKS_ID, kubesim=sim, location="westus2")
    cred = TestCredential({arm.scope: arm.token})
    kc = aks.fetch_kubeconfig(AKS_ID, cred, arm.url, **_opts(arm))
    assert isinstance(kc, dict) and kc["current-context"] == "aks1"
    assert kc["clusters"][0]["cluster"]["server"] == sim.url
    assert kc["users"][0]["user"] == {"token": sim.admin_token}
    assert kc.aad_server_id is None and kc.expires_on is None
    assert kc.facts["location"] == "westus2"
    assert kc.facts["kubernetesVersion"] == "1.33.0"
    assert kc.facts["agentPools"] == {"linux": 1, "windows": 0}
    assert kc.facts["istioAddon"] is False and kc.facts["aad"] is False
    # Only ARM was asked for a token; both calls carried it; GET before POST.
    assert set(cred.requested_scopes) == {arm.scope}
    assert [(m, p.rsplit("/", 1)[-1], st, ok) for m, p, st, ok in arm.requests] == [
        ("GET", "aks1", 200, True), ("POST", "listClusterUserCredential", 200, True)]
    # Kept in memory: the YAML dumper refuses to serialise it.
    with pytest.raises(yaml.representer.RepresenterError):
        yaml.safe_dump(kc)


def test_connect_aks_reaches_the_cluster(arm, sim):
    arm.add_cluster(AKS_ID, kubesim=sim)
    cred = TestCredential({arm.scope: arm.token})
    cluster = connect_aks(AKS_ID, cred, arm.url, **_opts(arm))
    assert cluster.server == sim.url and cluster.context == "aks1"
    assert cluster.server_version() == "1.33"
    assert len(cluster.list("v1", "nodes")) == 3
    assert cluster.aks["resourceId"] == AKS_ID and cluster.aks["aadServerId"] is None
    assert sim.admin_token not in repr(cluster) + repr(cluster.config)


def test_resource_ids_match_case_insensitively(arm, sim):
    arm.add_cluster(AKS_ID, kubesim=sim)
    cred = TestCredential({arm.scope: arm.token})
    cluster = connect_aks(AKS_ID.lower(), cred, arm.url, **_opts(arm))
    assert cluster.server_version() == "1.33"


def _fake_kubelogin(tmp_path, monkeypatch):
    """A kubelogin on PATH that leaves a mark if anything runs it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mark = tmp_path / "kubelogin-ran"
    script = bin_dir / "kubelogin"
    script.write_text("#!/bin/sh\ntouch %s\nexit 1\n" % mark)
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    return mark


def test_entra_cluster_uses_the_credential_not_kubelogin(arm, sim, tmp_path, monkeypatch):
    mark = _fake_kubelogin(tmp_path, monkeypatch)
    arm.add_cluster(AKS_ID, kubesim=sim, aad=True)
    entra = entra_user_token(sim)          # an identity kubesim knows, not its admin
    cred = TestCredential({arm.scope: arm.token, AKS_SCOPE: entra})
    cluster = connect_aks(AKS_ID, cred, arm.url, **_opts(arm))
    assert cluster.aks["aad"] is True and cluster.aks["aadServerId"] == AKS_AAD_SERVER_APP_ID
    assert cluster.server_version() == "1.33"
    assert cluster.config.auth_header() == "Bearer " + entra
    assert len(cluster.list("v1", "nodes")) == 3
    assert not mark.exists(), "kubelogin was run"
    assert cred.count(AKS_SCOPE) == 1      # fetched once, reused while valid
    assert entra not in repr(cluster.config) and entra not in repr(cluster.config._auth)

    kc = aks.fetch_kubeconfig(AKS_ID, cred, arm.url, **_opts(arm))
    assert kc["users"][0]["user"] == {"token": entra}
    assert kc.aad_server_id == AKS_AAD_SERVER_APP_ID
    assert abs(kc.expires_on - (time.time() + 3600)) < 60
    assert not mark.exists()


def test_a_token_the_cluster_does_not_know_is_refused_by_it(arm, sim):
    # The bearer really comes from the credential: the ARM token is not a cluster token.
    arm.add_cluster(AKS_ID, kubesim=sim, aad=True)
    cred = TestCredential({arm.scope: arm.token, AKS_SCOPE: arm.token})
    cluster = connect_aks(AKS_ID, cred, arm.url, **_opts(arm))
    err = _raises(ClusterError, cluster.server_version, arm.token)
    assert "401" in err.message


def test_entra_token_is_renewed_before_it_expires(arm, sim):
    arm.add_cluster(AKS_ID, kubesim=sim, aad=True)
    entra = entra_user_token(sim)
    # Tokens that live less than the renewal margin are asked for again at each request.
    cred = TestCredential({arm.scope: arm.token, AKS_SCOPE: entra},
                          lifetime=aks.TOKEN_REFRESH_MARGIN - 10)
    cluster = connect_aks(AKS_ID, cred, arm.url, **_opts(arm))
    before = cred.count(AKS_SCOPE)
    cluster.server_version()
    cluster.server_version()
    assert cred.count(AKS_SCOPE) == before + 2


def test_server_id_from_the_plugin_args_and_the_legacy_auth_provider(arm, sim):
    other = "00000000-aaaa-bbbb-cccc-000000000001"
    arm.add_cluster(AKS_ID, kubesim=sim, aad=True, server_id=other)
    assert aks.aad_server_id(arm.kubeconfig(AKS_ID)) == other
    assert aks.aad_server_id(arm.kubeconfig(AKS_ID, "azure")) == other
    arm.add_cluster(AKS_ID, kubesim=sim, aad=False)
    assert aks.aad_server_id(arm.kubeconfig(AKS_ID)) is None
    # The custom server app is the scope asked for.
    arm.add_cluster(AKS_ID, kubesim=sim, aad=True, server_id=other)
    cred = TestCredential({arm.scope: arm.token, other + "/.default": sim.admin_token})
    assert connect_aks(AKS_ID, cred, arm.url, **_opts(arm)).server_version() == "1.33"
    assert AKS_SCOPE not in cred.requested_scopes


def test_nothing_is_written_and_no_token_is_logged(arm, sim, tmp_path, monkeypatch, caplog):
    home = tmp_path / "home"          # tmp_path itself holds the kubesim fixture's file
    (home / "tmp").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(home / "tmp"))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    arm.add_cluster(AKS_ID, kubesim=sim, aad=True)
    entra = entra_user_token(sim)
    cred = TestCredential({arm.scope: arm.token, AKS_SCOPE: entra})
    with caplog.at_level(logging.DEBUG):
        cluster = connect_aks(AKS_ID, cred, arm.url, **_opts(arm))
        cluster.server_version()
    for secret in (arm.token, entra, sim.admin_token):
        assert secret not in caplog.text
    assert "listClusterUserCredential" in caplog.text        # the pipeline did log
    leftovers = [os.path.join(d, f) for d, _, fs in os.walk(home) for f in fs]
    assert leftovers == [] and os.listdir(home / "tmp") == []


# ----------------------------------------------------------------------------- errors

def test_cluster_not_found_names_the_id(arm):
    cred = TestCredential({arm.scope: arm.token})
    err = _raises(NotFoundError, lambda: connect_aks(AKS_ID, cred, arm.url, **_opts(arm)),
                  arm.token)
    assert AKS_ID in err.message and "ResourceNotFound" in err.message
    assert "az account show" in err.recommendation


@pytest.mark.parametrize("action", ["listClusterUserCredential", "read"])
def test_forbidden_names_the_role(arm, sim, action):
    arm.add_cluster(AKS_ID, kubesim=sim)
    arm.forbid(AKS_ID, action)
    cred = TestCredential({arm.scope: arm.token})
    err = _raises(ClusterError, lambda: connect_aks(AKS_ID, cred, arm.url, **_opts(arm)),
                  arm.token, sim.admin_token)
    assert "403" in err.message and AKS_ID in err.message
    assert "Azure Kubernetes Service Cluster User Role" in err.recommendation
    assert err.code == "AuthorizationFailed"


def test_arm_needs_a_bearer_token(arm, sim):
    arm.add_cluster(AKS_ID, kubesim=sim)
    ctx = ssl.create_default_context(cafile=arm.ca_file)
    req = urllib.request.Request(arm.url + AKS_ID + "?api-version=" + aks.API_VERSION)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, context=ctx, timeout=10)
    assert e.value.code == 401
    assert e.value.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    assert json.loads(e.value.read())["error"]["code"] == "AuthenticationFailed"


def test_rejected_arm_token_says_az_login(arm, sim):
    arm.add_cluster(AKS_ID, kubesim=sim)
    cred = TestCredential({arm.scope: "not-the-token"})
    err = _raises(ClusterError, lambda: connect_aks(AKS_ID, cred, arm.url, **_opts(arm)),
                  "not-the-token", arm.token)
    assert "401" in err.message and "az login" in err.recommendation
    assert err.code == "AuthenticationFailed"
    assert [st for _, _, st, _ in arm.requests] == [401]


def test_no_login_says_az_login(arm, sim):
    arm.add_cluster(AKS_ID, kubesim=sim)
    err = _raises(ClusterError,
                  lambda: connect_aks(AKS_ID, NoLoginCredential(), arm.url, **_opts(arm)))
    assert "az login" in err.recommendation and err.code == "AuthenticationFailed"
    assert arm.requests == []
    err = _raises(ClusterError, lambda: connect_aks(AKS_ID, None, arm.url, **_opts(arm)))
    assert "az login" in err.recommendation


def test_no_entra_token_says_az_login(arm, sim):
    arm.add_cluster(AKS_ID, kubesim=sim, aad=True)
    cred = TestCredential({arm.scope: arm.token})
    err = _raises(ClusterError, lambda: connect_aks(AKS_ID, cred, arm.url, **_opts(arm)),
                  arm.token)
    assert AKS_SCOPE in err.message and "az login" in err.recommendation


@pytest.mark.parametrize("kind", ["azure-identity", "built-in"])
def test_azure_cli_login_missing(arm, sim, tmp_path, monkeypatch, kind):
    """What a detached worker uses: the Azure CLI's login (here, nobody logged in), through
    azure-identity's AzureCliCredential or our own when azure-identity is absent."""
    from azure.identity import AzureCliCredential
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure"))
    venv_bin = os.path.dirname(os.path.abspath(os.sys.executable))
    monkeypatch.setenv("PATH", venv_bin + os.pathsep + os.environ.get("PATH", ""))
    arm.add_cluster(AKS_ID, kubesim=sim)
    cred = AzureCliCredential() if kind == "azure-identity" else aks.AzureCliTokenCredential()
    err = _raises(ClusterError, lambda: connect_aks(AKS_ID, cred, arm.url, **_opts(arm)))
    assert "az login" in err.message + err.recommendation
    assert arm.requests == []


def test_arm_unreachable(arm, sim):
    url = arm.url
    arm.stop()
    cred = TestCredential({url + "/.default": "t"})
    err = _raises(ClusterError, lambda: connect_aks(AKS_ID, cred, url, retry_total=0,
                                                    connection_verify=False))
    assert url in err.message and err.code == "ArmUnreachable"


def test_invalid_resource_id(arm):
    cred = TestCredential({arm.scope: arm.token})
    bad = AKS_ID.replace("managedClusters", "virtualMachines")
    err = _raises(InvalidInputError, lambda: connect_aks(bad, cred, arm.url, **_opts(arm)))
    assert bad in err.message
    assert arm.requests == []


# ----------------------------------------------------------------------------- ARM facts

def test_istio_addon_fails_the_join_with_the_fix(arm, sim):
    arm.add_cluster(AKS_ID, kubesim=sim, istio_addon=True)
    cred = TestCredential({arm.scope: arm.token})
    err = _raises(ClusterError, lambda: connect_aks(AKS_ID, cred, arm.url, **_opts(arm)),
                  arm.token, sim.admin_token)
    assert "Istio service mesh add-on" in err.message and AKS_ID in err.message
    assert "az aks mesh disable --resource-group rg-aks --name aks1" in err.recommendation
    # refused before any credential of the cluster was listed
    assert [m for m, _, _, _ in arm.requests] == ["GET"]
    # without the check (e.g. to remove a member), the cluster is still reachable
    assert connect_aks(AKS_ID, cred, arm.url, check=False, **_opts(arm)).server_version()


def test_windows_only_agent_pools_fail(arm, sim):
    arm.add_cluster(AKS_ID, kubesim=sim, agent_pools=["Windows", "Windows"])
    cred = TestCredential({arm.scope: arm.token})
    err = _raises(ClusterError, lambda: connect_aks(AKS_ID, cred, arm.url, **_opts(arm)),
                  arm.token)
    assert "Windows (2)" in err.message
    assert "--os-type Linux" in err.recommendation


def test_mixed_pools_pass_and_all_problems_are_named_at_once(arm, sim):
    arm.add_cluster(AKS_ID, kubesim=sim, agent_pools=["Linux", "Windows"])
    cred = TestCredential({arm.scope: arm.token})
    assert connect_aks(AKS_ID, cred, arm.url, **_opts(arm)).aks["agentPools"] == {
        "linux": 1, "windows": 1}
    arm.add_cluster(AKS_ID, kubesim=sim, agent_pools=["Windows"], istio_addon=True,
                    power_state="Stopped")
    err = _raises(ClusterError, lambda: connect_aks(AKS_ID, cred, arm.url, **_opts(arm)))
    for fix in ("az aks start", "az aks mesh disable", "az aks nodepool add"):
        assert fix in err.recommendation


def test_builtin_azure_cli_credential_takes_the_token_az_prints(arm, sim, tmp_path,
                                                                 monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    # A stand-in `az` that prints what 'az account get-access-token -o json' prints.
    az.write_text("#!/bin/sh\necho '{\"accessToken\": \"%s\", \"expires_on\": %d, "
                  "\"tokenType\": \"Bearer\"}'\n" % (arm.token, int(time.time()) + 3600))
    az.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    arm.add_cluster(AKS_ID, kubesim=sim)
    cluster = connect_aks(AKS_ID, aks.AzureCliTokenCredential(), arm.url, **_opts(arm))
    assert cluster.server_version() == "1.33"
    assert [ok for _, _, _, ok in arm.requests] == [True, True]

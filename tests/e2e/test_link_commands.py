"""az appnet member rotate-credentials and member remove (with --rotate-root) through the real
az: the old reader tokens stop working, a removed member's tokens are refused by the members
that stay, its intermediate CA is listed as revoked."""

import base64
import ssl

import pytest
import urllib3
import yaml

pytestmark = pytest.mark.e2e

NS = "applink-system"
NET = ("-g", "rg1", "--appnet-name", "net-01")


def _credential(holder, of_member):
    secret = holder.get_object("v1", "secrets", NS, f"istio-remote-secret-{of_member}")
    (value,) = secret["data"].values()
    config = yaml.safe_load(base64.b64decode(value))
    cluster = config["clusters"][0]["cluster"]
    return (cluster["server"], base64.b64decode(cluster["certificate-authority-data"]).decode(),
            config["users"][0]["user"]["token"])


def _status(credential):
    server, ca, token = credential
    http = urllib3.PoolManager(ssl_context=ssl.create_default_context(cadata=ca), retries=False)
    return http.request("GET", server + "/api/v1/pods", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status


def _join(az, sim, name, *extra, **kwargs):
    return az("appnet", "member", "join", *NET, "--member-name", name, "--kubeconfig", sim.kubeconfig_path,
              "--context", sim.context, *extra, **kwargs)


def test_rotate_credentials_then_remove_with_rotate_root(az, clusters):
    east, west, north = clusters(3)
    az("appnet", "create", *NET, "-l", "westus2")
    for sim, name in ((east, "east"), (west, "west"), (north, "north")):
        _join(az, sim, name)

    old = {"west reads east": _credential(west, "east"), "east reads west": _credential(east, "west")}
    out = az("appnet", "member", "rotate-credentials", *NET, "--member-name", "east").json
    assert out["properties"]["provisioningState"] == "Succeeded"
    assert out["properties"]["operation"]["name"] == "rotateCredentials"
    for what, credential in old.items():
        assert _status(credential) == 401, what
    assert _status(_credential(west, "east")) == 200 and _status(_credential(east, "west")) == 200

    # --no-wait, then wait, as the other member operations.
    before = _credential(north, "east")
    assert az("appnet", "member", "rotate-credentials", *NET, "--member-name", "east", "--no-wait").out.strip() == ""
    az("appnet", "member", "wait", *NET, "--member-name", "east", "--updated", "--interval", "1", "--timeout", "300")
    assert _status(before) == 401 and _status(_credential(north, "east")) == 200
    links = az("appnet", "member", "show", *NET, "--member-name", "east").json["properties"]["readerLinks"]
    assert {(l["issuer"], l["reader"]) for l in links} >= {("east", "north"), ("north", "east")}
    assert all(l["expiresOn"] > l["issuedAt"] for l in links)

    held_by_north = [_credential(north, "east"), _credential(north, "west")]
    done = az("appnet", "member", "remove", *NET, "--member-name", "north", "--rotate-root", "--yes")
    assert done.json["properties"]["operation"]["name"] == "rotateRoot"
    for credential in held_by_north:
        assert _status(credential) == 401
    ca = az("appnet", "ca", "show", *NET).json
    assert [r["member"] for r in ca["revokedIntermediates"]] == ["north"]
    assert ca["rootRotationInProgress"] is True
    table = az("appnet", "ca", "show", *NET, "-o", "table").out
    assert "Intermediate (revoked)  north" in table, table
    assert "ca-crl.pem" in east.get_object("v1", "secrets", NS, "cacerts")["data"]


def test_a_bad_token_lifetime_is_an_error_with_the_fix(az_extension_dir, tmp_path, clusters):
    from tests.e2e.conftest import Az
    (east,) = clusters(1)
    az = Az(az_extension_dir, tmp_path / "azure", extra_env={"APPNET_LINK_TOKEN_TTL": "5m"})
    az("appnet", "create", *NET, "-l", "westus2")
    refused = _join(az, east, "east", rc=None)
    assert refused.rc != 0
    assert "APPNET_LINK_TOKEN_TTL='5m' (300 seconds) is out of range" in refused.err
    assert "600 seconds" in refused.err
    assert az("appnet", "member", "list", *NET).json == []


def test_help_of_the_link_commands(az):
    out = az("appnet", "member", "rotate-credentials", "--help").out
    assert "Examples" in out and "--no-wait" in out and "APPNET_LINK_TOKEN_TTL" in out
    out = " ".join(az("appnet", "member", "remove", "--help").out.split())
    assert "--rotate-root" in out and "revocation list signed by the root" in out

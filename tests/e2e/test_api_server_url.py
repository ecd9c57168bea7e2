"""`--api-server-url` with the real az: what join and update write into the peers' remote
secrets, the warning about a loopback address, and a check that tries the address without
showing the token it uses."""

import base64

import pytest
import yaml

pytestmark = pytest.mark.e2e

NS = "applink-system"


def _server_in(sim, of_member):
    secret = sim.get_object("v1", "secrets", NS, f"istio-remote-secret-{of_member}")
    return yaml.safe_load(base64.b64decode(secret["data"][of_member]))["clusters"][0]["cluster"]["server"]


def test_api_server_url_reaches_the_peers_remote_secrets(az, clusters):
    east, west = clusters(2)
    net = ("-g", "rg1", "--appnet-name", "net-01")
    az("appnet", "create", *net[:2], "-n", "net-01", "-l", "westus2")
    joined = az("appnet", "member", "join", *net, "--member-name", "east", "--kubeconfig",
                east.kubeconfig_path, "--context", east.context, "--api-server-url",
                "https://east.invalid:6443/")
    assert joined.json["properties"]["connectivityProfile"]["apiServerUrl"] == "https://east.invalid:6443"
    west_join = az("appnet", "member", "join", *net, "--member-name", "west", "--kubeconfig",
                   west.kubeconfig_path, "--context", west.context)
    # west published the emulator's 127.0.0.1 address from its kubeconfig: warned on stderr.
    assert "loopback" in west_join.err and "--api-server-url" in west_join.err
    assert _server_in(west, "east") == "https://east.invalid:6443"

    check = az("appnet", "member", "check", *net, "--member-name", "east", rc=1)
    address = {c["name"]: c for c in check.json["checks"]}["apiServerAddress"]
    assert address["status"] == "Failed" and "east.invalid" in address["message"]
    secret = west.get_object("v1", "secrets", NS, "istio-remote-secret-east")  # west's token for east
    token = yaml.safe_load(base64.b64decode(secret["data"]["east"]))["users"][0]["user"]["token"]
    assert token not in check.out + check.err

    az("appnet", "member", "update", *net, "--member-name", "east", "--api-server-url", east.url)
    assert _server_in(west, "east") == east.url.rstrip("/")


def test_a_bad_api_server_url_is_an_error_that_says_what_to_give(az, clusters):
    (sim,) = clusters(1)
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    bad = az("appnet", "member", "join", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "member-01",
             "--kubeconfig", sim.kubeconfig_path, "--context", sim.context,
             "--api-server-url", "http://10.0.0.4:6443", rc=None)
    assert bad.rc != 0 and "--api-server-url" in bad.err and "https" in bad.err
    assert az("appnet", "member", "list", "-g", "rg1", "--appnet-name", "net-01").json == []

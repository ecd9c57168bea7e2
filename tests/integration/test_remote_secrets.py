"""Remote secrets: every member reads every other member's API server, read-only."""

import base64
import threading

import pytest
import yaml

from azext_appnet.engine import AppNet
from tests.integration.conftest import join

NS = "applink-system"


def _remote_secrets(sim):
    return {s["metadata"]["name"]: s for s in sim.list_objects("v1", "secrets", NS, label_selector="istio/multiCluster=true")}


def _kubeconfig(secret):
    (key, value), = secret["data"].items()
    return key, yaml.safe_load(base64.b64decode(value))


def test_two_members_are_linked_both_ways(engine, network, clusters):
    east, west = clusters(2)
    join(engine, east, "east")
    assert _remote_secrets(east) == {}  # alone in the network
    join(engine, west, "west")
    assert set(_remote_secrets(east)) == {"istio-remote-secret-west"}
    assert set(_remote_secrets(west)) == {"istio-remote-secret-east"}
    cluster_id, config = _kubeconfig(_remote_secrets(west)["istio-remote-secret-east"])
    assert cluster_id == "east"  # the key must be the remote cluster's CLUSTER_ID
    assert config["clusters"][0]["cluster"]["server"] == east.url
    assert "token" in config["users"][0]["user"]


def test_the_remote_token_can_only_read(engine, network, clusters, tmp_path):
    from kubernetes import client
    east, west = clusters(2)
    join(engine, east, "east")
    join(engine, west, "west")
    _, config = _kubeconfig(_remote_secrets(west)["istio-remote-secret-east"])
    token = config["users"][0]["user"]["token"]
    ca = tmp_path / "ca.crt"
    ca.write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    configuration = client.Configuration()
    configuration.host = config["clusters"][0]["cluster"]["server"]
    configuration.ssl_ca_cert = str(ca)  # the CA the remote secret carries verifies the server
    configuration.api_key = {"authorization": f"Bearer {token}"}
    api = client.CoreV1Api(client.ApiClient(configuration))
    assert api.list_service_for_all_namespaces().items is not None   # istiod reads services
    assert api.list_namespace().items
    with pytest.raises(client.ApiException) as denied:
        api.create_namespaced_config_map("default", {"metadata": {"name": "x"}, "data": {"a": "b"}})
    assert denied.value.status == 403
    with pytest.raises(client.ApiException) as denied:
        api.delete_namespaced_service("kubernetes", "default")
    assert denied.value.status == 403


def test_remove_unlinks_from_the_others(engine, network, clusters):
    east, west, north = clusters(3)
    for sim, name in ((east, "east"), (west, "west"), (north, "north")):
        join(engine, sim, name)
    assert set(_remote_secrets(east)) == {"istio-remote-secret-west", "istio-remote-secret-north"}
    engine.remove_member("rg1", "net-01", "north")
    assert set(_remote_secrets(east)) == {"istio-remote-secret-west"}
    assert set(_remote_secrets(west)) == {"istio-remote-secret-east"}
    assert north.list_objects("v1", "secrets", NS) == [] or north.get_object("v1", "namespaces", None, NS) is None


def test_update_keeps_the_links(engine, network, clusters):
    east, west = clusters(2)
    join(engine, east, "east")
    join(engine, west, "west")
    before = _remote_secrets(east)["istio-remote-secret-west"]["metadata"]["uid"]
    engine.update_member("rg1", "net-01", "east", east_west_gateway="External")
    assert _remote_secrets(east)["istio-remote-secret-west"]["metadata"]["uid"] == before


def test_joins_at_the_same_time_end_in_a_full_mesh(tmp_path, network, engine, clusters):
    sims = clusters(3)
    errors = []

    def run(sim, name):
        try:  # one engine per thread, as separate az processes would have
            AppNet(engine.config_dir).join_member("rg1", "net-01", name, kubeconfig=sim.kubeconfig_path,
                                                  context=sim.context)
        except Exception as ex:  # pylint: disable=broad-except
            errors.append(ex)

    threads = [threading.Thread(target=run, args=(sim, f"member-{i}")) for i, sim in enumerate(sims)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == []
    for i, sim in enumerate(sims):
        expected = {f"istio-remote-secret-member-{j}" for j in range(3) if j != i}
        assert set(_remote_secrets(sim)) == expected, sim.name


def test_unreachable_peer_is_a_warning_not_a_failure(engine, network, clusters):
    east, west = clusters(2)
    join(engine, east, "east")
    east.stop()
    member = join(engine, west, "west")
    assert member["properties"]["provisioningState"] == "Succeeded"
    assert any("Could not link with member 'east'" in w for w in member["properties"]["operation"]["warnings"])
    east.start()
    engine.update_member("rg1", "net-01", "west", east_west_gateway="Internal")
    assert set(_remote_secrets(east)) == {"istio-remote-secret-west"}

"""A member's cluster identity (API server + CA) is pinned at join: when its kubeconfig
later reaches another cluster, nothing is sent there until the user accepts the new
identity with `member update --accept-cluster-identity`."""

import pytest

from azext_appnet.errors import ClusterError

NS = "applink-system"


def test_a_member_whose_kubeconfig_now_reaches_another_cluster_gets_nothing(engine, network, clusters,
                                                                           tmp_path):
    first, other = clusters(2)
    kubeconfig = str(tmp_path / "member.kubeconfig")
    first.write_kubeconfig(kubeconfig, context="member")
    joined = engine.join_member("rg1", "net-01", "member-01", kubeconfig=kubeconfig, context="member")
    pinned = joined["properties"]["cluster"]["identity"]
    assert pinned["server"] == first.url and pinned["caFingerprint"]

    # The same path and context now lead to another API server with another CA.
    (tmp_path / "member.kubeconfig").unlink()
    other.write_kubeconfig(kubeconfig, context="member")
    with pytest.raises(ClusterError) as err:
        engine.update_member("rg1", "net-01", "member-01", east_west_gateway="External")
    assert "--accept-cluster-identity" in err.value.recommendation
    assert first.url in err.value.message and other.url in err.value.message
    assert other.get_object("v1", "namespaces", None, NS) is None   # nothing was applied there
    assert other.list_objects("v1", "secrets", NS) == []

    accepted = engine.update_member("rg1", "net-01", "member-01", accept_cluster_identity=True)
    assert accepted["properties"]["provisioningState"] == "Succeeded"
    assert accepted["properties"]["cluster"]["identity"]["server"] == other.url
    assert accepted["properties"]["cluster"]["identity"]["caFingerprint"] != pinned["caFingerprint"]
    assert other.get_object("v1", "secrets", NS, "cacerts") is not None

"""What a real cluster does that an instant one hides: Pods that cannot be scheduled, and
namespaces and CRDs that take a while to go after they are deleted."""

import re

import pytest

from azext_appnet.errors import ClusterError
from tests.integration.conftest import join

NS = "applink-system"
HOLD = "example.com/hold"


def test_join_names_the_pod_that_cannot_be_scheduled_and_why(engine, network, clusters,
                                                             monkeypatch):
    monkeypatch.setenv("APPNET_READY_TIMEOUT", "3")
    taint = {"key": "dedicated", "value": "infra", "effect": "NoSchedule"}
    (sim,) = clusters(1, nodes=[{"os": "linux", "zone": "z%d" % i, "taints": [taint]}
                                for i in range(3)])
    with pytest.raises(ClusterError) as err:
        join(engine, sim)
    msg = err.value.message
    # ztunnel and istio-cni tolerate every taint; istiod does not tolerate this one.
    assert re.search(r"Deployment applink-system/istiod: 0 of \d replicas available", msg)
    assert "cannot be scheduled: 0/3 nodes are available: 3 node(s) had untolerated taint " \
           "{dedicated: infra}" in msg
    pod = next(p for p in sim.list_objects("v1", "pods", NS, label_selector="app=istiod"))
    assert pod["metadata"]["name"] in msg
    assert any("istiod is not ready" in m and "cannot be scheduled" in m for m in engine.messages)


def test_remove_then_join_at_once_while_the_namespace_takes_5s_to_go(engine, network, clusters):
    (sim,) = clusters(1, namespace_delete_delay=5)
    join(engine, sim)
    engine.remove_member("rg1", "net-01", "member-01")
    # remove waited for the namespace to be gone rather than leaving it Terminating.
    assert sim.get_object("v1", "namespaces", None, NS) is None
    assert any(re.match(r"Waiting for Namespace applink-system and \d+ "
                        r"CustomResourceDefinitions to finish terminating$", m)
               for m in engine.messages)
    member = join(engine, sim)
    assert member["properties"]["provisioningState"] == "Succeeded"
    ns = sim.get_object("v1", "namespaces", None, NS)
    assert ns["status"]["phase"] == "Active"
    assert sim.get_object("apps/v1", "daemonsets", NS, "ztunnel")["status"]["numberReady"] == 3


def test_join_waits_for_what_an_earlier_remove_left_terminating(engine, network, clusters,
                                                                monkeypatch):
    (sim,) = clusters(1, namespace_delete_delay=2)
    join(engine, sim)
    monkeypatch.setenv("APPNET_TERMINATING_TIMEOUT", "0")     # remove does not wait
    engine.remove_member("rg1", "net-01", "member-01")
    assert sim.get_object("v1", "namespaces", None, NS)["status"]["phase"] == "Terminating"
    assert any("Still terminating" in m for m in engine.messages)
    monkeypatch.setenv("APPNET_TERMINATING_TIMEOUT", "60")
    engine.messages.clear()
    member = join(engine, sim)
    assert member["properties"]["provisioningState"] == "Succeeded"
    waited = next(m for m in engine.messages if m.startswith("Waiting for "))
    assert "Namespace applink-system" in waited
    assert sim.get_object("v1", "namespaces", None, NS)["metadata"].get("deletionTimestamp") \
        is None


def test_a_stuck_namespace_is_reported_by_remove_and_join(engine, network, clusters,
                                                         monkeypatch):
    monkeypatch.setenv("APPNET_TERMINATING_TIMEOUT", "1")
    (sim,) = clusters(1)
    join(engine, sim)
    pod = sim.list_objects("v1", "pods", NS, label_selector="app=ztunnel")[0]
    pod["metadata"]["finalizers"] = [HOLD]
    sim.put_object(pod)
    engine.remove_member("rg1", "net-01", "member-01")
    warning = next(m for m in engine.messages if "Still terminating after 1s" in m)
    assert "Namespace applink-system" in warning and HOLD in warning
    assert sim.get_object("v1", "namespaces", None, NS)["status"]["phase"] == "Terminating"
    with pytest.raises(ClusterError) as err:
        join(engine, sim)
    assert err.value.code == "StillTerminating"
    assert "Namespace applink-system" in err.value.message and HOLD in err.value.message
    assert "kubectl get namespace applink-system -o yaml" in err.value.recommendation
    # Released, the namespace goes and the same join goes through.
    pod = sim.get_object("v1", "pods", NS, pod["metadata"]["name"])
    pod["metadata"]["finalizers"] = []
    sim.put_object(pod)
    assert sim.get_object("v1", "namespaces", None, NS) is None
    assert join(engine, sim)["properties"]["provisioningState"] == "Succeeded"

"""Declarations without a cluster: names, ports, the desired state, the per-member result."""

import pytest

from azext_appnet.errors import InvalidInputError
from azext_appnet.operations import declarations as decl
from azext_appnet.operations import declared_objects as objects


@pytest.mark.parametrize("value", ["shop", "a", "x-1", "a" * 63])
def test_namespace_names_kubernetes_accepts(value):
    assert decl.check_namespace(value) == value


@pytest.mark.parametrize("value", ["Shop", "-shop", "shop-", "a_b", "a" * 64, "", None, "kube-system",
                                   "applink-system"])
def test_namespace_names_refused(value):
    with pytest.raises(InvalidInputError):
        decl.check_namespace(value)


@pytest.mark.parametrize("value", ["9lives", "Cart", "cart.v2", "c" * 64])
def test_service_names_refused(value):
    with pytest.raises(InvalidInputError):
        decl.check_service(value)


def test_ports_compare_by_port_and_protocol_and_stubs_copy_what_a_selectorless_service_needs():
    real = [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 30080},
            {"name": "dns", "port": 53, "protocol": "UDP", "appProtocol": "dns"}]
    assert objects.port_key(real) == objects.port_key([{"port": 53, "protocol": "udp"}, {"port": 80}])
    assert objects.port_key(real) != objects.port_key([{"port": 80}])
    assert objects.stub_ports(real) == [{"port": 53, "protocol": "UDP", "name": "dns", "appProtocol": "dns"},
                                        {"port": 80, "protocol": "TCP", "name": "http"}]


def test_desired_state_gives_each_namespace_its_labels():
    state = {"ambientNamespaces": [{"namespace": "shop"}],
             "globalServices": [{"namespace": "pay", "service": "ledger", "ports": [{"port": 80}]}],
             "waypoints": [{"namespace": "shop", "name": "wp"}]}
    wanted = objects.Declared.from_state(state)
    assert wanted.namespace_labels() == {"shop": {"istio.io/dataplane-mode": "ambient",
                                                  "istio.io/use-waypoint": "wp"}}
    assert wanted.needed_namespaces() == {"shop", "pay"}


def test_a_members_result_is_the_strongest_change_of_the_commands_item():
    member = {"name": "m1"}
    item = ("globalService", "shop", "cart")
    changes = [{"action": "Labelled", "object": "Namespace shop", "item": ("namespace", "shop", None), "detail": ""},
               {"action": "Created", "object": "Service shop/cart", "item": item, "detail": "stub"}]
    assert decl._member_report(member, item, changes)["result"] == "Created"
    assert decl._member_report(member, ("namespace", "shop", None), changes)["result"] == "Labelled"
    assert decl._member_report(member, ("waypoint", "shop", "w"), changes)["result"] == "Unchanged"
    failed = changes + [{"action": "Failed", "object": "Gateway shop/w", "item": ("waypoint", "shop", "w"),
                         "detail": "no"}]
    assert decl._member_report(member, item, failed)["result"] == "Failed"

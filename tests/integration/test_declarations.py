"""Network-wide declarations at the engine level, against emulated members: what is taken
back and what is left alone, drift repair by member update, and members that were away."""

from tests.integration.conftest import join

GW = "gateway.networking.k8s.io/v1"
MARK = "appnet.azure.com/declared-by"


def _ns(sim, name, labels=None):
    sim.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}})


def _svc(sim, ns, name, labels=None, port=80):
    sim.put_object({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": name}},
                    "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": port}]}})


def _labels(obj):
    return {k: v for k, v in (((obj or {}).get("metadata") or {}).get("labels") or {}).items()
            if k != "kubernetes.io/metadata.name"}


def _results(report):
    return {m["member"]: m["result"] for m in report["members"]}


def test_a_label_the_user_set_stays_when_the_declaration_goes(engine, network, clusters):
    a, b = clusters(2)
    join(engine, a, "member-01")
    join(engine, b, "member-02")
    _ns(a, "shop")
    _svc(a, "shop", "cart", labels={"app": "cart", "istio.io/global": "true"})  # global by hand already
    added = engine.add_global_service("rg1", "net-01", "shop", "cart")
    assert _results(added) == {"member-01": "Unchanged", "member-02": "Created"}
    assert _labels(a.get_object("v1", "services", "shop", "cart")) == {"app": "cart", "istio.io/global": "true"}
    removed = engine.remove_global_service("rg1", "net-01", "shop", "cart")
    assert _results(removed) == {"member-01": "Unchanged", "member-02": "Deleted"}
    assert _labels(a.get_object("v1", "services", "shop", "cart")) == {"app": "cart", "istio.io/global": "true"}
    assert b.get_object("v1", "services", "shop", "cart") is None
    # We created it for the stub and it is empty: deleted (gone, or still Terminating as on a real cluster).
    shop = b.get_object("v1", "namespaces", None, "shop")
    assert shop is None or shop["metadata"].get("deletionTimestamp")


def test_a_namespace_we_created_is_kept_once_it_holds_the_users_objects(engine, network, clusters):
    a, b = clusters(2)
    join(engine, a, "member-01")
    join(engine, b, "member-02")
    _ns(a, "web")
    assert _results(engine.enable_namespace("rg1", "net-01", "web")) == {"member-01": "Labelled",
                                                                          "member-02": "Created"}
    b.put_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "web"},
                  "data": {"a": "b"}})
    disabled = engine.disable_namespace("rg1", "net-01", "web")
    assert _results(disabled) == {"member-01": "Unlabelled", "member-02": "Kept"}
    kept = b.get_object("v1", "namespaces", None, "web")
    assert kept is not None and _labels(kept) == {}
    assert not (kept["metadata"].get("annotations") or {})
    assert b.get_object("v1", "configmaps", "web", "settings")["data"] == {"a": "b"}


def test_a_gateway_of_another_class_is_left_alone_and_reported(engine, network, clusters):
    a, b = clusters(2)
    join(engine, a, "member-01")
    join(engine, b, "member-02")
    _ns(a, "edge")
    engine.enable_namespace("rg1", "net-01", "edge")
    mine = {"apiVersion": GW, "kind": "Gateway", "metadata": {"name": "waypoint", "namespace": "edge"},
            "spec": {"gatewayClassName": "istio", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}
    b.put_object(mine)
    created = engine.create_waypoint("rg1", "net-01", "edge")
    assert _results(created) == {"member-01": "Created", "member-02": "Failed"}
    failed = next(m for m in created["members"] if m["member"] == "member-02")
    assert "class 'istio'" in failed["message"]
    theirs = b.get_object(GW, "gateways", "edge", "waypoint")
    assert theirs["spec"]["gatewayClassName"] == "istio" and _labels(theirs) == {}
    engine.delete_waypoint("rg1", "net-01", "edge")
    assert a.get_object(GW, "gateways", "edge", "waypoint") is None
    assert b.get_object(GW, "gateways", "edge", "waypoint")["spec"]["gatewayClassName"] == "istio"


def test_member_update_keeps_the_declarations_and_repairs_drift(engine, network, clusters):
    (a,) = clusters(1)
    join(engine, a, "member-01")
    _ns(a, "shop")
    _svc(a, "shop", "cart")
    engine.enable_namespace("rg1", "net-01", "shop")
    engine.add_global_service("rg1", "net-01", "shop", "cart")
    engine.create_waypoint("rg1", "net-01", "shop")
    # Someone removes the global label by hand; an update of the member puts it back and its
    # data-plane prune leaves the waypoint alone.
    _svc(a, "shop", "cart")
    engine.update_member("rg1", "net-01", "member-01", east_west_gateway="External")
    assert _labels(a.get_object("v1", "services", "shop", "cart"))["istio.io/global"] == "true"
    assert a.get_object(GW, "gateways", "shop", "waypoint") is not None
    assert _labels(a.get_object("v1", "namespaces", None, "shop"))["istio.io/use-waypoint"] == "waypoint"


def test_declared_before_any_member_joins(engine, network, clusters):
    (a,) = clusters(1)
    report = engine.enable_namespace("rg1", "net-01", "later")
    assert report["declared"] is True and report["members"] == []
    join(engine, a, "member-01")
    assert _labels(a.get_object("v1", "namespaces", None, "later"))["istio.io/dataplane-mode"] == "ambient"


def test_a_removal_missed_by_an_unreachable_member_is_done_on_the_next_run(engine, network, clusters):
    a, b = clusters(2)
    join(engine, a, "member-01")
    join(engine, b, "member-02")
    _ns(a, "shop")
    _svc(a, "shop", "cart")
    engine.add_global_service("rg1", "net-01", "shop", "cart")
    b.stop()
    removed = engine.remove_global_service("rg1", "net-01", "shop", "cart")
    assert _results(removed) == {"member-01": "Unlabelled", "member-02": "Unreachable"}
    b.start()
    assert b.get_object("v1", "services", "shop", "cart") is not None  # the stub it missed removing
    again = engine.remove_global_service("rg1", "net-01", "shop", "cart")
    assert _results(again) == {"member-01": "Unchanged", "member-02": "Deleted"}
    assert b.list_objects("v1", "services", label_selector=MARK) == []


def test_a_declared_service_converges_the_others_while_its_only_real_one_is_away(engine, network, clusters):
    a, b = clusters(2)
    join(engine, a, "member-01")
    join(engine, b, "member-02")
    _ns(a, "shop")
    _svc(a, "shop", "cart", port=8443)
    engine.add_global_service("rg1", "net-01", "shop", "cart")
    b.delete_object("v1", "services", "shop", "cart")  # the stub, deleted by hand
    a.stop()
    again = engine.add_global_service("rg1", "net-01", "shop", "cart")
    assert _results(again) == {"member-01": "Unreachable", "member-02": "Created"}
    assert again["ports"] == [{"name": "http", "port": 8443, "protocol": "TCP"}]
    assert [p["port"] for p in b.get_object("v1", "services", "shop", "cart")["spec"]["ports"]] == [8443]


def test_two_commands_at_once_both_end_recorded_and_applied(engine, network, clusters):
    from concurrent.futures import ThreadPoolExecutor
    from azext_appnet.engine import AppNet
    (a,) = clusters(1)
    join(engine, a, "member-01")
    for ns in ("one", "two", "three"):
        _ns(a, ns)
    # Separate engines, as separate az processes would be: they meet in the state store's lock.
    engines = [AppNet(engine.config_dir) for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda pair: pair[0].enable_namespace("rg1", "net-01", pair[1]),
                      zip(engines, ("one", "two", "three"))))
    declared = engine.show_network("rg1", "net-01")["properties"]["declarations"]["ambientNamespaces"]
    assert sorted(i["namespace"] for i in declared) == ["one", "three", "two"]
    for ns in ("one", "two", "three"):
        assert _labels(a.get_object("v1", "namespaces", None, ns))["istio.io/dataplane-mode"] == "ambient"


def test_adding_a_declared_service_again_changes_nothing(engine, network, clusters):
    (a,) = clusters(1)
    join(engine, a, "member-01")
    _ns(a, "shop")
    _svc(a, "shop", "cart")
    _svc(a, "shop", "till")
    engine.add_global_service("rg1", "net-01", "shop", "cart")
    engine.add_global_service("rg1", "net-01", "shop", "till")
    before = engine.show_network("rg1", "net-01")
    again = engine.add_global_service("rg1", "net-01", "shop", "cart")
    assert again["changed"] is False and _results(again) == {"member-01": "Unchanged"}
    assert engine.show_network("rg1", "net-01")["systemData"] == before["systemData"]

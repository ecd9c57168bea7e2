"""az appnet namespace | global-service | waypoint, and check's consistency checks, through the
real az against three emulated members (and a fourth that joins later). After each command,
kubectl in every member shows exactly the labels and objects declared."""

import json
import subprocess

import pytest

from tests.e2e.conftest import Az
from tests.fixtures import gateway_api
from tests.fixtures.requires import kubectl as find_kubectl
from tests.kubesim import KubeSim

pytestmark = pytest.mark.e2e

NET = ["-g", "rg1", "--appnet-name", "net-01"]
MARK = "appnet.azure.com/declared-by"
SET = "appnet.azure.com/declared-labels"
GW = "gateway.networking.k8s.io/v1"


@pytest.fixture(scope="module")
def mesh(az_extension_dir, tmp_path_factory):
    """A network of three members (c1..c3) and a fourth cluster (c4) not joined yet."""
    tmp = tmp_path_factory.mktemp("declarations")
    az = Az(az_extension_dir, tmp / "azure")
    kubeconfig = str(tmp / "kubeconfig")
    sims = []
    for i in (1, 2, 3, 4):
        sim = KubeSim(name=f"c{i}").start()
        gateway_api.install(sim)
        sim.write_kubeconfig(kubeconfig)
        sims.append(sim)
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    for i, sim in enumerate(sims[:3]):
        az("appnet", "member", "join", *NET, "--member-name", f"member-0{i + 1}", "--kubeconfig", kubeconfig,
           "--context", sim.context, "-o", "none")
    try:
        yield {"az": az, "sims": sims, "kubeconfig": kubeconfig}
    finally:
        for sim in sims:
            sim.stop()


@pytest.fixture(scope="module")
def kubectl(mesh):
    path = find_kubectl()

    def run(sim, *args):
        proc = subprocess.run([path, "--kubeconfig", mesh["kubeconfig"], "--context", sim.context, *args],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout) if "-o" in args and "json" in args else proc.stdout
    return run


def namespace(sim, name, labels=None):
    sim.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}})


def service(sim, ns, name, ports=((80, "http"),), labels=None):
    """A user's Service, as their own tooling would create it."""
    sim.put_object({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": name, "namespace": ns, "labels": dict(labels or {"app": name})},
                    "spec": {"selector": {"app": name},
                             "ports": [{"name": n, "port": p, "targetPort": 8080} for p, n in ports]}})


def endpoints(sim, ns, name, ready=True):
    """The EndpointSlice the cluster's endpoint controller keeps for a Service with a pod."""
    sim.put_object({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": f"{name}-x1", "namespace": ns, "labels": {"kubernetes.io/service-name": name}},
                    "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                    "endpoints": [{"addresses": ["10.244.1.7"], "conditions": {"ready": ready}}]})


def labels(obj):
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def own_labels(obj):
    """The labels that are not Kubernetes' automatic ones."""
    return {k: v for k, v in labels(obj).items() if k != "kubernetes.io/metadata.name"}


def results(report):
    return {m["member"]: m["result"] for m in report["members"]}


def ours_everywhere(sims, kubectl):
    """Every object marked as ours in each member, through kubectl."""
    out = {}
    for sim in sims:
        items = kubectl(sim, "get", "namespaces,services,gateways", "-A", "-l", f"{MARK}=net-01", "-o", "json")
        out[sim.name] = sorted(f"{o['kind']} {o['metadata'].get('namespace', '')}/{o['metadata']['name']}"
                               for o in items["items"])
    return out


def test_declared_once_applied_everywhere_joined_later_and_taken_back(mesh, kubectl):
    az, (a, b, c, d) = mesh["az"], mesh["sims"]
    namespace(a, "shop", {"team": "shop"})
    namespace(b, "shop")
    service(a, "shop", "cart", labels={"app": "cart", "tier": "web"})
    endpoints(a, "shop", "cart")

    enabled = az("appnet", "namespace", "enable", *NET, "--namespace", "shop").json
    assert results(enabled) == {"member-01": "Labelled", "member-02": "Labelled", "member-03": "Created"}
    for sim in (a, b, c):
        shop = kubectl(sim, "get", "namespace", "shop", "-o", "json")
        assert labels(shop)["istio.io/dataplane-mode"] == "ambient"
    assert own_labels(a.get_object("v1", "namespaces", None, "shop")) == {
        "team": "shop", "istio.io/dataplane-mode": "ambient", MARK: "net-01", SET: "dataplane-mode"}
    assert labels(c.get_object("v1", "namespaces", None, "shop"))["app.kubernetes.io/managed-by"] == "az-appnet"

    added = az("appnet", "global-service", "add", *NET, "--namespace", "shop", "--service", "cart").json
    assert results(added) == {"member-01": "Labelled", "member-02": "Created", "member-03": "Created"}
    assert added["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]
    real = a.get_object("v1", "services", "shop", "cart")
    assert own_labels(real) == {"app": "cart", "tier": "web", "istio.io/global": "true", MARK: "net-01",
                                SET: "global"}
    assert real["spec"]["selector"] == {"app": "cart"}
    for sim in (b, c):
        stub = kubectl(sim, "get", "service", "cart", "-n", "shop", "-o", "json")
        assert labels(stub)["istio.io/global"] == "true"
        assert "selector" not in stub["spec"]
        assert [(p["name"], p["port"], p["protocol"]) for p in stub["spec"]["ports"]] == [("http", 80, "TCP")]

    created = az("appnet", "waypoint", "create", *NET, "--namespace", "shop").json
    assert results(created) == {m: "Created" for m in ("member-01", "member-02", "member-03")}
    for sim in (a, b, c):
        gateway = kubectl(sim, "get", "gateways.gateway.networking.k8s.io", "waypoint", "-n", "shop", "-o", "json")
        assert gateway["spec"]["gatewayClassName"] == "istio-waypoint"
        assert gateway["spec"]["listeners"] == [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]
        assert labels(gateway)["istio.io/global"] == "true"
        assert labels(sim.get_object("v1", "namespaces", None, "shop"))["istio.io/use-waypoint"] == "waypoint"
    assert ours_everywhere((a, b, c), kubectl) == {
        "c1": ["Gateway shop/waypoint", "Namespace /shop", "Service shop/cart"],
        "c2": ["Gateway shop/waypoint", "Namespace /shop", "Service shop/cart"],
        "c3": ["Gateway shop/waypoint", "Namespace /shop", "Service shop/cart"]}

    shown = az("appnet", "show", "-g", "rg1", "-n", "net-01", "--query", "properties.declarations").json
    assert shown == {"ambientNamespaces": [{"namespace": "shop"}],
                     "globalServices": [{"namespace": "shop", "service": "cart",
                                         "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}],
                     "waypoints": [{"namespace": "shop", "name": "waypoint"}]}

    again = az("appnet", "global-service", "add", *NET, "--namespace", "shop", "--service", "cart").json
    assert set(results(again).values()) == {"Unchanged"} and again["changed"] is False

    listed = az("appnet", "global-service", "list", *NET).json
    assert [(i["namespace"], i["service"], i["declared"]) for i in listed] == [("shop", "cart", True)]
    state = {m["member"]: m for m in listed[0]["members"]}
    assert (state["member-01"]["stub"], state["member-01"]["endpointsReady"]) == (False, 1)
    assert (state["member-02"]["stub"], state["member-02"]["endpointsReady"]) == (True, 0)
    assert all(m["global"] and m["matchesDeclaration"] for m in state.values())
    table = az("appnet", "global-service", "list", *NET, "-o", "table").out
    rows = [line.split() for line in table.splitlines()[2:] if line.strip()]
    assert [(r[0], r[1], r[3]) for r in rows] == [("shop", "cart", "member-01"), ("shop", "cart", "member-02"),
                                                  ("shop", "cart", "member-03")], table
    ns_rows = az("appnet", "namespace", "list", *NET).json
    assert [(i["namespace"], [m["ambient"] for m in i["members"]]) for i in ns_rows] == [("shop", [True] * 3)]
    waypoints = az("appnet", "waypoint", "list", *NET).json
    assert [(w["namespace"], w["name"], [m["global"] and m["namespaceUsesIt"] for m in w["members"]])
            for w in waypoints] == [("shop", "waypoint", [True] * 3)]

    # A member that joins later gets every declaration with its data plane.
    joined = az("appnet", "member", "join", *NET, "--member-name", "member-04", "--kubeconfig", mesh["kubeconfig"],
                "--context", d.context)
    assert "Applying the network's namespaces, global services and waypoints" in joined.err
    assert labels(d.get_object("v1", "namespaces", None, "shop"))["istio.io/dataplane-mode"] == "ambient"
    assert labels(d.get_object("v1", "services", "shop", "cart"))["istio.io/global"] == "true"
    assert d.get_object(GW, "gateways", "shop", "waypoint")["spec"]["gatewayClassName"] == "istio-waypoint"
    checked = az("appnet", "check", "-g", "rg1", "-n", "net-01").json
    assert {c["name"]: c["status"] for c in checked["checks"]}["globalServiceScope"] == "Passed"
    assert checked["summary"]["failed"] == 0

    # The member leaving takes the declarations off its cluster.
    az("appnet", "member", "remove", *NET, "--member-name", "member-04", "--yes")
    assert d.get_object("v1", "namespaces", None, "shop") is None or \
        d.get_object("v1", "namespaces", None, "shop")["status"]["phase"] == "Terminating"
    assert d.get_object("v1", "services", "shop", "cart") is None
    assert d.get_object(GW, "gateways", "shop", "waypoint") is None

    deleted = az("appnet", "waypoint", "delete", *NET, "--namespace", "shop", "--yes").json
    assert results(deleted) == {m: "Deleted" for m in ("member-01", "member-02", "member-03")}
    removed = az("appnet", "global-service", "remove", *NET, "--namespace", "shop", "--service", "cart", "--yes").json
    assert results(removed) == {"member-01": "Unlabelled", "member-02": "Deleted", "member-03": "Deleted"}
    disabled = az("appnet", "namespace", "disable", *NET, "--namespace", "shop", "--yes").json
    assert results(disabled) == {"member-01": "Unlabelled", "member-02": "Unlabelled", "member-03": "Deleted"}
    assert ours_everywhere((a, b, c), kubectl) == {"c1": [], "c2": [], "c3": []}
    # The user's own objects are as they were before.
    real = a.get_object("v1", "services", "shop", "cart")
    assert own_labels(real) == {"app": "cart", "tier": "web"} and real["spec"]["selector"] == {"app": "cart"}
    assert not (real["metadata"].get("annotations") or {})
    assert own_labels(a.get_object("v1", "namespaces", None, "shop")) == {"team": "shop"}
    assert own_labels(b.get_object("v1", "namespaces", None, "shop")) == {}
    assert az("appnet", "show", "-g", "rg1", "-n", "net-01", "--query", "properties.declarations").json == {
        "ambientNamespaces": [], "globalServices": [], "waypoints": []}


def test_an_unreachable_member_fails_the_command_and_converges_later(mesh):
    az, (a, _, c, _) = mesh["az"], mesh["sims"]
    namespace(a, "books")
    c.stop()
    try:
        partial = az("appnet", "namespace", "enable", *NET, "--namespace", "books", rc=1)
        report = partial.json
        assert results(report) == {"member-01": "Labelled", "member-02": "Created", "member-03": "Unreachable"}
        cause = next(m["message"] for m in report["members"] if m["member"] == "member-03")
        assert "Cannot reach the API server" in cause
        assert "member-03 (Unreachable)" in partial.err
        shown = az("appnet", "show", "-g", "rg1", "-n", "net-01", "--query", "properties.declarations").json
        assert shown["ambientNamespaces"] == [{"namespace": "books"}]  # recorded all the same
        listed = az("appnet", "namespace", "list", *NET, rc=1)
        assert "member-03" in listed.err
    finally:
        c.start()
    rerun = az("appnet", "namespace", "enable", *NET, "--namespace", "books").json
    assert results(rerun) == {"member-01": "Unchanged", "member-02": "Unchanged", "member-03": "Created"}
    assert labels(c.get_object("v1", "namespaces", None, "books"))["istio.io/dataplane-mode"] == "ambient"
    az("appnet", "namespace", "disable", *NET, "--namespace", "books", "--yes")
    assert labels(a.get_object("v1", "namespaces", None, "books")).get("istio.io/dataplane-mode") is None
    assert c.get_object("v1", "namespaces", None, "books") is None or \
        c.get_object("v1", "namespaces", None, "books")["status"]["phase"] == "Terminating"


def test_conflicting_ports_are_refused_naming_both_members(mesh):
    az, (a, b, c, _) = mesh["az"], mesh["sims"]
    for sim in (a, b):
        namespace(sim, "pay")
    service(a, "pay", "ledger", ports=((80, "http"),))
    service(b, "pay", "ledger", ports=((8080, "http"),))
    refused = az("appnet", "global-service", "add", *NET, "--namespace", "pay", "--service", "ledger", rc=1)
    assert "member-01" in refused.err and "member-02" in refused.err and "80/TCP" in refused.err
    assert "8080/TCP" in refused.err and not refused.out.strip()
    for sim in (a, b):
        assert "istio.io/global" not in labels(sim.get_object("v1", "services", "pay", "ledger"))
    assert c.get_object("v1", "services", "pay", "ledger") is None
    assert az("appnet", "show", "-g", "rg1", "-n", "net-01",
              "--query", "properties.declarations.globalServices").json in (None, [])


@pytest.mark.parametrize("args, message", [
    (["namespace", "enable", "--namespace", "nowhere"], "Namespace 'nowhere' was found in no member"),
    (["namespace", "enable", "--namespace", "Bad_Name"], "Invalid --namespace 'Bad_Name'"),
    (["namespace", "enable", "--namespace", "kube-system"], "belongs to Kubernetes"),
    (["global-service", "add", "--namespace", "default", "--service", "nosuch"],
     "Service 'default/nosuch' was found in no member"),
    (["global-service", "add", "--namespace", "default", "--service", "9lives"], "Invalid --service '9lives'"),
    (["waypoint", "create", "--namespace", "default"], "is not an ambient namespace of the network"),
    (["waypoint", "create", "--namespace", "default", "--name", "Way.Point"], "Invalid --name 'Way.Point'"),
])
def test_bad_input_is_an_error_and_changes_nothing(mesh, args, message):
    az, sims = mesh["az"], mesh["sims"][:3]
    before = [sim.list_objects("v1", "namespaces") + sim.list_objects("v1", "services") for sim in sims]
    failed = az("appnet", *args, *NET, rc=None)
    assert failed.rc != 0 and message in failed.err, failed
    assert not failed.out.strip()
    assert [sim.list_objects("v1", "namespaces") + sim.list_objects("v1", "services") for sim in sims] == before
    assert az("appnet", "show", "-g", "rg1", "-n", "net-01", "--query", "properties.declarations").json in (
        None, {"ambientNamespaces": [], "globalServices": [], "waypoints": []})


def test_an_unknown_network_is_not_found(mesh):
    missing = mesh["az"]("appnet", "namespace", "list", "-g", "rg1", "--appnet-name", "net-99", rc=3)
    assert "net-99" in missing.err and "was not found" in missing.err


def test_disable_is_refused_while_a_global_service_uses_the_namespace(mesh):
    az, (a, b, _, _) = mesh["az"], mesh["sims"]
    namespace(a, "inv")
    service(a, "inv", "stock")
    endpoints(a, "inv", "stock")
    az("appnet", "namespace", "enable", *NET, "--namespace", "inv", "-o", "none")
    az("appnet", "global-service", "add", *NET, "--namespace", "inv", "--service", "stock", "-o", "none")
    refused = az("appnet", "namespace", "disable", *NET, "--namespace", "inv", "--yes", rc=1)
    assert "global service 'stock'" in refused.err
    assert labels(b.get_object("v1", "namespaces", None, "inv"))["istio.io/dataplane-mode"] == "ambient"
    az("appnet", "global-service", "remove", *NET, "--namespace", "inv", "--service", "stock", "--yes", "-o", "none")
    az("appnet", "namespace", "disable", *NET, "--namespace", "inv", "--yes", "-o", "none")
    assert "istio.io/global" not in labels(a.get_object("v1", "services", "inv", "stock"))


# ---- az appnet check: one test per inconsistency -------------------------------------------

def _failed_checks(az):
    checked = az("appnet", "check", "-g", "rg1", "-n", "net-01", rc=1)
    failed = {c["name"]: c for c in checked.json["checks"] if c["status"] == "Failed"}
    members_failed = [c["name"] for m in checked.json["members"] for c in m["checks"] if c["status"] == "Failed"]
    assert not members_failed, members_failed
    return failed, checked.err


def test_check_names_a_service_global_in_some_members_only(mesh):
    az, (a, b, _, _) = mesh["az"], mesh["sims"]
    for sim in (a, b):
        namespace(sim, "geo")
        service(sim, "geo", "maps")
    endpoints(a, "geo", "maps")
    service(a, "geo", "maps", labels={"app": "maps", "istio.io/global": "true"})  # by hand, in one member
    failed, err = _failed_checks(az)
    assert set(failed) == {"globalServiceScope"}
    text = failed["globalServiceScope"]["message"]
    assert "geo/maps (labelled by hand, not declared; global in member-01" in text
    assert "not labelled in member-02" in text and "missing from member-03" in text
    assert "(network): globalServiceScope" in err or "network: globalServiceScope" in err
    a.delete_object("v1", "services", "geo", "maps")


def test_check_names_a_global_service_without_ready_endpoints(mesh):
    az, (a, _, _, _) = mesh["az"], mesh["sims"]
    namespace(a, "idle")
    service(a, "idle", "ghost")
    endpoints(a, "idle", "ghost", ready=False)
    az("appnet", "global-service", "add", *NET, "--namespace", "idle", "--service", "ghost", "-o", "none")
    try:
        failed, _ = _failed_checks(az)
        assert set(failed) == {"globalServiceEndpoints"}
        assert "idle/ghost" in failed["globalServiceEndpoints"]["message"]
    finally:
        az("appnet", "global-service", "remove", *NET, "--namespace", "idle", "--service", "ghost", "--yes",
           "-o", "none")


def test_check_names_a_waypoint_not_labelled_global(mesh):
    az, (_, b, _, _) = mesh["az"], mesh["sims"]
    namespace(b, "legacy", {"istio.io/dataplane-mode": "ambient"})
    namespace(b, "legacy", {"istio.io/dataplane-mode": "ambient"})
    b.put_object({"apiVersion": GW, "kind": "Gateway", "metadata": {"name": "waypoint", "namespace": "legacy"},
                  "spec": {"gatewayClassName": "istio-waypoint",
                           "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]}})
    try:
        failed, _ = _failed_checks(az)
        # The namespace is ambient only where it exists (member-02): consistent; the waypoint is not.
        assert set(failed) == {"waypointsGlobal"}
        assert "legacy/waypoint in member-02 (not labelled istio.io/global=true)" in failed["waypointsGlobal"]["message"]
    finally:
        b.delete_object(GW, "gateways", "legacy", "waypoint")


def test_check_names_a_namespace_using_a_missing_waypoint(mesh):
    az, (_, _, c, _) = mesh["az"], mesh["sims"]
    namespace(c, "orphan", {"istio.io/use-waypoint": "gone"})
    try:
        failed, _ = _failed_checks(az)
        assert set(failed) == {"useWaypoint"}
        assert "orphan in member-03 (uses orphan/gone)" in failed["useWaypoint"]["message"]
    finally:
        namespace(c, "orphan")


def test_check_names_a_namespace_ambient_in_some_members_only(mesh):
    az, (a, b, _, _) = mesh["az"], mesh["sims"]
    namespace(a, "half", {"istio.io/dataplane-mode": "ambient"})
    namespace(b, "half")
    try:
        failed, _ = _failed_checks(az)
        assert set(failed) == {"ambientNamespaces"}
        assert "half (labelled by hand, not declared; ambient in member-01, not ambient in member-02)" in \
            failed["ambientNamespaces"]["message"]
    finally:
        namespace(a, "half")

"""`reconcile` through the engine with a controllable clock, against emulated clusters:
certificate rotations, channel upgrades and patches in the maintenance window, and nothing
when nothing is due. (Drift repair through the real az: tests/e2e/test_reconcile_commands.py.)"""

import base64
import datetime
import hashlib
import json
import os

import pytest

from azext_appnet import versions
from azext_appnet.manifests.istiod import CACERTS_HASH_ANNOTATION
from tests.integration.conftest import join

NS = "applink-system"
DAY = datetime.timedelta(days=1)


@pytest.fixture
def clock(engine, monkeypatch):
    """engine.clock, moved by tests: clock.now += 46 * DAY. (The links' reader tokens expire
    by the emulator's real clock, so past 3.5 days every run also renews them.)"""
    class Clock:
        now = datetime.datetime.now(datetime.timezone.utc)

        def __call__(self):
            return self.now
    c = Clock()
    engine.clock = c
    return c


class _Catalog(dict):
    def __init__(self, data, monkeypatch):
        super().__init__(data)
        self._monkeypatch = monkeypatch

    def install(self):
        """Make the edited data the catalog every module sees."""
        self._monkeypatch.setattr(versions, "_catalog", versions.Catalog(json.loads(json.dumps(self))))


@pytest.fixture
def catalog(monkeypatch):
    """The packaged catalog's data, to edit, then `install()`."""
    with open(versions._CATALOG_FILE, encoding="utf-8") as f:
        yield _Catalog(json.load(f), monkeypatch)


def _cacerts(sim):
    return sim.get_object("v1", "secrets", NS, "cacerts")["data"]["ca-cert.pem"]


def _istiod(sim):
    return sim.get_object("apps/v1", "deployments", NS, "istiod")


# What the emulated kubelets write on their own, as on a real cluster: node heartbeats,
# their Leases, events.
_HEARTBEATS = {("", "nodes"), ("coordination.k8s.io", "leases"), ("", "events"),
               ("events.k8s.io", "events")}


def _object_versions(sim):
    """The resourceVersion of every object but the kubelets' heartbeats."""
    with sim.store.lock:
        return {(key, ns, name): obj["metadata"]["resourceVersion"]
                for key in sim.store.list_keys() if tuple(key) not in _HEARTBEATS
                for (ns, name), obj in sim.store.data[key].items()}


def _files(root):
    out = {}
    for base, _, names in os.walk(root):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                out[path] = hashlib.sha256(f.read()).hexdigest()
    return out


def _state(engine):
    with open(engine.store_path, "rb") as f:
        return f.read()


def _acts(report, status=None):
    return [(a["member"], a["action"]) for a in report["actions"] if status is None or a["status"] == status]


def _no_links(report):
    """The report without the renewals of link tokens (see `clock`)."""
    return dict(report, actions=[a for a in report["actions"] if a["action"] != "rotateCredentials"])


def test_nothing_due_means_no_action_and_no_write(engine, network, clusters, clock):
    sims = clusters(2)
    join(engine, sims[0], "mem-1")
    join(engine, sims[1], "mem-2")
    clock.now += 3 * DAY      # short of every rotate-after: links' 3.5 d, intermediates' 45 d
    before = (_state(engine), _files(engine.keys_dir), [_object_versions(s) for s in sims])
    for dry_run in (True, False):
        report = engine.reconcile("rg1", "net-01", dry_run=dry_run)
        assert report["actions"] == [] and report["converged"] is True
    assert (_state(engine), _files(engine.keys_dir), [_object_versions(s) for s in sims]) == before


def test_intermediate_past_rotate_after_is_rotated_and_istiod_rolled(engine, network, clusters, clock):
    (sim,) = clusters(1)
    join(engine, sim, "mem-1")
    old_cert, old_hash = _cacerts(sim), _istiod(sim)["spec"]["template"]["metadata"]["annotations"][
        CACERTS_HASH_ANNOTATION]
    clock.now += 46 * DAY
    before = (_state(engine), _files(engine.keys_dir), _object_versions(sim))
    plan = engine.reconcile("rg1", "net-01", dry_run=True)
    assert _acts(plan) == [("mem-1", "rotateIntermediate")] and plan["actions"][0]["status"] == "Planned"
    assert "rotate-after" in plan["actions"][0]["reason"]
    assert (_state(engine), _files(engine.keys_dir), _object_versions(sim)) == before

    done = engine.reconcile("rg1", "net-01")
    assert _acts(done, "Done") == [("mem-1", "rotateIntermediate")]
    assert _cacerts(sim) != old_cert
    istiod = _istiod(sim)
    assert istiod["spec"]["template"]["metadata"]["annotations"][CACERTS_HASH_ANNOTATION] != old_hash
    member = engine.show_member("rg1", "net-01", "mem-1")
    assert member["properties"]["operation"]["name"] == "rotateCa"
    assert engine.reconcile("rg1", "net-01")["actions"] == []


def test_root_rotation_takes_both_stages_over_successive_runs(engine, network, clusters, clock):
    sims = clusters(2)
    join(engine, sims[0], "mem-1")
    join(engine, sims[1], "mem-2")
    old_root = engine.show_ca("rg1", "net-01")["roots"][0]["sha256Fingerprint"]
    clock.now += 190 * DAY     # past the root's rotate-after; the intermediates long expired

    first = engine.reconcile("rg1", "net-01")
    # The links' 7-day reader tokens are long past due too: one member's rotation renews both.
    assert [(a["member"], a["action"], a["status"]) for a in first["actions"]] == [
        (None, "rotateRoot", "Done"), ("mem-1", "rotateCredentials", "Done")]
    ca = engine.show_ca("rg1", "net-01")
    assert ca["rootRotationInProgress"] is True
    assert all(i["signedByActiveRoot"] for i in ca["intermediates"])
    for sim in sims:
        bundle = sim.get_object("v1", "configmaps", NS, "istio-root-cert")["data"]["root-cert.pem"]
        assert bundle.count("BEGIN CERTIFICATE") == 2

    again = _no_links(engine.reconcile("rg1", "net-01"))   # old workload certificates not aged out yet
    assert _acts(again) == [(None, "finishRootRotation")] and again["actions"][0]["status"] == "Deferred"
    assert "age out" in again["actions"][0]["reason"]

    clock.now += 25 * datetime.timedelta(hours=1)
    second = _no_links(engine.reconcile("rg1", "net-01"))
    assert _acts(second, "Done") == [(None, "finishRootRotation")]
    ca = engine.show_ca("rg1", "net-01")
    assert ca["rootRotationInProgress"] is False and ca["roots"][0]["sha256Fingerprint"] != old_root
    for sim in sims:
        bundle = sim.get_object("v1", "configmaps", NS, "istio-root-cert")["data"]["root-cert.pem"]
        assert bundle.count("BEGIN CERTIFICATE") == 1
    assert _no_links(engine.reconcile("rg1", "net-01"))["actions"] == []


def test_fully_managed_member_moves_one_minor_per_run_only_inside_the_window(engine, network, clusters,
                                                                              clock, catalog):
    (sim,) = clusters(1)
    catalog["releaseChannels"]["Rapid"] = "1.4"
    catalog.install()
    join(engine, sim, "mem-1", upgrade_mode="FullyManaged", release_channel="Rapid")
    assert engine.show_member("rg1", "net-01", "mem-1")["properties"]["installedVersion"] == "1.4"
    catalog["releaseChannels"]["Rapid"] = "1.6"
    catalog.install()
    engine.update_network("rg1", "net-01", maintenance_window="Sat,Sun 02:00-06:00")
    # A Wednesday noon: outside the window.
    clock.now = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.timezone.utc)
    outside = engine.reconcile("rg1", "net-01")
    assert _acts(outside) == [("mem-1", "upgrade")] and outside["actions"][0]["status"] == "Deferred"
    assert "maintenance window" in outside["actions"][0]["reason"]
    assert engine.show_member("rg1", "net-01", "mem-1")["properties"]["installedVersion"] == "1.4"

    forced = engine.reconcile("rg1", "net-01", dry_run=True, ignore_maintenance_window=True)
    assert forced["actions"][0]["status"] == "Planned"

    clock.now = datetime.datetime(2026, 12, 5, 3, 0, tzinfo=datetime.timezone.utc)  # Saturday 03:00
    first = engine.reconcile("rg1", "net-01")
    assert _acts(first, "Done") == [("mem-1", "upgrade")] and "1.4 -> 1.5" in first["actions"][0]["reason"]
    member = engine.show_member("rg1", "net-01", "mem-1")["properties"]
    assert member["installedVersion"] == "1.5"
    assert "1.30" in _istiod(sim)["spec"]["template"]["spec"]["containers"][0]["image"]
    second = engine.reconcile("rg1", "net-01")
    assert _acts(second, "Done") == [("mem-1", "upgrade")] and "1.5 -> 1.6" in second["actions"][0]["reason"]
    assert engine.show_member("rg1", "net-01", "mem-1")["properties"]["installedVersion"] == "1.6"
    assert engine.reconcile("rg1", "net-01")["actions"] == []


def test_a_new_patch_of_the_installed_minor_is_applied_in_the_window(engine, network, clusters, clock,
                                                                     catalog):
    (sim,) = clusters(1)
    join(engine, sim, "mem-1", version="1.5")
    entry = next(v for v in catalog["versions"] if v["version"] == "1.5")
    old = entry["istio"]
    major, minor, patch = old.split(".")
    entry["istio"] = new = f"{major}.{minor}.{int(patch) + 1}"
    catalog.install()
    engine.update_network("rg1", "net-01", maintenance_window="Sun 00:00-24:00")
    clock.now = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.timezone.utc)  # Wednesday
    outside = engine.reconcile("rg1", "net-01")
    # Only the patch, deferred: the older images are not drift to repair.
    assert [(a["action"], a["status"]) for a in outside["actions"]] == [("patch", "Deferred")]
    assert old in _istiod(sim)["spec"]["template"]["spec"]["containers"][0]["image"]

    clock.now = datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.timezone.utc)  # Sunday
    inside = engine.reconcile("rg1", "net-01")
    assert [(a["action"], a["status"]) for a in inside["actions"]] == [("patch", "Done")]
    assert f"{old} -> {new}" in inside["actions"][0]["reason"]
    assert new in _istiod(sim)["spec"]["template"]["spec"]["containers"][0]["image"]
    ztunnel = sim.get_object("apps/v1", "daemonsets", NS, "ztunnel")
    assert new in ztunnel["spec"]["template"]["spec"]["containers"][0]["image"]
    assert engine.reconcile("rg1", "net-01")["actions"] == []


def test_maintenance_window_is_validated_and_shown(engine, network):
    from azext_appnet.errors import InvalidInputError
    with pytest.raises(InvalidInputError) as err:
        engine.update_network("rg1", "net-01", maintenance_window="Caturday 02:00-06:00")
    assert "Caturday" in err.value.message
    with pytest.raises(InvalidInputError):
        engine.update_network("rg1", "net-01", maintenance_window="Sat 25:00-26:00")
    shown = engine.update_network("rg1", "net-01", maintenance_window="sat,sunday 02:00-06:00")
    assert shown["properties"]["maintenanceWindow"]["text"] == "Sat,Sun 02:00-06:00"
    cleared = engine.update_network("rg1", "net-01", maintenance_window="")
    assert "maintenanceWindow" not in cleared["properties"]


def test_a_busy_member_is_deferred_and_an_interrupted_action_is_resumed(engine, network, clusters, clock):
    from azext_appnet.operations import runner
    a, b = clusters(2)
    join(engine, a, "mem-1")
    join(engine, b, "mem-2")
    a.delete_object("apps/v1", "daemonsets", NS, "ztunnel")
    b.delete_object("apps/v1", "daemonsets", NS, "ztunnel")

    # mem-2 busy with another operation whose runner is alive (this process).
    record = engine.store.get(engine.member_id("rg1", "net-01", "mem-2"))
    record["properties"]["operation"] = runner.new_operation("update", {"version": "1.5"}, "Updating")
    engine.store.update(record)
    report = engine.reconcile("rg1", "net-01")
    by = {x["member"]: x for x in report["actions"]}
    assert by["mem-1"]["status"] == "Done" and by["mem-1"]["action"] == "repair"
    assert by["mem-2"]["status"] == "Deferred" and "busy with operation 'update'" in by["mem-2"]["reason"]
    assert b.get_object("apps/v1", "daemonsets", NS, "ztunnel") is None        # not fought over

    # Its runner died after the data-plane step: the next reconcile resumes that operation.
    record = engine.store.get(record["id"])
    op = record["properties"]["operation"]
    op.update(runner={"host": "gone", "pid": 1, "boot": "other"}, heartbeat=0,
              completedSteps=["connect", "version", "certificates"])
    record["properties"]["targetVersion"] = record["properties"]["installedVersion"]
    engine.store.update(record)
    report = engine.reconcile("rg1", "net-01")
    assert [(x["member"], x["action"], x["status"]) for x in report["actions"]] == [("mem-2", "repair", "Done")]
    assert "resumes the unfinished 'update'" in report["actions"][0]["reason"]
    assert b.get_object("apps/v1", "daemonsets", NS, "ztunnel") is not None
    member = engine.show_member("rg1", "net-01", "mem-2")["properties"]
    assert member["provisioningState"] == "Succeeded"
    assert engine.reconcile("rg1", "net-01")["actions"] == []


def test_member_filter_limits_the_run(engine, network, clusters, clock):
    from azext_appnet.errors import NotFoundError
    a, b = clusters(2)
    join(engine, a, "mem-1")
    join(engine, b, "mem-2")
    a.delete_object("apps/v1", "daemonsets", NS, "ztunnel")
    b.delete_object("apps/v1", "daemonsets", NS, "ztunnel")
    report = engine.reconcile("rg1", "net-01", members=["MEM-2"])
    assert [(x["member"], x["status"]) for x in report["actions"]] == [("mem-2", "Done")]
    assert a.get_object("apps/v1", "daemonsets", NS, "ztunnel") is None
    with pytest.raises(NotFoundError) as err:
        engine.reconcile("rg1", "net-01", members=["mem-9"])
    assert "mem-9" in err.value.message


def test_link_tokens_past_half_their_lifetime_are_renewed(engine, network, clusters):
    a, b = clusters(2)
    join(engine, a, "mem-1")
    join(engine, b, "mem-2")
    assert engine.reconcile("rg1", "net-01")["actions"] == []
    # As if both links had been issued 5 of their 7 days ago.
    for name in ("mem-1", "mem-2"):
        record = engine.store.get(engine.member_id("rg1", "net-01", name))
        for link in record["properties"].get("readerLinks") or []:
            issued = datetime.datetime.now(datetime.timezone.utc) - 5 * DAY
            link["issuedAt"] = issued.strftime("%Y-%m-%dT%H:%M:%SZ")
            link["expiresOn"] = (issued + 7 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
        engine.store.update(record)
    before = {s: s.get_object("v1", "secrets", NS, f"istio-remote-secret-{o}")["data"]
              for s, o in ((a, "mem-2"), (b, "mem-1"))}
    report = engine.reconcile("rg1", "net-01")
    assert [(x["member"], x["action"], x["status"]) for x in report["actions"]] == [
        ("mem-1", "rotateCredentials", "Done")]
    assert "mem-1->mem-2" in report["actions"][0]["reason"] and "mem-2->mem-1" in report["actions"][0]["reason"]
    for s, o in ((a, "mem-2"), (b, "mem-1")):
        assert s.get_object("v1", "secrets", NS, f"istio-remote-secret-{o}")["data"] != before[s]
    assert engine.reconcile("rg1", "net-01")["actions"] == []


def test_declarations_changed_by_hand_are_reapplied(engine, network, clusters):
    (sim,) = clusters(1)
    join(engine, sim, "mem-1")
    sim.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    engine.enable_namespace("rg1", "net-01", "shop")
    assert sim.get_object("v1", "namespaces", "", "shop")["metadata"]["labels"]["istio.io/dataplane-mode"] == "ambient"
    assert engine.reconcile("rg1", "net-01")["actions"] == []

    ns = sim.get_object("v1", "namespaces", "", "shop")
    del ns["metadata"]["labels"]["istio.io/dataplane-mode"]
    sim.put_object(ns)
    versions_before = _object_versions(sim)
    plan = engine.reconcile("rg1", "net-01", dry_run=True)
    assert [(a["member"], a["action"], a["status"]) for a in plan["actions"]] == [
        ("mem-1", "reapplyDeclarations", "Planned")]
    assert "Namespace shop" in plan["actions"][0]["reason"]
    assert _object_versions(sim) == versions_before

    done = engine.reconcile("rg1", "net-01")
    assert [(a["action"], a["status"]) for a in done["actions"]] == [("reapplyDeclarations", "Done")]
    assert sim.get_object("v1", "namespaces", "", "shop")["metadata"]["labels"]["istio.io/dataplane-mode"] == "ambient"
    assert engine.show_member("rg1", "net-01", "mem-1")["properties"]["operation"]["name"] == "reapplyDeclarations"
    assert engine.reconcile("rg1", "net-01")["actions"] == []


def test_a_due_root_rotation_waits_while_the_network_is_busy(engine, network, clusters, clock):
    from azext_appnet.operations import runner
    (sim,) = clusters(1)
    join(engine, sim, "mem-1")
    record = engine.store.get(network["id"])
    record["properties"]["operation"] = runner.new_operation("update", {}, "Updating")
    engine.store.update(record)
    clock.now += 190 * DAY
    report = engine.reconcile("rg1", "net-01")
    root = [a for a in report["actions"] if a["member"] is None]
    assert [(a["action"], a["status"]) for a in root] == [("rotateRoot", "Deferred")]
    assert "busy with operation 'update'" in root[0]["reason"]
    assert engine.show_ca("rg1", "net-01")["rootRotationInProgress"] is False

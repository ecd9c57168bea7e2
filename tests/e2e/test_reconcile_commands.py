"""az appnet reconcile through the real az against emulated clusters: drift in three members
is planned exactly by --dry-run (which changes nothing: state, keys and every object's
resourceVersion stay as they were), repaired by a run, and a second run has nothing to do;
a stopped member is reported Failed (exit 1) while the others are repaired; Ctrl-C or SIGTERM
while members' repairs wait ends the run, the repairs Canceled, and the next run resumes them."""

import hashlib
import os
import re
import signal
import subprocess
import time

import pytest

from tests.e2e.conftest import AZ

pytestmark = pytest.mark.e2e

NS = "applink-system"


def _join(az, sim, name):
    az("appnet", "member", "join", "-g", "rg1", "--appnet-name", "net-01", "--member-name", name,
       "--kubeconfig", sim.kubeconfig_path, "--context", sim.context)


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


def _appnet_files(az):
    """Every file of appnet's state and key store under the az config dir, by content."""
    out = {}
    for base, _, names in os.walk(os.path.join(str(az.config_dir), "appnet")):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                out[path] = hashlib.sha256(f.read()).hexdigest()
    return out


def _settled(sim):
    """No ztunnel Pod left behind by the deleted DaemonSet (the garbage collector's work is not ours)."""
    return not sim.list_objects("v1", "pods", NS, label_selector="app=ztunnel")


def _wait(condition):
    import time
    for _ in range(600):
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def _tamper_label(sim):
    svc = sim.get_object("v1", "services", NS, "istiod")
    svc["metadata"]["labels"]["app"] = "tampered"
    sim.put_object(svc)


def _rows(result):
    return [(a["member"], a["action"], a["status"]) for a in result.json["actions"]]


def test_reconcile_plans_repairs_and_converges(az, clusters):
    a, b, c = clusters(3)
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    for sim, name in ((a, "member-01"), (b, "member-02"), (c, "member-03")):
        _join(az, sim, name)
    assert az("appnet", "reconcile", "-g", "rg1", "-n", "net-01").json["actions"] == []

    a.delete_object("apps/v1", "daemonsets", NS, "ztunnel")
    b.delete_object("v1", "secrets", NS, "istio-remote-secret-member-01")
    _tamper_label(c)
    _wait(lambda: _settled(a))

    before = (_appnet_files(az), [_object_versions(s) for s in (a, b, c)])
    plan = az("appnet", "reconcile", "-g", "rg1", "-n", "net-01", "--dry-run")
    assert plan.json["dryRun"] is True
    assert _rows(plan) == [("member-01", "repair", "Planned"), ("member-02", "relink", "Planned"),
                           ("member-03", "repair", "Planned")]
    reasons = {x["member"]: x["reason"] for x in plan.json["actions"]}
    assert reasons["member-01"] == "DaemonSet applink-system/ztunnel is missing"
    assert reasons["member-02"] == "the remote secret of member-01 is missing"
    assert reasons["member-03"] == "Service applink-system/istiod differs at metadata.labels.app"
    assert (_appnet_files(az), [_object_versions(s) for s in (a, b, c)]) == before

    table = az("appnet", "reconcile", "-g", "rg1", "-n", "net-01", "--dry-run", "-o", "table").out
    assert re.search(r"^member-02\s+relink\s+Planned\s+the remote secret of member-01 is missing", table, re.M), table

    done = az("appnet", "reconcile", "-g", "rg1", "-n", "net-01")
    assert _rows(done) == [("member-01", "repair", "Done"), ("member-02", "relink", "Done"),
                           ("member-03", "repair", "Done")]
    assert a.get_object("apps/v1", "daemonsets", NS, "ztunnel") is not None
    assert b.get_object("v1", "secrets", NS, "istio-remote-secret-member-01") is not None
    assert c.get_object("v1", "services", NS, "istiod")["metadata"]["labels"]["app"] == "istiod"
    again = az("appnet", "reconcile", "-g", "rg1", "-n", "net-01")
    assert again.json["actions"] == [] and again.json["converged"] is True
    check = az("appnet", "check", "-g", "rg1", "-n", "net-01")
    assert check.json["summary"]["failed"] == 0

    # A stopped member: reported, exit 1 after the report, and the others still repaired.
    a.delete_object("apps/v1", "daemonsets", NS, "ztunnel")
    _tamper_label(c)
    b.stop()
    failed = az("appnet", "reconcile", "-g", "rg1", "-n", "net-01", rc=1)
    rows = _rows(failed)
    assert ("member-02", "repair", "Failed") in rows
    assert ("member-01", "repair", "Done") in rows and ("member-03", "repair", "Done") in rows
    bad = next(x for x in failed.json["actions"] if x["status"] == "Failed")
    assert "Cannot reach the API server" in bad["error"]
    assert "1 action failed (member-02: repair)" in failed.err
    assert a.get_object("apps/v1", "daemonsets", NS, "ztunnel") is not None
    assert c.get_object("v1", "services", NS, "istiod")["metadata"]["labels"]["app"] == "istiod"


def test_member_update_without_parameters_repairs_drift(az, clusters):
    (a,) = clusters(1)
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2", "--maintenance-window", "Sat,Sun 02:00-06:00")
    shown = az("appnet", "show", "-g", "rg1", "-n", "net-01").json
    assert shown["properties"]["maintenanceWindow"]["text"] == "Sat,Sun 02:00-06:00"
    _join(az, a, "member-01")
    a.delete_object("apps/v1", "daemonsets", NS, "ztunnel")
    member = az("appnet", "member", "update", "-g", "rg1", "--appnet-name", "net-01", "--member-name",
                "member-01").json
    assert member["properties"]["operation"]["name"] == "update"
    assert a.get_object("apps/v1", "daemonsets", NS, "ztunnel") is not None
    bad = az("appnet", "update", "-g", "rg1", "-n", "net-01", "--maintenance-window", "Sat 2am", rc=1)
    assert "Invalid --maintenance-window 'Sat 2am'" in bad.err


def test_help_names_the_new_command_and_parameter(az):
    out = az("appnet", "reconcile", "--help").out
    assert "Examples" in out
    for option in ("--dry-run", "--member", "--ignore-maintenance-window"):
        assert option in out
    for command in ("create", "update"):
        assert "--maintenance-window" in az("appnet", command, "--help").out


def _member_record(az, name):
    return az.stored_member(name)


def _operation(az, name):
    return (_member_record(az, name) or {}).get("properties", {}).get("operation") or {}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_reconcile_cancels_the_repairs_it_runs_and_the_next_run_resumes_them(az, clusters, sig):
    sims = clusters(2)
    names = ["member-01", "member-02"]
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    for sim, name in zip(sims, names):
        _join(az, sim, name)
    for sim in sims:
        sim.delete_object("apps/v1", "daemonsets", NS, "ztunnel")
    for sim in sims:
        _wait(lambda sim=sim: _settled(sim))
        # The re-created ztunnel stays not ready until the test allows it: the signal always
        # finds both repairs waiting, each on a thread of the run (on a real cluster that
        # wait may last minutes).
        sim.never_ready("apps/v1", "daemonsets", NS, "ztunnel")
    args = ["appnet", "reconcile", "-g", "rg1", "-n", "net-01"]
    proc = subprocess.Popen([str(AZ), *args], env=az.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 120
        while not all((_operation(az, n).get("name"), _operation(az, n).get("step")) == ("update", "ready")
                      for n in names):
            assert proc.poll() is None and time.monotonic() < deadline, [_operation(az, n) for n in names]
            time.sleep(0.2)
        proc.send_signal(sig)
        # The bound only turns a run that ignores the signal into a failure, not a hang.
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0 and not out.strip(), (out, err)
    assert "Traceback" not in err, err
    assert "ERROR: The reconcile of Application Network 'net-01' was interrupted; " in err, err
    assert "Run the same command again to resume it: az appnet reconcile -g rg1 -n net-01" in err, err
    for name in names:
        assert f"{name}: Operation 'update' was interrupted in step 'ready'" in err, err
        props = _member_record(az, name)["properties"]
        assert props["provisioningState"] == "Canceled"
        assert props["operation"]["status"] == "Canceled" and props["operation"]["step"] == "ready"
        assert props["error"]["code"] == "Canceled"
        assert "resumes where it stopped" in props["error"]["recommendation"]

    for sim in sims:
        sim.make_ready("apps/v1", "daemonsets", NS, "ztunnel")
    plan = az(*args, "--dry-run")
    assert [(a["member"], a["action"], a["reason"]) for a in plan.json["actions"]] == [
        (n, "repair", "resumes the unfinished 'update' operation") for n in names]
    done = az(*args, timeout=300)
    assert _rows(done) == [(n, "repair", "Done") for n in names] and done.json["converged"] is True
    for name in names:
        props = _member_record(az, name)["properties"]
        assert props["provisioningState"] == "Succeeded" and "error" not in props
        assert {"ready", "link", "finish"} <= set(props["operation"]["completedSteps"])
    assert az(*args).json["actions"] == []

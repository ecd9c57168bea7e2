"""az appnet member join/show/list/update/remove/wait through the real az, against
emulated clusters."""

import os
import re
import signal
import sqlite3
import json
import time

import pytest

pytestmark = pytest.mark.e2e

NS = "applink-system"


@pytest.fixture
def network(az):
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")


def _member_args(sim, name="member-01"):
    return ["-g", "rg1", "--appnet-name", "net-01", "--member-name", name,
            "--kubeconfig", sim.kubeconfig_path, "--context", sim.context]


def test_join_show_list_update_remove(az, network, clusters):
    (sim,) = clusters(1)
    joined = az("appnet", "member", "join", *_member_args(sim), "--tags", "team=mesh")
    member = joined.json
    assert member["type"] == "microsoft.applink/applinks/applinkmembers"
    assert member["id"].endswith("/providers/Microsoft.AppLink/appLinks/net-01/appLinkMembers/member-01")
    props = member["properties"]
    assert props["provisioningState"] == "Succeeded"
    assert props["clusterType"] == "Kubernetes"
    assert props["upgradeProfile"]["mode"] == "SelfManaged"
    assert props["connectivityProfile"]["eastWestGateway"]["visibility"] == "Internal"
    assert props["cluster"]["context"] == sim.context
    assert sim.admin_token not in joined.out and sim.admin_token not in joined.err
    # progress went to stderr, the result alone to stdout
    assert "Applying the Istio ambient data plane" in joined.err

    shown = az("appnet", "member", "show", "--ids", member["id"]).json
    assert shown["name"] == "member-01"
    listed = az("appnet", "member", "list", "-g", "rg1", "--appnet-name", "net-01").json
    assert [m["name"] for m in listed] == ["member-01"]
    table = az("appnet", "member", "list", "-g", "rg1", "--appnet-name", "net-01", "-o", "table").out
    row = re.search(r"^member-01\s+westus2\s+Kubernetes\s+SelfManaged\s+(\S+)\s+Succeeded\s+rg1\s+c1$", table, re.M)
    assert row, table
    assert row.group(1) == props["installedVersion"]

    updated = az("appnet", "member", "update", "-g", "rg1", "--appnet-name", "net-01", "--member-name",
                 "member-01", "--east-west-gateway", "External", "--tags", "team=platform").json
    assert updated["properties"]["connectivityProfile"]["eastWestGateway"]["visibility"] == "External"
    assert updated["tags"] == {"team": "platform"}
    gateway = sim.get_object("gateway.networking.k8s.io/v1", "gateways", NS, "istio-eastwestgateway")
    annotations = (gateway["spec"].get("infrastructure") or {}).get("annotations") or {}
    assert "service.beta.kubernetes.io/azure-load-balancer-internal" not in annotations

    # a member blocks the network's deletion, with a message naming it
    blocked = az("appnet", "delete", "-g", "rg1", "-n", "net-01", "--yes", rc=1)
    assert "member-01" in blocked.err

    assert az("appnet", "member", "remove", "-g", "rg1", "--appnet-name", "net-01", "--member-name",
              "member-01", "--yes").out.strip() == ""
    az("appnet", "member", "show", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "member-01", rc=3)
    assert sim.get_object("v1", "namespaces", None, NS) is None
    az("appnet", "delete", "-g", "rg1", "-n", "net-01", "--yes")


def test_remove_then_join_again_while_the_namespace_takes_5s_to_terminate(az, network, clusters):
    (sim,) = clusters(1, namespace_delete_delay=5)
    az("appnet", "member", "join", *_member_args(sim))
    removed = az("appnet", "member", "remove", "-g", "rg1", "--appnet-name", "net-01",
                 "--member-name", "member-01", "--yes")
    assert "Waiting for Namespace applink-system" in removed.err
    assert sim.get_object("v1", "namespaces", None, NS) is None
    again = az("appnet", "member", "join", *_member_args(sim)).json
    assert again["properties"]["provisioningState"] == "Succeeded"
    assert sim.get_object("v1", "namespaces", None, NS)["status"]["phase"] == "Active"


def test_no_wait_join_then_wait_created(az, network, clusters):
    (sim,) = clusters(1)
    started = az("appnet", "member", "join", *_member_args(sim), "--no-wait")
    assert started.out.strip() == ""
    az("appnet", "member", "wait", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "member-01",
       "--created", "--interval", "1", "--timeout", "300")
    member = az("appnet", "member", "show", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "member-01").json
    assert member["properties"]["provisioningState"] == "Succeeded"
    az("appnet", "member", "remove", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "member-01",
       "--yes", "--no-wait")
    az("appnet", "member", "wait", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "member-01",
       "--deleted", "--interval", "1", "--timeout", "300")


def test_second_operation_while_one_runs_is_refused(az, network, clusters):
    (sim,) = clusters(1, ready_delay=6)
    az("appnet", "member", "join", *_member_args(sim), "--no-wait")
    busy = az("appnet", "member", "update", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "member-01",
              "--tags", "a=b", rc=1)
    assert "Operation 'join'" in busy.err and "still running" in busy.err
    az("appnet", "member", "wait", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "member-01",
       "--created", "--interval", "1", "--timeout", "300")


def _worker_pid(az, member_id):
    with sqlite3.connect(az.state_path) as db:
        for (body,) in db.execute("SELECT body FROM resources"):
            doc = json.loads(body)
            if doc["id"].lower() == member_id.lower():
                return doc["properties"]["operation"]["pid"], doc["properties"]["operation"].get("step")
    return None, None


def test_killed_join_resumes_and_converges(az, network, clusters):
    (sim,) = clusters(1, ready_delay=15)
    az("appnet", "member", "join", *_member_args(sim), "--no-wait")
    member_id = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/"
                 "Microsoft.AppLink/appLinks/net-01/appLinkMembers/member-01")
    deadline = time.monotonic() + 120
    while True:  # wait until the worker is inside the readiness wait, then kill it
        pid, step = _worker_pid(az, member_id)
        if step == "ready":
            break
        assert time.monotonic() < deadline, f"the join never reached the readiness step (at {step})"
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    stuck = az("appnet", "member", "show", "--ids", member_id).json["properties"]
    assert stuck["provisioningState"] == "Provisioning" and stuck["operation"]["step"] == "ready"

    rerun = az("appnet", "member", "join", *_member_args(sim))
    resumed = rerun.json["properties"]
    assert resumed["provisioningState"] == "Succeeded"
    assert "dataPlane" in resumed["operation"]["completedSteps"]
    # it resumed at the step that was cut short instead of starting over
    assert "Waiting for the data plane" in rerun.err
    assert "Applying the Istio ambient data plane" not in rerun.err
    assert sim.get_object("apps/v1", "daemonsets", NS, "ztunnel")["status"]["numberReady"] > 0

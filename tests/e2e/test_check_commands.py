"""az appnet member check / az appnet check through the real az, against emulated clusters:
the report's shape, -o table, the exit code when a check failed, and no secret in output."""

import re

import pytest

pytestmark = pytest.mark.e2e

NS = "applink-system"


def _join(az, sim, name):
    az("appnet", "member", "join", "-g", "rg1", "--appnet-name", "net-01", "--member-name", name,
       "--kubeconfig", sim.kubeconfig_path, "--context", sim.context)


def _no_secrets(result, sims):
    for sim in sims:
        assert sim.admin_token not in result.out and sim.admin_token not in result.err
    for text in (result.out, result.err):
        assert "PRIVATE KEY" not in text and "token:" not in text


def test_check_passes_then_fails_with_exit_code_1(az, clusters):
    a, b = clusters(2)
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    _join(az, a, "member-01")
    _join(az, b, "member-02")

    member = az("appnet", "member", "check", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "member-01")
    report = member.json
    assert set(report) >= {"member", "cluster", "installedVersion", "checks", "summary"}
    assert report["summary"]["failed"] == 0 and report["summary"]["passed"] >= 14
    assert all(set(c) == {"name", "status", "message", "recommendation"} for c in report["checks"])
    _no_secrets(member, (a, b))

    ids = az("appnet", "member", "show", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "member-02",
             "--query", "id", "-o", "tsv").out.strip()
    by_id = az("appnet", "member", "check", "--ids", ids).json
    assert by_id["member"] == "member-02"

    network = az("appnet", "check", "-g", "rg1", "-n", "net-01")
    assert [m["member"] for m in network.json["members"]] == ["member-01", "member-02"]
    assert network.json["summary"]["failed"] == 0
    table = az("appnet", "check", "-g", "rg1", "-n", "net-01", "-o", "table").out
    assert re.search(r"^\(network\)\s+remoteSecretMesh\s+Passed\s", table, re.M), table
    assert re.search(r"^member-02\s+ztunnel\s+Passed\s+ztunnel ready on 3 of 3 Linux nodes", table, re.M), table

    # Damage member-01: the report still reaches stdout, and the command exits 1.
    a.delete_object("apps/v1", "daemonsets", NS, "ztunnel")
    failed = az("appnet", "member", "check", "-g", "rg1", "--appnet-name", "net-01", "--member-name",
                "member-01", rc=1)
    statuses = {c["name"]: c["status"] for c in failed.json["checks"]}
    assert statuses["ztunnel"] == "Failed" and statuses["objectsPresent"] == "Failed"
    assert "2 checks failed (member-01: objectsPresent, ztunnel)" in failed.err
    assert "az appnet member update -g rg1 --appnet-name net-01 --member-name member-01" in failed.err
    _no_secrets(failed, (a, b))

    rows = az("appnet", "member", "check", "-g", "rg1", "--appnet-name", "net-01", "--member-name",
              "member-01", "-o", "table", rc=1).out
    assert re.search(r"^ztunnel\s+Failed\s+DaemonSet applink-system/ztunnel is missing", rows, re.M), rows

    b.stop()
    whole = az("appnet", "check", "-g", "rg1", "-n", "net-01", rc=1)
    first, second = whole.json["members"]
    assert {c["name"] for c in second["checks"] if c["status"] == "Failed"} == {"apiReachable"}
    assert first["summary"]["passed"] > 5
    assert "member-02: apiReachable" in whole.err
    _no_secrets(whole, (a, b))
    # --query and -o none keep the exit code.
    assert az("appnet", "check", "-g", "rg1", "-n", "net-01", "--query", "summary.failed", "-o", "tsv",
              rc=1).out.strip() == str(whole.json["summary"]["failed"])
    az("appnet", "check", "-g", "rg1", "-n", "net-01", "-o", "none", rc=1)


def test_check_of_a_missing_member_exits_3(az):
    # As 'show': a member that does not exist is exit code 3, not a failed check.
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    missing = az("appnet", "member", "check", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "nope",
                 rc=3)
    assert "was not found" in missing.err and not missing.out.strip()


# One CLI object running several commands, as `az interactive` and azure-cli's test harness do.
_ONE_CONTEXT = """
import json, os, sys
from azure.cli.core import get_default_cli
cli = get_default_cli()
with open(os.devnull, "w") as sink:
    codes = [cli.invoke(args.split(), out_file=sink) for args in sys.argv[1:]]
print(json.dumps(codes))
"""


def test_a_failed_check_does_not_fail_the_next_command_in_the_same_cli(az, clusters):
    import subprocess
    import sys
    (a,) = clusters(1)
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    _join(az, a, "member-01")
    a.stop()
    proc = subprocess.run([sys.executable, "-c", _ONE_CONTEXT, "appnet check -g rg1 -n net-01",
                           "appnet list -g rg1", "appnet show -g rg1 -n net-01"],
                          env=az.env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[1, 0, 0]", proc.stderr
    assert proc.stderr.count("checks failed") + proc.stderr.count("check failed") == 1, proc.stderr

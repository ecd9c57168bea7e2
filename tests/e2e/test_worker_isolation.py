"""The --no-wait worker through the real az: isolated from the caller's working directory,
with no appnet secret in its environment (the passphrase reaches it on a pipe), and with
core dumps off."""

import json
import os
import sqlite3
import time

import pytest

pytestmark = pytest.mark.e2e

PASSPHRASE = "correct horse battery staple"
MEMBER_ID = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/"
             "Microsoft.AppLink/appLinks/net-01/appLinkMembers/member-01")
PLANTED = """import os, sys
with open(os.path.join({marker_dir!r}, "%s-%d" % (__name__, os.getpid())), "w") as f:
    f.write(" ".join(sys.argv))
"""


def _operation(az):
    with sqlite3.connect(az.state_path) as db:
        for (body,) in db.execute("SELECT body FROM resources"):
            doc = json.loads(body)
            if doc["id"].lower() == MEMBER_ID.lower():
                return doc["properties"]["operation"]
    return {}


def _proc(pid, name):
    with open(f"/proc/{pid}/{name}", "rb") as f:
        return f.read()


def test_worker_is_isolated_and_holds_no_secret(az, clusters, tmp_path):
    az.env["APPNET_KEYSTORE_PASSPHRASE"] = PASSPHRASE
    # Modules a Python process picks up from its path at start: planted in the caller's cwd.
    cwd, markers = tmp_path / "checkout", tmp_path / "markers"
    cwd.mkdir()
    markers.mkdir()
    for module in ("sitecustomize", "usercustomize", "azext_appnet_planted"):
        (cwd / f"{module}.py").write_text(PLANTED.format(marker_dir=str(markers)))
    (sim,) = clusters(1, ready_delay=4)
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2", cwd=cwd)
    az("appnet", "member", "join", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "member-01",
       "--kubeconfig", sim.kubeconfig_path, "--context", sim.context, "--no-wait", cwd=cwd)

    deadline = time.monotonic() + 120
    while True:     # the worker is running once it has recorded a step
        op = _operation(az)
        if op.get("step") and op.get("pid") and os.path.exists(f"/proc/{op['pid']}"):
            break
        assert time.monotonic() < deadline, op
        time.sleep(0.1)
    pid = op["pid"]
    environ = _proc(pid, "environ").split(b"\0")
    assert not [e for e in environ if e.startswith(b"APPNET_KEYSTORE_PASSPHRASE=")]
    assert PASSPHRASE.encode() not in b"\0".join(environ) + _proc(pid, "cmdline")
    assert b"-I" in _proc(pid, "cmdline").split(b"\0")
    assert os.readlink(f"/proc/{pid}/cwd") != str(cwd)
    limits = _proc(pid, "limits").decode()
    core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
    assert core.split()[4:6] == ["0", "0"], core

    az("appnet", "member", "wait", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "member-01",
       "--created", "--interval", "1", "--timeout", "300")
    # It signed the member's intermediate with the encrypted root key: it had the passphrase.
    shown = az("appnet", "member", "show", "--ids", MEMBER_ID).json
    assert shown["properties"]["provisioningState"] == "Succeeded"
    assert sorted(os.listdir(markers)) == []

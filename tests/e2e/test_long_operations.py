"""What a user sees during a long operation, through the real az: an interruption (Ctrl-C,
SIGTERM) ends it Canceled with the command that resumes it, and that command converges."""

import json
import shlex
import signal
import subprocess
import time

import pytest

from tests.e2e.conftest import AZ

pytestmark = pytest.mark.e2e

NS = "applink-system"


def _member(az, name="member-01"):
    return az.stored_member(name)


def _wait_for_step(az, step, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        doc = _member(az)
        at = ((doc or {}).get("properties", {}).get("operation") or {}).get("step")
        if at == step:
            return
        assert time.monotonic() < deadline, f"the join never reached step {step} (at {at})"
        time.sleep(0.2)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_join_is_canceled_and_says_how_to_resume(az, clusters, sig):
    (sim,) = clusters(1)
    # ztunnel waits until the test lets it be ready: the signal always finds the join waiting.
    sim.never_ready("apps/v1", "daemonsets", NS, "ztunnel")
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    args = ["appnet", "member", "join", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "member-01",
            "--kubeconfig", sim.kubeconfig_path, "--context", sim.context]
    proc = subprocess.Popen([str(AZ), *args], env=az.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        _wait_for_step(az, "ready")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0 and not out.strip()
    assert "Traceback" not in err
    assert "Operation 'join' was interrupted in step 'ready' after completing" in err, err
    resume = "Run the same command again to resume it: az " + " ".join(shlex.quote(a) for a in args)
    assert resume in err, err
    props = _member(az)["properties"]
    assert props["provisioningState"] == "Canceled"
    assert props["error"]["code"] == "Canceled"

    sim.make_ready("apps/v1", "daemonsets", NS, "ztunnel")
    rerun = az(*args, timeout=300)
    assert rerun.json["properties"]["provisioningState"] == "Succeeded"


def test_of_two_joins_of_one_member_started_together_the_loser_is_told_to_wait(az, clusters):
    (sim,) = clusters(1, ready_delay=5)
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    args = ["appnet", "member", "join", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "member-01",
            "--kubeconfig", sim.kubeconfig_path, "--context", sim.context]
    procs = []
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([str(AZ), *args], env=az.env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
            time.sleep(0.3)
        results = [(*p.communicate(timeout=300), p.returncode) for p in procs]
        results = [(rc, out, err) for out, err, rc in results]
    finally:
        for p in procs:
            p.kill()
    # Which one wins is up to the machine; one does, and the other is told what runs.
    (won_rc, won_out, won_err), (lost_rc, _, lost_err) = sorted(results, key=lambda r: r[0])
    assert won_rc == 0, won_err
    assert json.loads(won_out)["properties"]["provisioningState"] == "Succeeded"
    assert lost_rc != 0
    assert "Operation 'join'" in lost_err and "is still running" in lost_err, lost_err
    assert "az appnet member wait" in lost_err and "already exists" not in lost_err, lost_err
    assert "Traceback" not in lost_err


def test_a_dead_worker_ends_the_wait_at_once_with_the_command_that_resumes_it(az, clusters):
    import os
    (sim,) = clusters(1)
    sim.never_ready("apps/v1", "daemonsets", NS, "ztunnel")   # the join waits until killed
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    member = ["-g", "rg1", "--appnet-name", "net-01", "--member-name", "member-01"]
    az("appnet", "member", "join", *member, "--kubeconfig", sim.kubeconfig_path, "--context", sim.context,
       "--no-wait")
    _wait_for_step(az, "ready")
    os.kill(_member(az)["properties"]["operation"]["runner"]["pid"], signal.SIGKILL)

    # Without noticing the dead runner the wait would go on for its default hour: the
    # subprocess bound below only turns such a hang into a failure instead of a stuck suite.
    waited = az("appnet", "member", "wait", *member, "--created", "--interval", "1", rc=None, timeout=120)
    assert waited.rc != 0, waited
    assert "is gone; it stopped in step 'ready'" in waited.err, waited
    resume = (f"az appnet member join -g rg1 --appnet-name net-01 --member-name member-01 "
              f"--kubeconfig {shlex.quote(sim.kubeconfig_path)} --context {sim.context}")
    assert resume in waited.err, waited

    shown = az("appnet", "member", "show", *member)
    assert shown.json["properties"]["provisioningState"] == "Provisioning"
    assert "WARNING:" in shown.err and resume in shown.err, shown
    checked = az("appnet", "member", "check", *member, rc=1).json
    state = next(c for c in checked["checks"] if c["name"] == "provisioningState")
    assert state["status"] == "Failed" and resume in state["recommendation"], state

    sim.make_ready("apps/v1", "daemonsets", NS, "ztunnel")
    resumed = az(*shlex.split(resume)[1:], timeout=300).json["properties"]
    assert resumed["provisioningState"] == "Succeeded"
    assert "dataPlane" in resumed["operation"]["completedSteps"]


def _read_stream(fd_or_file, into):
    """Collect (time, text) chunks from a pipe or a pty until it closes."""
    import os
    while True:
        try:
            chunk = os.read(fd_or_file, 4096)
        except OSError:
            return
        if not chunk:
            return
        into.append((time.monotonic(), chunk.decode("utf-8", "replace")))


def test_a_ci_log_hears_what_is_pending_at_least_every_15_seconds(az, clusters):
    import threading
    (sim,) = clusters(1, ready_delay=35)
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    proc = subprocess.Popen([str(AZ), "appnet", "member", "join", "-g", "rg1", "--appnet-name", "net-01",
                             "--member-name", "member-01", "--kubeconfig", sim.kubeconfig_path,
                             "--context", sim.context], env=az.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    chunks = []
    reader = threading.Thread(target=_read_stream, args=(proc.stderr.fileno(), chunks), daemon=True)
    reader.start()
    try:
        proc.wait(timeout=300)
    finally:
        proc.kill()
    reader.join(timeout=10)
    assert proc.returncode == 0, "".join(text for _, text in chunks)
    lines = [(at, line) for at, text in chunks for line in text.splitlines() if line.strip()]
    waiting = [(at, line) for at, line in lines if line.startswith("member-01: waiting for")]
    assert waiting and "DaemonSet applink-system/ztunnel" in waiting[0][1], lines
    # A heartbeat is due after every 15 s of silence (its cadence is unit-tested on a fake
    # clock), so the 35 s this wait lasts at the least hear two of them, each naming what waits.
    beats = [line for _, line in lines if line.startswith("Still running after")]
    assert len(beats) >= 2 and all("member-01: waiting for" in line for line in beats), lines


def test_a_terminal_is_redrawn_and_shows_each_member_its_own_step(az, clusters):
    import os
    import pty
    import re
    import threading
    fast, slow = clusters(2)
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    ids = []
    for name, sim in (("member-01", fast), ("member-02", slow)):
        ids.append(az("appnet", "member", "join", "-g", "rg1", "--appnet-name", "net-01", "--member-name", name,
                      "--kubeconfig", sim.kubeconfig_path, "--context", sim.context, "--version", "1.4",
                      "--query", "id", "-o", "tsv").out.strip())
    slow.ready_delay = 20   # member-02's data plane takes 20 s to roll; member-01's is ready at once
    master, tty = pty.openpty()
    proc = subprocess.Popen([str(AZ), "appnet", "member", "update", "--ids", *ids, "--version", "1.5"],
                            env=dict(az.env, COLUMNS="250"), stdout=subprocess.PIPE, stderr=tty,
                            stdin=subprocess.DEVNULL)
    os.close(tty)
    chunks = []
    reader = threading.Thread(target=_read_stream, args=(master, chunks), daemon=True)
    reader.start()
    try:
        proc.communicate(timeout=300)
    finally:
        proc.kill()
    reader.join(timeout=10)
    os.close(master)
    assert proc.returncode == 0, "".join(text for _, text in chunks)
    frame = re.compile(r"^\s*\S \[(\d+)s\] (.*?)( \.\.)?$")
    frames = [(at, m[2]) for at, text in chunks for part in text.replace("\x1b[K", "").split("\r")
              for m in [frame.match(part.strip("\n"))] if m]
    assert len(frames) > 20, chunks[-5:]
    # Redrawn while nothing new happens: the frames of one unchanged step of member-02 go on
    # counting its seconds (read off the frames themselves, not the test's clock).
    counted = {}
    for _, label in frames:
        for step, seconds in re.findall(r"member-02: (.*?) \((\d+)s\)", label):
            counted.setdefault(step, set()).add(int(seconds))
    assert max(map(len, counted.values()), default=0) >= 5, counted
    segments = [segment for _, label in frames for segment in label.split(" | ")]
    assert all(segment.startswith(("member-01: ", "member-02: ")) for segment in segments), segments
    # What waits for long is member-02's, and is shown as member-02's.
    long = [s for s in segments if re.search(r"\((\d+)s\)$", s) and int(re.search(r"\((\d+)s\)$", s)[1]) >= 8]
    assert long and all(s.startswith("member-02: ") for s in long), long[-3:]

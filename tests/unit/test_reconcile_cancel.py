"""Ctrl-C during `reconcile`, whose member operations run on threads of their own: each one
stops at its next check point (in a wait, or between steps) and is left Canceled and
resumable, as an interrupted operation of its own command is; none starts after the
interruption; the run ends with an error naming what it canceled. Fake steps on an
in-memory store, the interruption a real SIGINT of the test's process."""

import os
import signal
import threading

import pytest

from azext_appnet.errors import OperationCanceledError
from azext_appnet.kube.concurrent import current_cancel, gather
from azext_appnet.model import ids
from azext_appnet.model import resources as res
from azext_appnet.operations import catalog, reconcile, runner
from azext_appnet.operations.runner import Step

# A bound on the fake waits, so that a run the interruption does not reach fails the test
# (its operations end Succeeded) instead of hanging it.
HELD = 30


class FakeServices:
    def connect(self, member):
        return f"cluster of {member['name']}"

    def pki(self, network):
        return f"pki of {network['name']}"


class FakeEngine:
    """What Reconcile uses of the engine; a member operation runs `steps` through the runner."""
    clock = None
    progress = None
    warn = None

    def __init__(self, store, steps):
        self.store, self.steps = store, steps

    def services(self):
        return FakeServices()

    def reconcile_member_operation(self, resource_group, network, member, operation, version=None):
        rid = ids.member_id(ids.LOCAL_SUBSCRIPTION, resource_group, network, member)
        doc = self.store.get(rid)
        runner.ensure_idle(doc)
        doc["properties"]["operation"] = runner.new_operation(operation, {"version": version}, res.UPDATING,
                                                              doc["properties"].get("operation"))
        doc["properties"]["provisioningState"] = res.ACCEPTED
        op_id = self.store.update(doc)["properties"]["operation"]["id"]
        return runner.run(self.store, rid, op_id, self.steps(member), FakeServices())


def _members(store, network, *names):
    out = []
    for name in names:
        doc = res.new_member(network, name, "westus2", {"type": "Kubernetes", "kubeconfig": "/k", "context": "c"},
                             res.upgrade_profile(res.SELF_MANAGED), res.connectivity_profile("Internal"))
        doc["properties"]["provisioningState"] = res.SUCCEEDED
        out.append(store.create(doc, catalog.MEMBER_KIND, parent_id=network["id"]))
    return out


def _plan(monkeypatch, *names):
    """Every member needs a repair (the planner's reads are not what is tested here)."""
    monkeypatch.setattr(reconcile.Reconcile, "plan", lambda self: [
        reconcile.action(n, "repair", "DaemonSet applink-system/ztunnel is missing") for n in names])


def _interrupt_when(ready, then=None):
    """SIGINT this process (the main thread gets KeyboardInterrupt) once `ready()`; then `then()`."""
    def go():
        for _ in range(HELD * 100):
            if ready():
                break
            threading.Event().wait(0.01)
        os.kill(os.getpid(), signal.SIGINT)
        if then:
            then()
    threading.Thread(target=go, daemon=True).start()


def _shown(store, member):
    return store.get(member["id"])["properties"]


@pytest.mark.parametrize("watched", [1, 3], ids=["one-object", "several-objects"])
def test_ctrl_c_cancels_each_member_operation_in_its_wait(store, network, monkeypatch, watched):
    members = _members(store, network, "member-01", "member-02")
    _plan(monkeypatch, "member-01", "member-02")
    waiting, log = [], []

    def wait_ready(ctx):
        # As kube.apply.wait_ready: each object awaited on a thread of a gather, looking at
        # the Event the gather sets when it is interrupted.
        seen = threading.Event()

        def await_one():
            waiting.append(ctx.resource["name"])
            return seen.wait(HELD)
        gather([await_one] * watched, canceled=seen)

    def steps(member):
        return [Step("dataPlane", "Applying", lambda ctx: log.append((member, "dataPlane"))),
                Step("ready", "Waiting", wait_ready),
                Step("links", "Linking", lambda ctx: log.append((member, "links")))]

    _interrupt_when(lambda: len(waiting) == 2 * watched)
    with pytest.raises(OperationCanceledError) as err:
        reconcile.run(FakeEngine(store, steps), network, "rg1")

    assert err.value.code == "Canceled"
    message = err.value.message
    assert message.startswith("The reconcile of Application Network 'net-01' was interrupted; "), message
    for name in ("member-01", "member-02"):
        assert f"{name}: Operation 'update' was interrupted in step 'ready'" in message, message
    assert "az appnet reconcile" in err.value.recommendation
    for member in members:
        shown = _shown(store, member)
        assert shown["provisioningState"] == res.CANCELED
        assert shown["operation"]["status"] == res.CANCELED
        assert shown["operation"]["step"] == "ready"
        assert shown["operation"]["completedSteps"] == ["dataPlane"]
        assert shown["error"]["code"] == "Canceled"
        # The same hint as an operation interrupted in its own command.
        assert shown["error"]["recommendation"] == "Run the same command again: it resumes where it stopped."
    assert not [entry for entry in log if entry[1] == "links"]


def test_an_operation_busy_in_a_step_stops_before_the_next_and_none_starts_after(store, network, monkeypatch):
    first, second = _members(store, network, "member-01", "member-02")
    monkeypatch.setattr(reconcile, "PARALLELISM", 1)   # member-02 waits for member-01's turn to end
    _plan(monkeypatch, "member-01", "member-02")
    busy, go, cancels, log = threading.Event(), threading.Event(), [], []

    def notice(ctx):
        cancels.append(current_cancel())

    def long_step(ctx):
        busy.set()
        go.wait(HELD)                   # looks at nothing: only the runner's next check point can stop it

    def steps(member):
        return [Step("dataPlane", "Applying", notice), Step("rollout", "Rolling out", long_step),
                Step("links", "Linking", lambda ctx: log.append((member, "links")))]

    # The step goes on once the run is canceled, as a step ends its request.
    _interrupt_when(busy.is_set, then=lambda: (cancels[0].wait(HELD), go.set()))
    with pytest.raises(OperationCanceledError) as err:
        reconcile.run(FakeEngine(store, steps), network, "rg1")

    assert "member-01: Operation 'update' was interrupted in step 'links' after completing dataPlane, rollout" \
        in err.value.message, err.value.message
    shown = _shown(store, first)
    assert shown["provisioningState"] == res.CANCELED
    assert shown["operation"]["completedSteps"] == ["dataPlane", "rollout"]
    assert log == []
    untouched = _shown(store, second)
    assert untouched["provisioningState"] == res.SUCCEEDED and "operation" not in untouched
    assert "member-02" not in err.value.message


def test_a_resumed_run_finishes_what_the_interrupted_one_canceled(store, network, monkeypatch):
    # One member: its actions run in the main thread, which Ctrl-C reaches itself.
    (member,) = _members(store, network, "member-01")
    _plan(monkeypatch, "member-01")
    release, log = threading.Event(), []

    def wait_ready(ctx):
        log.append("ready")
        seen = threading.Event()
        gather([lambda: release.wait(HELD) or seen.wait(HELD)] * 2, canceled=seen)

    def steps(_member):
        return [Step("dataPlane", "Applying", lambda ctx: log.append("dataPlane")),
                Step("ready", "Waiting", wait_ready), Step("links", "Linking", lambda ctx: log.append("links"))]

    _interrupt_when(lambda: "ready" in log)
    with pytest.raises(OperationCanceledError):
        reconcile.run(FakeEngine(store, steps), network, "rg1")
    assert _shown(store, member)["provisioningState"] == res.CANCELED

    release.set()                       # the workload may become ready now
    log.clear()
    report = reconcile.run(FakeEngine(store, steps), network, "rg1")
    assert [(a["member"], a["status"]) for a in report["actions"]] == [("member-01", "Done")]
    assert log == ["ready", "links"]    # resumed after the step it had completed
    assert _shown(store, member)["provisioningState"] == res.SUCCEEDED


def test_an_operation_that_does_not_stop_in_time_is_named_and_ends_canceled_when_it_can(store, network,
                                                                                        monkeypatch):
    member, _ = _members(store, network, "member-01", "member-02")
    monkeypatch.setattr(reconcile, "CANCEL_GRACE", 0.2)
    _plan(monkeypatch, "member-01", "member-02")
    busy, go = threading.Event(), threading.Event()

    def stuck(ctx):
        busy.set()
        go.wait(HELD)                   # a request that has not answered yet

    def steps(name):
        if name == "member-02":
            return [Step("dataPlane", "Applying", lambda ctx: None)]
        return [Step("dataPlane", "Applying", stuck), Step("ready", "Waiting", lambda ctx: None)]

    _interrupt_when(busy.is_set)
    with pytest.raises(OperationCanceledError) as err:
        reconcile.run(FakeEngine(store, steps), network, "rg1")
    assert err.value.message == ("The reconcile of Application Network 'net-01' was interrupted; member-01 did "
                                 "not stop in time (the next run takes their operations over).")
    assert _shown(store, member)["operation"]["status"] == runner.IN_PROGRESS

    go.set()                            # its request answers: it stops at the next check point
    for _ in range(HELD * 100):
        if _shown(store, member)["operation"]["status"] != runner.IN_PROGRESS:
            break
        threading.Event().wait(0.01)
    shown = _shown(store, member)
    assert shown["provisioningState"] == res.CANCELED and shown["operation"]["completedSteps"] == ["dataPlane"]

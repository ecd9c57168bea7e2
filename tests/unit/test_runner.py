"""The operation runner's branches, with fake steps on an in-memory store: what a user sees
afterwards on the resource (`show`: provisioningState, error, the operation's steps) when an
operation succeeds, is interrupted, fails, meets a concurrent write, or is resumed, handed
to a worker or taken over from a runner that died."""

import os
import signal
import subprocess

import pytest

from azext_appnet.errors import AppNetError, ClusterError, ConflictError, OperationCanceledError
from azext_appnet.kube.concurrent import OPERATION_CONNECTIONS
from azext_appnet.model import ids
from azext_appnet.model import resources as res
from azext_appnet.operations import catalog, resume, runner
from azext_appnet.operations.runner import Step
from azext_appnet.processes import process_identity

NET_ID = ids.network_id(ids.LOCAL_SUBSCRIPTION, "rg1", "net-01")


class FakeCluster(str):
    """A step's cluster: a marker that names its member, and the connections asked of it."""

    preconnected = 0

    def preconnect(self, count):
        self.preconnected = count


class FakeServices:
    """Counts connections."""

    def __init__(self):
        self.connects = 0

    def connect(self, member):
        self.connects += 1
        return FakeCluster(f"cluster of {member['name']}")


def _member(store, network, name="member-01"):
    doc = res.new_member(network, name, "westus2", {"type": "Kubernetes", "kubeconfig": "/k", "context": "c"},
                         res.upgrade_profile(res.SELF_MANAGED), res.connectivity_profile("Internal"))
    return store.create(doc, catalog.MEMBER_KIND, parent_id=network["id"])


def _begin(store, resource_id, name="join", parameters=None, running_state=res.PROVISIONING):
    """What the engine records before an operation runs (engine.AppNet._begin)."""
    doc = store.get(resource_id)
    previous = doc["properties"].get("operation")
    doc["properties"]["operation"] = runner.new_operation(name, parameters or {}, running_state, previous)
    doc["properties"]["provisioningState"] = res.ACCEPTED
    doc["properties"].pop("error", None)
    return store.update(doc)["properties"]["operation"]["id"]


def _steps(log, fail=None, names=("one", "two", "three")):
    """Steps that note they ran (on the resource and in `log`); `fail` = {name: exception}."""
    def make(name):
        def run(ctx):
            log.append(name)
            ctx.props.setdefault("done", []).append(name)
            if fail and name in fail:
                raise fail[name]
        return Step(name, f"Doing {name}", run)
    return [make(n) for n in names]


def _run(store, resource_id, op_id, steps, progress=None):
    return runner.run(store, resource_id, op_id, steps, FakeServices(), progress=progress)


def test_success_records_each_step_once_and_ends_succeeded(store, network):
    member = _member(store, network)
    op_id = _begin(store, member["id"])
    log, said = [], []
    store.writes.clear()
    final = _run(store, member["id"], op_id, _steps(log), progress=said.append)
    shown = store.get(member["id"])["properties"]
    assert log == ["one", "two", "three"]
    assert said == ["Doing one", "Doing two", "Doing three"]
    assert shown["provisioningState"] == res.SUCCEEDED == final["properties"]["provisioningState"]
    assert shown["operation"]["status"] == res.SUCCEEDED
    assert shown["operation"]["completedSteps"] == ["one", "two", "three"]
    assert shown["done"] == ["one", "two", "three"]       # what each step changed, kept without a save
    assert "error" not in shown
    # One write as it starts, then one per step: a step's "done" names the next one.
    assert store.writes == [("update", member["id"])] * 4


def test_state_while_running_is_the_operations_running_state(store, network):
    member = _member(store, network)
    op_id = _begin(store, member["id"], "remove", running_state=res.DELETING)
    seen = []

    def look(ctx):
        stored = ctx.store.get(ctx.resource["id"])["properties"]
        seen.append((stored["provisioningState"], stored["operation"]["step"]))

    _run(store, member["id"], op_id, [Step("first", "First", look), Step("second", "Second", look)])
    assert seen == [(res.DELETING, "first"), (res.DELETING, "second")]


def test_registry_names_each_operations_state_and_kind(network):
    member = res.new_member(network, "m", "westus2", {"type": "Kubernetes"}, res.upgrade_profile(res.SELF_MANAGED),
                            res.connectivity_profile("Internal"))
    assert catalog.lookup(member, "join").running_state == res.PROVISIONING
    assert catalog.lookup(member, "remove").running_state == res.DELETING
    assert catalog.lookup(member, "rotateCa").running_state == res.UPDATING
    assert catalog.lookup(member, "join").kind == catalog.MEMBER_KIND
    assert catalog.lookup(network, "delete").running_state == res.DELETING
    assert catalog.lookup(network, "rotateRoot").kind == catalog.NETWORK_KIND
    # A join's preflight runs before the operation is recorded (engine.join_member), not as a step.
    assert [s.name for s in catalog.lookup(member, "join").steps][:2] == ["connect", "version"]
    with pytest.raises(KeyError):
        catalog.lookup(network, "join")     # a network has no join


@pytest.mark.parametrize("interrupt", ["KeyboardInterrupt", "SIGINT"])
def test_ctrl_c_leaves_the_resource_canceled_and_resumable(store, network, interrupt):
    member = _member(store, network)
    op_id = _begin(store, member["id"], parameters={"version": "1.5"})

    def stop(ctx):
        ctx.props["half"] = "done"
        if interrupt == "SIGINT":
            os.kill(os.getpid(), signal.SIGINT)     # Python's default handler: KeyboardInterrupt
        raise KeyboardInterrupt

    log = []
    steps = _steps(log)
    steps[1] = Step("two", "Doing two", stop)
    with pytest.raises(OperationCanceledError) as err:
        _run(store, member["id"], op_id, steps)
    assert err.value.code == "Canceled"
    shown = store.get(member["id"])["properties"]
    assert shown["provisioningState"] == res.CANCELED
    assert shown["operation"]["status"] == res.CANCELED
    assert shown["error"]["code"] == "Canceled"
    assert shown["error"]["message"] == ("Operation 'join' was interrupted in step 'two' after "
                                         "completing one.")
    assert "resumes where it stopped" in shown["error"]["recommendation"]
    assert shown["operation"]["completedSteps"] == ["one"]
    assert "half" not in shown                 # an interrupted step counts as not done

    # The same command again resumes with step two.
    op_id = _begin(store, member["id"], parameters={"version": "1.5"})
    log.clear()
    _run(store, member["id"], op_id, _steps(log))
    shown = store.get(member["id"])["properties"]
    assert log == ["two", "three"]
    assert shown["provisioningState"] == res.SUCCEEDED
    assert "error" not in shown


def test_unexpected_exception_is_an_internal_error_on_a_failed_resource(store, network):
    member = _member(store, network)
    op_id = _begin(store, member["id"])
    with pytest.raises(AppNetError) as err:
        _run(store, member["id"], op_id, _steps([], fail={"two": KeyError("spec")}))
    assert err.value.code == "InternalError"
    assert isinstance(err.value.__cause__, KeyError)
    shown = store.get(member["id"])["properties"]
    assert shown["provisioningState"] == res.FAILED
    assert shown["operation"]["status"] == res.FAILED
    assert shown["operation"]["step"] == "two"
    assert shown["operation"]["completedSteps"] == ["one"]
    assert shown["error"] == {"code": "InternalError",
                              "message": "Step 'two' failed unexpectedly: KeyError: 'spec'"}
    assert shown["done"] == ["one"]            # the failed step's changes are not kept


def test_a_step_error_is_kept_with_its_code_and_recommendation(store, network):
    member = _member(store, network)
    op_id = _begin(store, member["id"])
    failure = ClusterError("The cluster at https://c1 refused the request.", "Check the cluster.",
                           code="ClusterUnreachable")
    with pytest.raises(ClusterError):
        _run(store, member["id"], op_id, _steps([], fail={"one": failure}))
    shown = store.get(member["id"])["properties"]
    assert shown["provisioningState"] == res.FAILED
    assert shown["error"] == {"code": "ClusterUnreachable",
                              "message": "The cluster at https://c1 refused the request.",
                              "recommendation": "Check the cluster."}
    assert shown["operation"]["completedSteps"] == []


def test_a_write_by_another_command_during_a_step_fails_it_and_a_rerun_redoes_it(store, network):
    member = _member(store, network)
    op_id = _begin(store, member["id"])

    def meanwhile(ctx):
        other = ctx.store.get(ctx.resource["id"])
        other["tags"] = {"owner": "someone else"}
        ctx.store.update(other)                 # another process writes the member now

    steps = _steps([])
    steps[1] = Step("two", "Doing two", meanwhile)
    with pytest.raises(ConflictError) as err:
        _run(store, member["id"], op_id, steps)
    assert err.value.code == "Conflict"
    shown = store.get(member["id"])
    assert shown["properties"]["provisioningState"] == res.FAILED
    assert shown["properties"]["error"]["code"] == "Conflict"
    assert shown["properties"]["operation"]["completedSteps"] == ["one"]
    assert shown["tags"] == {"owner": "someone else"}   # the other write is kept

    op_id = _begin(store, member["id"])
    log = []
    _run(store, member["id"], op_id, _steps(log))
    assert log == ["two", "three"]
    assert store.get(member["id"])["properties"]["provisioningState"] == res.SUCCEEDED


def test_ending_a_failed_operation_retries_a_stale_write(store, network):
    member = _member(store, network)
    op_id = _begin(store, member["id"])
    interference = {"left": 2}

    def another_process_first(doc):
        # Twice, while the runner records the failure, someone else writes first.
        if doc["properties"].get("provisioningState") == res.FAILED and interference["left"]:
            interference["left"] -= 1
            other = store.get(doc["id"])
            other["tags"] = {"n": str(interference["left"])}
            store.before_update = None
            try:
                store.update(other)
            finally:
                store.before_update = another_process_first

    store.before_update = another_process_first
    with pytest.raises(ClusterError):
        _run(store, member["id"], op_id, _steps([], fail={"two": ClusterError("Unreachable.")}))
    shown = store.get(member["id"])
    assert interference["left"] == 0
    assert shown["properties"]["provisioningState"] == res.FAILED
    assert shown["properties"]["error"]["message"] == "Unreachable."
    assert shown["tags"] == {"n": "0"}


def test_rerun_resumes_at_the_recorded_step_with_the_same_parameters_only(store, network):
    member = _member(store, network)
    op_id = _begin(store, member["id"], parameters={"version": "1.5"})
    with pytest.raises(ClusterError):
        _run(store, member["id"], op_id, _steps([], fail={"three": ClusterError("Not ready.")}))
    assert store.get(member["id"])["properties"]["operation"]["step"] == "three"

    log, said = [], []
    op_id = _begin(store, member["id"], parameters={"version": "1.5"})
    assert store.get(member["id"])["properties"]["operation"]["completedSteps"] == ["one", "two"]
    _run(store, member["id"], op_id, _steps(log), progress=said.append)
    assert log == ["three"] and said == ["Doing three"]
    shown = store.get(member["id"])["properties"]["operation"]
    assert shown["completedSteps"] == ["one", "two", "three"]

    # Other parameters are another operation: it starts from the first step.
    op_id = _begin(store, member["id"], parameters={"version": "1.6"})
    log.clear()
    _run(store, member["id"], op_id, _steps(log))
    assert log == ["one", "two", "three"]


def test_a_run_of_an_operation_that_was_replaced_is_refused(store, network):
    member = _member(store, network)
    stale_id = _begin(store, member["id"])
    _begin(store, member["id"], "update", running_state=res.UPDATING)
    with pytest.raises(ConflictError) as err:
        _run(store, member["id"], stale_id, _steps([]))
    assert "no longer the current operation" in err.value.message
    assert store.get(member["id"])["properties"]["operation"]["name"] == "update"


def test_hand_over_names_the_worker_as_runner_unless_it_took_over_already(store, network):
    member = _member(store, network)
    op_id = _begin(store, member["id"])
    worker = subprocess.Popen(["sleep", "30"])
    try:
        runner.hand_over(store, member["id"], op_id, worker.pid)
        op = store.get(member["id"])["properties"]["operation"]
        assert op["pid"] == worker.pid and op["runner"]["pid"] == worker.pid
        assert runner.runner_alive(op)
        with pytest.raises(ConflictError) as err:
            runner.ensure_idle(store.get(member["id"]))      # another command must wait
        assert "is still running" in err.value.message
        # The worker already wrote its own pid: hand_over leaves the record alone.
        store.writes.clear()
        runner.hand_over(store, member["id"], op_id, 12345)
        assert store.writes == []
        assert store.get(member["id"])["properties"]["operation"]["pid"] == worker.pid
    finally:
        worker.kill()
        worker.wait()


def test_hand_over_retries_a_stale_write(store, network):
    member = _member(store, network)
    op_id = _begin(store, member["id"])
    raced = []

    def heartbeat_first(doc):
        if not raced:
            raced.append(True)
            other = store.get(doc["id"])
            other["properties"]["operation"]["heartbeat"] += 1
            store.before_update = None
            store.update(other)
            store.before_update = heartbeat_first

    store.before_update = heartbeat_first
    runner.hand_over(store, member["id"], op_id, 4242)
    assert raced
    assert store.get(member["id"])["properties"]["operation"]["pid"] == 4242


def test_an_operation_whose_runner_died_is_stalled_and_the_next_run_takes_it_over(store, network):
    member = _member(store, network)
    op_id = _begin(store, member["id"], parameters={"version": "1.5"})
    with pytest.raises(OperationCanceledError):
        _run(store, member["id"], op_id, _steps([], fail={"two": KeyboardInterrupt()}))
    # As a SIGKILLed runner leaves it: still InProgress, naming a process that is gone.
    dead = subprocess.Popen(["true"])
    dead.wait()
    doc = store.get(member["id"])
    identity = dict(process_identity(), pid=dead.pid, start=None)
    identity.pop("thread")
    doc["properties"]["operation"].update(status=runner.IN_PROGRESS, pid=dead.pid, runner=identity)
    doc["properties"]["provisioningState"] = res.PROVISIONING
    doc["properties"].pop("error")
    store.update(doc)

    doc = store.get(member["id"])
    assert not runner.runner_alive(doc["properties"]["operation"])
    why = resume.stalled(doc)
    assert "is gone; it stopped in step 'two'" in why
    assert resume.resume_command(doc).startswith("az appnet member join -g rg1 --appnet-name net-01 "
                                                 "--member-name member-01")
    runner.ensure_idle(doc)                   # nothing refuses the takeover

    op_id = _begin(store, member["id"], parameters={"version": "1.5"})
    log = []
    _run(store, member["id"], op_id, _steps(log))
    shown = store.get(member["id"])["properties"]
    assert log == ["two", "three"]
    assert shown["provisioningState"] == res.SUCCEEDED
    assert shown["operation"]["runner"]["pid"] == os.getpid()


def test_steps_share_one_cluster_connection_and_read_the_network_again_under_the_lock(store, network):
    member = _member(store, network)
    op_id = _begin(store, member["id"])
    services = FakeServices()
    seen = []

    def use(ctx):
        seen.append((ctx.cluster, ctx.network["tags"].get("v")))

    def change_network(ctx):
        # Another operation changes the network between steps.
        other = ctx.store.get(NET_ID)
        other["tags"] = {"v": "2"}
        ctx.store.update(other)

    steps = [Step("a", "A", use), Step("b", "B", change_network), Step("c", "C", use),
             Step("d", "D", use, shared=True)]
    runner.run(store, member["id"], op_id, steps, services)
    assert services.connects == 1
    # Its connections are opened as the operation first reaches the cluster, for its rounds.
    assert seen[0][0].preconnected == OPERATION_CONNECTIONS
    # Read once outside the lock (the change is not seen by step c), again under it (d).
    assert seen == [("cluster of member-01", None), ("cluster of member-01", None),
                    ("cluster of member-01", "2")]


def test_a_network_operations_network_is_its_resource(store, network):
    op_id = _begin(store, network["id"], "update", running_state=res.UPDATING)
    seen = []
    runner.run(store, network["id"], op_id, [Step("look", "Look", lambda ctx: seen.append(ctx.network["id"]))],
               FakeServices())
    assert seen == [network["id"]]


def test_a_member_whose_network_is_gone_fails_not_found(store, network):
    member = _member(store, network)
    op_id = _begin(store, member["id"])
    store.delete(NET_ID)
    with pytest.raises(AppNetError) as err:
        _run(store, member["id"], op_id, [Step("a", "A", lambda ctx: ctx.network)])
    assert err.value.code == "NotFound"
    assert store.get(member["id"])["properties"]["error"]["code"] == "NotFound"

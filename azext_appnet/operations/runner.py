"""Long-running operations as lists of idempotent steps, recorded in the store.

An operation is written into the resource (`properties.operation`) before any work starts:
its name, parameters (never secrets), the steps completed so far, and which process runs it.
Running it — inline for a waiting command, or in a detached worker for --no-wait — walks the
steps, saving after each one. If the process dies (crash, Ctrl-C, SIGKILL), the record shows
a dead runner; the same command run again takes the operation over and resumes after the
last completed step. A failed step leaves the resource `Failed` with the error.
"""

import json
import os
import socket
import subprocess
import sys
import time
import uuid

from ..errors import AppNetError, ConflictError, OperationCanceledError
from ..kube.concurrent import OPERATION_CONNECTIONS, raise_if_canceled
from ..processes import identity_alive, process_identity
from ..redact import scrub
from ..model import ids
from ..model import resources as res
from ..state import is_blob_location
from ..state import StaleWriteError

IN_PROGRESS = "InProgress"
# A runner on another machine (a shared store) is presumed alive while it keeps beating.
_REMOTE_RUNNER_GRACE_SECONDS = 15 * 60


class Step:  # pylint: disable=too-few-public-methods  # a record the runner reads
    """One idempotent step. A step that changes what several members share (the network's
    CA, remote secrets) runs holding the network's lock (`shared=True`)."""

    def __init__(self, name, message, run, shared=False):  # pylint: disable=redefined-outer-name  # its own run
        self.name, self.message, self.run, self.shared = name, message, run, shared


def network_lock_name(resource_id):
    parts = ids.parse_id(resource_id)
    return "network:" + ids.key(ids.network_id(parts["subscription"], parts["resource_group"], parts["network"]))


def _runner_identity(pid=None):
    """Who runs an operation (processes.process_identity); for a worker just spawned, its pid
    in our namespace, its start time unknown."""
    ident = process_identity()
    ident.pop("thread", None)
    if pid is not None:
        ident.update(pid=pid, start=None)
    return ident


def runner_alive(operation):
    """Is the operation's runner still running? Judged from its pid only where that pid means
    the same process (same host, boot and PID namespace: two CI containers can share a
    hostname and a pid), else from its heartbeat."""
    if not operation or operation.get("status") != IN_PROGRESS:
        return False
    alive = identity_alive(operation.get("runner"))
    if alive is not None:
        return alive
    beat = operation.get("heartbeat", 0)
    return time.time() - beat < _REMOTE_RUNNER_GRACE_SECONDS


def ensure_idle(resource):
    """Refuse to start an operation while another one runs on the same resource."""
    op = resource.get("properties", {}).get("operation")
    if runner_alive(op):
        raise ConflictError(
            f"Operation '{op['name']}' (started {op.get('startedAt')}) is still running on "
            f"{resource['id']}.",
            "Wait for it to finish ('az appnet wait' / 'az appnet member wait' with --created or "
            "--updated), then run this command again.")


def new_operation(name, parameters, running_state, resume_from=None):
    """A fresh operation record; `resume_from` carries over the completed steps of an
    interrupted or failed run of the same operation with the same parameters."""
    done = []
    if resume_from and resume_from.get("name") == name and \
            resume_from.get("parameters") == parameters and resume_from.get("status") != "Succeeded":
        done = list(resume_from.get("completedSteps", []))
    return {"name": name, "id": str(uuid.uuid4()), "status": IN_PROGRESS, "step": None,
            "runningState": running_state,
            "completedSteps": done, "parameters": parameters, "startedAt": res.now(),
            "host": socket.gethostname(), "pid": os.getpid(), "runner": _runner_identity(),
            "heartbeat": time.time()}


class Context:  # pylint: disable=too-many-instance-attributes  # what a step sees, in one place
    """What a step sees: the fresh resource, the services, progress, and a way to save.

    The runner saves the resource after each step; a step calls `save()` only for what must
    be kept even when it fails (credentials it already issued, say)."""

    def __init__(self, store, resource, services, progress, warn=None, memo=None):
        self.store, self.resource, self.services = store, resource, services
        self._progress, self._warn = progress, warn
        self.warnings = []
        #: what a step leaves for a later step of this run (or the command for its first), in
        #: memory only: a run resumed in another process starts without it, so a step must do
        #: without what it finds here
        self.memo = dict(memo or {})
        self._cluster = None
        self._network = None

    @property
    def props(self):
        return self.resource["properties"]

    @property
    def params(self):
        return self.props["operation"]["parameters"]

    @property
    def cluster(self):
        """The member's cluster, connected (and its identity checked) once per operation."""
        if self._cluster is None:
            self._cluster = self.services.connect(self.resource)
            self._cluster.preconnect(OPERATION_CONNECTIONS)
        return self._cluster

    @property
    def network(self):
        """The Application Network the resource is, or belongs to. A member's network is read
        once, and again after `reload()`: a shared step sees what changed while it waited."""
        parts = ids.parse_id(self.resource["id"])
        if not parts["member"]:
            return self.resource
        if self._network is None:
            network = self.store.get(ids.network_id(parts["subscription"], parts["resource_group"],
                                                    parts["network"]))
            if network is None:
                raise AppNetError(f"The Application Network of {self.resource['id']} no longer exists.",
                                  code="NotFound")
            self._network = network
        return self._network

    def progress(self, message):
        if self._progress:
            self._progress(scrub(message))

    def warn(self, message):
        """Tell the user now, and keep it on the operation's record for `show`."""
        message = scrub(message)            # it is saved on the resource
        self.warnings.append(message)
        if self._warn:
            self._warn(message)
        else:
            self.progress(f"Warning: {message}")

    def save(self):
        self.props["operation"]["heartbeat"] = time.time()
        res.touch(self.resource)
        self.resource = self.store.update(self.resource)
        return self.resource

    def reload(self):
        fresh = self.store.get(self.resource["id"])
        if fresh is not None:
            self.resource = fresh
        self._network = None
        return self.resource


class Finished(Exception):
    """Raised by a step that ends the operation by deleting the resource."""


def run(store, resource_id, operation_id, steps, services, progress=None, warn=None, memo=None):
    """Run the recorded operation to its end. Returns the final resource (None if the
    operation deleted it); raises AppNetError after marking the resource Failed. `memo`:
    what the command found just before, for the steps (Context.memo).

    One write per step: the one that records a step done also names the next one (nothing
    runs in between), and the last step's is the one that ends the operation."""
    resource = store.get(resource_id)
    op = (resource or {}).get("properties", {}).get("operation") or {}
    if op.get("id") != operation_id:
        raise ConflictError(f"Operation {operation_id} is no longer the current operation of {resource_id}.")
    pending = [step for step in steps if step.name not in op.get("completedSteps", [])]
    op.update(pid=os.getpid(), host=socket.gethostname(), runner=_runner_identity())
    op.setdefault("completedSteps", [])
    if pending:
        op["step"] = pending[0].name
    resource["properties"]["provisioningState"] = op.get("runningState", res.PROVISIONING)
    ctx = Context(store, resource, services, progress, warn, memo)
    ctx.save()
    try:
        for index, step in enumerate(pending):
            # Run on another thread than the main one (reconcile's members), the operation
            # hears of Ctrl-C here: between steps, and once it holds the lock it waited for.
            raise_if_canceled()
            following = pending[index + 1] if index + 1 < len(pending) else None
            ctx.progress(step.message)
            if step.shared:
                with store.lock(network_lock_name(resource_id)):
                    raise_if_canceled()
                    ctx.reload()  # what another operation changed while we waited
                    step.run(ctx)
                    _step_done(ctx, step, following)   # under the lock, as the step's changes
            else:
                step.run(ctx)
                _step_done(ctx, step, following)
        if not pending:
            _step_done(ctx, None, None)
        return ctx.resource
    except Finished:
        return None
    except KeyboardInterrupt:           # Ctrl-C, SIGTERM (custom.py), or concurrent.Canceled
        op = ctx.props["operation"]
        done = op.get("completedSteps") or []
        error = OperationCanceledError(
            f"Operation '{op.get('name')}' was interrupted in step '{op.get('step')}' "
            + (f"after completing {', '.join(done)}." if done else "before any step completed."),
            "Run the same command again: it resumes where it stopped.")
        _end(ctx, res.CANCELED, error.to_error())
        raise error from None
    except AppNetError as ex:
        _end(ctx, res.FAILED, ex.to_error())
        raise
    except Exception as ex:  # pylint: disable=broad-except
        # Unexpected failures still leave a Failed resource naming the step, so a re-run can resume.
        error = AppNetError(f"Step '{ctx.props['operation']['step']}' failed unexpectedly: "
                            f"{type(ex).__name__}: {str(ex)[:500]}", code="InternalError")
        _end(ctx, res.FAILED, error.to_error())
        raise error from ex


def _step_done(ctx, step, following):
    """Record `step` done in one write that also names the `following` one, or, after the
    last, ends the operation Succeeded. A StaleWriteError (someone wrote the resource while
    the step ran) is a ConflictError: the operation ends Failed and a re-run redoes the step."""
    op = ctx.props["operation"]
    if step is not None:
        op["completedSteps"].append(step.name)
    if following is not None:
        op["step"] = following.name
    else:
        _settle(ctx.resource, res.SUCCEEDED, None, ctx.warnings)
    ctx.save()


def _settle(resource, state, error, warnings):
    """Mark the resource and its operation as ended in `state`, with `error` or none."""
    props = resource["properties"]
    props["provisioningState"] = state
    props["operation"].update(status=state, endedAt=res.now())
    if warnings:
        props["operation"]["warnings"] = warnings
    if error:
        props["error"] = error
    else:
        props.pop("error", None)


def _end(ctx, state, error):
    """End a failed or interrupted operation on the stored resource: what the step changed
    only in memory is dropped (its completed steps were saved as each one ended)."""
    for _ in range(5):
        try:
            resource = ctx.reload()
            if resource is None:
                return None
            _settle(resource, state, error, ctx.warnings)
            return ctx.save()
        except StaleWriteError:
            continue
    return ctx.resource


def hand_over(store, resource_id, operation_id, pid):
    """Record the worker's pid as the operation's runner, so that between our exit and the
    worker's first write nobody takes the operation for abandoned."""
    for _ in range(10):
        resource = store.get(resource_id)
        op = (resource or {}).get("properties", {}).get("operation") or {}
        if op.get("id") != operation_id or op.get("pid") != os.getpid():
            return  # the worker has already taken it over (or it was replaced)
        op["pid"], op["runner"] = pid, _runner_identity(pid)
        try:
            store.update(resource)
            return
        except StaleWriteError:
            continue


# The worker's first code: isolated mode (-I: no PYTHON* variables, no user site, neither
# the caller's cwd nor the script's directory on sys.path), then the import path and the
# secrets it needs read from its stdin pipe.
_BOOTSTRAP = ("import json, sys; handed = json.loads(sys.stdin.buffer.read() or b'{}'); "
              "sys.path[:0] = handed.get('path', []); "
              "from azext_appnet.operations.worker import main; "
              "sys.exit(main(sys.argv[1:], handed.get('secrets')))")


def _import_path():
    """This process's sys.path for the worker, without the caller's working directory
    (`python -m azure.cli` puts it first): a module planted there must not run. The
    directory this extension was loaded from stays, even when it is the cwd."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    cwd = os.getcwd()
    path = []
    for entry in sys.path:
        if not entry or not os.path.isabs(entry):
            continue                    # '' or relative: the cwd again
        if os.path.realpath(entry) == os.path.realpath(cwd) and \
                os.path.realpath(entry) != os.path.realpath(here):
            continue
        if entry not in path:
            path.append(entry)
    return path


def spawn_worker(store_path, keys_dir, resource_id, operation_id, log_path, env=None):
    """Start a detached process that runs the operation (for --no-wait).

    It runs isolated (see _BOOTSTRAP) in its own directory (the log's), gets this process's
    import path, and is handed appnet's secrets (key store passphrase, state connection
    string) on a pipe: its environment, which plugins and tools it starts inherit, holds
    none of them.
    """
    from ..redact import SECRET_ENV

    env = {**(env or {}), **os.environ}  # what the user set wins over our defaults
    secrets = {name: env.pop(name) for name in SECRET_ENV if name in env}
    for name in [n for n in env if n.startswith("PYTHON")]:
        del env[name]                    # ignored under -I anyway; keep the record clean
    workdir = os.path.dirname(log_path)
    os.makedirs(workdir, mode=0o700, exist_ok=True)
    if not is_blob_location(store_path):
        store_path = os.path.abspath(store_path)
    handed = json.dumps({"path": _import_path(), "secrets": secrets}).encode()
    with open(log_path, "ab") as log:
        os.chmod(log_path, 0o600)
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, "-I", "-c", _BOOTSTRAP,
             store_path, os.path.abspath(keys_dir), resource_id, operation_id],
            stdin=subprocess.PIPE, stdout=log, stderr=log, env=env, cwd=workdir,
            start_new_session=True, close_fds=True)
    try:
        proc.stdin.write(handed)
        proc.stdin.close()
    except OSError:
        pass                             # it died at once; its log and the record say why
    return proc.pid

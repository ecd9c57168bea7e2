"""Is a process that recorded itself (an operation's runner, a lock's holder) still alive?

A pid means something only inside its PID namespace on one boot of one machine: two CI
containers share a hostname and both have a pid 7. So a process records its identity as
host, boot id, PID namespace, pid and start time (`process_identity`), and another process
judges it dead only when all of the first four are its own and that pid is gone or now
belongs to a process started at another time (`identity_alive`). Anything else cannot be
judged from here: the record's lease or heartbeat decides.
"""

import os
import socket


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError, TypeError):
        return True  # exists but is not ours, or we cannot tell: assume alive
    # A zombie (killed, not yet reaped by its parent) is no longer running anything.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _read(path):
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except (OSError, ValueError):
        return None


def _boot_id():
    return _read("/proc/sys/kernel/random/boot_id")


def _namespace_id():
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _start_time(pid):
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    stat = _read(f"/proc/{pid}/stat")
    try:
        return int(stat.rsplit(")", 1)[1].split()[19]) if stat else None
    except (IndexError, ValueError):
        return None


def process_identity():
    """What names this process (and thread) unambiguously enough to judge it dead later."""
    import threading
    pid = os.getpid()
    return {"host": socket.gethostname(), "boot": _boot_id(), "pidns": _namespace_id(),
            "pid": pid, "start": _start_time(pid), "thread": threading.get_ident()}


def describe_identity(identity):
    if not isinstance(identity, dict):
        return str(identity)
    return f"{identity.get('host')}:{identity.get('pid')}"


def identity_alive(identity):
    """True or False when this process can tell whether `identity` (from process_identity,
    possibly on another machine or namespace) still runs; None when it cannot."""
    if not isinstance(identity, dict):
        return None
    pid = identity.get("pid")
    here = (socket.gethostname(), _boot_id(), _namespace_id())
    there = (identity.get("host"), identity.get("boot"), identity.get("pidns"))
    if None in here or here != there or not isinstance(pid, int):
        return None
    if not pid_alive(pid):
        return False
    start = identity.get("start")
    return start is None or _start_time(pid) in (None, start)


# ---- secrets handed to a child process --------------------------------------------------

# Secrets a --no-wait worker was handed on its stdin pipe (never through its environment,
# which every process it starts would inherit and /proc/PID/environ shows).
_handed = {}


def hand_secrets(secrets):
    """Record the secrets this process was handed (the worker, at start)."""
    _handed.update({k: v for k, v in (secrets or {}).items() if isinstance(v, str) and v})


def secret_env(name):
    """The value of secret setting `name`: handed over, else from the environment."""
    return _handed.get(name) or os.environ.get(name)


def disable_core_dumps():
    """A core dump of a process holding CA keys or a connection string is a copy of them."""
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass  # not POSIX, or not allowed: nothing more to do

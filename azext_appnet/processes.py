"""Is a process that recorded itself (an operation's runner, a lock's holder) still alive?"""

import os


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

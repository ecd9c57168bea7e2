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

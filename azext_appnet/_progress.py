"""What a long operation shows on stderr while it runs.

A join lasts minutes on a real cluster, most of it waiting for workloads. On a terminal the
az spinner is redrawn twice a second with each member's current step, what it waits for and
for how long; in a CI log every step is a line of its own, and a heartbeat line names what is
still pending at least every HEARTBEAT_SECONDS, so a log never goes silent. Warnings go
through az's logger (`WARNING:` prefix), never through the spinner, which would cut or
overwrite them.

One display per process: `--ids` runs its jobs in threads, and they share one terminal.
"""

import shutil
import sys
import threading
import time

from knack.log import get_logger

logger = get_logger(__name__)

REDRAW_SECONDS = 0.5
HEARTBEAT_SECONDS = 15


def _age(seconds):
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Display:  # pylint: disable=too-many-instance-attributes  # the display's state, guarded by one lock
    """The steps of every operation in flight in this process, on stderr."""

    def __init__(self, cli_ctx, clock=time.monotonic, stream=None, tty=None):
        self._clock, self._stream = clock, stream or sys.stderr
        self._quiet = bool(getattr(cli_ctx, "only_show_errors", False))
        self._tty = (self._stream.isatty() if tty is None else tty) and not self._quiet
        self._lock = threading.RLock()
        self._status = {}        # who -> (message, since)
        self._durations = []     # (who, message, seconds): the --verbose summary
        self._started = self._last_line = clock()
        self._stop = threading.Event()
        self._bar = None
        if self._tty:
            from azure.cli.core.commands.progress import IndeterminateProgressBar
            self._bar = IndeterminateProgressBar(cli_ctx, message="Running")
            self._bar.begin()
        self._ticker = None
        if not self._quiet:
            self._ticker = threading.Thread(target=self._tick, name="appnet-progress", daemon=True)
            self._ticker.start()

    # -- what the engine reports ---------------------------------------------------------

    def step(self, who, message):
        now = self._clock()
        with self._lock:
            self._close(who, now)
            self._status[who] = (message, now)
            if self._quiet:
                return
            if self._tty:
                self._draw(now)
            else:
                self._line(f"{who}: {message}", now)

    def warn(self, who, message):
        with self._lock:
            self._clear()
            logger.warning("%s: %s", who, message)
            if self._tty:
                self._draw(self._clock())

    def done(self, who):
        with self._lock:
            self._close(who, self._clock())

    def end(self):
        self._stop.set()
        if self._ticker:
            self._ticker.join(timeout=2)
        with self._lock:
            now = self._clock()
            for who in list(self._status):
                self._close(who, now)
            if self._bar:
                self._bar.end()
                self._bar = None
        if self._durations:
            logger.info("Step durations: %s", "; ".join(
                f"{who}: {message} {seconds:.1f}s" for who, message, seconds in self._durations))

    # -- drawing ---------------------------------------------------------------------------

    def _close(self, who, now):
        if who in self._status:
            message, since = self._status.pop(who)
            self._durations.append((who, message, now - since))

    def _pending(self, now):
        return " | ".join(f"{who}: {message} ({_age(now - since)})"
                          for who, (message, since) in self._status.items())

    def _draw(self, now):
        if not self._bar:
            return
        label = f"[{_age(now - self._started)}] {self._pending(now) or 'Running'}"
        width = shutil.get_terminal_size((100, 20)).columns - 4  # the spinner and a margin
        if len(label) > width:
            label = label[:max(width - 1, 10)] + "…"
        self._bar.update_progress_with_msg(label)

    def _clear(self):
        if self._bar:
            try:
                self._bar.hook.active_progress.clear()
            except (AttributeError, OSError):
                pass

    def _line(self, text, now):
        self._stream.write(text + "\n")
        self._stream.flush()
        self._last_line = now

    def beat(self):
        """Redraw the spinner, or write the heartbeat line when the log has been quiet for
        HEARTBEAT_SECONDS; the ticker thread calls it every REDRAW_SECONDS."""
        with self._lock:
            now = self._clock()
            if self._tty:
                self._draw(now)
            elif self._status and now - self._last_line >= HEARTBEAT_SECONDS:
                self._line(f"Still running after {_age(now - self._started)}: "
                           f"{self._pending(now)}", now)

    def _tick(self):
        while not self._stop.wait(REDRAW_SECONDS):
            self.beat()


_shared = {"display": None, "users": 0}
_shared_lock = threading.Lock()


class Reporter:
    """The progress and warning callbacks of one operation (one member or network), drawn on
    the display this process shares among its operations."""

    def __init__(self, cli_ctx, who):
        self.who = who
        with _shared_lock:
            if _shared["display"] is None:
                _shared["display"] = Display(cli_ctx)
            _shared["users"] += 1
            self._display = _shared["display"]

    def __call__(self, message):
        self._display.step(self.who, message)

    def warn(self, message):
        self._display.warn(self.who, message)

    def end(self):
        self._display.done(self.who)
        with _shared_lock:
            _shared["users"] -= 1
            if _shared["users"] == 0:
                _shared["display"] = None
                self._display.end()

"""The progress display of long operations, driven by a fake clock, without a terminal (the
lines a CI log gets); the terminal's spinner is exercised end to end under a pty."""

import io
import logging
import threading

import pytest

from azext_appnet._progress import Display


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Ctx:
    only_show_errors = False


@pytest.fixture
def no_ticker(monkeypatch):
    """No ticker thread: the tests call beat() themselves, so time is the fake clock's."""
    monkeypatch.setattr(threading.Thread, "start", lambda self: None)
    monkeypatch.setattr(threading.Thread, "join", lambda self, timeout=None: None)


def tick(display):
    display.beat()


def test_ci_log_gets_a_line_per_step_named_by_member(no_ticker):
    clock, out = Clock(), io.StringIO()
    display = Display(Ctx(), clock=clock, stream=out, tty=False)
    display.step("east", "Applying the data plane")
    display.step("west", "Applying the data plane")
    display.step("east", "waiting for DaemonSet applink-system/ztunnel: 1 of 3 pods ready")
    assert out.getvalue().splitlines() == [
        "east: Applying the data plane", "west: Applying the data plane",
        "east: waiting for DaemonSet applink-system/ztunnel: 1 of 3 pods ready"]


def test_a_heartbeat_names_what_is_pending_and_for_how_long(no_ticker):
    clock, out = Clock(), io.StringIO()
    display = Display(Ctx(), clock=clock, stream=out, tty=False)
    display.step("east", "waiting for DaemonSet applink-system/ztunnel: 1 of 3 pods ready")
    clock.now += 10
    tick(display)
    assert len(out.getvalue().splitlines()) == 1          # nothing new yet: 10 s of silence
    clock.now += 6
    tick(display)
    last = out.getvalue().splitlines()[-1]
    assert last == ("Still running after 16s: east: waiting for DaemonSet applink-system/ztunnel: "
                    "1 of 3 pods ready (16s)")
    clock.now += 75
    tick(display)
    assert out.getvalue().splitlines()[-1].startswith("Still running after 1m31s: east:")


def test_no_heartbeat_once_nothing_is_pending(no_ticker):
    clock, out = Clock(), io.StringIO()
    display = Display(Ctx(), clock=clock, stream=out, tty=False)
    display.step("east", "Applying")
    display.done("east")
    clock.now += 60
    tick(display)
    assert out.getvalue().splitlines() == ["east: Applying"]


def test_warnings_go_to_the_logger_not_the_progress_lines(no_ticker, caplog):
    out = io.StringIO()
    display = Display(Ctx(), clock=Clock(), stream=out, tty=False)
    with caplog.at_level(logging.WARNING):
        display.warn("east", "Could not clean the cluster")
    assert out.getvalue() == ""
    assert [r.getMessage() for r in caplog.records] == ["east: Could not clean the cluster"]
    assert caplog.records[0].levelno == logging.WARNING


def test_step_durations_are_summarised_at_the_end(no_ticker, caplog):
    clock = Clock()
    display = Display(Ctx(), clock=clock, stream=io.StringIO(), tty=False)
    display.step("east", "Applying")
    clock.now += 2.5
    display.step("east", "Waiting")
    clock.now += 4
    with caplog.at_level(logging.INFO):
        display.end()
    assert "Step durations: east: Applying 2.5s; east: Waiting 4.0s" in [r.getMessage() for r in caplog.records]


def test_only_show_errors_prints_nothing(no_ticker):
    class Quiet:
        only_show_errors = True
    out = io.StringIO()
    display = Display(Quiet(), clock=Clock(), stream=out, tty=False)
    display.step("east", "Applying")
    display.end()
    assert out.getvalue() == ""

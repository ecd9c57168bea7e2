"""kube.concurrent.gather: results in order, the first error, and interruptions that end at
once although a call is still blocked."""

import pathlib
import subprocess
import sys
import textwrap
import threading

import pytest

from azext_appnet.kube.concurrent import Cancel, Canceled, current_cancel, gather, raise_if_canceled


def test_results_come_in_call_order_and_the_first_error_wins():
    assert gather([lambda i=i: i * i for i in range(20)], parallelism=3) == [i * i for i in range(20)]

    def fails(message):
        raise ValueError(message)

    with pytest.raises(ValueError, match="first"):
        gather([lambda: 1, lambda: fails("first"), lambda: fails("second")])


def test_ctrl_c_ends_the_wait_and_the_process_although_a_call_blocks():
    # A call blocked for good (a watch on a silent API server) must neither keep Ctrl-C from
    # ending the wait nor keep the interpreter from exiting.
    script = textwrap.dedent("""
        import os, signal, threading
        from azext_appnet.kube.concurrent import gather
        canceled, started = threading.Event(), threading.Event()
        def blocked():
            started.set()
            threading.Event().wait()
        def interrupt():
            started.wait()
            os.kill(os.getpid(), signal.SIGINT)
        threading.Thread(target=interrupt, daemon=True).start()
        try:
            gather([blocked, lambda: canceled.wait()], canceled=canceled)
        except KeyboardInterrupt:
            print("interrupted; canceled:", canceled.is_set(), flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=pathlib.Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "interrupted; canceled: True"


def test_a_call_that_looks_at_canceled_is_told_nothing_when_all_goes_well():
    canceled = threading.Event()
    assert gather([lambda: canceled.is_set()] * 3, canceled=canceled) == [False] * 3


@pytest.mark.parametrize("count", [1, 3], ids=["one-call", "several-calls"])
def test_a_wait_on_another_thread_ends_when_the_cancel_it_runs_under_is_set(count):
    # Ctrl-C reaches only the main thread: a gather that an operation on a thread of its own
    # waits in (a readiness wait) ends through the Cancel that thread runs under, although
    # its calls are blocked for good.
    cancel, blocked, seen = Cancel(), threading.Barrier(count + 1), threading.Event()

    def block():
        blocked.wait()
        threading.Event().wait()

    def operation():
        with pytest.raises(Canceled):
            gather([block] * count, canceled=seen)
        return "canceled"

    outcome = []
    runner = threading.Thread(target=lambda: outcome.append(gather([operation, lambda: None], canceled=cancel)))
    runner.start()
    blocked.wait(timeout=30)
    cancel.set()
    runner.join(timeout=30)
    assert outcome == [["canceled", None]]
    assert seen.is_set()                 # the calls that loop are told to stop, as on Ctrl-C


def test_calls_and_the_gathers_they_make_run_under_the_cancel_and_none_starts_once_it_is_set():
    cancel = Cancel()
    inner = gather([lambda: gather([current_cancel, current_cancel]), current_cancel], canceled=cancel)
    assert inner == [[cancel, cancel], cancel]
    assert current_cancel() is None      # the caller's own thread is not under it

    cancel.set()
    started = []
    with pytest.raises(Canceled):
        gather([lambda: gather([lambda: started.append(1)] * 2)] * 2, canceled=cancel)
    assert started == []
    # A step's check point.
    assert gather([lambda: raise_if_canceled() or "ran"] * 2, canceled=Cancel()) == ["ran", "ran"]
    with pytest.raises(Canceled):
        gather([raise_if_canceled] * 2, canceled=cancel)

"""kube.concurrent.gather: results in order, the first error, and interruptions that end at
once although a call is still blocked."""

import pathlib
import subprocess
import sys
import textwrap
import threading

import pytest

from azext_appnet.kube.concurrent import gather


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

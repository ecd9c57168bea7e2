"""Independent requests issued together: a far-away API server costs one round trip for
all of them instead of one each."""

import itertools
import threading

#: At most this many requests in flight per call. A Cluster keeps as many connections alive
#: (see client.Cluster), so a round of this size reuses them instead of opening new ones; it is
#: about the largest round an operation has (remove's deletes with the reads that judge what
#: it keeps), far below what an API server admits at once (--max-requests-inflight 400).
PARALLELISM = 48


def gather(calls, parallelism=PARALLELISM, canceled=None):
    """Run the zero-argument callables `calls` concurrently; their results, in order. When
    any raised, the exception of the first (in `calls` order) is raised, after all ended.

    An interruption of the waiting thread (Ctrl-C, or SIGTERM made one) goes on at once: the
    calls run on daemon threads, so one blocked in a long watch neither holds it up nor keeps
    the process alive; calls not started yet are dropped, and `canceled` (a threading.Event
    the calls may look at) is set so that calls which loop stop at their next look."""
    calls = list(calls)
    if len(calls) <= 1:
        return [c() for c in calls]
    results, errors = [None] * len(calls), [None] * len(calls)
    order = itertools.count()           # next() is atomic: each call is taken once
    finished = threading.Semaphore(0)
    stopping = []

    def worker():
        while not stopping:
            i = next(order)
            if i >= len(calls):
                return
            try:
                results[i] = calls[i]()
            except BaseException as e:  # pylint: disable=broad-except
                errors[i] = e
            finally:
                finished.release()

    try:
        for n in range(min(parallelism, len(calls))):
            threading.Thread(target=worker, name=f"appnet-io_{n}", daemon=True).start()
        for _ in calls:
            finished.acquire()          # pylint: disable=consider-using-with
    except BaseException:
        # Only flags and an Event of the callers' are touched here: the interruption may have
        # come while this thread held a lock of the semaphore's.
        stopping.append(True)
        if canceled is not None:
            canceled.set()
        raise
    for e in errors:
        if e is not None:
            raise e
    return results

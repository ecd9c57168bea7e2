"""Independent requests issued together: a far-away API server costs one round trip for
all of them instead of one each.

An interruption reaches only the main thread. Work that runs on other threads (reconcile's
member operations) is stopped through a `Cancel`: the calls a gather runs under one (and the
gathers they make in turn) see it, so waits end when it is set and `raise_if_canceled` marks
the check points between steps."""

import itertools
import threading

#: At most this many requests in flight per call. A Cluster keeps as many connections alive
#: (see client.Cluster), so a round of this size reuses them instead of opening new ones; it is
#: about the largest round an operation has (remove's deletes with the reads that judge what
#: it keeps), far below what an API server admits at once (--max-requests-inflight 400).
PARALLELISM = 48

#: The connections an operation on a member's own cluster opens as it starts
#: (Cluster.preconnect): its largest round there, remove's 30 deletes of the data plane and
#: the 23 reads that judge which CRDs it keeps, two gathers at once.
OPERATION_CONNECTIONS = 56

#: The connections a join or update opens ahead to each peer, as its first step runs, for
#: the links it makes later: a link's largest round on a peer.
LINK_CONNECTIONS = 4

#: The connections a Cluster keeps alive: the largest round, and room for the requests sent
#: while those are being opened. A connection beyond it is closed after its request (and
#: urllib3 warns of a full pool).
KEPT_CONNECTIONS = 64

_local = threading.local()


class Canceled(KeyboardInterrupt):
    """The run this thread works for was interrupted (Ctrl-C or SIGTERM in the main thread).

    A KeyboardInterrupt, so that it passes the `except Exception` of any step and is what the
    operation runner records as `Canceled`, exactly as Ctrl-C in the main thread is."""


class Cancel(threading.Event):
    """An Event that, once set, also wakes the gathers waiting under it (see `gather`)."""

    def __init__(self):
        super().__init__()
        self._guard = threading.Lock()
        self._wakers = set()

    def set(self):
        super().set()
        with self._guard:
            wakers = list(self._wakers)
        for wake in wakers:
            wake()

    def add_waker(self, wake):
        """Call `wake()` when it is set (at once when it is)."""
        with self._guard:
            self._wakers.add(wake)
        if self.is_set():
            wake()

    def remove_waker(self, wake):
        with self._guard:
            self._wakers.discard(wake)


def current_cancel():
    """The Cancel the calling thread's work runs under, or None (the main thread: Ctrl-C)."""
    return getattr(_local, "cancel", None)


def raise_if_canceled():
    """A check point: Canceled when the calling thread's work has been canceled."""
    cancel = current_cancel()
    if cancel is not None and cancel.is_set():
        raise Canceled()


def gather(calls, parallelism=PARALLELISM, canceled=None):
    """Run the zero-argument callables `calls` concurrently; their results, in order. When
    any raised, the exception of the first (in `calls` order) is raised, after all ended.

    An interruption of the waiting thread (Ctrl-C, or SIGTERM made one) goes on at once: the
    calls run on daemon threads, so one blocked in a long watch neither holds it up nor keeps
    the process alive; calls not started yet are dropped, and `canceled` (a threading.Event
    the calls may look at) is set so that calls which loop stop at their next look.

    The calls run under the Cancel `canceled` when it is one, else under the caller's. A
    gather under a Cancel that is set raises Canceled at once, as an interruption of its
    thread would: it is how a wait on another thread than the main one is interrupted."""
    calls = list(calls)
    outer = current_cancel()
    if outer is not None and outer.is_set():
        raise Canceled()
    if not calls or (len(calls) == 1 and outer is None):
        return [c() for c in calls]
    scope = canceled if isinstance(canceled, Cancel) else outer
    results, errors = [None] * len(calls), [None] * len(calls)
    order = itertools.count()           # next() is atomic: each call is taken once
    finished = threading.Semaphore(0)
    stopping = []

    def worker():
        _local.cancel = scope
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

    wake = finished.release             # the wait below then looks at `outer` again
    if outer is not None:
        outer.add_waker(wake)
    try:
        for n in range(min(parallelism, len(calls))):
            threading.Thread(target=worker, name=f"appnet-io_{n}", daemon=True).start()
        for _ in calls:
            finished.acquire()          # pylint: disable=consider-using-with
            if outer is not None and outer.is_set():
                raise Canceled()
    except BaseException:
        # Only flags and an Event of the callers' are touched here (a Cancel wakes the gathers
        # under it, whose semaphores are others): the interruption may have come while this
        # thread held a lock of the semaphore's. (Canceled comes only after the wait returned.)
        stopping.append(True)
        if canceled is not None:
            canceled.set()
        raise
    finally:
        if outer is not None:
            outer.remove_waker(wake)
    for e in errors:
        if e is not None:
            raise e
    return results


class Memo:  # pylint: disable=too-few-public-methods  # a shared cache: get() is all it does
    """Values computed once per key and shared: the first caller of a key computes it, callers
    that come while it does wait for its outcome (a value, or the exception it raised, raised
    again for each of them) instead of asking the same thing again."""

    def __init__(self):
        self._lock = threading.Lock()
        self._slots = {}                # key -> [Lock held while computing, done, value, error]

    def get(self, key, compute):
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = [threading.Lock(), False, None, None]
        with slot[0]:
            if not slot[1]:
                try:
                    slot[2] = compute()
                except Exception as e:  # pylint: disable=broad-except  # raised again for every caller
                    slot[3] = e
                slot[1] = True
        if slot[3] is not None:
            raise slot[3]
        return slot[2]

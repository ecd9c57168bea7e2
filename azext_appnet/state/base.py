"""The store contract both stores keep (sqlite.py, blob.py), and the lock they share.

A `Store` keeps resources as JSON documents with an opaque `_version`: `create` refuses an
existing id, `update` and `delete` refuse a version that is no longer current
(`StaleWriteError`), and `lock(name)` holds a named lock for the duration of a block.

The lock (`LeaseLocks.lock`), the same on both stores:

* each holder takes it under a random lease id; a record names the holder's process
  identity (processes.py) for messages and for a quick takeover from a holder known dead;
* while the block runs, a heartbeat thread renews the lease every third of `ttl`; a holder
  that stops renewing (killed, frozen, its machine gone) loses the lock `ttl` seconds after
  its last renewal, whoever it is and wherever it ran;
* it is re-entrant per thread and store, with a depth count: a nested `lock(name)` in the
  thread that holds it enters at once, and only the outermost release lets go. Another
  thread, even of the same process and on the same store object, waits like any other
  holder would;
* a holder whose lease was taken over while it ran (it stopped renewing for `ttl`) is told
  so when its block ends: ConflictError, so the step does not count as done.
"""

import contextlib
import json
import os
import threading
import time
import uuid
from typing import Iterator, Optional, Protocol

from ..errors import ConflictError
from ..processes import describe_identity, identity_alive, process_identity

#: Seconds a lease lasts without renewal. Renewed every third of it while held.
LOCK_TTL = 120
LOCK_WAIT = 900


class StaleWriteError(ConflictError):
    """The resource changed since it was read; read it again and retry."""
    code = "Conflict"


def clean(resource):
    """The document as stored: without the store's own `_` fields."""
    return {k: v for k, v in resource.items() if not k.startswith("_")}


class Store(Protocol):
    """What the engine and the operations use of a state store."""

    where: str

    def get(self, resource_id: str) -> Optional[dict]:
        """The document with its `_version`, or None."""

    def list(self, kind: str, subscription: Optional[str] = None, resource_group: Optional[str] = None,
             parent_id: Optional[str] = None) -> list:
        """The documents of one kind, narrowed by scope or parent."""

    def create(self, resource: dict, kind: str, parent_id: Optional[str] = None) -> dict:
        """Store a new document; ConflictError if its id exists."""

    def update(self, resource: dict) -> dict:
        """Replace a document read at its `_version`; StaleWriteError if it changed since."""

    def delete(self, resource_id: str, expected_version=None) -> bool:
        """Delete a document (only at `expected_version` when given); whether one was deleted."""

    def lock(self, name: str, ttl: float = LOCK_TTL, wait: float = LOCK_WAIT,
             poll: float = 0.2) -> contextlib.AbstractContextManager:
        """Hold the named lock for the duration of a block (see the module docstring)."""

    def close(self) -> None:
        """Release what the store holds open."""


def new_holder():
    """A lock holder record: a fresh lease id and who we are."""
    return {"lease": uuid.uuid4().hex, **process_identity()}


def encode_holder(holder):
    return json.dumps(holder, sort_keys=True, separators=(",", ":"))


def decode_holder(text):
    """A holder record, or None for one this version cannot read (it then counts as alive
    until its expiry)."""
    try:
        holder = json.loads(text)
    except (TypeError, ValueError):
        return None
    return holder if isinstance(holder, dict) and isinstance(holder.get("lease"), str) else None


def may_take_over(holder_text, expires, now=None):
    """Whether a lock recorded as (`holder_text`, `expires`) may be taken: its lease ran out,
    or its holder is known to be dead. Never on the word of a hostname and pid alone."""
    if expires is None or expires < (now or time.time()):
        return True
    return identity_alive(decode_holder(holder_text)) is False


def describe_holder(holder_text):
    holder = decode_holder(holder_text)
    return describe_identity(holder) if holder else (holder_text or "unknown")


# Locks held in this process: (store scope, name, pid, thread) -> [holder, depth, heartbeat].
_HELD = {}
_HELD_GUARD = threading.Lock()


class _Heartbeat(threading.Thread):
    """Renews one held lock every `interval` seconds until stopped."""

    def __init__(self, renew, interval, label):
        super().__init__(name=f"appnet-lock-{label}", daemon=True)
        self._renew, self._interval = renew, interval
        self._stopping = threading.Event()
        self.lost = False

    def run(self):
        while not self._stopping.wait(self._interval):
            try:
                if not self._renew():
                    self.lost = True
                    return
            except Exception:  # pylint: disable=broad-except
                continue  # a transient store failure: the next beat tries again, ttl permitting

    def stop(self):
        self._stopping.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join(self._interval + 30)


class LeaseLocks:  # pylint: disable=too-few-public-methods  # a mixin: lock() is all it adds
    """`lock()` for a store that implements three primitives on a lock record:

    * `_lock_try(name, holder_text, ttl)` -> None when taken, else the other holder's text;
    * `_lock_renew(name, holder_text, ttl)` -> False when the record is no longer ours;
    * `_lock_release(name, holder_text)`: drop the record if it is still ours.

    `_lock_scope` names the store (its path or container), so that two store objects of
    one store in one thread share their re-entrancy.
    """

    _lock_scope = None

    @contextlib.contextmanager
    def lock(self, name, ttl=LOCK_TTL, wait=LOCK_WAIT, poll=0.2) -> Iterator[None]:
        """Hold the named lock for the duration of the block (see the module docstring)."""
        # The pid too: a forked child inherits this table but not the lock.
        key = (self._lock_scope or id(self), name, os.getpid(), threading.get_ident())
        with _HELD_GUARD:
            held = _HELD.get(key)
            if held:
                held[1] += 1
        if held:
            try:
                yield
            finally:
                with _HELD_GUARD:
                    held[1] -= 1
            return

        holder = encode_holder(new_holder())
        deadline = time.monotonic() + wait
        while True:
            other = self._lock_try(name, holder, ttl)
            if other is None:
                break
            if time.monotonic() > deadline:
                raise ConflictError(f"Another operation holds the lock on {name} "
                                    f"({describe_holder(other)}).",
                                    "Wait for it to finish, then run the command again.")
            time.sleep(poll)

        heartbeat = _Heartbeat(lambda: self._lock_renew(name, holder, ttl), max(ttl / 3.0, 0.05), name)
        with _HELD_GUARD:
            _HELD[key] = [holder, 1, heartbeat]
        heartbeat.start()
        failed = True
        try:
            yield
            failed = False
        finally:
            heartbeat.stop()
            with _HELD_GUARD:
                _HELD.pop(key, None)
            try:
                self._lock_release(name, holder)
            except ConflictError:
                pass
            except Exception:  # pylint: disable=broad-except
                if not failed:
                    raise
        if heartbeat.lost:
            raise ConflictError(f"The lock on {name} was taken over by another operation while this one "
                                "held it (its lease was not renewed in time).",
                                "Run the command again; it resumes where it stopped.")

    # The primitives, implemented by each store.
    def _lock_try(self, name, holder, ttl):
        raise NotImplementedError

    def _lock_renew(self, name, holder, ttl):
        raise NotImplementedError

    def _lock_release(self, name, holder):
        raise NotImplementedError

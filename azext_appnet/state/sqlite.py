"""The SQLite state store: resources as JSON documents with a version each.

Several `az` processes (a user's terminal, detached --no-wait workers, parallel CI steps)
share one file. SQLite's own locking serialises writers; every write names the version it
read (optimistic concurrency), so a write based on a stale read fails instead of silently
overwriting another process's change.
"""

import contextlib
import json
import os
import sqlite3
import threading
import time

from ..errors import StateError
from ..model import ids
from .base import LeaseLocks, StaleWriteError, clean as _clean, may_take_over

__all__ = ["SqliteStore", "StaleWriteError"]   # StaleWriteError: callers predating base.py

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    key TEXT PRIMARY KEY,
    parent_key TEXT,
    kind TEXT NOT NULL,
    subscription TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS resources_parent ON resources(parent_key);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL);
"""
_SCHEMA_VERSION = "1"


class SqliteStore(LeaseLocks):
    def __init__(self, path):
        self.path = path
        self.where = path
        self._lock_scope = "sqlite:" + os.path.realpath(path)
        # One connection, used by this store's callers and its lock heartbeats: one
        # transaction at a time on it.
        self._tx = threading.RLock()
        directory = os.path.dirname(path)
        try:
            if directory:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            self._conn = sqlite3.connect(path, timeout=30, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout = 30000")
            self._check_schema()
        except sqlite3.DatabaseError as ex:
            raise self._unreadable(ex) from None
        except OSError as ex:
            raise StateError(f"Cannot open the state file {path}: {ex.strerror}.",
                             "Check the path and its permissions, or point "
                             "APPNET_STATE_PATH at a writable file.") from None

    def _unreadable(self, ex):
        return StateError(
            f"The state file {self.path} is not a readable appnet state store ({ex}).",
            "Restore it from a backup, or move it aside to start with an empty store "
            "(resources it held will be forgotten, not deleted from clusters). "
            "APPNET_STATE_PATH selects another file.")

    def _check_schema(self):
        # executescript() would commit on its own, so the statements run one by one inside
        # the transaction.
        with self._write() as conn:
            for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta(name, value) VALUES('schema', ?)", (_SCHEMA_VERSION,))
            elif row[0] != _SCHEMA_VERSION:
                raise StateError(
                    f"The state file {self.path} has schema version {row[0]}; this version of "
                    f"the extension reads version {_SCHEMA_VERSION}.",
                    "Update the appnet extension: 'az extension update --name appnet'.")
        try:
            os.chmod(self.path, 0o600)
        except OSError:
            pass

    @contextlib.contextmanager
    def _write(self):
        """One write transaction; BEGIN IMMEDIATE takes the write lock up front so two
        processes cannot both read-then-write the same row."""
        with self._tx:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as ex:
                raise self._unreadable(ex) from None
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def _query(self, sql, args=()):
        try:
            with self._tx:
                return self._conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as ex:
            raise self._unreadable(ex) from None

    @staticmethod
    def _decode(row):
        body = json.loads(row[1])
        body["_version"] = row[0]
        return body

    def get(self, resource_id):
        """The resource with its `_version`, or None."""
        rows = self._query("SELECT version, body FROM resources WHERE key=?", (ids.key(resource_id),))
        return self._decode(rows[0]) if rows else None

    def list(self, kind, subscription=None, resource_group=None, parent_id=None):
        sql, args = "SELECT version, body FROM resources WHERE kind=?", [kind]
        if subscription:
            sql += " AND subscription=?"
            args.append(subscription.lower())
        if resource_group:
            sql += " AND resource_group=?"
            args.append(resource_group.lower())
        if parent_id:
            sql += " AND parent_key=?"
            args.append(ids.key(parent_id))
        return [self._decode(r) for r in self._query(sql + " ORDER BY key", args)]

    def create(self, resource, kind, parent_id=None):
        """Insert a new resource; ConflictError if it exists. Returns it with `_version`."""
        parts = ids.parse_id(resource["id"])
        body = _clean(resource)
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO resources(key, parent_key, kind, subscription, resource_group, version, body)"
                    " VALUES(?,?,?,?,?,1,?)",
                    (ids.key(resource["id"]), ids.key(parent_id) if parent_id else None, kind,
                     parts["subscription"].lower(), parts["resource_group"].lower(), json.dumps(body)))
            except sqlite3.IntegrityError:
                raise StaleWriteError(f"{resource['id']} already exists.") from None
        body["_version"] = 1
        return body

    def update(self, resource):
        """Replace a resource read earlier; StaleWriteError if it changed since."""
        expected = resource.get("_version")
        body = _clean(resource)
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE resources SET version=version+1, body=? WHERE key=? AND version=?",
                (json.dumps(body), ids.key(resource["id"]), expected))
            if cur.rowcount != 1:
                raise StaleWriteError(
                    f"{resource['id']} was changed by another command while this one ran.",
                    "Run the command again.")
        body["_version"] = expected + 1
        return body

    def delete(self, resource_id, expected_version=None):
        with self._write() as conn:
            if expected_version is None:
                cur = conn.execute("DELETE FROM resources WHERE key=?", (ids.key(resource_id),))
            else:
                cur = conn.execute("DELETE FROM resources WHERE key=? AND version=?",
                                   (ids.key(resource_id), expected_version))
            return cur.rowcount == 1

    # ---- locks (the contract: base.LeaseLocks) ---------------------------------------------

    def _lock_try(self, name, holder, ttl):
        with self._write() as conn:
            row = conn.execute("SELECT holder, expires FROM locks WHERE name=?", (name,)).fetchone()
            if row is not None and not may_take_over(row[0], row[1]):
                return row[0]
            conn.execute("INSERT OR REPLACE INTO locks(name, holder, expires) VALUES(?,?,?)",
                         (name, holder, time.time() + ttl))
        return None

    def _lock_renew(self, name, holder, ttl):
        with self._write() as conn:
            cur = conn.execute("UPDATE locks SET expires=? WHERE name=? AND holder=?",
                               (time.time() + ttl, name, holder))
            return cur.rowcount == 1

    def _lock_release(self, name, holder):
        with self._write() as conn:
            conn.execute("DELETE FROM locks WHERE name=? AND holder=?", (name, holder))

    def close(self):
        self._conn.close()


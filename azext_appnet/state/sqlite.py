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
import uuid

from ..errors import StateError
from ..model import ids
from . import validate
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
        directory = os.path.dirname(path) or "."
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            if not os.path.lexists(path):
                self._create_file(directory)
            self._check_file(directory)
            self._conn = self._connect(path)
            self._check_schema()
        except sqlite3.DatabaseError as ex:
            raise self._unreadable(ex) from None
        except OSError as ex:
            raise StateError(f"Cannot open the state file {path}: {ex.strerror}.",
                             "Check the path and its permissions, or point "
                             "APPNET_STATE_PATH at a writable file.") from None

    @staticmethod
    def _connect(path):
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn

    def _create_file(self, directory):
        """A new store appears whole: built under a temporary name, then linked into place,
        so that no process ever finds a half-made (empty) file at `path` -- an empty file
        there is damage and is refused, never taken for a new store."""
        tmp = os.path.join(directory, f".{os.path.basename(self.path)}.{uuid.uuid4().hex}.tmp")
        try:
            conn = self._connect(tmp)
            try:
                for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                    conn.execute(statement)
                conn.execute("INSERT INTO meta(name, value) VALUES('schema', ?)", (_SCHEMA_VERSION,))
            finally:
                conn.close()
            os.chmod(tmp, 0o600)
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                pass  # another process created it first: use theirs
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def _check_file(self, directory):
        """Refuse, before any work, a store that would be read as empty or cannot be written."""
        if os.path.isdir(self.path):
            raise StateError(f"The state file {self.path} is a directory.",
                             "Point APPNET_STATE_PATH at a file, or move the directory away.")
        if os.path.getsize(self.path) == 0:
            raise StateError(
                f"The state file {self.path} is empty (zero bytes): it is damaged, not a new store, "
                "and was left as it is.",
                "Restore it from a backup; or, if no resource was ever recorded in it, move it away "
                "to start with an empty store (resources it held are forgotten, not deleted from "
                "clusters).")
        for what, where in (("file", self.path), ("directory", directory)):
            if not os.access(where, os.R_OK | os.W_OK):
                raise StateError(
                    f"The state {what} {where} is read-only for this user: appnet cannot record "
                    "anything, so no command was started.",
                    f"Make {where} writable by the user running az (the directory too: SQLite "
                    "writes its journal beside the file), or point APPNET_STATE_PATH at a "
                    "writable file.")

    def _unreadable(self, ex):
        if "readonly" in str(ex) or "read-only" in str(ex):
            return StateError(
                f"The state file {self.path} cannot be written ({ex}).",
                "Make the file and its directory writable by the user running az, or point "
                "APPNET_STATE_PATH at a writable file.")
        return StateError(
            f"The state file {self.path} is not a readable appnet state store ({ex}); it was "
            "left as it is.",
            "Restore it from a backup, or move it aside to start with an empty store "
            "(resources it held will be forgotten, not deleted from clusters). "
            "APPNET_STATE_PATH selects another file.")

    def _check_schema(self):
        """The file must be an appnet store already (a new one is made by _create_file):
        any other SQLite database is refused, not extended with our tables."""
        tables = self._query("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'")
        row = self._query("SELECT value FROM meta WHERE name='schema'") if tables else []
        if not row:
            raise StateError(
                f"The state file {self.path} is an SQLite database but not an appnet state store; "
                "it was left as it is.",
                "Point APPNET_STATE_PATH at the appnet state file, or move this file away to start "
                "with an empty store.")
        if row[0][0] != _SCHEMA_VERSION:
            raise StateError(
                f"The state file {self.path} has schema version {row[0][0]}; this version of "
                f"the extension reads version {_SCHEMA_VERSION}.",
                "Update the appnet extension: 'az extension update --name appnet'.")
        # A write transaction now, so a store that cannot be written fails before any work.
        # executescript() would commit on its own: the statements run one by one.
        with self._write() as conn:
            for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                conn.execute(statement)
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
            self._conn.execute("COMMIT")

    def _query(self, sql, args=()):
        try:
            with self._tx:
                return self._conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as ex:
            raise self._unreadable(ex) from None

    def _decode(self, row):
        body = validate.decode(row[2], f"file {self.path}", row[1])
        if not isinstance(row[0], int):
            raise validate.damaged(f"file {self.path}", row[1], "its version is not a number")
        body["_version"] = row[0]
        return body

    def get(self, resource_id):
        """The resource with its `_version`, or None."""
        rows = self._query("SELECT version, key, body FROM resources WHERE key=?", (ids.key(resource_id),))
        return self._decode(rows[0]) if rows else None

    def list(self, kind, subscription=None, resource_group=None, parent_id=None):
        sql, args = "SELECT version, key, body FROM resources WHERE kind=?", [kind]
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

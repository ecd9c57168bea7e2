"""Kept-alive HTTPS connections to an API server, opened ahead of the requests that use them.

A TLS 1.3 server sends its session tickets after the handshake, about half a round trip
later. A connection that carried a request has read them with its answer; one opened ahead
(Cluster.preconnect) and left idle has them waiting unread, and urllib3 takes a connection
with anything to read for one the server closed, dropping it and opening another: the two
round trips that opening ahead was to save. `TicketReadingConnection` reads such records
when urllib3 asks whether it is still connected, and answers "closed" only for what they
cannot be: the end of the stream or data no request asked for.
"""

import ssl
import threading

import urllib3
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.util.wait import wait_for_read


class TicketReadingConnection(HTTPSConnection):
    """An HTTPSConnection whose idle check reads pending TLS records first (see the module
    docstring)."""

    @property
    def is_connected(self):
        sock = self.sock
        if sock is None:
            return False
        if not wait_for_read(sock, timeout=0.0):
            return True                 # nothing to read: open, as urllib3 judges it
        timeout = sock.gettimeout()
        sock.setblocking(False)
        try:
            sock.recv(1)                # returns only data or the end: either way, not usable
            return False
        except ssl.SSLWantReadError:
            return True                 # only TLS records (session tickets), now read
        except (OSError, ValueError):
            return False
        finally:
            try:
                sock.settimeout(timeout)
            except OSError:
                pass


class TicketReadingPool(HTTPSConnectionPool):
    ConnectionCls = TicketReadingConnection


def use_ticket_reading_pools(manager):
    """Make the https pools `manager` (a urllib3 PoolManager or ProxyManager) creates hold
    TicketReadingConnections."""
    manager.pool_classes_by_scheme = dict(manager.pool_classes_by_scheme, https=TicketReadingPool)
    return manager


def open_into(pool, conn, together=None):
    """Open `conn` (taken from `pool`) unless it is open, wait at `together` (a Barrier, so
    that several openers hold distinct connections) and hand it back to `pool`; one that
    fails to open goes back closed, for the request that takes it to report."""
    try:
        if conn.sock is None:
            conn.connect()
        if together is not None:
            together.wait()
    except (OSError, ValueError, threading.BrokenBarrierError, urllib3.exceptions.HTTPError):
        if together is not None:
            together.abort()            # the others go on at once
        conn.close()
    finally:
        pool._put_conn(conn)            # pylint: disable=protected-access  # urllib3 has no public way


def open_ahead(pool, count, timeout):
    """Open `count` connections of `pool` at once in the background; returns at once. Each
    opener takes a connection, opening it unless it is open already, and holds it until all
    are open: one handed back early would be taken again by the next opener, and the pool
    would end with fewer than `count`."""
    together = threading.Barrier(count, timeout=timeout)

    def open_one():
        open_into(pool, pool._get_conn(), together)   # pylint: disable=protected-access

    for n in range(count):
        threading.Thread(target=open_one, name=f"appnet-connect_{n}", daemon=True).start()


def reopen(pool):
    """Take the connection on top of `pool` (the one just put back) and, unless it is open,
    open it again in the background before handing it back."""
    conn = pool._get_conn()             # pylint: disable=protected-access
    threading.Thread(target=open_into, args=(pool, conn), name="appnet-reconnect", daemon=True).start()

"""The database handle: which database, its connection pool, and how writes go through it.

`models.py` declares the tables against a `DatabaseProxy`; `runtime.build()` makes the
database named by the settings with `make_database` and binds the proxy to it. The
helpers here are what steps need around slow work and outages.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import parse_qsl, unquote, urlparse

import psycopg2
from peewee import Database, InterfaceError, OperationalError, SqliteDatabase
from playhouse.pool import MaxConnectionsExceeded, PooledDatabase, PooledPostgresqlDatabase

from hint_core.errors import ConfigError
from models import db

# An outage of the database: nobody's fault in the step or the call that met it, and a
# retry outlives it. (The broker's own outage errors are added in runtime.py.)
DATABASE_OUTAGES: tuple[type[BaseException], ...] = (
    OperationalError,  # peewee's wrapper: connection refused or lost, server shutting down
    InterfaceError,  # a connection already closed under us
    psycopg2.OperationalError,
    MaxConnectionsExceeded,  # every pooled connection busy for the whole wait
)


def _server_hung_up(conn: Any) -> bool:
    """True when an idle connection's socket has something to read: a live idle
    connection has nothing, a server that went away (restart, terminated backend) has
    left its goodbye message or end-of-file there. A local syscall, no round trip."""
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


class PooledPostgres(PooledPostgresqlDatabase):
    """A connection pool that checks a connection with a round trip only after it sat idle.

    peewee checks every checkout with `SELECT 1`, and does so holding the pool's lock:
    with connections released around every LLM call and program run, that was about 26
    round trips per request, one thread at a time per process. A connection returned
    moments ago is only checked locally (closed, broken, or hung up on by the server);
    one idle for longer still gets the round trip.

    This overrides three private methods of `playhouse.pool.PooledDatabase` (`_close`,
    `_close_raw`, `_is_closed`); `tests/unit/test_database.py` fails when peewee changes
    them, and this class is the only place that relies on them.
    """

    IDLE_CHECK_SECONDS = 2.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._returned_at: dict[int, float] = {}  # connection key -> when it came back

    def _close(self, conn: Any, close_conn: bool = False) -> None:
        with self._pool_lock:
            self._returned_at[self.conn_key(conn)] = time.monotonic()
            super()._close(conn, close_conn)

    def _close_raw(self, conn: Any) -> None:
        with self._pool_lock:
            self._returned_at.pop(self.conn_key(conn), None)
        super()._close_raw(conn)

    def _is_closed(self, conn: Any) -> bool:
        returned = self._returned_at.pop(self.conn_key(conn), None)
        if returned is not None and time.monotonic() - returned < self.IDLE_CHECK_SECONDS:
            if conn.closed or self._adapter.txn_status(conn) == self._adapter.txn_unknown:
                return True
            return _server_hung_up(conn)
        return super()._is_closed(conn)


def make_database(url: str, max_connections: int = 8) -> Database:
    """A peewee database for a URL: `sqlite:///path` or `postgresql://...` (pooled)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = parsed.path[1:]  # sqlite:///relative.db, sqlite:////absolute.db
        # WAL lets the API and worker threads read while one writes.
        return SqliteDatabase(
            path or ":memory:",
            pragmas={"journal_mode": "wal", "busy_timeout": 10000, "foreign_keys": 1, "synchronous": "normal"},
            check_same_thread=False,
        )
    if parsed.scheme in ("postgres", "postgresql"):
        options = dict(parse_qsl(parsed.query))
        return PooledPostgres(
            unquote(parsed.path.lstrip("/")),
            # A password with @ : / is percent-encoded in the URL: decode it for the server.
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            max_connections=max_connections,
            stale_timeout=300,
            timeout=30,  # wait this long for a free pooled connection instead of failing
            connect_timeout=int(options.get("connect_timeout", 10)),
        )
    raise ConfigError(f"DATABASE_URL: unsupported scheme '{parsed.scheme}' (use postgresql:// or sqlite:///)")


def is_sqlite(url: str) -> bool:
    return urlparse(url).scheme == "sqlite"


def release_connection() -> None:
    """Give this thread's pooled connection back while it waits on something slow that
    needs no database (an LLM call, a program run); the next query takes one again.

    Worker threads then hold connections only while they talk to the database, so a pool
    smaller than the thread count is shared instead of exhausted.
    """
    if isinstance(db.obj, PooledDatabase) and not db.is_closed() and not db.in_transaction():
        db.close()


def close_connection() -> None:
    """Return this thread's connection to the pool (end of a message or an HTTP call)."""
    if not db.is_closed():
        db.close()


def through_outage(write: Callable[[], Any], patience: float = 30.0) -> Any:
    """Run `write`, waiting out a short database outage (a restart) for up to `patience` s.

    For a write that must not be lost once something outside happened, such as
    recording that orchestration received the callback: failing would make the retry
    post it again.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                raise
            db.close()  # the connection died with the server; the next try takes a fresh one
            time.sleep(1.0)


def write_transaction() -> AbstractContextManager[Any]:
    """A transaction for writes. On SQLite it takes the write lock up front: upgrading a
    read lock inside a transaction fails at once with "database is locked" under WAL."""
    if isinstance(db.obj, SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()

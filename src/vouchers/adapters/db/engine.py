"""Engines for both databases, set up the way Vouchers needs them.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL`` and foreign keys
on, and begins every transaction with ``BEGIN IMMEDIATE`` so two writers queue at the
start instead of failing half-way with "database is locked" (readers never block in WAL).

SQLite has one writer, and its busy handler waits for the write lock by sleeping and
retrying (1, 2, 5, 10 … 100 ms), so many threads of one process (the API's thread pool)
queueing on it lose most of their time asleep. ``writer_gate`` gives each SQLite engine a
lock that units of work of the same process take before ``BEGIN IMMEDIATE``: they queue
on the lock and wake as soon as it is free. Other processes still queue through SQLite.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from vouchers.errors import StorageError

SQLITE_BUSY_TIMEOUT_MS = 30_000
# The page cache per connection. SQLite's default (2 MiB) is far too small for the random
# inserts into the unique digest index of a large voucher table; measured in bench/.
SQLITE_CACHE_KIB = 65_536
# Checkpoint the WAL every 10,000 pages (40 MiB) instead of 1,000: bulk work that commits
# in chunks then writes each index page to the database file once, not once per chunk.
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000

_WRITER_GATES: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def writer_gate(engine: Engine) -> threading.Lock | None:
    """The lock a unit of work of this process holds around a SQLite transaction (None for
    PostgreSQL, which runs transactions side by side)."""
    return _WRITER_GATES.get(engine)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; creates the directory of a SQLite file if needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, **kwargs)
    # No pre-ping: it would cost a round trip on every transaction (bench/redeem.py). A
    # connection the server dropped fails its next statement once (a StorageError), and
    # SQLAlchemy then replaces every pooled connection.
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def _sqlite_engine(url: str, database: str | None, **kwargs: Any) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    engine = create_engine(url, **kwargs)
    _WRITER_GATES[engine] = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module; "begin" below issues it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextmanager
def storage_errors(url: str) -> Iterator[None]:
    """Translate failures to set up or reach the database into one-line StorageErrors."""
    try:
        where = make_url(url).render_as_string(hide_password=True)
    except ArgumentError as exc:
        raise StorageError(f"{url!r} is not a database URL") from exc
    try:
        yield
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StorageError(f"cannot use database URL {where}: {exc}") from exc
    except OSError as exc:
        raise StorageError(f"cannot create the database at {where}: {exc.strerror}") from exc
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StorageError(f"database {where}: {reason}") from exc

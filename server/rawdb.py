"""Plain DB-API access for the hot path (challenge, evaluate, verify), without SQLAlchemy.

SQLAlchemy's connection and result layers cost more CPU than the statements themselves, so
:class:`Raw` keeps plain DB-API connections (``sqlite3``, one per thread; ``psycopg``, a small
pool) and :meth:`Raw.write` runs one transaction on one of them, with the same writer lock
and ``BEGIN IMMEDIATE`` as :func:`transaction`. :func:`sql` runs a hand-written statement on
either kind of connection; results are DB-API cursors (``fetchone``, ``fetchall``,
``rowcount``). PostgreSQL prepares a statement on a connection after a few executions
(psycopg's ``prepare_threshold``), so the hot statements are planned once per connection.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import queue
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from typing import Any, TypeAlias

from sqlalchemy import Connection, Engine

from server.db import SQLITE_PRAGMAS, transaction, writer_lock


class RawTx:
    """One open transaction on a raw DB-API connection (see :class:`Raw`). With ``limit``
    set it runs at most that many statements (a one-statement transaction needs no BEGIN)."""

    __slots__ = ("cursor", "limit", "pg")

    def __init__(self, cursor: Any, pg: bool, limit: int | None = None) -> None:
        self.cursor = cursor
        self.pg = pg
        self.limit = limit


Tx: TypeAlias = Connection | RawTx  # what the statement helpers (sql, limits) run on


def sql(conn: Tx, statement: str, params: Mapping[str, Any] | None = None
        ) -> Any:  # a DB-API-like cursor: fetchone(), fetchall(), rowcount
    """Run one hand-written statement (``:name`` parameters) on either database.

    The hot path of a verification uses this instead of building SQLAlchemy expressions per
    request, which cost more CPU than the database itself. The statements are plain SQL that
    SQLite and PostgreSQL both accept.
    """
    if isinstance(conn, RawTx):
        if conn.limit is not None:
            if conn.limit < 1:
                raise RuntimeError("a single-statement transaction ran a second statement")
            conn.limit -= 1
        if conn.pg:
            statement = _pyformat(statement)
        conn.cursor.execute(statement, params or {})
        return conn.cursor
    if conn.dialect.name == "postgresql":
        statement = _pyformat(statement)
    return conn.exec_driver_sql(statement, dict(params or {}))


class Raw:
    """Plain DB-API connections to an engine's database, for the hot path.

    SQLite: one ``sqlite3`` connection per thread (they are cheap, and the event loop's
    thread keeps its own), with the engine's pragmas. PostgreSQL: a pool of up to
    ``size`` psycopg connections in autocommit mode (transactions say BEGIN themselves, and
    a single statement needs none); a connection that fails is dropped, not reused.
    An in-memory SQLite database cannot be shared between connections, so there every
    transaction goes through SQLAlchemy (:func:`transaction`) instead.
    """

    def __init__(self, engine: Engine, size: int = 8) -> None:
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        database = engine.url.database
        self.file = None if self.pg or not database or database == ":memory:" else database
        self._local = threading.local()
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._url = (engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False) if self.pg else "")

    # --- connections -------------------------------------------------------------------
    def _sqlite(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            assert self.file is not None
            conn = sqlite3.connect(self.file, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            for pragma in SQLITE_PRAGMAS:
                conn.execute(f"PRAGMA {pragma}")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def _pg(self) -> Iterator[Any]:
        import psycopg

        self._slots.acquire()
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = psycopg.connect(self._url, autocommit=True)
            try:
                yield conn
            except BaseException:
                if not (conn.closed or conn.broken):
                    self._idle.put(conn)  # (the caller rolled its transaction back)
                raise
            self._idle.put(conn)
        finally:
            self._slots.release()

    def dispose(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- transactions ------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self, single: bool = False) -> Iterator[Tx]:
        """One write transaction: committed when the block ends, rolled back on an exception.

        ``single``: the block runs one statement, which is then its own transaction (no
        BEGIN and COMMIT round trips); a second statement raises.
        """
        limit = 1 if single else None
        if self.pg:
            with self._pg() as conn, conn.cursor() as cursor:
                if single:
                    yield RawTx(cursor, True, limit)
                    return
                cursor.execute("BEGIN")
                try:
                    yield RawTx(cursor, True)
                except BaseException:
                    if not conn.broken:
                        cursor.execute("ROLLBACK")
                    raise
                cursor.execute("COMMIT")
            return
        if self.file is None:
            with transaction(self.engine) as sa_conn:
                yield sa_conn
            return
        lock, fd = writer_lock(self.file)
        conn = self._sqlite()
        with lock:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if single:
                    yield RawTx(conn.cursor(), False, limit)
                    return
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield RawTx(conn.cursor(), False)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        """One read statement, which is its own transaction (SQLite: WAL, never waits)."""
        if self.pg:
            with self._pg() as conn, conn.cursor() as cursor:
                yield RawTx(cursor, True, 1)
            return
        if self.file is None:
            with self.engine.connect() as sa_conn:
                yield sa_conn
                sa_conn.rollback()
            return
        yield RawTx(self._sqlite().cursor(), False, 1)


@functools.lru_cache(maxsize=256)
def _pyformat(statement: str) -> str:
    return re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", statement)

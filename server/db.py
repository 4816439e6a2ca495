"""Engines and migrations: SQLite (WAL) by default, PostgreSQL (psycopg 3) by URL.

SQLite: WAL journal, ``synchronous=NORMAL`` (a committed transaction survives the death of
any process, e.g. ``kill -9``; only an OS crash may lose the last ones), a 30 s busy timeout,
foreign keys on. Writes go through :func:`transaction`, which first takes an exclusive
``flock`` on ``<db>.write.lock`` (and a thread lock) and then opens ``BEGIN IMMEDIATE``:
writers from several worker processes queue in the kernel and wake the moment the lock is
free, instead of polling in SQLite's busy handler (which sleeps in millisecond steps) or
failing on a lock upgrade. Reads open a plain deferred transaction and never wait (WAL).

The hot path (challenge, evaluate, verify) skips SQLAlchemy's connection and result layers:
:class:`Raw` keeps plain DB-API connections (``sqlite3``, one per thread; ``psycopg``, a small
pool) and :meth:`Raw.write` runs one transaction on one of them, with the same writer lock
and ``BEGIN IMMEDIATE`` as :func:`transaction`. :func:`sql` runs a hand-written statement on
either kind of connection; results are DB-API cursors (``fetchone``, ``fetchall``,
``rowcount``). PostgreSQL prepares a statement on a connection after a few executions
(psycopg's ``prepare_threshold``), so the hot statements are planned once per connection.

Migrations (alembic, ``server/migrations``) run at startup. Several workers may start at
once: they serialise on an exclusive file lock beside the SQLite file, or on a PostgreSQL
advisory lock, and the later ones find nothing left to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import queue
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeAlias

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000",
                   "foreign_keys=ON")
_PG_LOCK_KEY = 0x0F_ACE_0001  # pg_advisory_lock key of the migration step


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # owner-only (SQLite gives its -wal and -shm files the same mode)
            os.close(os.open(parsed.database, os.O_RDWR | os.O_CREAT, 0o600))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               pool_size=8, max_overflow=8)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.get_driver_name() in ("", "psycopg2", "psycopg"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_size=10, max_overflow=10, pool_pre_ping=True)
    raise ValueError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or "
                     "postgresql")


def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    write = connection.get_execution_options().get("ownface_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


_WRITERS: dict[tuple[int, str], tuple[threading.Lock, int]] = {}
_WRITERS_LOCK = threading.Lock()


def _writer_lock(database: str) -> tuple[threading.Lock, int]:
    key = (os.getpid(), database)
    with _WRITERS_LOCK:
        if key not in _WRITERS:
            path = Path(database).with_name(Path(database).name + ".write.lock")
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            _WRITERS[key] = (threading.Lock(), fd)
        return _WRITERS[key]


@contextlib.contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: committed when the block ends, rolled back on an exception."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        with engine.begin() as conn:
            yield conn
        return
    lock, fd = _writer_lock(database)
    with lock:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with engine.connect() as conn:
                conn = conn.execution_options(ownface_write=True)
                with conn.begin():
                    yield conn
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


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
            for pragma in _SQLITE_PRAGMAS:
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
        lock, fd = _writer_lock(self.file)
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


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision, safely with several workers starting."""
    with _migration_lock(engine), engine.connect() as conn:
        conn = conn.execution_options(ownface_write=True)
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        if engine.dialect.name == "postgresql":
            from server.statements import functions

            for statement in functions():
                conn.exec_driver_sql(statement)
        conn.commit()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        lock_path = Path(database).with_name(Path(database).name + ".migrate.lock")
        with lock_path.open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
        return rev

"""Engines and migrations: SQLite (WAL) by default, PostgreSQL (psycopg 3) by URL.

SQLite: WAL journal, ``synchronous=NORMAL`` (a committed transaction survives the death of
any process, e.g. ``kill -9``; only an OS crash may lose the last ones), a 30 s busy timeout,
foreign keys on. Writes go through :func:`transaction`, which first takes an exclusive
``flock`` on ``<db>.write.lock`` (and a thread lock) and then opens ``BEGIN IMMEDIATE``:
writers from several worker processes queue in the kernel and wake the moment the lock is
free, instead of polling in SQLite's busy handler (which sleeps in millisecond steps) or
failing on a lock upgrade. Reads open a plain deferred transaction and never wait (WAL).

The face steps use plain DB-API connections instead (``server.rawdb``), with the same
pragmas and writer lock.

Migrations (alembic, ``server/migrations``) run at startup. Several workers may start at
once: they serialise on an exclusive file lock beside the SQLite file, or on a PostgreSQL
advisory lock, and the later ones find nothing left to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000",
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
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    write = connection.get_execution_options().get("ownface_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


_WRITERS: dict[tuple[int, str], tuple[threading.Lock, int]] = {}
_WRITERS_LOCK = threading.Lock()


def writer_lock(database: str) -> tuple[threading.Lock, int]:
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
    lock, fd = writer_lock(database)
    with lock:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with engine.connect() as conn:
                conn = conn.execution_options(ownface_write=True)
                with conn.begin():
                    yield conn
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision, safely with several workers starting.

    SQLite changes a table's columns by copying it into a new one and dropping the old
    ("batch" mode); with foreign keys on, that drop would cascade into every table referring
    to it (erasing users' consents, templates and passwords). So foreign keys are off while
    migrating, checked before the commit, and on again after.
    """
    sqlite = engine.dialect.name == "sqlite"
    with _migration_lock(engine), engine.connect() as conn:
        if sqlite:  # (a pragma outside any transaction: inside one it does nothing)
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            conn = conn.execution_options(ownface_write=True)
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                raise RuntimeError("the migration left rows without their parents")
            if engine.dialect.name == "postgresql":
                from server.statements import functions

                for statement in functions():
                    conn.exec_driver_sql(statement)
            conn.commit()
        finally:
            if sqlite:
                conn.rollback()
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


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

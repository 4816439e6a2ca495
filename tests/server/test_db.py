"""Migrations and the storage layer on both databases."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import DBAPIError

from server import db
from server.tables import audit, metadata


def _migrate(url: str) -> str | None:
    engine = db.make_engine(url)
    db.migrate(engine)
    rev = db.current_revision(engine)
    engine.dispose()
    return rev


def test_concurrent_migrations(database_url: str) -> None:
    """Several workers starting at once: all end on the head revision, none fails."""
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        revisions = pool.map(_migrate, [database_url] * 4)
    assert set(revisions) == {"0007"}
    engine = db.make_engine(database_url)
    assert set(inspect(engine).get_table_names()) >= set(metadata.tables)
    engine.dispose()


def test_audit_is_append_only(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    with engine.begin() as conn:
        conn.execute(insert(audit).values(site_id=1, at=1.0, event="x"))
    for statement in ("UPDATE audit SET event = 'y'", "DELETE FROM audit"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT event FROM audit")).scalars().all() == ["x"]
    engine.dispose()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'o.db'}")
    assert (tmp_path / "o.db").stat().st_mode & 0o077 == 0  # owner-only
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    engine.dispose()


def test_downgrade_and_upgrade(tmp_path: Path) -> None:
    from alembic import command

    engine = db.make_engine(f"sqlite:///{tmp_path / 'o.db'}")
    db.migrate(engine)
    with engine.connect() as conn:
        cfg = db.alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
        conn.commit()
    assert "audit" not in inspect(engine).get_table_names()
    db.migrate(engine)
    assert "audit" in inspect(engine).get_table_names()
    engine.dispose()


def test_upgrade_keeps_sites_and_matches_the_tables(database_url: str) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = db.make_engine(database_url)
    with engine.connect() as conn:
        cfg = db.alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO sites (name, origins, storage_mode, admin_token_sha256, "
                          "key_generation, created_at) VALUES ('old', '[]', 'device', "
                          "'00', 1, 0)"))
        conn.commit()
    db.migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT enrol_tickets FROM sites WHERE name = 'old'")
                            ).scalar() in (False, 0)  # existing sites keep open enrolment
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if "audit" not in str(d)] == []
    engine.dispose()


def test_0004_closes_accounts_that_had_a_credential_and_drops_weak_keys(
        database_url: str) -> None:
    """An upgraded database: accounts with a template, a password or a withdrawn consent are
    marked claimed (never re-opened to strangers); a template whose public key is a
    small-order point (the universal forgery's key) is gone; the rest is untouched."""
    from alembic import command

    from tests.server.client import Face, public_bytes, signing_key

    good = public_bytes(signing_key(Face(bytes(32)).secret + bytes(32)))
    engine = db.make_engine(database_url)
    with engine.connect() as conn:
        cfg = db.alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.execute(text("INSERT INTO sites (id, name, origins, storage_mode, "
                          "admin_token_sha256, key_generation, created_at) VALUES "
                          "(1, 'old', '[]', 'device', '00', 1, 0)"))
        for uid in range(1, 6):
            conn.execute(text("INSERT INTO users (id, site_id, external_id, created_at) "
                              "VALUES (:i, 1, :u, 0)"), {"i": uid, "u": f"u{uid}"})
        for uid, withdrawn in ((1, None), (2, 5.0), (3, None), (4, None)):
            conn.execute(text("INSERT INTO consents (id, user_id, purpose, notice_version, "
                              "notice_sha256, language, granted_at, withdrawn_at) VALUES "
                              "(:id, :u, 'face_verification', 1, '0', 'en', 0, :w)"),
                         {"id": bytes([uid]) * 16, "u": uid, "w": withdrawn})
        for uid, key in ((1, good), (4, bytes([1]) + bytes(31))):  # 4: the identity point
            conn.execute(text("INSERT INTO templates (user_id, consent_id, scheme, public_key, "
                              "created_at) VALUES (:u, :c, 's', :k, 0)"),
                         {"u": uid, "c": bytes([uid]) * 16, "k": key})
        conn.execute(text("INSERT INTO passwords (user_id, hash, updated_at) VALUES (3, 'h', 0)"))
        conn.commit()
    db.migrate(engine)
    with engine.connect() as conn:
        claimed = dict(conn.execute(text("SELECT external_id, claimed FROM users")).all())
        keys = conn.execute(text("SELECT user_id FROM templates")).scalars().all()
    assert {u: bool(c) for u, c in claimed.items()} == {
        "u1": True, "u2": True, "u3": True, "u4": True, "u5": False}
    assert keys == [1]
    engine.dispose()


def test_postgresql_tests_use_whatever_version_is_installed(tmp_path: Path) -> None:
    """.ci/setup installs Debian's current postgresql (15 on bookworm, 17 on trixie, ...):
    the fixture takes the newest installed, not a hard-coded version."""
    from tests.server.conftest import find_pg_bin

    for version, with_initdb in (("13", True), ("17", True), ("18", False)):
        (tmp_path / version / "bin").mkdir(parents=True)
        if with_initdb:
            (tmp_path / version / "bin" / "initdb").write_text("")
    assert find_pg_bin({}, tmp_path) == tmp_path / "17" / "bin"
    assert find_pg_bin({"OWNFACE_PG_BIN": "/opt/pg/bin"}, tmp_path) == Path("/opt/pg/bin")
    empty = tmp_path / "none"
    empty.mkdir()
    found = find_pg_bin({}, empty)  # no Debian tree: an initdb on the PATH, or nothing
    assert found is None or (found / "initdb").exists()


def test_unsupported_database() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        db.make_engine("mysql://x/y")


@pytest.mark.postgres
def test_postgres_step_functions_installed(postgres: Any) -> None:
    from server import statements

    engine = db.make_engine(postgres.new_database())
    db.migrate(engine)
    db.migrate(engine)  # installing again (every worker start) is harmless
    with engine.connect() as conn:
        names = set(conn.execute(text("SELECT proname FROM pg_proc WHERE proname LIKE "
                                      "'ownface_%'")).scalars())
    assert names == {statements.VERIFY_FUNCTION}  # (the older ones are dropped)
    engine.dispose()

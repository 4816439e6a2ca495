"""Raw DB-API transactions of the hot path on both databases."""

from __future__ import annotations

import pytest

from server import db, rawdb


def test_raw_single_statement_transaction(database_url: str) -> None:
    """A one-statement write needs no BEGIN; a second statement in it is refused."""
    engine = db.make_engine(database_url)
    db.migrate(engine)
    raw = rawdb.Raw(engine)
    with raw.write(single=True) as conn:
        rawdb.sql(conn, "INSERT INTO audit (site_id, at, event) VALUES (1, 1.0, 'x')")
    with pytest.raises(RuntimeError, match="second statement"), raw.write(single=True) as conn:
        rawdb.sql(conn, "SELECT 1")
        rawdb.sql(conn, "SELECT 1")
    with pytest.raises(ValueError), raw.write() as conn:  # a transaction rolls back whole
        rawdb.sql(conn, "INSERT INTO audit (site_id, at, event) VALUES (1, 2.0, 'y')")
        raise ValueError("boom")
    with raw.read() as conn:
        assert [r[0] for r in rawdb.sql(conn, "SELECT event FROM audit").fetchall()] == ["x"]
    raw.dispose()
    engine.dispose()

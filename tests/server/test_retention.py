"""Retention (server.retention): templates unused past their site's retention are erased by
the purge that runs with the server and as ``ownface purge``; on both databases, with the
test's clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from starlette.testclient import TestClient

from server import retention, sites
from server.tables import audit, consents, templates
from tests.server.conftest import (
    ALICE,
    MALLORY,
    Api,
    FakeClock,
    add_site,
    make_app,
    make_settings,
)

DAY = 86_400.0


def _store(api: Api) -> Any:
    return api.client.app.state.ownface_store  # type: ignore[attr-defined]


def _rows(api: Api, table: Any, *where: Any) -> list[Any]:
    with _store(api).engine.connect() as conn:
        found = conn.execute(select(table).where(*where)).all()
        conn.rollback()
    return list(found)


def test_unused_templates_go_after_the_site_retention(api: Api, clock: FakeClock) -> None:
    assert api.enrol("alice", ALICE).status_code == 200
    assert api.enrol("mallory", MALLORY).status_code == 200
    session = api.verify("mallory", MALLORY).json()["session"]
    clock.advance(200 * DAY)
    assert api.verify("alice", ALICE).status_code == 200  # alice's last use: day 200
    clock.advance(166 * DAY)  # day 366: mallory's last use was day 0
    done = retention.purge(_store(api))
    assert done.templates == {"shop": 1}
    assert len(_rows(api, templates)) == 1
    assert api.verify("alice", ALICE).status_code == 200
    assert api.verify("mallory", MALLORY).json()["error"] == "not_verified"
    # the consent it was made under has ended, the old session is dead, the audit says why
    ended = _rows(api, consents, consents.c.withdrawn_at.is_not(None))
    assert len(ended) == 1 and ended[0].withdrawn_at == clock.now
    r = api.post("/consent/withdraw", {"site": "shop", "user": "mallory", "session": session})
    assert r.status_code == 401
    events = [(r.event, r.detail) for r in _rows(api, audit)]
    assert ("retention_erased", "public_key") in events
    assert ("retention_purge", "1 templates") in events
    erased = next(r for r in _rows(api, audit) if r.event == "retention_erased")
    assert erased.subject != "mallory" and len(erased.subject) == 32  # a pseudonym
    # a second run finds nothing; a shorter retention erases alice too
    assert retention.purge(_store(api)).total_templates == 0
    engine = _store(api).engine
    sites.set_retention(engine, "shop", 30)
    clock.advance(31 * DAY)
    assert retention.purge(_store(api)).templates == {"shop": 1}
    assert _rows(api, templates) == []


def test_a_verification_moves_the_last_use(api: Api, clock: FakeClock) -> None:
    assert api.enrol("alice", ALICE).status_code == 200
    for _ in range(3):  # used every 300 days: never 365 days unused
        clock.advance(300 * DAY)
        assert retention.purge(_store(api)).total_templates == 0
        assert api.verify("alice", ALICE).status_code == 200
    [row] = _rows(api, templates)
    assert row.last_used_at == clock.now


def test_the_server_purges_on_its_own(tmp_path: Path, database_url: str,
                                      clock: FakeClock) -> None:
    """The purge runs with the server (at start-up and every purge_every_seconds)."""
    add_site(database_url, mode="portable")
    settings = make_settings(tmp_path, database_url, clock)
    from tests.server.test_keys import _template

    with TestClient(make_app(settings)) as client:
        assert Api(client).enrol("alice", ALICE, helper=_template(1)).status_code == 200
    clock.advance(400 * DAY)
    with TestClient(make_app(settings)) as client:
        store = client.app.state.ownface_store  # type: ignore[attr-defined]
        for _ in range(200):
            with store.engine.connect() as conn:
                left = conn.execute(select(templates)).all()
                conn.rollback()
            if not left:
                break
            import time
            time.sleep(0.05)
        assert left == []
        with store.engine.connect() as conn:
            detail = conn.execute(select(audit.c.detail).where(
                audit.c.event == "retention_erased")).scalar_one()
            conn.rollback()
        assert detail == "public_key,helper_data"


def test_ownface_purge(tmp_path: Path, database_url: str, clock: FakeClock,
                       monkeypatch: Any, capsys: Any) -> None:
    from tests.server.conftest import SERVER_KEY

    add_site(database_url)
    with TestClient(make_app(make_settings(tmp_path, database_url, clock))) as client:
        assert Api(client).enrol("alice", ALICE).status_code == 200
    engine = create_engine(database_url)
    with engine.begin() as conn:  # enrolled 13 months before the real clock's now
        conn.execute(templates.update().values(created_at=1_000.0))
    engine.dispose()
    monkeypatch.delenv("OWNFACE_CONFIG", raising=False)
    monkeypatch.setenv("OWNFACE_DATABASE_URL", database_url)
    monkeypatch.setenv("OWNFACE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OWNFACE_SERVER_KEY", SERVER_KEY)
    from server import cli

    assert cli.main(["purge"]) == 0
    assert "shop: 1 templates past retention erased" in capsys.readouterr().out

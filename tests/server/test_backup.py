"""``ownface backup``: no face template in a backup, and a restore that works (both
databases)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from pyapp.protocol import b64encode
from server import backup, db
from server.tables import consents, templates, users
from tests.server.conftest import ALICE, Api, FakeClock, add_site, make_app, make_settings
from tests.server.test_keys import _template


def test_backup_holds_no_template_and_restores(tmp_path: Path, database_url: str,
                                               clock: FakeClock,
                                               request: pytest.FixtureRequest) -> None:
    add_site(database_url, mode="portable")
    helper = _template(3)
    with TestClient(make_app(make_settings(tmp_path, database_url, clock))) as client:
        assert Api(client).enrol("alice", ALICE, helper=helper).status_code == 200
        store = client.app.state.ownface_store  # type: ignore[attr-defined]
        with store.engine.connect() as conn:
            key = conn.execute(select(templates.c.public_key)).scalar_one()
            conn.rollback()
        out = tmp_path / "backup.json"
        counts = backup.write(store.engine, out)
    assert counts["users"] == 1 and counts["consents"] == 1 and "templates" not in counts
    assert out.stat().st_mode & 0o077 == 0
    text = out.read_text()
    assert b64encode(bytes(key)) not in text and "helper" not in json.loads(text)["tables"]
    assert "templates" in json.loads(text)["left_out"]
    if database_url.startswith("sqlite"):
        target = f"sqlite:///{tmp_path / 'restored.db'}"
    else:
        target = request.getfixturevalue("postgres").new_database()
    engine = db.make_engine(target)
    db.migrate(engine)
    restored = backup.restore(engine, out)
    assert restored["users"] == 1
    with engine.connect() as conn:
        assert conn.execute(select(users.c.external_id)).scalar_one() == "alice"
        assert conn.execute(select(consents.c.id)).scalar_one() is not None
        assert conn.execute(select(templates)).all() == []
        conn.rollback()
    with pytest.raises(ValueError, match="not empty"):
        backup.restore(engine, out)
    engine.dispose()
    # the restored server works: alice verifies again after enrolling anew, new rows get ids
    settings = make_settings(tmp_path / "restored", target, clock)
    with TestClient(make_app(settings)) as client:
        api = Api(client)
        assert api.enrol("bob", ALICE, helper=helper).status_code == 200


def test_logs_hold_no_biometric_data(tmp_path: Path, database_url: str, clock: FakeClock,
                                     caplog: pytest.LogCaptureFixture) -> None:
    """Whatever the server logs while templates are enrolled, used, withdrawn and purged
    (every logger, DEBUG) holds no helper data and no public key."""
    import logging

    from server import retention

    caplog.set_level(logging.DEBUG)
    add_site(database_url, mode="portable")
    helper = _template(5)
    with TestClient(make_app(make_settings(tmp_path, database_url, clock))) as client:
        api = Api(client)
        api.kiosk = client.app.state.ownface_store.keys.kiosk_token(  # type: ignore[attr-defined]
            "shop")
        assert api.enrol("alice", ALICE, helper=helper).status_code == 200
        assert api.enrol("bob", ALICE, helper=helper).status_code == 200
        session = api.verify("alice", ALICE).json()["session"]
        assert api.post("/consent/withdraw", {"site": "shop", "user": "alice",
                                              "session": session}).status_code == 200
        clock.advance(400 * 86_400)
        assert retention.purge(client.app.state.ownface_store).total_templates == 1  # type: ignore[attr-defined]
    text = caplog.text
    assert caplog.records  # something was logged
    assert b64encode(helper) not in text and b64encode(helper[:48]) not in text
    assert "helper_sealed" not in text


def test_ownface_backup_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    from server import cli
    from tests.server.conftest import SERVER_KEY

    for key in ("OWNFACE_CONFIG", "OWNFACE_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("OWNFACE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OWNFACE_SERVER_KEY", SERVER_KEY)
    add_site(f"sqlite:///{tmp_path / 'ownface.db'}")
    out = tmp_path / "b.json"
    assert cli.main(["backup", str(out)]) == 0
    assert "1 sites" in capsys.readouterr().out
    assert cli.main(["backup", str(out)]) == 1  # never overwrites a file
    assert "exists" in capsys.readouterr().err
    assert cli.main(["backup", "--restore", str(out)]) == 1  # not into a database in use
    assert "not empty" in capsys.readouterr().err

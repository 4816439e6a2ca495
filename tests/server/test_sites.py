"""``ownface site ...``: add, list, show, set-origins, set-notice, set-mode, rotate-key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from pyapp.protocol import b64encode, notice_sha256
from server import db, sites
from server.notices import PARAGRAPHS
from server.tables import notices
from tests.server.conftest import SERVER_KEY


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("OWNFACE_CONFIG", "OWNFACE_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("OWNFACE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OWNFACE_SERVER_KEY", SERVER_KEY)
    return tmp_path


def test_cli_round_trip(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sites.main(["add", "shop", "--origin", "https://shop.example/"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert len(token) == 43
    notice = env / "notice.txt"
    notice.write_text("Plain words about your face.\n", encoding="utf-8")
    assert sites.main(["set-notice", "shop", "--lang", "en", "--file", str(notice)]) == 0
    assert "version 1" in capsys.readouterr().out
    assert sites.main(["set-notice", "shop", "--lang", "en", "--file", str(notice)]) == 0
    assert "version 2" in capsys.readouterr().out
    assert sites.main(["set-notice", "shop", "--lang", "en", "--file", str(notice),
                       "--version", "1"]) == 1
    assert "never changed" in capsys.readouterr().err
    assert sites.main(["set-origins", "shop", "--origin", "https://a.example",
                       "--origin", "http://localhost:8001"]) == 0
    assert sites.main(["set-mode", "shop", "portable"]) == 0
    assert sites.main(["show", "shop"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["origins"] == ["http://localhost:8001", "https://a.example"]
    assert shown["storage_mode"] == "portable"
    assert [n["version"] for n in shown["notices"]] == [1, 2]
    # the stored text tells the site's liveness policy (passive, the default)
    told = "Plain words about your face.\n\n" + PARAGRAPHS["en"]["passive"]
    assert shown["notices"][0]["sha256"] == notice_sha256(told)
    assert shown["liveness"] == "passive"
    assert sites.main(["set-liveness", "shop", "passive+active"]) == 0
    assert "en: notice version 3 stored" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # argparse: not a policy
        sites.main(["set-liveness", "shop", "strict"])
    assert "invalid choice" in capsys.readouterr().err
    assert sites.main(["list"]) == 0
    assert "shop" in capsys.readouterr().out
    assert sites.main(["rotate-key", "shop"]) == 0
    assert "generation is now 2" in capsys.readouterr().out


def test_cli_enrolment_tickets(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from server import keys
    from server.settings import Settings

    assert sites.main(["add", "shop", "--origin", "https://shop.example"]) == 0
    assert "ticket-key shop" in capsys.readouterr().out
    assert sites.main(["add", "demo2", "--origin", "https://d.example", "--open-enrolment"]) == 0
    assert "ticket" not in capsys.readouterr().out
    engine = db.make_engine(Settings.from_env().database)
    assert {s["name"]: s["enrol_tickets"] for s in sites.describe(engine)} == {
        "shop": True, "demo2": False}
    assert sites.main(["set-tickets", "shop", "off"]) == 0
    assert sites.describe(engine, "shop")[0]["enrol_tickets"] is False
    engine.dispose()
    assert sites.main(["ticket-key", "shop"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed == b64encode(keys.load(Settings.from_env()).ticket_key("shop"))
    assert sites.main(["ticket-key", "nope"]) == 1


def test_cli_refusals(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sites.main(["add", "shop", "--origin", "https://shop.example"]) == 0
    assert sites.main(["add", "shop", "--origin", "https://shop.example"]) == 1
    assert sites.main(["add", "bad name", "--origin", "https://x.example"]) == 1
    assert sites.main(["add", "x", "--origin", "ftp://x.example"]) == 1
    assert sites.main(["show", "nope"]) == 1
    err = capsys.readouterr().err
    assert "exists" in err and "no site named" in err


def test_mode_switch_keeps_or_drops_helpers(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'o.db'}")
    db.migrate(engine)
    sites.add_site(engine, "kiosk", ["https://k.example"], "portable")
    sites.set_notice(engine, "kiosk", "de", "Hinweis")
    with engine.connect() as conn:
        assert conn.execute(select(notices.c.language)).scalar() == "de"
    sites.set_mode(engine, "kiosk", "device")  # no helpers stored yet: allowed
    engine.dispose()

"""The per-site report (server.report): the admin API, ``ownface site report``, the CAC
filing threshold."""

from __future__ import annotations

from pathlib import Path

import pytest

from server import report, sites
from tests.server.conftest import ALICE, Api, add_site

pytestmark = pytest.mark.usefixtures("clock")


def test_report_counts_and_the_filing_threshold(server: tuple[Api, str]) -> None:
    api, admin = server
    assert api.enrol("alice", ALICE).status_code == 200
    assert api.verify("alice", ALICE).status_code == 200
    session = api.verify("alice", ALICE).json()["session"]
    r = api.post("/consent/withdraw", {"site": "shop", "user": "alice", "session": session})
    assert r.status_code == 200
    assert api.client.get("/api/v1/sites/shop/report").json()["error"] == "unauthorized"
    got = api.client.get("/api/v1/sites/shop/report",
                         headers={"Authorization": f"Bearer {admin}"}).json()
    assert got["people_with_face_template"] == 0
    assert got["consents"] == {"given": 1, "withdrawn": 1, "active": 0,
                               "ended_by_retention": 0}
    assert got["verifications"] == {"face": 2} and got["alternatives_used"] == 0
    assert got["pad_policy"] == "off" and got["retention_days"] == 365  # (add_site: off)
    assert got["filing"]["status"] == "below"
    assert "user" not in str(got) and "alice" not in str(got)


def test_filing_threshold() -> None:
    assert report.filing(79_999)["status"] == "below"
    near = report.filing(80_000)
    assert near["status"] == "near" and "20000 people below" in near["message"]
    assert report.filing(100_000)["status"] == "near"
    assert report.filing(100_001)["status"] == "over"


def test_cli_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                    capsys: pytest.CaptureFixture[str]) -> None:
    from tests.server.conftest import SERVER_KEY

    for key in ("OWNFACE_CONFIG", "OWNFACE_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("OWNFACE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OWNFACE_SERVER_KEY", SERVER_KEY)
    add_site(f"sqlite:///{tmp_path / 'ownface.db'}", mode="portable",
             liveness="passive+active")
    assert sites.main(["set-retention", "shop", "--days", "180"]) == 0
    assert sites.main(["set-kiosk", "shop", "--identity", "code", "--alternative",
                       "staff"]) == 0
    assert sites.main(["report", "shop"]) == 0
    out = capsys.readouterr().out
    assert "retention: 180 days" in out and "PAD policy: passive+active" in out
    assert "identity by code, alternative: staff" in out and "threshold" in out
    assert sites.main(["issue-code", "shop", "guest-1"]) == 0
    code = capsys.readouterr().out.strip().splitlines()[-1]
    assert len(code) == 9
    assert sites.main(["staff-code", "shop", "--label", "night desk"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()[-1]) == 14
    assert sites.main(["set-retention", "shop", "--days", "0"]) == 1
    assert sites.main(["report", "nope"]) == 1

"""Notices, consent records, withdrawal (erases the template at once), erasure, audit export."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from pyapp.protocol import CONSENT_PURPOSE, notice_sha256
from server.tables import audit, consents, templates, users
from tests.server.conftest import ALICE, NOTICE, Api


def _count(api: Api, table: object) -> int:
    store = api.client.app.state.ownface_store  # type: ignore[attr-defined]
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_notice_is_served_with_its_digest(api: Api) -> None:
    r = api.get("/sites/shop/notice", params={"lang": "en"})
    assert r.status_code == 200
    body = r.json()
    assert body["text"] == NOTICE and body["sha256"] == notice_sha256(NOTICE)
    assert body["languages"] == ["en"] and body["version"] == 1
    assert api.get("/sites/shop/notice", params={"lang": "de"}).json()["error"] == "no_notice"
    assert api.get("/sites/nope/notice").status_code == 404


def test_consent_needs_the_exact_text(api: Api) -> None:
    grant = {"site": "shop", "user": "alice", "purpose": CONSENT_PURPOSE, "notice_version": 1,
             "language": "en"}
    r = api.post("/consent", {**grant, "notice_sha256": notice_sha256(NOTICE + " ")})
    assert r.status_code == 409 and r.json()["error"] == "notice_mismatch"
    r = api.post("/consent", {**grant, "notice_version": 2, "notice_sha256": notice_sha256(NOTICE)})
    assert r.status_code == 409
    r = api.post("/consent", {**grant, "notice_sha256": notice_sha256(NOTICE)})
    assert r.status_code == 200 and len(r.json()["consent_id"]) == 22


def test_enrol_needs_active_consent(api: Api) -> None:
    r = api.enrol("alice", ALICE, consent_id="A" * 21 + "A")
    assert r.status_code == 403 and r.json()["error"] == "no_consent"


def test_withdraw_erases_template_at_once(api: Api) -> None:
    enrolled = api.enrol("alice", ALICE)
    assert enrolled.status_code == 200
    session = enrolled.json()["session"]
    assert _count(api, templates) == 1
    r = api.post("/consent/withdraw", {"site": "shop", "user": "alice", "session": session})
    assert r.status_code == 200, r.text
    assert "public_key" in r.json()["erased"] and "active_consent" in r.json()["erased"]
    assert _count(api, templates) == 0
    assert api.verify("alice", ALICE).status_code == 401
    store = api.client.app.state.ownface_store  # type: ignore[attr-defined]
    with store.engine.connect() as conn:
        assert conn.execute(select(consents.c.withdrawn_at)).scalar() is not None


def test_withdraw_needs_the_users_session(api: Api) -> None:
    assert api.enrol("alice", ALICE).status_code == 200
    bob = api.enrol("bob", ALICE).json()["session"]  # a valid session, but for bob
    r = api.post("/consent/withdraw", {"site": "shop", "user": "alice", "session": bob})
    assert r.status_code == 401 and r.json()["error"] == "session_invalid"
    assert _count(api, templates) == 2


def test_erase_by_session_and_by_admin(server: tuple[Api, str]) -> None:
    api, token = server
    session = api.enrol("alice", ALICE).json()["session"]
    r = api.post("/erase", {"site": "shop", "user": "alice", "session": session})
    assert r.status_code == 200
    assert set(r.json()["erased"]) >= {"template", "consent_records", "account"}
    assert _count(api, users) == 0 and _count(api, consents) == 0
    assert api.enrol("bob", ALICE).status_code == 200
    stranger = api.post("/erase", {"site": "shop", "user": "bob"},
                        headers={"Authorization": "Bearer not-the-token"})
    assert stranger.status_code == 403
    nobody = api.post("/erase", {"site": "shop", "user": "bob"})
    assert nobody.status_code == 401
    r = api.post("/erase", {"site": "shop", "user": "bob"},
                 headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and "account" in r.json()["erased"]
    assert _count(api, users) == 0


def test_audit_log_is_pseudonymous_and_exported(server: tuple[Api, str]) -> None:
    api, token = server
    assert api.enrol("alice", ALICE).status_code == 200
    assert api.verify("alice", ALICE).status_code == 200
    for user in ("carol", "dave"):
        r = api.post("/password/set", {"site": "shop", "user": user,
                                       "password": "correct horse battery staple"})
        assert r.status_code == 200
    assert api.get("/sites/shop/audit").status_code == 401
    assert api.get("/sites/shop/audit", headers={"Authorization": "Bearer x"}).status_code == 403
    auth = {"Authorization": f"Bearer {token}"}
    body = api.get("/sites/shop/audit", headers=auth).json()
    summary = body["summary"]
    assert summary["accounts_set_up"] == 3 and summary["accounts_password_only"] == 2
    assert summary["share_password_alternative"] == round(2 / 3, 4)
    assert summary["logins_by_method"] == {"face": 1}
    text = str(body["events"])
    assert "alice" not in text and "carol" not in text  # pseudonyms only
    csv_text = api.get("/sites/shop/audit", params={"format": "csv"}, headers=auth).text
    rows = list(csv.reader(io.StringIO(csv_text)))
    assert rows[0] == ["id", "at", "event", "subject", "detail"]
    assert ["", "", "summary:share_password_alternative", "", str(round(2 / 3, 4))] in rows
    assert _count(api, audit) == len(body["events"])

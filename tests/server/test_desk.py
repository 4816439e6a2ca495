"""Front desks and gates (server.desk): the one-time code and the staff confirmation as the
kiosk's alternative to the face, enrolment at a kiosk only with a staff code; on both
databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from pyapp.errors import ProtocolError
from pyapp.protocol import desk_code, room_user
from server import db, desk, sites
from server.assertions import verify_assertion
from server.tables import desk_codes
from tests.server.conftest import (
    ALICE,
    Api,
    FakeClock,
    add_site,
    make_app,
    make_settings,
)
from tests.server.test_keys import _template


@pytest.fixture
def kiosk(tmp_path: Path, database_url: str, clock: FakeClock) -> Iterator[tuple[Api, str]]:
    """(Api of the portable site "shop" as one of its kiosks, the site's admin token); new
    accounts need an enrolment ticket."""
    token = add_site(database_url, mode="portable")
    engine = db.make_engine(database_url)
    sites.set_tickets(engine, "shop", True)
    engine.dispose()
    with TestClient(make_app(make_settings(tmp_path, database_url, clock))) as client:
        store = client.app.state.ownface_store  # type: ignore[attr-defined]
        api = Api(client)
        api.kiosk = store.keys.kiosk_token("shop")
        yield api, token


def _desk(api: Api, path: str, user: str, code: str, kiosk: str | None = "default") -> Any:
    token = api.kiosk if kiosk == "default" else kiosk
    headers = {"Authorization": f"Kiosk {token}"} if token else {}
    return api.post(path, {"site": "shop", "user": user, "code": code}, headers=headers)


def _issue(api: Api, admin: str, user: str, **extra: Any) -> Any:
    return api.client.post("/api/v1/sites/shop/codes", json={"user": user, **extra},
                           headers={"Authorization": f"Bearer {admin}"})


def _store(api: Api) -> Any:
    return api.client.app.state.ownface_store  # type: ignore[attr-defined]


def test_a_one_time_code_at_the_kiosk(kiosk: tuple[Api, str], clock: FakeClock) -> None:
    api, admin = kiosk
    assert _issue(api, "wrong", "room-1203-x").status_code == 403
    assert _issue(api, admin, "not an id").status_code == 400
    issued = _issue(api, admin, "room-1203-x")
    assert issued.status_code == 200, issued.text
    code = issued.json()["code"]
    assert len(code) == 9 and code[4] == "-"  # printed in two groups of four
    # only the kiosk, only for that account, only once
    assert _desk(api, "/kiosk/code", "room-1203-x", code, kiosk=None).json()["error"] == (
        "kiosk_required")
    assert _desk(api, "/kiosk/code", "room-9999-x", code).json()["error"] == "not_verified"
    r = _desk(api, "/kiosk/code", "room-1203-x", code.lower().replace("-", " "))
    assert r.status_code == 200, r.text
    body = r.json()
    jwks = api.get("/sites/shop/jwks.json").json()
    claims = verify_assertion(body["assertion"], jwks, "shop", "ownface", clock.now)
    assert claims["amr"] == ["otp"] and claims["sub"] == "room-1203-x"
    assert _desk(api, "/kiosk/code", "room-1203-x", code).json()["error"] == "not_verified"
    # an expired code is refused; the purge drops it
    late = _issue(api, admin, "room-1203-x", ttl_seconds=60).json()["code"]
    clock.advance(61)
    assert _desk(api, "/kiosk/code", "room-1203-x", late).status_code == 401
    # the database holds digests only
    with _store(api).engine.connect() as conn:
        rows = conn.execute(select(desk_codes)).all()
        conn.rollback()
    assert all(late.replace("-", "").encode() not in bytes(r.digest) for r in rows)
    report = api.client.get("/api/v1/sites/shop/report",
                            headers={"Authorization": f"Bearer {admin}"}).json()
    assert report["verifications"] == {"otp": 1} and report["alternatives_used"] == 1


def test_staff_confirmation_and_staff_only_enrolment(kiosk: tuple[Api, str]) -> None:
    api, _ = kiosk
    store = _store(api)
    site = store.site("shop")
    staff, _ = desk.issue(store, site, "staff", label="desk-1")
    user = room_user("1203", "Li Wei")
    # a stranger cannot enrol a resident: no ticket, no enrolment
    assert api.enrol(user, ALICE, helper=_template(1)).json()["error"] == "ticket_required"
    assert _desk(api, "/kiosk/enrol-ticket", user, "ABCDEFGHJKMN").json()["error"] == (
        "not_verified")
    assert _desk(api, "/kiosk/enrol-ticket", user, staff, kiosk="x").status_code == 403
    r = _desk(api, "/kiosk/enrol-ticket", user, staff)
    assert r.status_code == 200, r.text
    ticket = r.json()["ticket"]
    assert api.enrol(user, ALICE, helper=_template(1), ticket=ticket).status_code == 200
    assert api.verify(user, ALICE).status_code == 200
    # the code alternative is not this site's until the operator says so
    assert _desk(api, "/kiosk/staff", user, staff).json()["error"] == "other_alternative"
    desk.set_kiosk(store.engine, site.id, None, "staff")
    assert _desk(api, "/kiosk/code", user, staff).json()["error"] == "other_alternative"
    r = _desk(api, "/kiosk/staff", user, staff)
    assert r.status_code == 200 and r.json()["method"] == "staff"
    assert desk.revoke_staff(store.engine, site.id, "desk-1") == 1
    assert _desk(api, "/kiosk/staff", user, staff).json()["error"] == "not_verified"


def test_codes_and_room_ids() -> None:
    assert desk_code("abcd-efgh") == "ABCDEFGH"
    for bad in ("ABC", "ABCDEFG0", "ABCDEFGI", "x" * 50, 12345678):
        with pytest.raises(ProtocolError):
            desk_code(bad)
    a = room_user("1203", "  Li   Wei ")
    assert a == room_user("1203", "li wei") == room_user("1203", "ＬＩ ＷＥＩ")
    assert a != room_user("1204", "Li Wei") and a.startswith("room-1203-")
    assert "wei" not in a.lower()
    for room, name in (("", "x"), ("12 03", "x"), ("1203", " ")):
        with pytest.raises(ProtocolError):
            room_user(room, name)

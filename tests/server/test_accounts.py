"""Who may act for a user id: a user id that had a credential is never silently re-opened,
an invalid session gets the same answer whether or not the account exists, a withdraw
signature is no login, and a person who lost their device can still be withdrawn by the
business."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from pyapp import protocol
from server import db, keys, sites
from server.assertions import verify_assertion
from server.tables import retired_users, users
from tests.server.conftest import (
    ALICE,
    MALLORY,
    Api,
    FakeClock,
    add_site,
    make_app,
    make_settings,
)

GOOD = "correct horse battery staple"


def _business(api: Api) -> Any:
    """The JWK set and issuer a business checks assertions with."""
    return api.get("/sites/shop/jwks.json").json()


@pytest.mark.parametrize("leave", ["withdraw", "erase"])
def test_a_user_id_that_had_a_face_is_not_reopened_to_strangers(
        server: tuple[Api, str], clock: FakeClock, leave: str) -> None:
    """On an open-enrolment site, alice (face only) withdraws or erases herself; a stranger
    who names her user id can neither enrol a face nor set a password for it, and the
    business never receives sub=alice from them. With the site's ticket, or after an admin
    reopens the account, it can be set up again."""
    api, _ = server
    session = api.enrol("alice", ALICE).json()["session"]
    path = "/consent/withdraw" if leave == "withdraw" else "/erase"
    assert api.post(path, {"site": "shop", "user": "alice", "session": session}
                    ).status_code == 200
    r = api.enrol("alice", MALLORY)
    assert r.status_code == 403 and r.json()["error"] == "ticket_required"
    r = api.post("/password/set", {"site": "shop", "user": "alice", "password": GOOD})
    assert r.status_code == 403 and r.json()["error"] == "ticket_required"
    assert api.verify("alice", MALLORY).status_code == 401
    # the site's backend vouches for its signed-in user: a ticket sets the account up again
    store = api.client.app.state.ownface_store  # type: ignore[attr-defined]
    ticket = protocol.make_ticket(store.keys.ticket_key("shop"), "shop", "alice",
                                  int(clock.now) + 300)
    again = api.enrol("alice", ALICE, ticket=ticket)
    assert again.status_code == 200, again.text
    claims = verify_assertion(again.json()["assertion"], _business(api), "shop", "ownface",
                              clock.now)
    assert claims["sub"] == "alice" and claims["amr"] == ["face"]


def test_an_admin_can_reopen_a_closed_account(tmp_path: Any, database_url: str,
                                              clock: FakeClock, monkeypatch: Any) -> None:
    add_site(database_url)
    settings = make_settings(tmp_path, database_url, clock)
    with TestClient(make_app(settings)) as client:
        api = Api(client)
        session = api.enrol("alice", ALICE).json()["session"]
        assert api.post("/erase", {"site": "shop", "user": "alice",
                                   "session": session}).status_code == 200
        assert api.enrol("alice", ALICE).status_code == 403
        monkeypatch.setenv("OWNFACE_DATABASE_URL", database_url)
        monkeypatch.setenv("OWNFACE_SERVER_KEY", str(settings.extra["server_key"]))
        engine = db.make_engine(database_url)
        assert "may be set up again" in sites.reopen(engine, "shop", "alice")
        engine.dispose()
        assert api.enrol("alice", ALICE).status_code == 200


def test_erasure_keeps_only_a_pseudonym_and_a_generation(server: tuple[Api, str]) -> None:
    api, token = server
    session = api.enrol("alice", ALICE).json()["session"]
    assert api.post("/erase", {"site": "shop", "user": "alice"},
                    headers={"Authorization": f"Bearer {token}"}).status_code == 200
    store = api.client.app.state.ownface_store  # type: ignore[attr-defined]
    with store.engine.connect() as conn:
        assert conn.execute(select(users)).all() == []
        left = conn.execute(select(retired_users)).one()
    assert left.subject == store.keys.pseudonym("shop", "alice") and "alice" not in str(left)
    # the old session is dead for whatever the id becomes next
    r = api.post("/consent/withdraw", {"site": "shop", "user": "alice", "session": session})
    assert r.status_code == 401


def test_an_invalid_session_is_refused_alike_for_known_and_unknown_accounts(
        tmp_path: Any, database_url: str, clock: FakeClock) -> None:
    add_site(database_url)
    engine = db.make_engine(database_url)
    sites.set_tickets(engine, "shop", True)
    engine.dispose()
    settings = make_settings(tmp_path, database_url, clock)
    key = keys.load(settings).ticket_key("shop")
    with TestClient(make_app(settings)) as client:
        api = Api(client)
        ticket = protocol.make_ticket(key, "shop", "bob", int(clock.now) + 300)
        assert api.post("/password/set", {"site": "shop", "user": "bob", "password": GOOD,
                                          "ticket": ticket}).status_code == 200
        forged = protocol.b64encode(bytes(protocol.SESSION_BYTES))
        answers = []
        for user in ("bob", "nobody"):
            answers.append(api.post("/password/set", {"site": "shop", "user": user,
                                                      "password": GOOD, "session": forged}))
            answers.append(api.enrol(user, ALICE, session=forged))
            answers.append(api.grant(user, session=forged))
            answers.append(api.post("/consent/withdraw", {"site": "shop", "user": user,
                                                          "session": forged}))
        assert {(r.status_code, r.text) for r in answers} == {(401, answers[0].text)}
        assert answers[0].json()["error"] == "session_invalid"


def test_a_withdraw_signature_is_no_login(api: Api, clock: FakeClock) -> None:
    """A face verification for withdrawal answers no assertion, and its session withdraws
    but cannot stand in for a login (no password, no new face)."""
    assert api.enrol("alice", ALICE).status_code == 200
    r = api.verify("alice", ALICE, purpose="withdraw")
    assert r.status_code == 200, r.text
    assert "assertion" not in r.json()
    session = r.json()["session"]
    for path, body in (("/password/set", {"password": GOOD}),
                       ("/password/change", {"new_password": GOOD})):
        refused = api.post(path, {"site": "shop", "user": "alice", "session": session, **body})
        assert refused.status_code == 401 and refused.json()["error"] == "session_invalid"
    assert api.enrol("alice", MALLORY, session=session).status_code == 401
    done = api.post("/consent/withdraw", {"site": "shop", "user": "alice", "session": session})
    assert done.status_code == 200 and "public_key" in done.json()["erased"]
    assert api.verify("alice", ALICE).status_code == 401


def test_the_business_withdraws_for_a_person_who_lost_their_device(
        server: tuple[Api, str], clock: FakeClock) -> None:
    """A face-only user whose device (and so helper) is gone cannot verify, so cannot
    withdraw with a session. The business, having checked who asks by its own means, does it
    with the site's admin token; a stranger without it cannot; the person can then be set up
    again with a ticket from the business."""
    api, token = server
    assert api.enrol("alice", ALICE).status_code == 200
    for auth in ({}, {"Authorization": "Bearer not-the-token"}):
        r = api.post("/consent/withdraw", {"site": "shop", "user": "alice"}, headers=auth)
        assert r.status_code in (401, 403), r.text
    assert api.verify("alice", ALICE).status_code == 200  # nothing happened
    r = api.post("/consent/withdraw", {"site": "shop", "user": "alice"},
                 headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and {"public_key", "active_consent"} <= set(r.json()["erased"])
    assert api.verify("alice", ALICE).status_code == 401
    store = api.client.app.state.ownface_store  # type: ignore[attr-defined]
    ticket = protocol.make_ticket(store.keys.ticket_key("shop"), "shop", "alice",
                                  int(clock.now) + 300)
    assert api.enrol("alice", MALLORY, ticket=ticket).status_code == 200  # a new device


def test_on_a_ticket_site_strangers_make_no_consent_records(tmp_path: Any, database_url: str,
                                                            clock: FakeClock) -> None:
    add_site(database_url)
    engine = db.make_engine(database_url)
    sites.set_tickets(engine, "shop", True)
    engine.dispose()
    settings = make_settings(tmp_path, database_url, clock)
    key = keys.load(settings).ticket_key("shop")
    with TestClient(make_app(settings)) as client:
        api = Api(client)
        for i in range(5):
            r = api.grant(f"new{i}")
            assert r.status_code == 403 and r.json()["error"] == "ticket_required"
        store = client.app.state.ownface_store  # type: ignore[attr-defined]
        with store.engine.connect() as conn:
            assert conn.execute(select(users)).all() == []
        ticket = protocol.make_ticket(key, "shop", "carol", int(clock.now) + 300)
        assert api.grant("carol", ticket=ticket).status_code == 200
        assert api.grant("carol", ticket=protocol.make_ticket(
            key, "shop", "dave", int(clock.now) + 300)).status_code == 403  # not hers

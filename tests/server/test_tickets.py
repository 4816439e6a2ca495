"""Enrolment tickets: on a site that requires them, a new account's first credential (face or
password) is created only with a ticket the site's backend made for exactly that user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from pyapp import protocol
from server import db, keys, sites
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


@pytest.fixture
def ticketed(tmp_path: Path, database_url: str, clock: FakeClock) -> Any:
    add_site(database_url)
    engine = db.make_engine(database_url)
    sites.set_tickets(engine, "shop", True)
    engine.dispose()
    settings = make_settings(tmp_path, database_url, clock)
    key = keys.load(settings).ticket_key("shop")

    def ticket(user: str, ttl: float = 300, site: str = "shop", with_key: bytes = key) -> str:
        return protocol.make_ticket(with_key, site, user, int(clock() + ttl))

    with TestClient(make_app(settings), base_url="http://testserver") as client:
        yield Api(client), ticket


def test_known_answer() -> None:
    t = protocol.make_ticket(bytes(32), "shop", "alice", 1_800_000_300)
    raw = protocol.b64decode(t, "ticket", protocol.TICKET_BYTES)
    assert raw[:8] == (1_800_000_300).to_bytes(8, "big")
    assert raw[8:].hex() == protocol.ticket_mac(bytes(32), "shop", "alice", 1_800_000_300).hex()
    assert protocol.ticket_mac(bytes(32), "shop", "alice", 1) != protocol.ticket_mac(
        bytes(32), "shop", "alicf", 1)


def test_a_new_account_needs_a_ticket_for_a_face(ticketed: Any) -> None:
    api, ticket = ticketed
    r = api.enrol("alice", ALICE)
    assert r.status_code == 403 and r.json()["error"] == "ticket_required"
    assert r.json()["field"] == "ticket"
    for bad in (ticket("bob"), ticket("alice", ttl=-1)):  # (each try is a face attempt)
        r = api.enrol("alice", ALICE, ticket=bad)
        assert r.status_code == 403 and r.json()["error"] == "ticket_required", bad
    assert api.verify("alice", ALICE).status_code == 401  # nothing was stored
    assert api.enrol("alice", ALICE, ticket=ticket("alice")).status_code == 200
    assert api.verify("alice", ALICE).status_code == 200
    # a ticket works once...
    r = api.enrol("alice", MALLORY, ticket=ticket("alice"))
    assert r.status_code == 403 and r.json()["error"] == "ticket_required"
    # ...and opens only a new account: a second face needs the holder's session
    r = api.enrol("alice", MALLORY, ticket=ticket("alice", ttl=301))
    assert r.status_code == 401 and r.json()["error"] == "session_invalid"
    assert api.verify("alice", MALLORY).status_code == 401


def test_a_new_account_needs_a_ticket_for_a_password(ticketed: Any) -> None:
    api, ticket = ticketed
    body = {"site": "shop", "user": "bob", "password": GOOD}
    r = api.post("/password/set", body)
    assert r.status_code == 403 and r.json()["error"] == "ticket_required"
    for bad in (ticket("alice"), ticket("bob", ttl=-1), ticket("bob", ttl=2 * 86_400),
                ticket("bob", site="other"), ticket("bob", with_key=bytes(32))):
        r = api.post("/password/set", {**body, "ticket": bad})
        assert r.status_code == 403 and r.json()["error"] == "ticket_required", bad
    assert api.post("/password/set", {**body, "ticket": ticket("bob")}).status_code == 200
    spent = api.post("/password/set", {**body, "ticket": ticket("bob")})
    assert spent.status_code == 403 and spent.json()["error"] == "ticket_required"
    again = api.post("/password/set", {**body, "ticket": ticket("bob", ttl=301)})
    assert again.status_code == 401 and again.json()["error"] == "session_invalid"


def test_malformed_tickets_are_bad_requests(ticketed: Any) -> None:
    api, _ = ticketed
    for bad in ("!!", protocol.b64encode(bytes(39)), 40):
        r = api.post("/password/set", {"site": "shop", "user": "bob", "password": GOOD,
                                       "ticket": bad})
        assert r.status_code == 400 and r.json()["field"] == "ticket"


def test_sites_without_tickets_stay_open(api: Api) -> None:
    assert api.enrol("alice", ALICE).status_code == 200  # add_site's default: open
    assert api.post("/password/set", {"site": "shop", "user": "bob",
                                      "password": GOOD}).status_code == 200


def test_without_a_ticket_the_answer_says_nothing_about_the_account(ticketed: Any) -> None:
    api, ticket = ticketed
    assert api.post("/password/set", {"site": "shop", "user": "bob", "password": GOOD,
                                      "ticket": ticket("bob")}).status_code == 200
    answers = [api.post("/password/set", {"site": "shop", "user": user, "password": GOOD})
               for user in ("bob", "nobody")]
    answers += [api.enrol(user, ALICE) for user in ("bob", "nobody")]
    assert {(r.status_code, r.text) for r in answers} == {
        (403, answers[0].text)}
    assert answers[0].json()["error"] == "ticket_required"

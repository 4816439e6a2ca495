"""The widget pop-up's result reaches the frame that opened it (server/handoff.py): once,
only with the frame's secret, only as an assertion this server signed for the site, and
not after HANDOFF_SECONDS. On both databases."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from pyapp import protocol
from pyapp.protocol import b64encode
from server import db
from server.tables import handoffs
from tests.server.conftest import Api, FakeClock, add_site, make_app, make_settings

PASSWORD = "quiet-orchard-lantern-7"
SECRET = bytes(range(protocol.HANDOFF_BYTES))


@pytest.fixture
def api(tmp_path: Path, database_url: str, clock: FakeClock) -> Iterator[Api]:
    add_site(database_url)
    add_site(database_url, "other")
    settings = make_settings(tmp_path, database_url, clock, argon2_memory_kib=1024,
                             argon2_time_cost=1)
    with TestClient(make_app(settings)) as client:
        yield Api(client)


def assertion(api: Api, user: str = "alice", site: str = "shop") -> str:
    body = {"site": site, "user": user, "password": PASSWORD}
    assert api.post("/password/set", body).status_code == 200
    r = api.post("/password/verify", body)
    assert r.status_code == 200, r.text
    token: str = r.json()["assertion"]
    return token


def put(api: Api, secret: bytes = SECRET, **body: Any) -> Any:
    return api.post("/handoff", {"site": "shop", "handoff": b64encode(secret), **body})


def take(api: Api, secret: bytes = SECRET, site: str = "shop") -> dict[str, Any]:
    r = api.post("/handoff/take", {"site": site, "handoff": b64encode(secret)})
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def test_the_frame_gets_the_pop_ups_assertion_once(api: Api, database_url: str) -> None:
    assert take(api) == {"v": 1, "state": "pending"}  # nothing yet
    token = assertion(api)
    r = put(api, outcome="verified", assertion=token)
    assert r.status_code == 200 and r.json()["state"] == "verified"
    assert take(api, site="other")["state"] == "pending"  # another site's frame: nothing
    assert take(api, bytes(32))["state"] == "pending"  # another secret: nothing
    assert take(api) == {"v": 1, "state": "verified", "method": "pwd", "assertion": token}
    assert take(api)["state"] == "pending"  # given once, then gone
    engine = db.make_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(select(handoffs)).all() == []
    engine.dispose()


def test_only_the_digest_of_the_secret_is_stored(api: Api, database_url: str) -> None:
    assert put(api, outcome="cancelled").status_code == 200
    engine = db.make_engine(database_url)
    with engine.connect() as conn:
        digests = conn.execute(select(handoffs.c.digest)).scalars().all()
    engine.dispose()
    assert digests == [hashlib.sha256(SECRET).digest()]
    assert take(api)["state"] == "cancelled"


def test_a_result_is_put_once(api: Api) -> None:
    assert put(api, outcome="cancelled").status_code == 200
    r = put(api, outcome="verified", assertion=assertion(api))
    assert r.status_code == 409 and r.json()["error"] == "handoff_used"
    assert take(api)["state"] == "cancelled"


def test_only_an_assertion_this_server_signed_for_the_site_is_kept(api: Api) -> None:
    other = assertion(api, site="other")  # signed, but for another site
    for token in (other, "eyJhbGciOiJFZDI1NTE5In0.e30.c2lnbmF0dXJl"):
        r = put(api, outcome="verified", assertion=token)
        assert r.status_code == 401 and r.json()["error"] == "not_verified"
    assert take(api)["state"] == "pending"


@pytest.mark.parametrize("body", [
    {"outcome": "verified"},  # no assertion
    {"outcome": "cancelled", "assertion": "a.b.c"},  # an assertion with a cancellation
    {"outcome": "pending"},
    {"outcome": "cancelled", "handoff": b64encode(bytes(16))},  # a short secret
])
def test_malformed_results_are_refused(api: Api, body: dict[str, Any]) -> None:
    r = api.post("/handoff", {"site": "shop", "handoff": b64encode(SECRET), **body})
    assert r.status_code == 400 and r.json()["error"] == "bad_request"
    assert take(api)["state"] == "pending"


def test_a_result_expires(api: Api, clock: FakeClock) -> None:
    assert put(api, outcome="cancelled").status_code == 200
    clock.advance(protocol.HANDOFF_SECONDS + 1)
    assert take(api)["state"] == "pending"


def test_other_origins_may_not_put_or_take(api: Api) -> None:
    evil = "https://evil.example"
    r = api.post("/handoff", {"site": "shop", "handoff": b64encode(SECRET),
                              "outcome": "cancelled"}, origin=evil)
    assert r.status_code == 403
    r = api.post("/handoff/take", {"site": "shop", "handoff": b64encode(SECRET)}, origin=evil)
    assert r.status_code == 403

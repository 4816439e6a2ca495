"""The password alternative: policy, argon2id parameters, rehash, who may set and change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from pyapp.protocol import REAUTH_SECONDS
from server import hashing
from server.tables import passwords as passwords_t
from tests.server.conftest import ALICE, Api, FakeClock, add_site, make_app, make_settings

GOOD = "correct horse battery staple"


def test_owasp_parameters() -> None:
    digest = hashing.Hasher().hash(GOOD)
    assert digest.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize(("password", "reason"), [
    ("password1", "very common"), ("qwertyuiop", "common"), ("zxcvbnm,", "rows of keys"),
    ("aaaaaaaaaa", "repeats"),
])
def test_weak_passwords_refused_with_reason(api: Api, password: str, reason: str) -> None:
    r = api.post("/password/set", {"site": "shop", "user": "bob", "password": password})
    assert r.status_code == 422 and r.json()["error"] == "weak_password"
    assert reason.lower() in r.json()["message"].lower() and r.json()["field"] == "password"


def test_length_limits(api: Api) -> None:
    short = api.post("/password/set", {"site": "shop", "user": "bob", "password": "Xq7!zp"})
    assert short.status_code == 400 and short.json()["field"] == "password"
    long_ok = "Kite-Umbrella-Orbit-" * 5  # 100 characters
    r = api.post("/password/set", {"site": "shop", "user": "bob", "password": long_ok})
    assert r.status_code == 200, r.text
    r = api.post("/password/verify", {"site": "shop", "user": "bob", "password": long_ok})
    assert r.status_code == 200


def test_user_name_counts_as_known_word(api: Api) -> None:
    r = api.post("/password/set", {"site": "shop", "user": "bartholomew",
                                   "password": "bartholomew1"})
    assert r.status_code == 422


def test_existing_account_needs_session_to_set(api: Api) -> None:
    assert api.post("/password/set", {"site": "shop", "user": "bob",
                                      "password": GOOD}).status_code == 200
    hijack = api.post("/password/set", {"site": "shop", "user": "bob",
                                        "password": "another fine passphrase"})
    assert hijack.status_code == 401 and hijack.json()["error"] == "session_invalid"
    assert api.enrol("alice", ALICE).status_code == 200
    r = api.post("/password/set", {"site": "shop", "user": "alice", "password": GOOD})
    assert r.status_code == 401


def test_change_needs_session_and_replaces(api: Api) -> None:
    saved = api.post("/password/set", {"site": "shop", "user": "bob", "password": GOOD})
    session = saved.json()["session"]
    new = "lantern marmalade gravity"
    r = api.post("/password/change", {"site": "shop", "user": "bob", "session": session,
                                      "new_password": new, "current_password": GOOD})
    assert r.status_code == 200
    assert api.post("/password/verify", {"site": "shop", "user": "bob",
                                         "password": GOOD}).status_code == 401
    assert api.post("/password/verify", {"site": "shop", "user": "bob",
                                         "password": new}).status_code == 200
    other = api.post("/password/set", {"site": "shop", "user": "eve", "password": GOOD})
    r = api.post("/password/change", {"site": "shop", "user": "bob",
                                      "session": other.json()["session"], "new_password": new,
                                      "current_password": new})
    assert r.status_code == 401


def _change(api: Api, session: str, new: str, **more: str) -> Any:
    return api.post("/password/change", {"site": "shop", "user": "bob", "session": session,
                                         "new_password": new, **more})


def test_a_change_needs_the_current_password_or_a_fresh_face(api: Api, clock: FakeClock
                                                              ) -> None:
    session = api.post("/password/set", {"site": "shop", "user": "bob",
                                         "password": GOOD}).json()["session"]
    for more in ({}, {"current_password": "not the password"}):  # a session alone: no
        r = _change(api, session, "lantern marmalade gravity", **more)
        assert r.status_code == 401 and r.json()["error"] == "reauth_required", more
    # replacing the password through password/set needs the same proof
    r = api.post("/password/set", {"site": "shop", "user": "bob", "session": session,
                                   "password": "lantern marmalade gravity"})
    assert r.status_code == 401 and r.json()["error"] == "reauth_required"
    assert api.post("/password/verify", {"site": "shop", "user": "bob",
                                         "password": GOOD}).status_code == 200
    # a face verified a moment ago is proof enough; one verified long ago is not
    session = api.post("/password/verify", {"site": "shop", "user": "bob",
                                            "password": GOOD}).json()["session"]
    assert api.enrol("bob", ALICE, session=session).status_code == 200
    face = api.verify("bob", ALICE).json()["session"]
    clock.advance(REAUTH_SECONDS + 1)
    r = _change(api, face, "lantern marmalade gravity")
    assert r.status_code == 401 and r.json()["error"] == "reauth_required"
    face = api.verify("bob", ALICE).json()["session"]
    assert _change(api, face, "lantern marmalade gravity").status_code == 200


def test_change_withdrawal_and_erasure_end_older_sessions(server: tuple[Api, str]) -> None:
    api, token = server
    first = api.post("/password/set", {"site": "shop", "user": "bob",
                                       "password": GOOD}).json()["session"]
    second = api.post("/password/verify", {"site": "shop", "user": "bob",
                                           "password": GOOD}).json()["session"]
    changed = _change(api, second, "lantern marmalade gravity", current_password=GOOD)
    assert changed.status_code == 200
    # the session from before the change changes nothing any more...
    r = _change(api, first, "another fine passphrase", current_password="lantern marmalade "
                                                                       "gravity")
    assert r.status_code == 401 and r.json()["error"] == "session_invalid"
    r = api.post("/consent/withdraw", {"site": "shop", "user": "bob", "session": first})
    assert r.status_code == 401
    # ...the one the change returned does; after an admin erasure, nothing does
    latest = changed.json()["session"]
    assert api.post("/erase", {"site": "shop", "user": "bob"},
                    headers={"Authorization": f"Bearer {token}"}).status_code == 200
    r = _change(api, latest, "another fine passphrase",
                current_password="lantern marmalade gravity")
    assert r.status_code == 401 and r.json()["error"] == "session_invalid"
    r = api.post("/password/set", {"site": "shop", "user": "bob", "session": latest,
                                   "password": "another fine passphrase"})
    assert r.status_code == 401 and r.json()["error"] == "session_invalid"
    # a withdrawal ends the face sessions from before it too
    session = api.enrol("carol", ALICE).json()["session"]
    fresh = api.verify("carol", ALICE).json()["session"]
    assert api.post("/consent/withdraw", {"site": "shop", "user": "carol",
                                          "session": fresh}).status_code == 200
    r = api.post("/erase", {"site": "shop", "user": "carol", "session": session})
    assert r.status_code == 401 and r.json()["error"] == "session_invalid"


def test_rehash_on_parameter_change(tmp_path: Path, clock: FakeClock) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    add_site(url)
    cheap = make_settings(tmp_path, url, clock, argon2_memory_kib=8, argon2_time_cost=1)
    with TestClient(make_app(cheap)) as client:
        assert Api(client).post("/password/set", {"site": "shop", "user": "bob",
                                                  "password": GOOD}).status_code == 200
    with TestClient(make_app(make_settings(tmp_path, url, clock))) as client:
        api = Api(client)
        store = client.app.state.ownface_store  # type: ignore[attr-defined]
        with store.engine.connect() as conn:
            before = conn.execute(select(passwords_t.c.hash)).scalar_one()
        assert "m=8,t=1" in before
        assert api.post("/password/verify", {"site": "shop", "user": "bob",
                                             "password": GOOD}).status_code == 200
        with store.engine.connect() as conn:
            after = conn.execute(select(passwords_t.c.hash)).scalar_one()
        assert after.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_every_failure_does_one_argon2_verification(api: Api, clock: FakeClock) -> None:
    """Unknown account, wrong password and locked account all cost the same hash work."""
    store = api.client.app.state.ownface_store  # type: ignore[attr-defined]
    calls: list[bool] = []
    real = store.hasher.verify

    def counting(stored: str | None, password: str) -> bool:
        calls.append(stored is None)
        return bool(real(stored, password))

    store.hasher.verify = counting
    api.post("/password/set", {"site": "shop", "user": "bob", "password": GOOD})
    for user, pw in (("zed", GOOD), ("bob", "wrong wrong")):
        calls.clear()
        assert api.post("/password/verify", {"site": "shop", "user": user,
                                             "password": pw}).status_code == 401
        assert len(calls) == 1
    for _ in range(10):
        api.post("/password/verify", {"site": "shop", "user": "bob", "password": "nope nope"})
    calls.clear()
    assert api.post("/password/verify", {"site": "shop", "user": "bob",
                                         "password": GOOD}).status_code == 401
    assert calls == [False]

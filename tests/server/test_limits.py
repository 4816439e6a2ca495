"""Brute-force limits in the style of Keycloak's tests: the lock answers like a failure even
for the right face or password, attempts while locked do not extend it, success resets the
count, the lock expires as configured. The clock is injected."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine
from starlette.testclient import TestClient

from pyapp.protocol import FACE_ATTEMPT_LIMIT
from server import limits
from tests.server.conftest import (
    ALICE,
    MALLORY,
    Api,
    FakeClock,
    add_site,
    make_app,
    make_settings,
)

FAIL = {"v": 1, "error": "not_verified", "message": "Not verified."}
PASSWORD = "correct horse battery staple"


def _status(api: Api, key: str) -> tuple[int, float] | None:
    store = api.client.app.state.ownface_store  # type: ignore[attr-defined]
    with store.engine.connect() as conn:
        return limits.status(conn, key)


def test_face_locks_after_limit_and_right_face_then_fails(api: Api, clock: FakeClock) -> None:
    assert api.enrol("alice", ALICE).status_code == 200
    for _ in range(FACE_ATTEMPT_LIMIT):
        r = api.verify("alice", MALLORY)
        assert (r.status_code, r.json()) == (401, FAIL)
    locked = api.verify("alice", ALICE)  # the genuine face, during the lock
    assert (locked.status_code, locked.json()) == (401, FAIL)


def test_fifth_attempt_can_still_succeed(api: Api) -> None:
    assert api.enrol("alice", ALICE).status_code == 200
    for _ in range(FACE_ATTEMPT_LIMIT - 1):
        assert api.verify("alice", MALLORY).status_code == 401
    assert api.verify("alice", ALICE).status_code == 200


def test_face_success_resets_count(api: Api) -> None:
    assert api.enrol("alice", ALICE).status_code == 200
    for _ in range(FACE_ATTEMPT_LIMIT - 1):
        assert api.verify("alice", MALLORY).status_code == 401
    assert api.verify("alice", ALICE).status_code == 200
    assert _status(api, limits.face_key("shop", "alice")) == (0, 0.0)
    for _ in range(FACE_ATTEMPT_LIMIT - 1):
        assert api.verify("alice", MALLORY).status_code == 401
    assert api.verify("alice", ALICE).status_code == 200


def test_face_lock_not_extended_and_expires(api: Api, clock: FakeClock) -> None:
    assert api.enrol("alice", ALICE).status_code == 200
    for _ in range(FACE_ATTEMPT_LIMIT):
        assert api.verify("alice", MALLORY).status_code == 401
    status = _status(api, limits.face_key("shop", "alice"))
    assert status is not None
    until = status[1]
    assert until == pytest.approx(clock.now + limits.Policy().face_lock_seconds)
    clock.advance(600)
    for _ in range(3):  # attempts while locked
        assert api.verify("alice", ALICE).status_code == 401
    assert _status(api, limits.face_key("shop", "alice")) == (FACE_ATTEMPT_LIMIT, until)
    clock.advance(until - clock.now + 1)  # the lock runs out as configured
    assert api.verify("alice", ALICE).status_code == 200


def test_face_lock_leaves_password_working(api: Api) -> None:
    assert api.enrol("alice", ALICE).status_code == 200
    session = api.verify("alice", ALICE).json()["session"]
    r = api.post("/password/set", {"site": "shop", "user": "alice", "password": PASSWORD,
                                   "session": session})
    assert r.status_code == 200, r.text
    for _ in range(FACE_ATTEMPT_LIMIT + 2):
        assert api.verify("alice", MALLORY).status_code == 401
    r = api.post("/password/verify", {"site": "shop", "user": "alice", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["method"] == "pwd"


def _set_password(api: Api, user: str = "bob") -> None:
    r = api.post("/password/set", {"site": "shop", "user": user, "password": PASSWORD})
    assert r.status_code == 200, r.text


def _pw(api: Api, password: str, user: str = "bob") -> int:
    r = api.post("/password/verify", {"site": "shop", "user": user, "password": password})
    if r.status_code == 401:
        assert r.json() == FAIL
    return int(r.status_code)


def test_password_progressive_lock(api: Api, clock: FakeClock) -> None:
    _set_password(api)
    policy = limits.Policy()
    for _ in range(policy.password_free - 1):
        assert _pw(api, "wrong password!") == 401
    assert _pw(api, PASSWORD) == 200  # success resets
    for _ in range(policy.password_free):
        assert _pw(api, "wrong password!") == 401
    assert _pw(api, PASSWORD) == 401  # locked: the right password answers like a wrong one
    status = _status(api, limits.password_key("shop", "bob"))
    assert status is not None
    until = status[1]
    assert until == pytest.approx(clock.now + policy.password_base_delay)
    clock.advance(policy.password_base_delay / 2)
    assert _pw(api, "wrong password!") == 401  # does not extend the lock
    assert _status(api, limits.password_key("shop", "bob")) == (policy.password_free, until)
    clock.advance(policy.password_base_delay)
    assert _pw(api, "wrong password!") == 401  # 6th failure: twice the delay
    status = _status(api, limits.password_key("shop", "bob"))
    assert status is not None and status[1] == pytest.approx(
        clock.now + 2 * policy.password_base_delay)
    clock.advance(2 * policy.password_base_delay + 1)
    assert _pw(api, PASSWORD) == 200


def test_password_delay_is_capped() -> None:
    policy = limits.Policy()
    delays = [limits.password_delay(n, policy) for n in range(1, 40)]
    assert max(delays) == policy.password_max_delay
    assert delays == sorted(delays)


def test_unknown_user_password_same_answer(api: Api) -> None:
    _set_password(api)
    known = api.post("/password/verify", {"site": "shop", "user": "bob", "password": "nope nope"})
    unknown = api.post("/password/verify", {"site": "shop", "user": "zed",
                                            "password": "nope nope"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert known.headers.get("content-length") == unknown.headers.get("content-length")


def test_address_limit(tmp_path: Path, clock: FakeClock) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    add_site(url)
    settings = make_settings(tmp_path, url, clock, ip_limit=3, argon2_memory_kib=8,
                             argon2_time_cost=1)
    with TestClient(make_app(settings)) as client:
        api = Api(client)
        for user in ("u1", "u2", "u3"):
            assert _pw(api, "whatever1", user) == 401
        r = api.post("/password/verify", {"site": "shop", "user": "u4", "password": "x" * 9})
        assert r.status_code == 429 and r.json()["error"] == "rate_limited"
        clock.advance(limits.Policy().ip_window_seconds + 1)
        assert _pw(api, "whatever1", "u5") == 401


def test_counters_shared_across_app_instances(tmp_path: Path, clock: FakeClock) -> None:
    """Two app instances (as two workers) on one database share the face budget."""
    url = f"sqlite:///{tmp_path / 'o.db'}"
    add_site(url)
    with TestClient(make_app(make_settings(tmp_path, url, clock))) as c1, \
            TestClient(make_app(make_settings(tmp_path, url, clock))) as c2:
        a1, a2 = Api(c1), Api(c2)
        assert a1.enrol("alice", ALICE).status_code == 200
        for i in range(FACE_ATTEMPT_LIMIT):
            assert (a1 if i % 2 else a2).verify("alice", MALLORY).status_code == 401
        assert a1.verify("alice", ALICE).status_code == 401
        assert a2.verify("alice", ALICE).status_code == 401
    engine = create_engine(url)
    with engine.connect() as conn:
        assert limits.status(conn, limits.face_key("shop", "alice")) is not None
    engine.dispose()


def test_successes_give_address_attempts_back(tmp_path: Path, clock: FakeClock) -> None:
    """Honest users behind one address are not starved: enrol and verify successes return
    their evaluation to the address budget."""
    url = f"sqlite:///{tmp_path / 'o.db'}"
    add_site(url)
    with TestClient(make_app(make_settings(tmp_path, url, clock, ip_limit=4))) as client:
        api = Api(client)
        for i in range(6):
            assert api.enrol(f"user{i}", ALICE).status_code == 200
            assert api.verify(f"user{i}", ALICE).status_code == 200


def test_concurrent_evaluations_spend_the_budget_exactly_once(
        tmp_path: Path, database_url: str, clock: FakeClock) -> None:
    """16 evaluations racing in threads of two app instances (as two workers): exactly
    FACE_ATTEMPT_LIMIT get the real OPRF answer, none fails with a deadlock or a 5xx."""
    import threading

    from pyapp.protocol import ChallengeRequest, EvaluateRequest
    from server import api as api_module
    from tests.server.client import blind
    from tests.server.conftest import ORIGIN

    add_site(database_url)
    stores = [api_module.build(make_settings(tmp_path, database_url, clock)).store
              for _ in range(2)]
    challenges = [stores[0].challenge(ChallengeRequest(site="shop", user="alice",  # type: ignore[union-attr]
                                                       purpose="verify"), ORIGIN)
                  for _ in range(16)]
    _, blinded = blind(b"some face key")
    secret = stores[0].keys.oprf_secret("shop", "alice")  # type: ignore[union-attr]
    from server.oprf import blind_evaluate

    genuine = blind_evaluate(secret, blinded)
    answers: list[bytes] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        store = stores[i % 2]
        try:
            ev = store.evaluate(EvaluateRequest(  # type: ignore[union-attr]
                site="shop", user="alice", challenge_id=challenges[i].challenge_id,
                blinded=blinded), ORIGIN, f"10.0.0.{i}")
            answers.append(ev.evaluated)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(answers) == 16
    assert sum(a == genuine for a in answers) == FACE_ATTEMPT_LIMIT
    for store in stores:
        store.engine.dispose()  # type: ignore[union-attr]

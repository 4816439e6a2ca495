"""Attempt limits: a failure makes its own client wait, never the account's holder; a wait
answers like a failure even for the right face or password and is not extended by attempts
during it; success clears the client's count; many clients at once guard the account, which
its known clients still pass; and a stranger who knows a user id cannot keep its holder out,
not in 48 hours of trying. The clock is injected; clients are told apart through a trusted
proxy's X-Forwarded-For (``proxied``)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from pyapp.errors import Refused
from pyapp.protocol import (
    FACE_ATTEMPT_LIMIT,
    ChallengeRequest,
    EvaluateRequest,
    VerifyRequest,
    b64encode,
)
from server import api as api_module
from server import faces, limits
from server.tables import audit, consents, users
from tests.server.client import Face, blind
from tests.server.conftest import (
    ALICE,
    MALLORY,
    ORIGIN,
    Api,
    FakeClock,
    add_site,
    make_app,
    make_settings,
)

FAIL = {"v": 1, "error": "not_verified", "message": "Not verified."}
PASSWORD = "correct horse battery staple"
STRANGER, HOLDER, ELSEWHERE = "203.0.113.66", "198.51.100.7", "192.0.2.33"
POLICY = limits.Policy()


def _store(api: Api) -> Any:
    return api.client.app.state.ownface_store  # type: ignore[attr-defined]


def _client_status(api: Api, method: str, user: str, address: str) -> tuple[int, float] | None:
    store = _store(api)
    key = store.limit_keys(method, store.site("shop"), user, address).client
    with store.engine.connect() as conn:
        return limits.status(conn, key)


def _pw(api: Api, password: str, user: str = "alice") -> int:
    r = api.post("/password/verify", {"site": "shop", "user": user, "password": password})
    if r.status_code == 401:
        assert r.json() == FAIL
    return int(r.status_code)


def _alice(api: Api) -> None:
    """alice, enrolled with her face and a password from her usual address."""
    session = api.enrol("alice", ALICE).json()["session"]
    r = api.post("/password/set", {"site": "shop", "user": "alice", "password": PASSWORD,
                                   "session": session})
    assert r.status_code == 200, r.text


def test_face_failures_make_their_own_client_wait(proxied: Api, clock: FakeClock) -> None:
    _alice(proxied)
    stranger = proxied.at(STRANGER)
    for _ in range(FACE_ATTEMPT_LIMIT):
        r = stranger.verify("alice", MALLORY)
        assert (r.status_code, r.json()) == (401, FAIL)
    status = _client_status(proxied, "face", "alice", STRANGER)
    assert status is not None and status[1] == pytest.approx(clock.now + POLICY.base_delay)
    # that client waits: even the genuine face fails there, and trying does not extend it
    assert stranger.verify("alice", ALICE).status_code == 401
    assert _client_status(proxied, "face", "alice", STRANGER) == status
    # the holder, anywhere else, is not waiting at all
    assert proxied.verify("alice", ALICE).status_code == 200
    assert proxied.at(ELSEWHERE).verify("alice", ALICE).status_code == 200
    clock.advance(POLICY.base_delay + 1)  # the wait runs out as configured
    assert stranger.verify("alice", ALICE).status_code == 200
    assert _client_status(proxied, "face", "alice", STRANGER) == (0, 0.0)  # success clears


def test_waits_double_and_are_capped() -> None:
    waits = [limits.password_delay(n, POLICY) for n in range(1, 40)]
    assert waits[:POLICY.password_free - 1] == [0.0] * (POLICY.password_free - 1)
    assert waits[POLICY.password_free - 1:POLICY.password_free + 2] == [30.0, 60.0, 120.0]
    assert max(waits) == POLICY.max_delay and waits == sorted(waits)


def test_password_failures_make_their_own_client_wait(proxied: Api, clock: FakeClock) -> None:
    _alice(proxied)
    stranger = proxied.at(STRANGER)
    for _ in range(POLICY.password_free - 1):
        assert _pw(stranger, "wrong password!") == 401
    assert _pw(stranger, PASSWORD) == 200  # success resets
    for _ in range(POLICY.password_free):
        assert _pw(stranger, "wrong password!") == 401
    assert _pw(stranger, PASSWORD) == 401  # waiting: the right password answers like a wrong one
    status = _client_status(proxied, "pwd", "alice", STRANGER)
    assert status is not None and status[1] == pytest.approx(clock.now + POLICY.base_delay)
    clock.advance(POLICY.base_delay / 2)
    assert _pw(stranger, "wrong password!") == 401  # does not extend the wait
    assert _client_status(proxied, "pwd", "alice", STRANGER) == status
    assert _pw(proxied, PASSWORD) == 200  # the holder is not kept waiting
    clock.advance(POLICY.base_delay)
    assert _pw(stranger, "wrong password!") == 401  # the next failure: twice the wait
    status = _client_status(proxied, "pwd", "alice", STRANGER)
    assert status is not None and status[1] == pytest.approx(clock.now + 2 * POLICY.base_delay)
    clock.advance(2 * POLICY.base_delay + 1)
    assert _pw(stranger, PASSWORD) == 200


def test_unknown_user_password_same_answer(proxied: Api) -> None:
    _alice(proxied)
    known = proxied.post("/password/verify", {"site": "shop", "user": "alice",
                                              "password": "nope nope"})
    unknown = proxied.post("/password/verify", {"site": "shop", "user": "zed",
                                                "password": "nope nope"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert known.headers.get("content-length") == unknown.headers.get("content-length")


@pytest.mark.slow
def test_a_stranger_cannot_keep_the_holder_out_for_48_hours(proxied: Api,
                                                            clock: FakeClock) -> None:
    """The review's attack: every 5 minutes for 48 hours a stranger who knows alice's user id
    fails a face verification and a password on her account. alice signs in every hour, by
    face and by password, from her usual address and, every few hours, from a new one: every
    one of those sign-ins works. The stranger's failures counted stay within the bound."""
    _alice(proxied)
    stranger = proxied.at(STRANGER)
    ok = {"face": 0, "pwd": 0, "new address": 0}
    counted = 0
    steps = 48 * 12
    for step in range(steps + 1):
        before = _client_status(proxied, "face", "alice", STRANGER)
        assert stranger.verify("alice", MALLORY).status_code == 401
        assert _pw(stranger, "not her password") == 401
        after = _client_status(proxied, "face", "alice", STRANGER)
        counted += after is not None and (before is None or after[0] != before[0])
        if step % 12 == 0:
            ok["face"] += proxied.verify("alice", ALICE).status_code == 200
            ok["pwd"] += _pw(proxied, PASSWORD) == 200
            if step % 72 == 0:  # a phone on a new network
                ok["new address"] += proxied.at(f"192.0.2.{step // 72 + 100}").verify(
                    "alice", ALICE).status_code == 200
        clock.advance(300)
    assert ok == {"face": 49, "pwd": 49, "new address": 9}
    # a handful free, then one every max_delay at most: far below one per 5 minutes
    assert counted <= FACE_ATTEMPT_LIMIT + 6 + 48 * 3600 / POLICY.max_delay


def test_many_clients_guard_the_account_but_its_known_clients_pass(proxied: Api,
                                                                   clock: FakeClock) -> None:
    """Guessing from many addresses at once: past account_limit failures in a window the
    account is guarded. Clients that never signed in to it are refused (uncounted, like a
    wrong guess); the holder's usual client still signs in, by face and by password."""
    _alice(proxied)
    for i in range(POLICY.account_limit):
        assert proxied.at(f"203.0.113.{i + 1}").verify("alice", MALLORY).status_code == 401
    newcomer = proxied.at(ELSEWHERE)
    assert newcomer.verify("alice", ALICE).status_code == 401  # guarded: unknown clients wait
    assert proxied.verify("alice", ALICE).status_code == 200
    for i in range(POLICY.account_limit):
        assert _pw(proxied.at(f"203.0.114.{i + 1}"), "not her password") == 401
    assert _pw(newcomer, PASSWORD) == 401
    assert _pw(proxied, PASSWORD) == 200
    store = _store(proxied)
    with store.engine.connect() as conn:
        assert limits.status(conn, "face:shop:alice") == (
            POLICY.account_limit, pytest.approx(clock.now + POLICY.account_window))
    clock.advance(POLICY.account_window + 1)
    assert newcomer.verify("alice", ALICE).status_code == 200


def test_refused_enrolments_and_evaluations_count_for_nothing(proxied: Api) -> None:
    """A stranger's enrolments for alice's account (evaluated, then refused) and bare
    evaluations lock nobody out: only a verification tells a face guess right from wrong."""
    _alice(proxied)
    stranger = proxied.at(STRANGER)
    for _ in range(3 * FACE_ATTEMPT_LIMIT):
        ch = stranger.challenge("alice", "enrol").json()
        _, sig = MALLORY.answer(stranger.evaluator("alice", ch["challenge_id"]), "enrol",
                                "shop", "alice", ORIGIN, ch)
        r = stranger.post("/enrol", {"site": "shop", "user": "alice",
                                     "challenge_id": ch["challenge_id"],
                                     "consent_id": b64encode(bytes(16)),
                                     "public_key": b64encode(bytes(32)),
                                     "signature": b64encode(sig)})
        assert r.status_code in (400, 403), r.text
        ch = stranger.challenge("alice").json()
        stranger.evaluator("alice", ch["challenge_id"])(blind(b"a guess")[1])
    assert _client_status(proxied, "face", "alice", STRANGER) is None
    assert stranger.verify("alice", ALICE).status_code == 200


def test_an_evaluation_does_not_tell_whether_its_client_waits(proxied: Api) -> None:
    """The same blinded element gets the same answer twice while the client waits, and the
    same answer as from a client that does not: the OPRF never depends on the counters."""
    _alice(proxied)
    stranger = proxied.at(STRANGER)
    for _ in range(FACE_ATTEMPT_LIMIT):
        assert stranger.verify("alice", MALLORY).status_code == 401
    _, element = blind(b"a face guess")
    answers = []
    for api in (stranger, stranger, proxied.at(ELSEWHERE)):
        ch = api.challenge("alice").json()
        answers.append(api.evaluator("alice", ch["challenge_id"])(element))
    assert answers[0] == answers[1] == answers[2]


def test_address_limit(proxied: Api, clock: FakeClock, tmp_path: Path) -> None:
    store = _store(proxied)
    store.policy = limits.Policy(ip_limit=3)
    for user in ("u1", "u2", "u3"):
        assert _pw(proxied, "whatever1", user) == 401
    r = proxied.post("/password/verify", {"site": "shop", "user": "u4", "password": "x" * 9})
    assert r.status_code == 429 and r.json()["error"] == "rate_limited"
    assert r.headers["retry-after"]
    assert _pw(proxied.at(ELSEWHERE), "whatever1", "u4") == 401  # another client: its own
    clock.advance(POLICY.ip_window_seconds + 1)
    assert _pw(proxied, "whatever1", "u5") == 401


def test_write_floods_hit_the_address_limit(proxied: Api) -> None:
    """Consents, challenges and verifies that consume no challenge are unconfirmed writes of
    their client: past ip_limit it gets 429 and nothing more is stored (no user, no consent
    record, no audit row), while other clients go on."""
    store = _store(proxied)
    store.policy = limits.Policy(ip_limit=10)
    flood = proxied.at(STRANGER)
    codes = [flood.grant(f"user{i}").status_code for i in range(15)]
    assert codes == [200] * 10 + [429] * 5
    assert flood.challenge("alice").status_code == 429
    bogus = {"site": "shop", "user": "x", "challenge_id": b64encode(bytes(16)),
             "signature": b64encode(bytes(64))}
    assert flood.post("/verify", bogus).status_code == 429
    other = proxied.at(ELSEWHERE)
    for _ in range(10):  # a bogus verify fails like any other (and writes no audit row)
        assert other.post("/verify", bogus).status_code == 401
    assert other.post("/verify", bogus).status_code == 429
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(users)).scalar() == 10
        assert conn.execute(select(func.count()).select_from(consents)).scalar() == 10
        assert conn.execute(select(func.count()).select_from(audit)).scalar() == 10
    assert proxied.enrol("alice", ALICE).status_code == 200  # the holder's client is fine


def test_successes_give_address_attempts_back(proxied: Api) -> None:
    """Honest users behind one address are not starved: enrol and verify successes return
    their consent and challenge to the address budget."""
    _store(proxied).policy = limits.Policy(ip_limit=4)
    for i in range(6):
        assert proxied.enrol(f"user{i}", ALICE).status_code == 200
        assert proxied.verify(f"user{i}", ALICE).status_code == 200


def test_counters_shared_across_app_instances(tmp_path: Path, clock: FakeClock) -> None:
    """Two app instances (as two workers) on one database share the counters."""
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


def test_racing_failures_spend_the_budget_exactly_once(tmp_path: Path, database_url: str,
                                                       clock: FakeClock) -> None:
    """Failed verifications racing in threads of two app instances (as two workers): one
    client's are counted until it waits, exactly face_limit of them; those of many clients
    until the account is guarded, exactly account_limit. None deadlocks or fails with a 5xx."""
    add_site(database_url)
    stores = [api_module.build(make_settings(tmp_path, database_url, clock)).store
              for _ in range(2)]
    store = stores[0]
    assert store is not None
    site = store.site("shop")
    face = Face(b"some face key".ljust(32, b"."))

    def evaluated(user: str) -> bytes:
        """An evaluated challenge (answered below with a signature that cannot verify)."""
        ch = faces.challenge(store, ChallengeRequest("shop", user, "verify"), ORIGIN, None,
                             "10.9.0.1")
        faces.evaluate(store, EvaluateRequest("shop", user, ch.challenge_id,
                                              blind(face.secret)[1]), ORIGIN)
        return ch.challenge_id

    def race(user: str, addresses: list[str]) -> list[BaseException]:
        cids = [evaluated(user) for _ in addresses]
        errors: list[BaseException] = []

        def run(i: int) -> None:
            try:
                faces.verify(stores[i % 2], VerifyRequest("shop", user, cids[i], bytes(64)),  # type: ignore[arg-type]
                             ORIGIN, addresses[i])
            except Refused as exc:
                if exc.code != "not_verified":
                    errors.append(exc)
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(addresses))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        return errors

    assert race("alice", ["10.1.1.1"] * 16) == []
    key = store.limit_keys("face", site, "alice", "10.1.1.1").client
    with store.engine.connect() as conn:
        assert limits.status(conn, key)[0] == FACE_ATTEMPT_LIMIT  # type: ignore[index]
    assert race("bob", [f"10.2.0.{i}" for i in range(POLICY.account_limit + 12)]) == []
    with store.engine.connect() as conn:
        assert limits.status(conn, "face:shop:bob")[0] == POLICY.account_limit  # type: ignore[index]
    for s in stores:
        s.raw.dispose()  # type: ignore[union-attr]
        s.engine.dispose()  # type: ignore[union-attr]


def test_counters_that_mean_nothing_any_more_are_dropped(proxied: Api, clock: FakeClock) -> None:
    """Failures a day old, over windows and waits: their rows go (the table holds the clients
    that matter); a client that signed in within known_seconds stays known."""
    _alice(proxied)
    for address in (STRANGER, ELSEWHERE):
        assert proxied.at(address).verify("alice", MALLORY).status_code == 401
    store = _store(proxied)
    clock.advance(POLICY.forget_after + POLICY.account_window + 1)
    with store.engine.begin() as conn:
        limits.purge(conn, clock.now, store.policy)
    for address in (STRANGER, ELSEWHERE):
        assert _client_status(proxied, "face", "alice", address) is None
    assert _client_status(proxied, "face", "alice", HOLDER) == (0, 0.0)  # known: kept
    clock.advance(POLICY.known_seconds)
    with store.engine.begin() as conn:
        limits.purge(conn, clock.now, store.policy)
    assert _client_status(proxied, "face", "alice", HOLDER) is None

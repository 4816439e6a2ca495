"""The face flows end to end: consent -> challenge -> evaluate -> enrol / verify."""

from __future__ import annotations

from pyapp.protocol import CHALLENGE_TTL_SECONDS, b64encode
from server.assertions import verify_assertion
from tests.server.client import Face
from tests.server.conftest import ALICE, MALLORY, Api, FakeClock


def test_enrol_then_verify(api: Api) -> None:
    r = api.enrol("alice", ALICE)
    assert r.status_code == 200, r.text
    assert r.json()["storage_mode"] == "device"
    r = api.verify("alice", ALICE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["method"] == "face"
    jwks = api.get("/sites/shop/jwks.json").json()
    claims = verify_assertion(body["assertion"], jwks, "shop", "ownface", body["expires_at"] - 60)
    assert claims["sub"] == "alice" and claims["amr"] == ["face"] and claims["aud"] == "shop"


def test_wrong_face_fails(api: Api) -> None:
    assert api.enrol("alice", ALICE).status_code == 200
    r = api.verify("alice", MALLORY)
    assert r.status_code == 401
    assert r.json() == {"v": 1, "error": "not_verified", "message": "Not verified."}


def test_challenge_is_single_use(api: Api) -> None:
    assert api.enrol("alice", ALICE).status_code == 200
    ch = api.challenge("alice").json()
    _, sig = ALICE.answer(api.evaluator("alice", ch["challenge_id"]), "verify", "shop", "alice",
                          api.origin, ch)
    body = {"site": "shop", "user": "alice", "challenge_id": ch["challenge_id"],
            "signature": b64encode(sig)}
    assert api.post("/verify", body).status_code == 200
    replay = api.post("/verify", body)
    assert replay.status_code == 401 and replay.json()["error"] == "not_verified"
    again = api.post("/evaluate", {"site": "shop", "user": "alice",
                                   "challenge_id": ch["challenge_id"], "blinded": b64encode(
                                       bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6a"
                                                     "a582dd8db6a65945e08d2d76"))})
    assert again.status_code == 400 and again.json()["error"] == "challenge_invalid"


def test_expired_challenge_rejected(api: Api, clock: FakeClock) -> None:
    assert api.enrol("alice", ALICE).status_code == 200
    ch = api.challenge("alice").json()
    clock.advance(CHALLENGE_TTL_SECONDS + 1)
    r = api.post("/evaluate", {"site": "shop", "user": "alice", "challenge_id": ch["challenge_id"],
                               "blinded": b64encode(bytes.fromhex(
                                   "e2f2ae0a6abc4e71a884a961c500515f58e30b6a"
                                   "a582dd8db6a65945e08d2d76"))})
    assert r.status_code == 400 and r.json()["error"] == "challenge_invalid"


def test_unknown_user_fails_like_wrong_face(api: Api) -> None:
    r = api.verify("nobody", Face(b"x" * 32))
    assert r.status_code == 401
    assert r.json() == {"v": 1, "error": "not_verified", "message": "Not verified."}


def test_a_face_is_added_to_an_account_only_by_its_verified_holder(api: Api) -> None:
    # an account that has a password gets no face from whoever names it...
    password = "correct horse battery staple"
    assert api.post("/password/set", {"site": "shop", "user": "bob",
                                      "password": password}).status_code == 200
    r = api.enrol("bob", MALLORY)
    assert r.status_code == 401 and r.json()["error"] == "session_invalid"
    assert api.verify("bob", MALLORY).status_code == 401  # nothing was stored
    # ...but from its holder, after a password verification
    session = api.post("/password/verify", {"site": "shop", "user": "bob",
                                            "password": password}).json()["session"]
    assert api.enrol("bob", ALICE, session=session).status_code == 200
    assert api.verify("bob", ALICE).status_code == 200
    # a template is replaced only with a session too (the stranger's consent is refused)
    again = api.enrol("bob", MALLORY)
    assert again.status_code == 401 and again.json()["error"] == "session_invalid"
    consent_id = api.consent("bob", session=session)  # a holder's consent, a stranger's face
    again = api.enrol("bob", MALLORY, consent_id=consent_id)
    assert again.status_code == 409 and again.json()["error"] == "already_enrolled"
    session = api.verify("bob", ALICE).json()["session"]
    assert api.enrol("bob", MALLORY, session=session).status_code == 200
    assert api.verify("bob", MALLORY).status_code == 200
    assert api.verify("bob", ALICE).status_code == 401

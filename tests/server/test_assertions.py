"""Assertions: what the server signs, what a business backend (server/demo.py) accepts."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.testclient import TestClient

from pyapp.protocol import ASSERTION_TTL_SECONDS
from server import assertions
from server.demo import create_backend
from tests.server.conftest import ALICE, Api, FakeClock

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(32))
NOW = 1_800_000_000.0


def _jwks(*keys: Ed25519PrivateKey) -> dict[str, Any]:
    return assertions.jwks(list(keys))


def test_claims_and_checks() -> None:
    token, exp = assertions.issue(KEY, "https://id.example", "shop", "alice", "face", NOW)
    claims = assertions.verify_assertion(token, _jwks(KEY), "shop", "https://id.example", NOW)
    assert claims["sub"] == "alice" and claims["aud"] == "shop" and claims["amr"] == ["face"]
    assert claims["exp"] == exp == int(NOW) + ASSERTION_TTL_SECONDS and claims["jti"]
    bad = [
        (token, _jwks(OTHER), "shop", "https://id.example", NOW),  # other key
        (token, _jwks(KEY), "bank", "https://id.example", NOW),  # other audience
        (token, _jwks(KEY), "shop", "https://evil.example", NOW),  # other issuer
        (token, _jwks(KEY), "shop", "https://id.example", NOW + 3600),  # expired
        (token[:-4] + "AAAA", _jwks(KEY), "shop", "https://id.example", NOW),  # tampered
    ]
    for args in bad:
        with pytest.raises(assertions.AssertionInvalid):
            assertions.verify_assertion(*args)


def _signed(claims: dict[str, Any], key: Ed25519PrivateKey = KEY) -> str:
    from joserfc import jwt
    from joserfc.jwk import OKPKey

    header = {"alg": assertions.ALGORITHM, "kid": assertions.key_id(key), "typ": "JWT"}
    return jwt.encode(header, claims, OKPKey.import_key(key), algorithms=[assertions.ALGORITHM])


def test_only_the_lifetime_and_audience_the_server_issues_are_accepted() -> None:
    """A token valid for longer than the server ever issues, or for a list of audiences
    (even one naming the site), is refused, though its signature is good."""
    claims = {"iss": "https://id.example", "aud": "shop", "sub": "alice", "amr": ["face"],
              "iat": int(NOW), "exp": int(NOW) + ASSERTION_TTL_SECONDS, "jti": "j1"}
    assertions.verify_assertion(_signed(claims), _jwks(KEY), "shop", "https://id.example", NOW)
    too_long, _ = assertions.issue(KEY, "https://id.example", "shop", "alice", "face", NOW,
                                   ttl=ASSERTION_TTL_SECONDS * 100)
    bad = [too_long,
           _signed({**claims, "iat": int(NOW) + 3600, "exp": int(NOW) + 3600 + 60}),  # future
           _signed({**claims, "aud": ["shop"]}),
           _signed({**claims, "aud": ["shop", "bank"]})]
    for token in bad:
        with pytest.raises(assertions.AssertionInvalid):
            assertions.verify_assertion(token, _jwks(KEY), "shop", "https://id.example", NOW)


def test_session_tokens() -> None:
    key = b"k" * 32
    token = assertions.mint_session(key, "shop", "alice", "pwd", NOW)
    assert assertions.check_session(key, token, "shop", "alice", NOW + 1).method == "pwd"
    for site, user, now in (("shop", "bob", NOW), ("bank", "alice", NOW),
                            ("shop", "alice", NOW + 10_000)):
        with pytest.raises(assertions.AssertionInvalid):
            assertions.check_session(key, token, site, user, now)


def test_business_backend_accepts_once(api: Api, clock: FakeClock) -> None:
    assert api.enrol("alice", ALICE).status_code == 200
    verified = api.verify("alice", ALICE).json()
    backend = create_backend("shop", "ownface", lambda: api.get("/sites/shop/jwks.json").json(),
                             clock)
    with TestClient(backend) as biz:
        r = biz.post("/login", json={"assertion": verified["assertion"]})
        assert r.status_code == 200 and r.json()["user"] == "alice"
        assert r.json()["method"] == "face"
        assert biz.post("/login", json={"assertion": verified["assertion"]}).status_code == 401
        assert biz.post("/login", json={"assertion": 5}).status_code == 400
        fresh = api.verify("alice", ALICE).json()["assertion"]
        clock.advance(ASSERTION_TTL_SECONDS + 60)
        assert biz.post("/login", json={"assertion": fresh}).status_code == 401


def test_rotated_key_still_verifies_old_assertions(server: tuple[Api, str]) -> None:
    api, _ = server
    assert api.enrol("alice", ALICE).status_code == 200
    old = api.verify("alice", ALICE).json()["assertion"]
    store = api.client.app.state.ownface_store  # type: ignore[attr-defined]
    from server import sites

    sites.rotate_key(store.engine, "shop")
    store.forget_sites()
    jwks = api.get("/sites/shop/jwks.json").json()
    assert len(jwks["keys"]) == 2
    new = api.verify("alice", ALICE).json()["assertion"]
    for token in (old, new):
        assertions.verify_assertion(token, jwks, "shop", "ownface", store.clock())

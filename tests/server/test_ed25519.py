"""Enrolment refuses public keys for which a universal signature verifies: the identity, the
other small-order points and their non-canonical encodings. With such a key a 'face login'
needs no face: the signature (R = identity, s = 0) verifies for every message."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from pyapp.protocol import b64encode
from server import ed25519
from tests.server.conftest import ALICE, ORIGIN, Api

# The eight points of order dividing 8 (RFC 8032 encodings), and non-canonical encodings
# of small-order points (y >= p, or x = 0 with the sign bit set).
SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",  # identity (order 1)
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
    "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
    "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
]
NON_CANONICAL = [
    "0100000000000000000000000000000000000000000000000000000000000080",  # -0 identity
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p (= 0)
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p + 1 (= 1)
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",  # order 2, sign set
]
UNIVERSAL = bytes.fromhex(SMALL_ORDER[0]) + bytes(32)  # R = identity, s = 0


def test_the_universal_signature_verifies_for_the_identity_key() -> None:
    """Why it matters: the library verifying signatures accepts this key and signature."""
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(SMALL_ORDER[0]))
    for message in (b"any message", b"another one"):
        key.verify(UNIVERSAL, message)  # raises if it does not verify


@pytest.mark.parametrize("hex_key", SMALL_ORDER + NON_CANONICAL)
def test_weak_keys_are_not_strong(hex_key: str) -> None:
    assert not ed25519.strong(bytes.fromhex(hex_key))


def test_real_keys_are_strong() -> None:
    from tests.server.client import public_bytes, signing_key

    for i in range(20):
        assert ed25519.strong(public_bytes(signing_key(bytes([i]) * 64)))


@pytest.mark.parametrize("hex_key", SMALL_ORDER + NON_CANONICAL)
def test_enrolment_refuses_weak_keys(api: Api, hex_key: str) -> None:
    consent_id = api.consent("mallory")
    ch = api.challenge("mallory", "enrol").json()
    ALICE.answer(api.evaluator("mallory", ch["challenge_id"]), "enrol", "shop", "mallory",
                 ORIGIN, ch)
    r = api.post("/enrol", {"site": "shop", "user": "mallory",
                            "challenge_id": ch["challenge_id"], "consent_id": consent_id,
                            "public_key": b64encode(bytes.fromhex(hex_key)),
                            "signature": b64encode(UNIVERSAL)})
    assert r.status_code == 400 and r.json()["error"] == "invalid_key"
    assert r.json()["field"] == "public_key"
    # nothing was stored: the universal signature logs in nobody
    ch = api.challenge("mallory").json()
    ALICE.answer(api.evaluator("mallory", ch["challenge_id"]), "verify", "shop", "mallory",
                 ORIGIN, ch)
    r = api.post("/verify", {"site": "shop", "user": "mallory",
                             "challenge_id": ch["challenge_id"],
                             "signature": b64encode(UNIVERSAL)})
    assert r.status_code == 401

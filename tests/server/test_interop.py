"""The real client code (pyapp.template.oprf: pure-Python ristretto255; pyapp.template.keys:
the ecdsa package) against the server (libsodium through pysodium; cryptography): same RFC
9497 answers, and a template enrolled with the client's keys verifies on the server."""

from __future__ import annotations

import os

import pytest

from pyapp.protocol import b64decode, b64encode, signed_message
from server import oprf as server_oprf
from tests.server.conftest import ORIGIN, Api

client_oprf = pytest.importorskip("pyapp.template.oprf")
client_keys = pytest.importorskip("pyapp.template.keys")


def test_both_sides_derive_the_same_keys_and_evaluations() -> None:
    for _ in range(5):
        seed, info, data = os.urandom(32), os.urandom(20), os.urandom(33)
        s_secret, s_public = server_oprf.derive_key_pair(seed, info)
        c_secret, c_public = client_oprf.derive_key_pair(seed, info)
        assert s_secret == client_oprf.secret_key_bytes(c_secret) and s_public == c_public
        state = client_oprf.blind(data)
        evaluated = server_oprf.blind_evaluate(s_secret, state.element)
        assert evaluated == client_oprf.blind_evaluate(c_secret, state.element)
        assert client_oprf.finalize(data, state, evaluated) == client_oprf.evaluate(c_secret, data)


def _run(api: Api, user: str, secret: bytes, purpose: str) -> tuple[object, dict[str, str]]:
    ch = api.challenge(user, purpose).json()
    state = client_oprf.blind(secret)
    r = api.post("/evaluate", {"site": api.site, "user": user,
                               "challenge_id": ch["challenge_id"],
                               "blinded": b64encode(state.element)})
    assert r.status_code == 200, r.text
    output = client_oprf.finalize(secret, state, b64decode(r.json()["evaluated"], "e", 32))
    return client_keys.derive_keys(output, api.site, user), ch


def test_client_keys_enrol_and_verify(api: Api) -> None:
    secret = b"the key a face opened" + bytes(11)
    consent_id = api.consent("carol")
    pair, ch = _run(api, "carol", secret, "enrol")
    message = signed_message("enrol", api.site, "carol", ORIGIN,
                             b64decode(ch["challenge_id"], "c"), b64decode(ch["nonce"], "n"))
    r = api.post("/enrol", {"site": api.site, "user": "carol",
                            "challenge_id": ch["challenge_id"], "consent_id": consent_id,
                            "public_key": b64encode(pair.public_key),  # type: ignore[attr-defined]
                            "signature": b64encode(pair.sign(message))})  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    for candidate, expected in ((secret, 200), (b"another face's key" + bytes(14), 401)):
        pair, ch = _run(api, "carol", candidate, "verify")
        message = signed_message("verify", api.site, "carol", ORIGIN,
                                 b64decode(ch["challenge_id"], "c"), b64decode(ch["nonce"], "n"))
        r = api.post("/verify", {"site": api.site, "user": "carol",
                                 "challenge_id": ch["challenge_id"],
                                 "signature": b64encode(pair.sign(message))})  # type: ignore[attr-defined]
        assert r.status_code == expected, r.text

"""Enrolment end to end against the in-process stand-in server, and its known-answer vector."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pyapp import protocol
from pyapp.enrol import OPRF_INPUT_LABEL, enrol
from pyapp.errors import InputError, Refused
from pyapp.template import commitment, oprf
from pyapp.template.binarise import binarise, scheme_from_params
from pyapp.template.blob import Template
from pyapp.template.keys import derive_keys
from tests.pyapp.template.test_binarise import synthetic_people, synthetic_scheme

from .standin import StandInServer

KAT_PATH = Path(__file__).parent / "vectors" / "enrol_kat.json"
ORIGIN = "https://shop.example"
CONSENT = bytes(range(16))


class Stream:
    """A deterministic 'random' source: SHA-256 in counter mode over a label."""

    def __init__(self, label: bytes) -> None:
        self.label, self.counter, self.used = label, 0, 0

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self.label + self.counter.to_bytes(8, "big")).digest()
            self.counter += 1
        self.used += n
        return out[:n]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_device_mode_keeps_the_helper_on_the_device() -> None:
    server = StandInServer(ORIGIN)
    faces, _ = synthetic_people(1, 2, seed=21)
    result = run(enrol(faces[0], scheme=synthetic_scheme(), site="shop", user="alice",
                       origin=ORIGIN, consent_id=CONSENT, api=server))
    account = server.accounts[("shop", "alice")]
    assert account.helper is None and account.public_key == result.public_key
    assert result.enrolled.storage_mode == "device"
    template = Template.decode(result.template, synthetic_scheme().scheme_id)
    assert template.helper.length == synthetic_scheme().code.length
    assert len(server.evaluations) == 1 and len(server.challenges) == 0
    assert "alice" not in repr(result) and len(repr(result)) < 60


def test_portable_mode_sends_the_same_blob() -> None:
    server = StandInServer(ORIGIN, mode="portable")
    faces, _ = synthetic_people(1, 1, seed=22)
    result = run(enrol(faces[0], scheme=synthetic_scheme(), site="hotel", user="bob",
                       origin=ORIGIN, consent_id=CONSENT, api=server, mode="portable"))
    assert server.accounts[("hotel", "bob")].helper == result.template


def test_a_signature_for_another_origin_is_refused() -> None:
    server = StandInServer("https://other.example")
    faces, _ = synthetic_people(1, 1, seed=23)
    with pytest.raises(Refused):
        run(enrol(faces[0], scheme=synthetic_scheme(), site="shop", user="alice",
                  origin=ORIGIN, consent_id=CONSENT, api=server))
    assert server.accounts == {}


def test_bad_mode_is_refused_before_anything_is_sent() -> None:
    server = StandInServer(ORIGIN)
    with pytest.raises(InputError):
        run(enrol(np.ones(32), scheme=synthetic_scheme(), site="shop", user="alice",
                  origin=ORIGIN, consent_id=CONSENT, api=server, mode="cloud"))
    assert server.challenges == {}


def test_two_enrolments_of_one_face_share_nothing_visible() -> None:
    scheme = synthetic_scheme()
    faces, _ = synthetic_people(1, 1, seed=24)
    server = StandInServer(ORIGIN)
    first = run(enrol(faces[0], scheme=scheme, site="shop", user="alice", origin=ORIGIN,
                      consent_id=CONSENT, api=server))
    second = run(enrol(faces[0], scheme=scheme, site="shop", user="alice", origin=ORIGIN,
                       consent_id=CONSENT, api=server))
    a, b = (Template.decode(r.template, scheme.scheme_id) for r in (first, second))
    assert a.seed != b.seed and first.public_key != second.public_key
    assert server.evaluations[0] != server.evaluations[1]
    distance = int((a.helper.bits != b.helper.bits).sum())
    assert 0.4 < distance / scheme.code.length < 0.6  # like two unrelated random strings


def test_stolen_database_and_genuine_face_cannot_check_a_guess_without_the_oprf_key() -> None:
    """The dump (public key, and in portable mode the helper) plus the genuine face give the
    attacker the secret, yet every offline derivation misses the stored public key."""
    scheme = synthetic_scheme()
    server = StandInServer(ORIGIN, mode="portable")
    faces, _ = synthetic_people(1, 2, seed=25)
    run(enrol(faces[0], scheme=scheme, site="shop", user="alice", origin=ORIGIN,
              consent_id=CONSENT, api=server, mode="portable"))
    dump = server.accounts[("shop", "alice")]
    assert dump.helper is not None
    template = Template.decode(dump.helper, scheme.scheme_id)
    secret = commitment.open(template.helper, binarise(faces[1], scheme, template.seed))
    data = OPRF_INPUT_LABEL + secret
    guesses = [hashlib.sha512(data).digest()]  # no OPRF at all
    for guess_seed in (bytes(32), b"\x01" * 32, hashlib.sha256(b"guess").digest()):
        key, _ = oprf.derive_key_pair(guess_seed, b"shop\x00alice")
        guesses.append(oprf.evaluate(key, data))
    for output in guesses:
        assert derive_keys(output, "shop", "alice").public_key != dump.public_key
    # ... while the server's key (which the dump does not hold) reproduces it:
    real = oprf.evaluate(server.oprf_key("shop", "alice"), data)
    assert derive_keys(real, "shop", "alice").public_key == dump.public_key


def make_kat() -> dict[str, Any]:
    """The whole enrol derivation under injected randomness (regenerate: see __main__)."""
    scheme = synthetic_scheme()
    faces, _ = synthetic_people(1, 1, seed=26)
    server = StandInServer(ORIGIN, random=Stream(b"server"), oprf_seed=bytes(range(32)))
    client = Stream(b"client")
    result = run(enrol(faces[0], scheme=scheme, site="shop", user="alice", origin=ORIGIN,
                       consent_id=CONSENT, api=server, random=client))
    challenge_id = next(iter(server.challenges), None)
    assert challenge_id is None  # consumed
    return {
        "comment": "enrol(embedding) with client randomness SHA-256(b'client' || counter_be64) "
                   "and stand-in server randomness SHA-256(b'server' || counter_be64), server "
                   "OPRF key DeriveKeyPair(seed, site NUL user), origin, site, user as given",
        "scheme": scheme.params, "embedding": [float(v) for v in faces[0]],
        "site": "shop", "user": "alice", "origin": ORIGIN, "consent_id": CONSENT.hex(),
        "server_oprf_seed": bytes(range(32)).hex(),
        "blinded": server.evaluations[0].hex(),
        "template": result.template.hex(), "public_key": result.public_key.hex(),
    }


def test_enrol_known_answer_vector() -> None:
    kat = json.loads(KAT_PATH.read_text())
    scheme = scheme_from_params(kat["scheme"])
    server = StandInServer(kat["origin"], random=Stream(b"server"),
                           oprf_seed=bytes.fromhex(kat["server_oprf_seed"]))
    result = run(enrol(np.array(kat["embedding"]), scheme=scheme, site=kat["site"],
                       user=kat["user"], origin=kat["origin"],
                       consent_id=bytes.fromhex(kat["consent_id"]), api=server,
                       random=Stream(b"client")))
    assert server.evaluations[0].hex() == kat["blinded"]
    assert result.template.hex() == kat["template"]
    assert result.public_key.hex() == kat["public_key"]
    assert protocol.PUBLIC_KEY_BYTES == len(result.public_key)


if __name__ == "__main__":  # python -m tests.pyapp.test_enrol: rewrite the vector
    KAT_PATH.write_text(json.dumps(make_kat(), indent=1) + "\n")

"""RFC 9497 OPRF(ristretto255, SHA-512), mode 0x00: every OPRF-mode vector of the RFC."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pyapp.errors import CryptoError, InputError
from pyapp.template import oprf
from pyapp.template.ristretto import GENERATOR, ORDER, Element, decode_scalar

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "rfc9497_oprf_ristretto255_sha512.json").read_text())


def test_context_string_and_dsts() -> None:
    assert oprf.CONTEXT == b"OPRFV1-\x00-ristretto255-SHA512"
    assert oprf.HASH_TO_GROUP_DST.hex() == (
        "48617368546f47726f75702d4f50524656312d002d72697374726574746f3235352d534841353132")


@pytest.mark.parametrize("vector", VECTORS["expand_message_xmd_sha512"]["vectors"],
                         ids=lambda v: v["msg"])
def test_expand_message_xmd(vector: dict[str, Any]) -> None:
    dst = VECTORS["expand_message_xmd_sha512"]["DST"].encode()
    out = oprf.expand_message_xmd(vector["msg"].encode(), dst, vector["len_in_bytes"])
    assert out.hex() == vector["uniform_bytes"]


def test_derive_key_pair() -> None:
    secret, public = oprf.derive_key_pair(bytes.fromhex(VECTORS["Seed"]),
                                          bytes.fromhex(VECTORS["KeyInfo"]))
    assert oprf.secret_key_bytes(secret).hex() == VECTORS["skSm"]
    assert public == (GENERATOR * secret).encode()


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_blind_evaluate_finalize(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["Input"])
    r = decode_scalar(bytes.fromhex(vector["Blind"]))
    state = oprf.blind(data, scalar=r)
    assert state.element.hex() == vector["BlindedElement"]
    secret = decode_scalar(bytes.fromhex(VECTORS["skSm"]))
    evaluated = oprf.blind_evaluate(secret, state.element)
    assert evaluated.hex() == vector["EvaluationElement"]
    output = oprf.finalize(data, state, evaluated)
    assert output.hex() == vector["Output"]
    assert oprf.evaluate(secret, data) == output


def test_random_blinds_give_the_same_output_and_unlinkable_requests() -> None:
    secret, _ = oprf.derive_key_pair(bytes(32), b"k")
    a = oprf.blind(b"same face secret")
    b = oprf.blind(b"same face secret")
    assert a.element != b.element  # the server cannot link two evaluations of one input
    out_a = oprf.finalize(b"same face secret", a, oprf.blind_evaluate(secret, a.element))
    out_b = oprf.finalize(b"same face secret", b, oprf.blind_evaluate(secret, b.element))
    assert out_a == out_b
    other_key, _ = oprf.derive_key_pair(bytes(32), b"other")
    assert oprf.finalize(b"same face secret", a,
                         oprf.blind_evaluate(other_key, a.element)) != out_a


def test_injected_randomness_is_used_and_checked() -> None:
    state = oprf.blind(b"x", random=lambda n: bytes([7]) * n)
    assert state.blind == int.from_bytes(bytes([7]) * 64, "little") % ORDER
    with pytest.raises(InputError):
        oprf.blind(b"x", random=lambda n: bytes(n - 1))


def test_bad_elements_are_rejected() -> None:
    state = oprf.blind(b"x")
    with pytest.raises(CryptoError):
        oprf.finalize(b"x", state, bytes(32))  # the identity
    with pytest.raises(CryptoError):
        oprf.finalize(b"x", state, bytes.fromhex("01" + "00" * 31))  # invalid encoding
    with pytest.raises(CryptoError):
        oprf.blind_evaluate(5, bytes(32))
    assert Element.decode(state.element) is not None
    assert "blind" not in repr(state).replace("<secret blind>", "")

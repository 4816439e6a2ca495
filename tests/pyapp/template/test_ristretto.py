"""ristretto255 (RFC 9496): every test vector of the RFC's ristretto255 appendix."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyapp.errors import CryptoError
from pyapp.template import ristretto
from pyapp.template.ristretto import GENERATOR, ORDER, Element, P, decode_scalar, encode_scalar

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "rfc9496_ristretto255.json").read_text())
MULTIPLES: list[str] = VECTORS["multiples_of_generator"]["encodings"]
INVALID: list[str] = [h for key, group in VECTORS["invalid_encodings"].items()
                      if key != "comment" for h in group]


def test_constants_satisfy_their_definitions() -> None:
    assert ristretto.SQRT_M1 ** 2 % P == P - 1
    assert (ristretto.D * 121666 + 121665) % P == 0
    assert ristretto.SQRT_AD_MINUS_ONE ** 2 % P == (-ristretto.D - 1) % P
    assert ristretto.INVSQRT_A_MINUS_D ** 2 * (-1 - ristretto.D) % P == 1
    assert ristretto.ONE_MINUS_D_SQ == (1 - ristretto.D ** 2) % P
    assert ristretto.D_MINUS_ONE_SQ == (ristretto.D - 1) ** 2 % P
    assert (GENERATOR * ORDER).is_identity()


@pytest.mark.parametrize("k", range(16))
def test_multiples_of_the_generator(k: int) -> None:
    by_addition = Element.identity()
    for _ in range(k):
        by_addition = by_addition + GENERATOR
    assert by_addition.encode().hex() == MULTIPLES[k]
    assert (GENERATOR * k).encode().hex() == MULTIPLES[k]
    decoded = Element.decode(bytes.fromhex(MULTIPLES[k]))
    assert decoded == by_addition
    assert decoded.encode().hex() == MULTIPLES[k]


def test_doubling_agrees_with_addition() -> None:
    for k in range(1, 8):
        point = GENERATOR * k
        assert point.double() == point + point
        assert (point - point).is_identity()


@pytest.mark.parametrize("hex_encoding", INVALID)
def test_invalid_encodings_are_rejected(hex_encoding: str) -> None:
    with pytest.raises(CryptoError):
        Element.decode(bytes.fromhex(hex_encoding))


def test_all_29_invalid_encodings_are_present() -> None:
    assert len(INVALID) == 29


def test_non_canonical_aliases_of_valid_encodings_are_rejected() -> None:
    for hex_encoding in MULTIPLES[1:]:
        s = int.from_bytes(bytes.fromhex(hex_encoding), "little")
        alias = (s + P).to_bytes(32, "little") if s + P < 2**256 else None
        if alias is not None:
            with pytest.raises(CryptoError):
                Element.decode(alias)
    with pytest.raises(CryptoError):
        Element.decode(bytes(31))


@pytest.mark.parametrize("vector", VECTORS["element_derivation"]["vectors"],
                         ids=lambda v: v["I"][:12])
def test_element_derivation(vector: dict[str, Any]) -> None:
    uniform = bytes.fromhex(vector["I"])
    if vector["label"] is not None:
        assert hashlib.sha512(vector["label"].encode()).digest() == uniform
    assert Element.from_uniform_bytes(uniform).encode().hex() == vector["O"]


@pytest.mark.parametrize("vector", VECTORS["sqrt_ratio_m1"]["vectors"], ids=str)
def test_sqrt_ratio_m1(vector: dict[str, Any]) -> None:
    u = int.from_bytes(bytes.fromhex(vector["u"]), "little")
    v = int.from_bytes(bytes.fromhex(vector["v"]), "little")
    was_square, r = ristretto.sqrt_ratio_m1(u, v)
    assert was_square is vector["was_square"]
    assert r == int.from_bytes(bytes.fromhex(vector["r"]), "little")


@settings(max_examples=25, deadline=None)
@given(st.integers(1, ORDER - 1), st.integers(1, ORDER - 1))
def test_scalar_multiplication_is_a_homomorphism(a: int, b: int) -> None:
    assert GENERATOR * a + GENERATOR * b == GENERATOR * ((a + b) % ORDER)
    assert (GENERATOR * a) * b == GENERATOR * (a * b % ORDER)
    encoded = (GENERATOR * a).encode()
    assert Element.decode(encoded).encode() == encoded


def test_scalars_are_canonical() -> None:
    assert decode_scalar(encode_scalar(ORDER - 1)) == ORDER - 1
    with pytest.raises(CryptoError):
        decode_scalar(ORDER.to_bytes(32, "little"))
    with pytest.raises(CryptoError):
        decode_scalar(bytes(31))


def test_repr_shows_no_coordinates() -> None:
    assert repr(GENERATOR * 5) == "Element(<ristretto255>)"

"""GF(2^m) tables against an independent carry-less-multiplication reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyapp.errors import InputError
from pyapp.template.gf import PRIMITIVE_POLYNOMIALS, cyclotomic_coset, field


def slow_mul(a: int, b: int, m: int) -> int:
    """Shift-and-add multiplication reduced by the primitive polynomial (no tables)."""
    poly, out = PRIMITIVE_POLYNOMIALS[m], 0
    while b:
        if b & 1:
            out ^= a
        b >>= 1
        a <<= 1
        if a >> m:
            a ^= poly
    return out


@pytest.mark.parametrize("m", sorted(PRIMITIVE_POLYNOMIALS))
def test_alpha_generates_the_whole_multiplicative_group(m: int) -> None:
    gf = field(m)
    powers = gf.exp[: gf.order]
    assert sorted(powers.tolist()) == list(range(1, gf.size))
    assert gf.alpha_pow(gf.order) == 1
    assert gf.alpha_pow(-1) == gf.inv(2)


@pytest.mark.parametrize("m", [3, 4, 5, 8, 11])
def test_table_multiplication_matches_shift_and_add_for_all_or_many_pairs(m: int) -> None:
    gf = field(m)
    rng = np.random.default_rng(m)
    a = rng.integers(0, gf.size, 3000) if m > 5 else np.repeat(np.arange(gf.size), gf.size)
    b = rng.integers(0, gf.size, 3000) if m > 5 else np.tile(np.arange(gf.size), gf.size)
    got = gf.mul_arrays(a, b)
    want = [slow_mul(int(x), int(y), m) for x, y in zip(a, b, strict=True)]
    assert got.tolist() == want


@given(st.integers(3, 11).flatmap(lambda m: st.tuples(st.just(m), st.integers(1, (1 << m) - 1))))
def test_inverse_and_division(pair: tuple[int, int]) -> None:
    m, a = pair
    gf = field(m)
    assert gf.mul(a, gf.inv(a)) == 1
    assert gf.div(gf.mul(a, 7 % gf.size or 1), a) == (7 % gf.size or 1)


def test_zero_has_no_inverse_and_unsupported_fields_are_refused() -> None:
    with pytest.raises(ZeroDivisionError):
        field(4).inv(0)
    with pytest.raises(InputError):
        field(12)
    with pytest.raises(InputError):
        field(2)


def test_minimal_polynomials_vanish_on_their_root() -> None:
    gf = field(6)
    for e in (1, 3, 5, 7, 9, 21, 27):
        poly = gf.minimal_polynomial(e)
        root = gf.alpha_pow(e)
        value, power = 0, 1
        for coefficient in poly.tolist():
            if coefficient:
                value ^= power
            power = slow_mul(power, root, 6)
        assert value == 0
        assert len(poly) - 1 == len(cyclotomic_coset(e, gf.order))

"""BCH codes: dimensions, encoding and decoding, against independent slow references."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyapp.errors import DecodeError, InputError
from pyapp.template.ecc import BCH, bch, code_table, dimension

from .test_gf import slow_mul


# --- an independent reference: polynomials over GF(2) as Python ints -----------------------
def poly_mod(a: int, g: int) -> int:
    dg = g.bit_length() - 1
    while a and a.bit_length() - 1 >= dg:
        a ^= g << (a.bit_length() - 1 - dg)
    return a


def slow_pow(a: int, e: int, m: int) -> int:
    out = 1
    while e:
        if e & 1:
            out = slow_mul(out, a, m)
        a = slow_mul(a, a, m)
        e >>= 1
    return out


def slow_generator(m: int, t: int) -> int:
    """prod (x - alpha^i) over the distinct conjugates of alpha^1..alpha^2t, as an int."""
    n = (1 << m) - 1
    roots = sorted({(i << s) % n for i in range(1, 2 * t + 1) for s in range(m)})
    coefficients = [1]  # over GF(2^m), lowest degree first
    for e in roots:
        root = slow_pow(2, e, m)
        shifted = [0, *coefficients]
        for j, c in enumerate(coefficients):
            shifted[j] ^= slow_mul(c, root, m)
        coefficients = shifted
    assert all(c in (0, 1) for c in coefficients)
    return sum(c << j for j, c in enumerate(coefficients))


def bits_of(value: int, size: int) -> np.ndarray:
    return np.array([(value >> i) & 1 for i in range(size)], dtype=np.uint8)


def int_of(bits: np.ndarray) -> int:
    return sum(int(b) << i for i, b in enumerate(bits.tolist()))


def slow_encode(message: np.ndarray, code: BCH) -> np.ndarray:
    r = code.parity_bits
    shifted = int_of(message) << r
    return bits_of(shifted ^ poly_mod(shifted, slow_generator(code.m, code.t)), code.length)


# --- dimensions --------------------------------------------------------------------------------
TEXTBOOK = {  # (n, k, t) rows of Lin & Costello, Table 6.1
    (15, 11, 1), (15, 7, 2), (15, 5, 3), (31, 26, 1), (31, 21, 2), (31, 16, 3), (31, 11, 5),
    (31, 6, 7), (63, 57, 1), (63, 51, 2), (63, 45, 3), (63, 39, 4), (63, 36, 5), (63, 30, 6),
    (63, 24, 7), (63, 18, 10), (63, 16, 11), (63, 10, 13), (63, 7, 15), (127, 120, 1),
    (127, 113, 2), (127, 106, 3), (127, 64, 10), (127, 8, 31), (255, 247, 1), (255, 239, 2),
    (255, 131, 18), (255, 9, 63),
}
NOTES = {  # the budget table of shared/notes/template-protection.md
    (511, 10, 127), (511, 28, 111), (511, 40, 95), (511, 76, 85), (511, 259, 30),
    (1023, 36, 223), (1023, 56, 191), (1023, 123, 170), (1023, 258, 106),
}


@pytest.mark.parametrize(("n", "k", "t"), sorted(TEXTBOOK | NOTES))
def test_dimension_matches_published_tables(n: int, k: int, t: int) -> None:
    m = n.bit_length()
    assert dimension(m, t) == k


def test_code_table_lists_each_dimension_once_with_its_largest_t() -> None:
    rows = code_table(4)
    assert rows == [(15, 11, 1), (15, 7, 2), (15, 5, 3), (15, 1, 7)]


@pytest.mark.parametrize(("m", "t"), [(4, 2), (5, 3), (6, 5), (7, 9), (8, 12), (9, 20)])
def test_generator_matches_the_product_of_linear_factors(m: int, t: int) -> None:
    code = BCH(m, t)
    g = slow_generator(m, t)
    assert int_of(code.generator.astype(np.uint8)) == g
    assert poly_mod((1 << code.n) | 1, g) == 0  # g divides x^n - 1: the code is cyclic
    assert code.full_k == dimension(m, t)


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(InputError):
        BCH(4, 0)
    with pytest.raises(InputError):
        BCH(4, 8)
    with pytest.raises(InputError):
        BCH(5, 3, length=15)  # 15 parity bits leave no message bit
    with pytest.raises(InputError):
        BCH(5, 3, length=32)
    with pytest.raises(InputError):
        BCH(4, 2).encode(np.zeros(6, dtype=np.uint8))
    with pytest.raises(InputError):
        BCH(4, 2).decode(np.full(15, 2, dtype=np.uint8))


# --- encoding ------------------------------------------------------------------------------
@pytest.mark.parametrize(("m", "t", "length"), [(4, 2, None), (6, 5, None), (8, 12, 200),
                                                  (10, 50, None), (11, 40, 1900)])
def test_systematic_encoding_matches_polynomial_division(m: int, t: int,
                                                         length: int | None) -> None:
    code = bch(m, t, length)
    rng = np.random.default_rng(m * 100 + t)
    for _ in range(5):
        message = rng.integers(0, 2, code.k, dtype=np.uint8)
        codeword = code.encode(message)
        assert np.array_equal(codeword, slow_encode(message, code))
        assert np.array_equal(code.message_of(codeword), message)
        assert not code.syndromes(codeword).any()


def test_syndromes_match_horner_evaluation() -> None:
    code = bch(6, 5)
    rng = np.random.default_rng(3)
    word = rng.integers(0, 2, code.length, dtype=np.uint8)
    syndromes = code.syndromes(word)
    for j in range(1, 2 * code.t + 1):
        root = slow_pow(2, j, 6)
        value = 0
        for bit in word[::-1].tolist():
            value = slow_mul(value, root, 6) ^ bit
        assert syndromes[j] == value


# --- decoding ------------------------------------------------------------------------------
@pytest.mark.parametrize(("m", "t", "length"), [(4, 1, None), (4, 2, None), (4, 3, None),
                                                  (5, 5, None), (5, 7, None), (6, 5, 40),
                                                  (6, 13, None), (7, 31, None)])
def test_decoder_is_exactly_bounded_distance_on_small_codes(m: int, t: int,
                                                            length: int | None) -> None:
    """Against brute force over ALL codewords: decodes iff a codeword lies within t."""
    code = bch(m, t, length)
    messages = np.array(list(itertools.product((0, 1), repeat=code.k)), dtype=np.uint8)
    codewords = np.array([code.encode(msg) for msg in messages])
    rng = np.random.default_rng(m * 1000 + t)
    received = rng.integers(0, 2, (400, code.length), dtype=np.uint8)
    near = codewords[rng.integers(0, len(codewords), 400)]
    flips = rng.random((400, code.length)) < (t + 1) / code.length
    received = np.concatenate([received, near ^ flips.astype(np.uint8)])
    outcomes = {"decoded": 0, "refused": 0}
    for word in received:
        distances = (codewords != word).sum(axis=1)
        best = int(distances.argmin())
        if distances[best] <= t:
            assert np.array_equal(code.decode(word), messages[best])
            outcomes["decoded"] += 1
        else:
            with pytest.raises(DecodeError):
                code.decode(word)
            outcomes["refused"] += 1
    sphere = sum(math.comb(code.length, i) for i in range(t + 1))
    perfect = sphere << code.k == 1 << code.length  # e.g. the (15, 11) Hamming code
    assert outcomes["decoded"] > 50
    assert outcomes["refused"] == 0 if perfect else outcomes["refused"] > 50


CODES = [(5, 3, None), (7, 10, 100), (9, 40, None), (10, 106, 900), (11, 180, 2000)]


@st.composite
def noisy_words(draw: st.DrawFn, beyond: bool = False
                ) -> tuple[BCH, np.ndarray, np.ndarray, int]:
    m, t, length = draw(st.sampled_from(CODES))
    code = bch(m, t, length)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    message = rng.integers(0, 2, code.k, dtype=np.uint8)
    errors = (draw(st.integers(t + 1, min(code.length, 3 * t + 5))) if beyond
              else draw(st.integers(0, t)))
    word = code.encode(message)
    word[rng.choice(code.length, errors, replace=False)] ^= 1
    return code, message, word, errors


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(noisy_words())
def test_round_trip_with_up_to_t_errors(case: tuple[BCH, np.ndarray, np.ndarray, int]) -> None:
    code, message, word, errors = case
    _, count = code.correct(word)
    assert count == errors
    assert np.array_equal(code.decode(word), message)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(noisy_words(beyond=True))
def test_beyond_t_fails_or_miscorrects_never_crashes(
        case: tuple[BCH, np.ndarray, np.ndarray, int]) -> None:
    code, message, word, _ = case
    try:
        corrected, count = code.correct(word)
    except DecodeError:
        return
    # A mis-correction is still a codeword within t of what was received, never the original.
    assert count <= code.t
    assert int((corrected != word).sum()) == count
    assert not code.syndromes(corrected).any()
    assert not np.array_equal(code.message_of(corrected), message)


def test_all_zero_and_all_one_words() -> None:
    code = bch(5, 3)
    assert not code.decode(np.zeros(31, dtype=np.uint8)).any()
    assert code.decode(np.ones(31, dtype=np.uint8)).all()  # the all-ones word is a codeword


def test_cached_codes_share_one_entry_for_the_full_length() -> None:
    # a scheme asks for bch(m, t), a helper for bch(m, t, n): one build, not two
    assert bch(6, 3) is bch(6, 3, 63)
    assert bch(6, 3, 40) is not bch(6, 3)

"""Fuzzy commitment: round trips, failure beyond t, no check value, known answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyapp.errors import DecodeError, InputError, NotMatched
from pyapp.ports import RandomBytes
from pyapp.template import commitment
from pyapp.template.commitment import Helper, commit, secret_bytes
from pyapp.template.ecc import bch

from .test_ecc import slow_encode

CODE = bch(9, 40)  # (511, 184, 40)


def counter_random(start: int = 0) -> RandomBytes:
    counter = itertools.count(start)
    return lambda n: bytes((next(counter) * 37 + 11) % 256 for _ in range(n))


def test_known_answer_with_injected_randomness() -> None:
    code = bch(5, 3)  # (31, 16, 3)
    bits = np.array([i % 3 == 0 for i in range(31)], dtype=np.uint8)
    helper, secret = commit(bits, code=code, random=lambda n: bytes([0xA5, 0x3C][:n]))
    assert secret == bytes([0xA5, 0x3C])
    assert np.packbits(helper.bits).tobytes().hex() == "e8e06eea"
    assert np.array_equal(helper.bits, slow_encode(commitment.secret_to_bits(secret, code),
                                                   code) ^ bits)
    assert commitment.open(helper, bits) == secret


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.integers(0, CODE.t))
def test_open_recovers_the_secret_within_t(seed: int, errors: int) -> None:
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, CODE.length, dtype=np.uint8)
    helper, secret = commit(bits, code=CODE, random=lambda n: rng.bytes(n))
    noisy = bits.copy()
    noisy[rng.choice(CODE.length, errors, replace=False)] ^= 1
    assert commitment.open(helper, noisy) == secret


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.integers(CODE.t + 1, 3 * CODE.t))
def test_beyond_t_the_secret_is_never_returned(seed: int, errors: int) -> None:
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, CODE.length, dtype=np.uint8)
    helper, secret = commit(bits, code=CODE, random=lambda n: rng.bytes(n))
    noisy = bits.copy()
    noisy[rng.choice(CODE.length, errors, replace=False)] ^= 1
    try:
        assert commitment.open(helper, noisy) != secret
    except NotMatched as exc:
        assert isinstance(exc.__cause__, DecodeError)


def test_given_secret_is_committed_and_extra_bits_are_refused() -> None:
    code = bch(5, 3)
    bits = np.zeros(31, dtype=np.uint8)
    helper, secret = commit(bits, b"\x01\x80", code=code)
    assert secret == b"\x01\x80"
    assert commitment.open(helper, bits) == b"\x01\x80"
    assert secret_bytes(code) == 2
    with pytest.raises(InputError):
        commit(bits, b"\x01\x80\x00", code=code)
    odd = bch(5, 5)  # k = 11: 5 spare bits in the second byte
    with pytest.raises(InputError):
        commit(bits, b"\x00\x08", code=odd)
    _, drawn = commit(bits, code=odd, random=lambda n: b"\xff" * n)
    assert drawn == b"\xff\x07"  # spare bits of random secrets are cleared


def test_helper_is_codeword_xor_bits_and_holds_no_check_value() -> None:
    bits = np.random.default_rng(1).integers(0, 2, CODE.length, dtype=np.uint8)
    helper, secret = commit(bits, code=CODE, random=counter_random())
    codeword = helper.bits ^ bits
    assert not CODE.syndromes(codeword).any()
    assert commitment.bits_to_secret(CODE.message_of(codeword)) == secret
    assert set(vars(helper)) == {"m", "t", "length", "bits"}


def test_input_checks_and_repr() -> None:
    helper, _ = commit(np.zeros(CODE.length, dtype=np.uint8), code=CODE)
    with pytest.raises(InputError):
        commitment.open(helper, np.zeros(CODE.length - 1, dtype=np.uint8))
    with pytest.raises(InputError):
        commit(np.full(CODE.length, 2), code=CODE)
    with pytest.raises(InputError):
        commit(np.zeros(CODE.length, dtype=np.uint8), code=CODE, random=lambda n: b"")
    with pytest.raises(InputError):
        Helper(9, 40, 511, np.zeros(510, dtype=np.uint8))
    assert repr(helper) == "Helper(BCH n=511, t=40)"
    assert helper == Helper(9, 40, 511, helper.bits.copy())
    assert helper != Helper(9, 40, 511, helper.bits ^ np.uint8(1))

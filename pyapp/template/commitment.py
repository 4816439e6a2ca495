"""Fuzzy commitment (Juels-Wattenberg): bind a random secret to a noisy bit string.

``commit(bits)`` draws a k-bit secret s, encodes it with a BCH code and stores only
``helper = encode(s) XOR bits``. ``open(helper, bits')`` decodes ``helper XOR bits'`` and
returns s exactly when ``bits'`` is within t bit errors of ``bits``.

Deliberately, the helper holds NO hash or check value of the secret: such a value would let
whoever holds a helper (a thief of the device storage or of the portable-mode database) test
guesses offline. Whether the recovered secret is the right one is decided only by the server,
through the OPRF-hardened signing key (see docs/security.md). A face more than t bits away
therefore either fails to decode (NotMatched) or decodes to a wrong secret, which yields a
wrong key and a rejected signature.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import numpy as np

from pyapp.errors import DecodeError, InputError, NotMatched
from pyapp.ports import RandomBytes, system_random
from pyapp.template.ecc import BCH, Bits, bch


@dataclass(frozen=True, repr=False)
class Helper:
    """Helper data of one commitment: the code's parameters and ``codeword XOR bits``."""

    m: int
    t: int
    length: int
    bits: Bits

    @property
    def code(self) -> BCH:
        return bch(self.m, self.t, self.length)

    def __post_init__(self) -> None:
        if self.bits.shape != (self.length,) or self.bits.dtype != np.uint8:
            raise InputError(f"helper bits must be {self.length} uint8 values")

    def __repr__(self) -> str:  # helper bits are biometric-derived: never print them
        return f"Helper(BCH n={self.length}, t={self.t})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Helper)
                and (self.m, self.t, self.length) == (other.m, other.t, other.length)
                and hmac.compare_digest(self.bits.tobytes(), other.bits.tobytes()))

    __hash__ = None  # type: ignore[assignment]


def secret_bytes(code: BCH) -> int:
    """Length in bytes of a secret for ``code`` (k bits, little-endian bit order)."""
    return (code.k + 7) // 8


def secret_to_bits(secret: bytes, code: BCH) -> Bits:
    size = secret_bytes(code)
    if not isinstance(secret, bytes) or len(secret) != size:
        raise InputError(f"secret must be {size} bytes for a code with k={code.k}")
    bits = np.unpackbits(np.frombuffer(secret, dtype=np.uint8), bitorder="little")
    if bits[code.k:].any():
        raise InputError(f"secret has bits set beyond its k={code.k} bits")
    return bits[: code.k]


def bits_to_secret(bits: Bits) -> bytes:
    return np.packbits(bits, bitorder="little").tobytes()


def commit(bits: Bits, secret: bytes | None = None, *, code: BCH,
           random: RandomBytes = system_random) -> tuple[Helper, bytes]:
    """Commit to ``secret`` (fresh random k bits if None) under the noisy ``bits``."""
    word = np.asarray(bits)
    if word.shape != (code.length,) or not np.isin(word, (0, 1)).all():
        raise InputError(f"bits must be {code.length} values of 0/1, got shape {word.shape}")
    if secret is None:
        raw = bytearray(random(secret_bytes(code)))
        if len(raw) != secret_bytes(code):
            raise InputError("the random source returned the wrong number of bytes")
        spare = 8 * len(raw) - code.k
        if spare:
            raw[-1] &= 0xFF >> spare
        secret = bytes(raw)
    message = secret_to_bits(secret, code)
    helper = code.encode(message) ^ word.astype(np.uint8)
    return Helper(code.m, code.t, code.length, helper), secret


def open(helper: Helper, bits: Bits) -> bytes:  # the scheme's own verb (shadows open)
    """The committed secret, if ``bits`` is within t errors of the committed bits.

    Raises NotMatched (caused by the DecodeError) when the decoder detects too many errors.
    """
    code = helper.code
    word = np.asarray(bits)
    if word.shape != (code.length,) or not np.isin(word, (0, 1)).all():
        raise InputError(f"bits must be {code.length} values of 0/1, got shape {word.shape}")
    try:
        corrected, _ = code.correct(helper.bits ^ word.astype(np.uint8))
    except DecodeError as exc:
        raise NotMatched("the face does not open this template") from exc
    message = code.message_of(corrected)
    # Defensive: the corrected word must be the codeword of its own message.
    if not hmac.compare_digest(code.encode(message).tobytes(), corrected.tobytes()):
        raise NotMatched("the face does not open this template")  # pragma: no cover
    return bits_to_secret(message)

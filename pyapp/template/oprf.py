"""RFC 9497 OPRF, mode 0x00 (OPRF), suite ristretto255-SHA512, in pure Python.

The client side (``blind``, ``finalize``) is what the browser runs: it turns the secret
recovered from the face into a 64-byte output that depends on a key only the server holds,
while the server sees nothing but a uniformly random group element. ``blind_evaluate`` and
``derive_key_pair`` are the server's half, here for tests and the in-process stand-in server;
the real server (server/oprf.py) uses libsodium and runs the same RFC test vectors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pyapp import protocol
from pyapp.errors import CryptoError, InputError
from pyapp.ports import RandomBytes, system_random
from pyapp.template.ristretto import GENERATOR, ORDER, Element, encode_scalar

CONTEXT = b"OPRFV1-" + bytes([protocol.OPRF_MODE]) + b"-" + protocol.OPRF_SUITE.encode()
HASH_TO_GROUP_DST = b"HashToGroup-" + CONTEXT
HASH_TO_SCALAR_DST = b"HashToScalar-" + CONTEXT
DERIVE_KEY_PAIR_DST = b"DeriveKeyPair" + CONTEXT
OUTPUT_BYTES = 64


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 expand_message_xmd with SHA-512."""
    b_bytes, block = 64, 128
    ell = -(-length // b_bytes)
    if ell > 255 or length > 65535 or len(dst) > 255:
        raise InputError("expand_message_xmd: requested length or DST too long")
    dst_prime = dst + bytes([len(dst)])
    msg_prime = bytes(block) + msg + length.to_bytes(2, "big") + b"\x00" + dst_prime
    b0 = hashlib.sha512(msg_prime).digest()
    blocks = [hashlib.sha512(b0 + b"\x01" + dst_prime).digest()]
    for i in range(2, ell + 1):
        mixed = bytes(x ^ y for x, y in zip(b0, blocks[-1], strict=True))
        blocks.append(hashlib.sha512(mixed + bytes([i]) + dst_prime).digest())
    return b"".join(blocks)[:length]


def hash_to_group(data: bytes) -> Element:
    return Element.from_uniform_bytes(expand_message_xmd(data, HASH_TO_GROUP_DST, 64))


def hash_to_scalar(data: bytes, dst: bytes = HASH_TO_SCALAR_DST) -> int:
    return int.from_bytes(expand_message_xmd(data, dst, 64), "little") % ORDER


def random_scalar(random: RandomBytes = system_random) -> int:
    """A uniformly random non-zero scalar (64 random bytes reduced mod the order)."""
    while True:
        raw = random(64)
        if len(raw) != 64:
            raise InputError("the random source returned the wrong number of bytes")
        value = int.from_bytes(raw, "little") % ORDER
        if value:
            return value


def _element(data: bytes, what: str) -> Element:
    element = Element.decode(data)
    if element.is_identity():
        raise CryptoError(f"the {what} is the identity element")
    return element


@dataclass(frozen=True, repr=False)
class Blinded:
    """The client's state between Blind and Finalize; ``element`` goes to the server."""

    blind: int
    element: bytes

    def __repr__(self) -> str:  # the blind hides the input from the server: never print it
        return "Blinded(<secret blind>)"


def blind(data: bytes, *, random: RandomBytes = system_random,
          scalar: int | None = None) -> Blinded:
    """RFC 9497 Blind. ``scalar`` fixes the blind for known-answer tests only."""
    if len(data) > 65535:
        raise InputError("OPRF input too long")
    r = random_scalar(random) if scalar is None else scalar % ORDER
    if r == 0:
        raise InputError("the blind must be non-zero")
    element = hash_to_group(data)
    if element.is_identity():
        raise CryptoError("the input maps to the identity element")  # pragma: no cover
    return Blinded(r, (element * r).encode())


def finalize(data: bytes, state: Blinded, evaluated: bytes) -> bytes:
    """RFC 9497 Finalize: the 64-byte OPRF output; rejects invalid or identity elements."""
    element = _element(evaluated, "evaluated element")
    unblinded = (element * pow(state.blind, -1, ORDER)).encode()
    hash_input = (len(data).to_bytes(2, "big") + data + len(unblinded).to_bytes(2, "big")
                  + unblinded + b"Finalize")
    return hashlib.sha512(hash_input).digest()


# --- server side (tests and the in-process stand-in server) ---------------------------------
def blind_evaluate(secret_key: int, blinded: bytes) -> bytes:
    """RFC 9497 BlindEvaluate."""
    return (_element(blinded, "blinded element") * secret_key).encode()


def derive_key_pair(seed: bytes, info: bytes) -> tuple[int, bytes]:
    """RFC 9497 DeriveKeyPair: (secret scalar, encoded public key)."""
    if len(seed) != 32:
        raise InputError("DeriveKeyPair needs a 32-byte seed")
    derive_input = seed + len(info).to_bytes(2, "big") + info
    for counter in range(256):
        secret = hash_to_scalar(derive_input + bytes([counter]), DERIVE_KEY_PAIR_DST)
        if secret:
            return secret, (GENERATOR * secret).encode()
    raise CryptoError("DeriveKeyPair failed")  # pragma: no cover


def secret_key_bytes(secret: int) -> bytes:
    return encode_scalar(secret)


def evaluate(secret_key: int, data: bytes) -> bytes:
    """The unblinded PRF F(k, data), computed directly (tests: it must equal the protocol's)."""
    unblinded = (hash_to_group(data) * secret_key).encode()
    return hashlib.sha512(len(data).to_bytes(2, "big") + data + len(unblinded).to_bytes(2, "big")
                          + unblinded + b"Finalize").digest()

"""Ed25519 public keys the server accepts, and signature checks against them.

A public key must be the canonical encoding of a point of the prime-order subgroup other
than the identity. The identity and the other small-order points (and non-canonical
encodings of them) are refused: for such a key one signature verifies for (almost) every
message, so a template with it would be a face login without a face. libsodium's
``crypto_core_ed25519_is_valid_point`` does exactly this check (canonical, on the curve,
not of small order, in the main subgroup).
"""

from __future__ import annotations

import ctypes

import pysodium
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from pyapp.errors import CryptoError
from pyapp.protocol import PUBLIC_KEY_BYTES

_IS_VALID_POINT = pysodium.sodium.crypto_core_ed25519_is_valid_point
_IS_VALID_POINT.restype = ctypes.c_int
_IS_VALID_POINT.argtypes = [ctypes.c_char_p]


def strong(public_key: bytes) -> bool:
    """True for a key in the prime-order subgroup, canonically encoded, not the identity."""
    return len(public_key) == PUBLIC_KEY_BYTES and _IS_VALID_POINT(public_key) == 1


def public_key(raw: bytes) -> Ed25519PublicKey:
    """The key for verification; raises CryptoError for a weak or malformed one."""
    if not strong(raw):
        raise CryptoError("public_key: not a prime-order-subgroup Ed25519 point")
    return Ed25519PublicKey.from_public_bytes(raw)


def verifies(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True

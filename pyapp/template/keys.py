"""From the OPRF output to an Ed25519 signing key pair.

``derive_keys(oprf_output, site, user)`` = Ed25519 key pair whose 32-byte seed is
HKDF-SHA256(IKM = OPRF output, salt = "OwnFace/1 key salt" NUL site NUL user,
info = protocol.KEY_INFO). Binding site and user in the salt means one face, even with an
identical recovered secret, yields unrelated keys for different accounts and sites.

Ed25519 comes from the pure-Python ``ecdsa`` package (RFC 8032), which Pyodide ships; the
server verifies with ``cryptography``. HKDF (RFC 5869) is written out with hmac/hashlib.
"""

from __future__ import annotations

import hashlib
import hmac

from ecdsa import Ed25519, SigningKey

from pyapp import protocol
from pyapp.errors import InputError

SEED_BYTES = 32
SALT_LABEL = b"OwnFace/1 key salt"


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """RFC 5869 HKDF-Extract with SHA-256 (an empty salt means 32 zero bytes)."""
    return hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF-Expand with SHA-256."""
    if not 0 < length <= 255 * 32:
        raise InputError("HKDF-SHA256 output length must be 1..8160 bytes")
    blocks: list[bytes] = []
    previous = b""
    for counter in range(1, -(-length // 32) + 1):
        previous = hmac.new(prk, previous + info + bytes([counter]), hashlib.sha256).digest()
        blocks.append(previous)
    return b"".join(blocks)[:length]


def hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)


def key_salt(site: str, user: str) -> bytes:
    """The HKDF salt binding site and user (both NUL-free by their protocol pattern)."""
    site = protocol.check_id(site, "site")
    user = protocol.check_id(user, "user")
    return b"\x00".join([SALT_LABEL, site.encode(), user.encode()])


class KeyPair:
    """An Ed25519 key pair; the private half never leaves this object, not even in repr."""

    __slots__ = ("_signing", "public_key")

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
            raise InputError("an Ed25519 seed must be 32 bytes")
        self._signing = SigningKey.from_string(seed, curve=Ed25519)
        self.public_key = bytes(self._signing.get_verifying_key().to_string())

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature (RFC 8032, deterministic) of ``message``."""
        return bytes(self._signing.sign(message))

    def __repr__(self) -> str:
        return "KeyPair(Ed25519, <private>)"


def warm_up() -> None:
    """Build the curve's precomputed tables now (the first key pair pays for them: ~10 ms in
    CPython, a few times that in Pyodide), e.g. while the user reads the notice."""
    KeyPair(bytes(SEED_BYTES)).sign(b"")


def derive_keys(oprf_output: bytes, site: str, user: str) -> KeyPair:
    """The account's signing key pair from the 64-byte OPRF output."""
    if not isinstance(oprf_output, bytes) or len(oprf_output) != 64:
        raise InputError("the OPRF output must be 64 bytes")
    seed = hkdf(oprf_output, key_salt(site, user), protocol.KEY_INFO, SEED_BYTES)
    return KeyPair(seed)

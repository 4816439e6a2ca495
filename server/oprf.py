"""The server half of the OPRF: RFC 9497, suite ristretto255-SHA512, mode 0x00 (OPRF).

The client hashes the key it recovered from the face to a group element, blinds it with a
random scalar and sends the blinded element; the server multiplies it by a per-user secret
scalar (BlindEvaluate) and returns the product. The server learns nothing about the input;
the client cannot compute the output without the server. Group arithmetic comes from
libsodium (through ``pysodium``): ``crypto_scalarmult_ristretto255`` and
``crypto_core_ristretto255_scalar_reduce``.

Per-user keys: ``derive_key_pair(seed, info)`` is RFC 9497 section 3.2.1 DeriveKeyPair, with
``seed`` the site's OPRF seed (from ``server.keys``) and ``info`` naming the site and user, so
one secret seed per site yields an independent key per account and nothing per user is stored.
"""

from __future__ import annotations

import hashlib
import hmac

import pysodium

from pyapp.errors import CryptoError
from pyapp.protocol import ELEMENT_BYTES, OPRF_MODE, OPRF_SUITE, SCALAR_BYTES

CONTEXT_STRING = b"OPRFV1-" + bytes([OPRF_MODE]) + b"-" + OPRF_SUITE.encode()
IDENTITY = bytes(ELEMENT_BYTES)  # the RFC 9496 encoding of the identity element
_HASH_BYTES = 64  # SHA-512 output, also the uniform length ristretto255 hashing uses
_BLOCK_BYTES = 128  # SHA-512 input block


def i2osp(value: int, length: int) -> bytes:
    return value.to_bytes(length, "big")


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 section 5.3.1 expand_message_xmd with SHA-512."""
    if len(dst) > 255:
        raise CryptoError("domain separation tag longer than 255 bytes")
    blocks = -(-length // _HASH_BYTES)
    if blocks > 255 or length > 65535:
        raise CryptoError("expand_message_xmd asked for too many bytes")
    dst_prime = dst + i2osp(len(dst), 1)
    b0 = hashlib.sha512(bytes(_BLOCK_BYTES) + msg + i2osp(length, 2) + b"\x00" + dst_prime
                        ).digest()
    out = [hashlib.sha512(b0 + b"\x01" + dst_prime).digest()]
    for i in range(2, blocks + 1):
        mixed = bytes(a ^ b for a, b in zip(b0, out[-1], strict=True))
        out.append(hashlib.sha512(mixed + i2osp(i, 1) + dst_prime).digest())
    return b"".join(out)[:length]


def hash_to_scalar(msg: bytes, dst: bytes | None = None) -> bytes:
    """RFC 9497 section 4.1: expand to 64 bytes, reduce modulo the group order (little endian)."""
    tag = b"HashToScalar-" + CONTEXT_STRING if dst is None else dst
    uniform = expand_message_xmd(msg, tag, _HASH_BYTES)
    return bytes(pysodium.crypto_core_ristretto255_scalar_reduce(uniform))


def hash_to_group(msg: bytes) -> bytes:
    """RFC 9497 section 4.1 HashToGroup (used by clients; the server needs it only in tests)."""
    uniform = expand_message_xmd(msg, b"HashToGroup-" + CONTEXT_STRING, _HASH_BYTES)
    return bytes(pysodium.crypto_core_ristretto255_from_hash(uniform))


def derive_key_pair(seed: bytes, info: bytes) -> tuple[bytes, bytes]:
    """RFC 9497 section 3.2.1 DeriveKeyPair: (secret scalar, public element)."""
    if len(seed) != 32:
        raise CryptoError("an OPRF seed is 32 bytes")
    if len(info) > 65535:
        raise CryptoError("OPRF key info longer than 65535 bytes")
    derive_input = seed + i2osp(len(info), 2) + info
    dst = b"DeriveKeyPair" + CONTEXT_STRING
    for counter in range(256):
        secret = hash_to_scalar(derive_input + i2osp(counter, 1), dst)
        if secret != bytes(SCALAR_BYTES):
            return secret, bytes(pysodium.crypto_scalarmult_ristretto255_base(secret))
    raise CryptoError("DeriveKeyPair found no non-zero scalar")  # pragma: no cover


def check_element(element: bytes, field: str = "blinded") -> bytes:
    """Reject anything that is not the canonical encoding of a non-identity element.

    RFC 9496 decoding refuses an encoding whose top bit is set (it is not canonical);
    libsodium 1.0.18 ignores that bit, so it is checked here first, as the client does.
    """
    if len(element) != ELEMENT_BYTES:
        raise CryptoError(f"{field}: a ristretto255 element is {ELEMENT_BYTES} bytes")
    if element[-1] & 0x80:
        raise CryptoError(f"{field}: not a canonical ristretto255 encoding (top bit set)")
    if hmac.compare_digest(element, IDENTITY):
        raise CryptoError(f"{field}: the identity element is not allowed")
    if not pysodium.crypto_core_ristretto255_is_valid_point(element):
        raise CryptoError(f"{field}: not a valid ristretto255 element encoding")
    return element


def blind_evaluate(secret: bytes, blinded: bytes) -> bytes:
    """RFC 9497 section 3.3.1 BlindEvaluate: ``secret * blinded``, after validating the input."""
    check_element(blinded)
    if len(secret) != SCALAR_BYTES:
        raise CryptoError("an OPRF secret key is a 32-byte scalar")
    try:
        return bytes(pysodium.crypto_scalarmult_ristretto255(secret, blinded))
    except ValueError as exc:  # libsodium refuses a product equal to the identity
        raise CryptoError("blinded: evaluation gave the identity element") from exc


def random_element() -> bytes:
    """A uniformly random group element: what a locked account's evaluation answers with."""
    return bytes(pysodium.crypto_core_ristretto255_random())


def user_info(site: str, user: str) -> bytes:
    """The DeriveKeyPair ``info`` of one account: site and user, NUL-separated (injective)."""
    return b"OwnFace/1 oprf\x00" + site.encode() + b"\x00" + user.encode()

"""A test-only OwnFace client: OPRF client side (RFC 9497 Blind/Finalize) and Ed25519 keys.

The real client lives in pyapp (written by the protected-templates issue); this one exists so
the server can be tested end to end before and independently of it. Its OPRF steps are checked
against RFC 9497's test vectors in test_oprf.py, so what it derives is what a conforming
client derives.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pysodium
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pyapp.protocol import KEY_INFO, b64decode, b64encode, signed_message
from server.oprf import hash_to_group


def blind(secret_input: bytes, blind_scalar: bytes | None = None) -> tuple[bytes, bytes]:
    """RFC 9497 Blind: (blind, blindedElement)."""
    r = blind_scalar if blind_scalar is not None else bytes(
        pysodium.crypto_core_ristretto255_scalar_random())
    element = hash_to_group(secret_input)
    return r, bytes(pysodium.crypto_scalarmult_ristretto255(r, element))


def finalize(secret_input: bytes, r: bytes, evaluated: bytes) -> bytes:
    """RFC 9497 Finalize: the 64-byte OPRF output."""
    inverse = pysodium.crypto_core_ristretto255_scalar_invert(r)
    unblinded = bytes(pysodium.crypto_scalarmult_ristretto255(inverse, evaluated))
    data = (len(secret_input).to_bytes(2, "big") + secret_input
            + len(unblinded).to_bytes(2, "big") + unblinded + b"Finalize")
    return hashlib.sha512(data).digest()


def signing_key(oprf_output: bytes) -> Ed25519PrivateKey:
    seed = HKDF(algorithm=SHA256(), length=32, salt=None, info=KEY_INFO).derive(oprf_output)
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass
class Face:
    """Stands in for 'the key a face opens': a fixed secret, as the fuzzy commitment yields."""

    secret: bytes

    def answer(self, evaluate: object, purpose: str, site: str, user: str, origin: str,
               challenge: dict[str, object]) -> tuple[Ed25519PrivateKey, bytes]:
        """Run the OPRF through ``evaluate(blinded) -> evaluated`` and sign the challenge."""
        r, blinded = blind(self.secret)
        evaluated = evaluate(blinded)  # type: ignore[operator]
        key = signing_key(finalize(self.secret, r, evaluated))
        cid = b64decode(challenge["challenge_id"], "challenge_id")
        nonce = b64decode(challenge["nonce"], "nonce")
        return key, key.sign(signed_message(purpose, site, user, origin, cid, nonce))


__all__ = ["Face", "b64encode", "blind", "finalize", "public_bytes", "signing_key"]

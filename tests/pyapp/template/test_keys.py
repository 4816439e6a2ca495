"""HKDF (RFC 5869 vectors) and Ed25519 keys that the server's `cryptography` accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ecdsa import BadSignatureError, Ed25519, VerifyingKey

from pyapp import protocol
from pyapp.errors import InputError, ProtocolError
from pyapp.template import keys

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "rfc5869_hkdf_sha256.json").read_text())


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_hkdf_rfc5869(vector: dict[str, Any]) -> None:
    ikm, salt, info = (bytes.fromhex(vector[k]) for k in ("IKM", "salt", "info"))
    prk = keys.hkdf_extract(salt, ikm)
    assert prk.hex() == vector["PRK"]
    assert keys.hkdf_expand(prk, info, vector["L"]).hex() == vector["OKM"]
    assert keys.hkdf(ikm, salt, info, vector["L"]).hex() == vector["OKM"]


def test_hkdf_agrees_with_cryptography() -> None:
    hashes = pytest.importorskip("cryptography.hazmat.primitives.hashes",
                                 reason="cryptography is CPython-only here")
    kdf = pytest.importorskip("cryptography.hazmat.primitives.kdf.hkdf")
    ikm, salt = bytes(range(64)), keys.key_salt("shop", "alice")
    want = kdf.HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                    info=protocol.KEY_INFO).derive(ikm)
    assert keys.hkdf(ikm, salt, protocol.KEY_INFO, 32) == want
    with pytest.raises(InputError):
        keys.hkdf_expand(bytes(32), b"", 255 * 32 + 1)


def test_keys_match_cryptography_and_signatures_verify_there() -> None:
    """The server verifies with `cryptography`: CPython only (Pyodide lacks it here)."""
    ed25519 = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519",
                                  reason="cryptography is CPython-only here")
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    exceptions = pytest.importorskip("cryptography.exceptions")
    seed = bytes(range(32))
    pair = keys.KeyPair(seed)
    reference = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert pair.public_key == reference.public_key().public_bytes(*raw)
    message = protocol.signed_message("verify", "shop", "alice", "https://shop.example",
                                      bytes(16), bytes(32))
    signature = pair.sign(message)
    assert len(signature) == protocol.SIGNATURE_BYTES
    assert signature == reference.sign(message)  # Ed25519 is deterministic
    public = ed25519.Ed25519PublicKey.from_public_bytes(pair.public_key)
    public.verify(signature, message)
    with pytest.raises(exceptions.InvalidSignature):
        public.verify(signature, message + b"!")


def test_signatures_verify_with_an_independent_verifier() -> None:
    pair = keys.KeyPair(bytes(range(32)))
    signature = pair.sign(b"challenge")
    verifier = VerifyingKey.from_string(pair.public_key, curve=Ed25519)
    assert verifier.verify(signature, b"challenge")
    with pytest.raises(BadSignatureError):
        verifier.verify(signature, b"challengf")


def test_rfc8032_test_1_public_key() -> None:
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    assert keys.KeyPair(seed).public_key.hex() == (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def test_derivation_binds_site_and_user() -> None:
    output = bytes(range(64))
    base = keys.derive_keys(output, "shop", "alice").public_key
    assert keys.derive_keys(output, "shop", "alice").public_key == base
    assert keys.derive_keys(output, "shop", "bob").public_key != base
    assert keys.derive_keys(output, "hotel", "alice").public_key != base
    assert keys.derive_keys(bytes(64), "shop", "alice").public_key != base
    with pytest.raises(ProtocolError):
        keys.derive_keys(output, "shop\x00x", "alice")
    with pytest.raises(InputError):
        keys.derive_keys(output[:32], "shop", "alice")
    with pytest.raises(InputError):
        keys.KeyPair(bytes(31))


def test_repr_shows_nothing_secret() -> None:
    pair = keys.KeyPair(bytes(range(32)))
    text = repr(pair)
    assert "private" in text
    assert bytes(range(32)).hex()[:8] not in text
    assert pair.public_key.hex()[:8] not in text


def test_warm_up_leaves_derivation_unchanged() -> None:
    before = keys.derive_keys(bytes(range(64)), "shop", "alice").public_key
    keys.warm_up()
    assert keys.derive_keys(bytes(range(64)), "shop", "alice").public_key == before

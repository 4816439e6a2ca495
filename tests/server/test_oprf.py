"""server.oprf against RFC 9497 Appendix A.1.1 (OPRF(ristretto255, SHA-512), mode 0x00)."""

from __future__ import annotations

import pytest

from pyapp.errors import CryptoError
from server import oprf
from tests.server.client import blind, finalize

# RFC 9497, Appendix A.1.1 (ristretto255-SHA512, OPRF mode): every vector of that section.
SEED = bytes.fromhex("a3" * 32)
KEY_INFO = bytes.fromhex("74657374206b6579")
SK_SM = "5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e"
VECTORS = [
    {
        "input": "00",
        "blind": "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706",
        "blinded": "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
        "evaluated": "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
        "output": "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3"
                  "ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6",
    },
    {
        "input": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
        "blind": "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706",
        "blinded": "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
        "evaluated": "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
        "output": "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4"
                  "f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73",
    },
]


def test_derive_key_pair_matches_rfc() -> None:
    secret, public = oprf.derive_key_pair(SEED, KEY_INFO)
    assert secret.hex() == SK_SM
    assert len(public) == 32 and public != secret


def test_context_string() -> None:
    assert oprf.CONTEXT_STRING == b"OPRFV1-\x00-ristretto255-SHA512"


@pytest.mark.parametrize("vector", VECTORS, ids=["input-00", "input-5a17"])
def test_rfc_vectors_end_to_end(vector: dict[str, str]) -> None:
    secret, _ = oprf.derive_key_pair(SEED, KEY_INFO)
    data = bytes.fromhex(vector["input"])
    r, blinded = blind(data, bytes.fromhex(vector["blind"]))
    assert blinded.hex() == vector["blinded"]
    evaluated = oprf.blind_evaluate(secret, blinded)
    assert evaluated.hex() == vector["evaluated"]
    assert finalize(data, r, evaluated).hex() == vector["output"]


@pytest.mark.parametrize(("msg", "length", "expected"), [
    (b"abcdef0123456789", 0x20,
     "087e45a86e2939ee8b91100af1583c4938e0f5fc6c9db4b107b83346bc967f58"),
    (b"abc", 0x80,
     "7f1dddd13c08b543f2e2037b14cefb255b44c83cc397c1786d975653e36a6b11"
     "bdd7732d8b38adb4a0edc26a0cef4bb45217135456e58fbca1703cd6032cb134"
     "7ee720b87972d63fbf232587043ed2901bce7f22610c0419751c065922b48843"
     "1851041310ad659e4b23520e1772ab29dcdeb2002222a363f0c2b1c972b3efe1"),
])
def test_expand_message_xmd_rfc9380_sha512(msg: bytes, length: int, expected: str) -> None:
    # RFC 9380 Appendix K.3 (expand_message_xmd, SHA-512)
    out = oprf.expand_message_xmd(msg, b"QUUX-V01-CS02-with-expander-SHA512-256", length)
    assert out.hex() == expected


def test_identity_rejected() -> None:
    secret, _ = oprf.derive_key_pair(SEED, KEY_INFO)
    with pytest.raises(CryptoError, match="identity"):
        oprf.blind_evaluate(secret, oprf.IDENTITY)


def test_an_element_with_the_top_bit_set_is_refused() -> None:
    """RFC 9496 decoding refuses it (not canonical); libsodium 1.0.18 alone would ignore the
    bit and accept the element. The client refuses it too (tests/pyapp)."""
    _, blinded = blind(b"some input")
    assert not blinded[-1] & 0x80  # canonical encodings never have it
    flipped = blinded[:-1] + bytes([blinded[-1] | 0x80])
    with pytest.raises(CryptoError, match="top bit"):
        oprf.check_element(flipped)
    secret, _ = oprf.derive_key_pair(SEED, KEY_INFO)
    with pytest.raises(CryptoError):
        oprf.blind_evaluate(secret, flipped)
    assert oprf.check_element(blinded) == blinded


@pytest.mark.parametrize("bad", [b"\xff" * 32, bytes([1]) + bytes(31), b"\x00" * 31])
def test_invalid_encodings_rejected(bad: bytes) -> None:
    secret, _ = oprf.derive_key_pair(SEED, KEY_INFO)
    with pytest.raises(CryptoError):
        oprf.blind_evaluate(secret, bad)


def test_per_user_keys_differ_and_are_stable() -> None:
    a = oprf.derive_key_pair(SEED, oprf.user_info("shop", "alice"))[0]
    b = oprf.derive_key_pair(SEED, oprf.user_info("shop", "bob"))[0]
    assert a != b
    assert a == oprf.derive_key_pair(SEED, oprf.user_info("shop", "alice"))[0]
    # "shop"+"a.lice" must not collide with "shop.a"+"lice": the encoding is injective
    assert oprf.user_info("shop", "a.lice") != oprf.user_info("shop.a", "lice")


def test_random_element_is_valid() -> None:
    element = oprf.random_element()
    assert oprf.check_element(element) == element

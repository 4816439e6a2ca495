"""The template blob: exact layout, round trip, and strict rejection of every malformation."""

from __future__ import annotations

import numpy as np
import pytest

from pyapp import protocol
from pyapp.errors import InputError
from pyapp.template.blob import HEADER_BYTES, Template
from pyapp.template.commitment import Helper, commit
from pyapp.template.ecc import bch

SCHEME = bytes(range(8))
SEED = bytes(range(16, 32))


def make(m: int = 5, t: int = 3, length: int | None = None) -> Template:
    code = bch(m, t, length)
    bits = (np.arange(code.length) % 3 == 0).astype(np.uint8)
    helper, _ = commit(bits, b"\xa5\x3c" if code.k == 16 else None, code=code)
    return Template(SCHEME, SEED, helper)


def test_layout_known_answer() -> None:
    blob = make().encode()
    assert blob.hex() == ("4f465450" "01" "0001020304050607" "05" "0003" "001f"
                          "101112131415161718191a1b1c1d1e1f" "e8e06eea")
    assert len(blob) == HEADER_BYTES + 4


@pytest.mark.parametrize(("m", "t", "length"), [(5, 3, None), (10, 100, 1000), (11, 383, None)])
def test_round_trip(m: int, t: int, length: int | None) -> None:
    template = make(m, t, length)
    blob = template.encode()
    back = Template.decode(blob, SCHEME)
    assert back.seed == SEED and back.scheme_id == SCHEME
    assert back.helper == template.helper
    assert len(blob) <= protocol.MAX_HELPER_BYTES
    assert "helper" not in repr(back).lower().replace("helper(", "")


def test_every_malformation_is_rejected_with_a_reason() -> None:
    blob = make().encode()
    cases = {
        "truncated": blob[:20],
        "bad magic": b"XXXX" + blob[4:],
        "version 2 is not supported": blob[:4] + b"\x02" + blob[5:],
        "other binarisation": blob[:5] + bytes(8) + blob[13:],
        "invalid code parameters m=2": blob[:13] + b"\x02" + blob[14:],
        "invalid code parameters m=5, t=0": blob[:14] + b"\x00\x00" + blob[16:],
        "must be 38 bytes": blob + b"\x00",
        "invalid code length 32": blob[:16] + b"\x00\x20" + blob[18:],
        "cannot be shortened": blob[:16] + b"\x00\x07" + blob[18:35],
        "padding bits must be zero": blob[:-1] + bytes([blob[-1] | 1]),
    }
    for reason, bad in cases.items():
        with pytest.raises(InputError, match=reason):
            Template.decode(bad, SCHEME)
    with pytest.raises(InputError):
        Template.decode("not bytes", SCHEME)  # type: ignore[arg-type]
    assert Template.decode(blob).scheme_id == SCHEME  # no expectation: any scheme parses


def test_oversized_templates_cannot_be_encoded() -> None:
    code = bch(11, 1)
    big = Template(SCHEME, SEED, Helper(11, 1, 2047, np.zeros(2047, dtype=np.uint8)))
    assert len(big.encode()) == HEADER_BYTES + 256
    assert code.length == 2047

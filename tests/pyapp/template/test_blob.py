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


def make(m: int = 5, t: int = 3, length: int | None = None, pipeline: str = "v2"
         ) -> Template:
    code = bch(m, t, length)
    bits = (np.arange(code.length) % 3 == 0).astype(np.uint8)
    helper, _ = commit(bits, b"\xa5\x3c" if code.k == 16 else None, code=code)
    return Template(SCHEME, SEED, helper, pipeline)


def test_layout_known_answer() -> None:
    blob = make().encode()
    assert blob.hex() == ("4f465450" "02" "7632000000000000" "0001020304050607" "05" "0003"
                          "001f" "101112131415161718191a1b1c1d1e1f" "e8e06eea")
    assert len(blob) == HEADER_BYTES + 4 == 46


def test_version_1_blobs_still_decode_as_pipeline_v1() -> None:
    """A template made before models v2 (format 1: no pipeline field) keeps verifying."""
    v1 = bytes.fromhex("4f465450" "01" "0001020304050607" "05" "0003" "001f"
                       "101112131415161718191a1b1c1d1e1f" "e8e06eea")
    old = Template.decode(v1, SCHEME)
    assert old.pipeline == "v1" and old.seed == SEED and old.helper == make().helper
    assert old.encode()[4] == 2 and Template.decode(old.encode()).pipeline == "v1"


def test_the_pipeline_travels_with_the_template() -> None:
    blob = make(pipeline="v1").encode()
    assert Template.decode(blob).pipeline == "v1"
    for bad in ("", "V2", "toolongname", "v2 ", "2v", "v\u00e9"):
        with pytest.raises(InputError, match="pipeline"):
            Template(SCHEME, SEED, make().helper, bad).encode()


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
        "version 3 is not supported": blob[:4] + b"\x03" + blob[5:],
        "pipeline field is malformed": blob[:5] + b"v2\x00x\x00\x00\x00\x00" + blob[13:],
        "invalid face pipeline": blob[:5] + b"V2\x00\x00\x00\x00\x00\x00" + blob[13:],
        "not ASCII": blob[:5] + b"v\xe9\x00\x00\x00\x00\x00\x00" + blob[13:],
        "other binarisation": blob[:13] + bytes(8) + blob[21:],
        "invalid code parameters m=2": blob[:21] + b"\x02" + blob[22:],
        "invalid code parameters m=5, t=0": blob[:22] + b"\x00\x00" + blob[24:],
        "must be 46 bytes": blob + b"\x00",
        "invalid code length 32": blob[:24] + b"\x00\x20" + blob[26:],
        "cannot be shortened": blob[:24] + b"\x00\x07" + blob[26:43],
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

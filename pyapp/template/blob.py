"""The protected template: a versioned binary blob holding the helper data of one enrolment.

Layout, version 2 (all integers big-endian)::

    offset  size  field
    0       4     magic  b"OFTP"
    4       1     format version (2)
    5       8     face pipeline that made it, ASCII, NUL-padded (b"v2\0\0\0\0\0\0")
    13      8     scheme id: names the exact binarisation parameters (models/binarise-v2.json)
    21      1     BCH field degree m (3..11)
    22      2     BCH designed t
    24      2     code length n (bits)
    26      16    per-enrolment seed (bit permutation)
    42      ceil(n/8)  helper bits (codeword XOR permuted face bits), MSB first, pad bits 0

Version 1 (pipeline v1's templates, made before models v2) is the same without the pipeline
field (header 34 bytes); it still decodes, as pipeline "v1". A template names its pipeline
and scheme so that it stays verifiable with the models it was made for, and can be renewed
(ISO/IEC 24745) to a newer pipeline after a successful verification.

Nothing else: no hash or check value of the secret, no public key, no user or site name.
In device-bound mode the blob stays in the browser's storage; in portable mode it travels in
``EnrolRequest.helper`` / ``Challenge.helper`` and the server stores it encrypted.
Decoding is strict: wrong magic, version, scheme, sizes, parameters or non-zero padding are
all rejected with an InputError that says which.
"""

from __future__ import annotations

import hmac
import re
import struct
from dataclasses import dataclass

import numpy as np

from pyapp import protocol
from pyapp.errors import InputError
from pyapp.template.binarise import SEED_BYTES
from pyapp.template.commitment import Helper
from pyapp.template.ecc import bch

MAGIC = b"OFTP"
VERSION = 2
SCHEME_ID_BYTES = 8
PIPELINE_BYTES = 8
_HEADERS = {1: struct.Struct(">4sB8sBHH16s"), 2: struct.Struct(">4sB8s8sBHH16s")}
HEADER_BYTES = _HEADERS[VERSION].size  # 42
_PIPELINE = re.compile(r"[a-z][a-z0-9._-]{0,7}")


@dataclass(frozen=True, repr=False)
class Template:
    scheme_id: bytes
    seed: bytes
    helper: Helper
    pipeline: str = "v2"  # the face pipeline (models/manifest.json) that made it

    def __repr__(self) -> str:  # the helper is biometric-derived: never print it
        return f"Template({self.pipeline}, {self.helper!r})"

    def encode(self) -> bytes:
        """The version-2 blob (version 1 is only ever decoded)."""
        helper = self.helper
        name = check_pipeline(self.pipeline).encode("ascii").ljust(PIPELINE_BYTES, b"\0")
        header = _HEADERS[VERSION].pack(MAGIC, VERSION, name, self.scheme_id, helper.m,
                                        helper.t, helper.length, self.seed)
        data = header + np.packbits(helper.bits).tobytes()
        if len(data) > protocol.MAX_HELPER_BYTES:
            raise InputError(f"a template of {len(data)} bytes exceeds the protocol's "
                             f"{protocol.MAX_HELPER_BYTES}")
        return data

    @classmethod
    def decode(cls, data: bytes, expected_scheme: bytes | None = None) -> Template:
        """Parse a template blob; ``expected_scheme`` (if given) must match its scheme id."""
        if not isinstance(data, bytes):
            raise InputError("a template must be bytes")
        if len(data) < 5 or data[:4] != MAGIC:
            raise InputError("not an OwnFace template (bad magic)")
        version = data[4]
        layout = _HEADERS.get(version)
        if layout is None:
            raise InputError(f"template format version {version} is not supported "
                             f"(this app reads {', '.join(map(str, _HEADERS))})")
        if len(data) < layout.size:
            raise InputError(f"template truncated: {len(data)} bytes, header needs "
                             f"{layout.size}")
        if version == 1:
            _, _, scheme_id, m, t, length, seed = layout.unpack_from(data)
            pipeline = "v1"
        else:
            _, _, name, scheme_id, m, t, length, seed = layout.unpack_from(data)
            pipeline = _pipeline_name(name)
        if expected_scheme is not None and not hmac.compare_digest(scheme_id, expected_scheme):
            raise InputError("the template was made with other binarisation parameters; "
                             "enrol again")
        if not 3 <= m <= 11 or not 1 <= t or 2 * t >= (1 << m) - 1:
            raise InputError(f"template has invalid code parameters m={m}, t={t}")
        if not 1 <= length <= (1 << m) - 1:
            raise InputError(f"template has an invalid code length {length}")
        expected = layout.size + (length + 7) // 8
        if len(data) != expected:
            raise InputError(f"template must be {expected} bytes for n={length}, got "
                             f"{len(data)}")
        code = bch(m, t, length)  # raises InputError if (m, t, length) is no code
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8, offset=layout.size))
        if bits[length:].any():
            raise InputError("template padding bits must be zero")
        helper = Helper(code.m, code.t, code.length, bits[:length].copy())
        return cls(scheme_id, seed, helper, pipeline)


def check_pipeline(name: object) -> str:
    """A pipeline name as templates carry it: 1-8 of a-z 0-9 . _ -, starting with a letter."""
    if not isinstance(name, str) or not _PIPELINE.fullmatch(name):
        raise InputError(f"invalid face pipeline name {name!r}")
    return name


def _pipeline_name(raw: bytes) -> str:
    name = raw.rstrip(b"\0")
    if b"\0" in name:
        raise InputError("template pipeline field is malformed")
    try:
        return check_pipeline(name.decode("ascii"))
    except UnicodeDecodeError as exc:
        raise InputError("template pipeline field is not ASCII") from exc


def check_seed(seed: bytes) -> bytes:
    if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
        raise InputError(f"an enrolment seed must be {SEED_BYTES} bytes")
    return seed

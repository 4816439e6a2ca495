"""The protected template: a versioned binary blob holding the helper data of one enrolment.

Layout, version 1 (all integers big-endian)::

    offset  size  field
    0       4     magic  b"OFTP"
    4       1     format version (1)
    5       8     scheme id: names the exact binarisation parameters (models/binarise-v1.json)
    13      1     BCH field degree m (3..11)
    14      2     BCH designed t
    16      2     code length n (bits)
    18      16    per-enrolment seed (bit permutation)
    34      ceil(n/8)  helper bits (codeword XOR permuted face bits), MSB first, pad bits 0

Nothing else: no hash or check value of the secret, no public key, no user or site name.
In device-bound mode the blob stays in the browser's storage; in portable mode it travels in
``EnrolRequest.helper`` / ``Challenge.helper`` and the server stores it encrypted.
Decoding is strict: wrong magic, version, scheme, sizes, parameters or non-zero padding are
all rejected with an InputError that says which.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass

import numpy as np

from pyapp import protocol
from pyapp.errors import InputError
from pyapp.template.binarise import SEED_BYTES
from pyapp.template.commitment import Helper
from pyapp.template.ecc import bch

MAGIC = b"OFTP"
VERSION = 1
SCHEME_ID_BYTES = 8
_HEADER = struct.Struct(">4sB8sBHH16s")
HEADER_BYTES = _HEADER.size  # 34


@dataclass(frozen=True, repr=False)
class Template:
    scheme_id: bytes
    seed: bytes
    helper: Helper

    def __repr__(self) -> str:  # the helper is biometric-derived: never print it
        return f"Template(v{VERSION}, {self.helper!r})"

    def encode(self) -> bytes:
        helper = self.helper
        header = _HEADER.pack(MAGIC, VERSION, self.scheme_id, helper.m, helper.t,
                              helper.length, self.seed)
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
        if len(data) < HEADER_BYTES:
            raise InputError(f"template truncated: {len(data)} bytes, header needs "
                             f"{HEADER_BYTES}")
        magic, version, scheme_id, m, t, length, seed = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise InputError("not an OwnFace template (bad magic)")
        if version != VERSION:
            raise InputError(f"template format version {version} is not supported "
                             f"(this app reads {VERSION})")
        if expected_scheme is not None and not hmac.compare_digest(scheme_id, expected_scheme):
            raise InputError("the template was made with other binarisation parameters; "
                             "enrol again")
        if not 3 <= m <= 11 or not 1 <= t or 2 * t >= (1 << m) - 1:
            raise InputError(f"template has invalid code parameters m={m}, t={t}")
        if not 1 <= length <= (1 << m) - 1:
            raise InputError(f"template has an invalid code length {length}")
        expected = HEADER_BYTES + (length + 7) // 8
        if len(data) != expected:
            raise InputError(f"template must be {expected} bytes for n={length}, got "
                             f"{len(data)}")
        code = bch(m, t, length)  # raises InputError if (m, t, length) is no code
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8, offset=HEADER_BYTES))
        if bits[length:].any():
            raise InputError("template padding bits must be zero")
        helper = Helper(code.m, code.t, code.length, bits[:length].copy())
        return cls(scheme_id, seed, helper)


def check_seed(seed: bytes) -> bytes:
    if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
        raise InputError(f"an enrolment seed must be {SEED_BYTES} bytes")
    return seed

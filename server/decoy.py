"""Portable mode's answer for an account without a template: a decoy helper in exactly the
format of a real one.

A kiosk asking for the helper of a user id must not learn whether that id is enrolled. The
decoy is a template blob whose header (format, scheme, code parameters) is that of the site's
newest real template, or on a site with none yet, of the scheme the app ships; its seed and
helper bits come from a keyed PRF of the user id, so asking twice gives the same answer (a
real helper does not change either) and the bits are as random-looking as a real helper's
(codeword XOR face bits). It parses as a template, has the same size, and opens with no
face, like a real template opens with nobody else's.

This module is the server's one use of the template blob code in ``pyapp.template``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
from pathlib import Path

import numpy as np

from pyapp.template.binarise import load_scheme
from pyapp.template.blob import Template
from pyapp.template.commitment import Helper


def _stream(key: bytes, user: str, size: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < size:
        msg = b"\x00".join([b"OwnFace/1 decoy", user.encode(), counter.to_bytes(4, "big")])
        out += hmac.new(key, msg, hashlib.sha256).digest()
        counter += 1
    return out[:size]


@functools.lru_cache(maxsize=4)
def _shipped(scheme_file: Path, pipeline: str) -> Template:
    scheme = load_scheme(scheme_file)
    code = scheme.code
    return Template(scheme.scheme_id, bytes(16),
                    Helper(code.m, code.t, code.length, np.zeros(code.length, np.uint8)),
                    pipeline)


def decoy_template(key: bytes, user: str, like: bytes | None, scheme_file: Path,
                   pipeline: str) -> bytes:
    """The decoy blob for ``user``; ``like`` is a real template of the site, if it has one,
    else the shape of ``pipeline``'s scheme (the one new templates use)."""
    base = Template.decode(like) if like else _shipped(scheme_file, pipeline)
    m, t, n = base.helper.m, base.helper.t, base.helper.length
    data = _stream(key, user, len(base.seed) + (n + 7) // 8)
    bits = np.unpackbits(np.frombuffer(data[len(base.seed):], dtype=np.uint8))[:n]
    return dataclasses.replace(base, seed=data[:len(base.seed)],
                               helper=Helper(m, t, n, bits.copy())).encode()

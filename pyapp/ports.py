"""The ports pyapp's core is given: small Protocols with one adapter per platform.

The core never reaches for a clock, a random source or a model runtime itself; callers pass
them in, so tests can use known-answer vectors and fixed time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Protocol

import numpy as np
import numpy.typing as npt

from pyapp import protocol

FloatArray = npt.NDArray[np.float32]


class Inference(Protocol):
    """Runs one ONNX model: named float32 inputs in, named float32 outputs out.

    Asynchronous because onnxruntime-web only offers a Promise-based ``session.run``; the
    CPython adapter (pyapp.host) wraps onnxruntime's synchronous run.
    """

    async def run(self, inputs: Mapping[str, FloatArray]) -> dict[str, FloatArray]: ...


class Clock(Protocol):
    def __call__(self) -> float: ...


class RandomBytes(Protocol):
    def __call__(self, n: int) -> bytes: ...


def system_clock() -> float:
    """Seconds since the Unix epoch."""
    return time.time()


def system_random(n: int) -> bytes:
    """``n`` bytes from the OS CSPRNG (``crypto.getRandomValues`` under Pyodide)."""
    return os.urandom(n)


class Api(Protocol):
    """The OwnFace server as the enrol/verify compositions see it (pyapp.protocol messages).

    The browser adapter speaks HTTP (fetch); tests use an in-process stand-in. Refusals
    raise ``pyapp.errors.Refused``.
    """

    async def challenge(self, request: protocol.ChallengeRequest) -> protocol.Challenge: ...

    async def evaluate(self, request: protocol.EvaluateRequest) -> protocol.Evaluation: ...

    async def enrol(self, request: protocol.EnrolRequest) -> protocol.Enrolled: ...

    async def verify(self, request: protocol.VerifyRequest) -> protocol.Verified: ...

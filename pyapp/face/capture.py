"""Multi-frame capture: a short burst of frames, the ones failing a gate dropped, the rest
combined into one embedding (mean of the L2-normalised embeddings, normalised again).

With presentation-attack detection in the models, the burst also gets a PAD decision over
its usable frames (pyapp.face.pad.decide); the landmarks of every frame with a face (usable
or turned away) are kept for the active check (pyapp.face.liveness.check).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from pyapp.errors import CaptureError, QualityError, Reason
from pyapp.face.detect import Face
from pyapp.face.embed import Embedding, l2_normalise
from pyapp.face.pad import PadDecision, decide
from pyapp.face.pipeline import FaceModels, FaceResult, PipelineConfig, embed_frame

FrameSource = Callable[[], Awaitable[object]]  # returns the next camera frame


@dataclass(frozen=True)
class CaptureConfig:
    frames: int = 8  # most frames taken in the burst
    needed: int = 3  # usable frames required
    # stop as soon as this many frames were usable (None: always take ``frames``); a live
    # camera's consecutive frames are nearly alike, so a few good ones carry the burst
    enough: int | None = None
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    # stop taking frames once this many seconds have passed (None: no time limit); a guided
    # camera takes frames for up to ``seconds`` until ``enough`` were usable
    seconds: float | None = None


@dataclass(frozen=True)
class Capture:
    embedding: Embedding = field(repr=False)
    used: int
    taken: int
    dropped: dict[Reason, int]  # why frames were dropped
    spread: float  # smallest cosine of a used frame's embedding to the combined one
    results: list[FaceResult] = field(repr=False)
    pad: PadDecision | None = None  # None: the models have no PAD
    landmarks: list[np.ndarray] = field(default_factory=list, repr=False)


async def frames_from(source: FrameSource, count: int) -> AsyncIterator[object]:
    for _ in range(count):
        yield await source()


async def capture(source: FrameSource, models: FaceModels,
                  config: CaptureConfig = CaptureConfig(),
                  on_frame: Callable[[int, FaceResult | QualityError], None] | None = None,
                  clock: Callable[[], float] = time.perf_counter,
                  until: Callable[[Sequence[np.ndarray]], bool] | None = None) -> Capture:
    """Take up to ``config.frames`` frames from ``source`` and combine the usable ones.

    Stops early once ``config.enough`` frames were usable and, when ``until`` is given, it
    holds for the landmarks seen so far (the active check: a head turn), or once
    ``config.seconds`` have passed.

    Frames that fail a quality gate are dropped and counted by reason; malformed frames
    (InputError) are not a user problem and propagate. Raises CaptureError when fewer than
    ``config.needed`` frames pass. ``on_frame`` sees each frame's outcome (for UI hints).
    """
    if config.frames < 1 or not 1 <= config.needed <= config.frames:
        raise ValueError("need 1 <= needed <= frames")
    if config.enough is not None and not config.needed <= config.enough <= config.frames:
        raise ValueError("need needed <= enough <= frames")
    results: list[FaceResult] = []
    landmarks: list[np.ndarray] = []
    dropped: Counter[Reason] = Counter()
    i = 0
    started = clock()
    async for frame in frames_from(source, config.frames):
        try:
            result = await embed_frame(frame, models, config.pipeline, clock)
        except QualityError as exc:
            dropped[exc.reason] += 1
            if isinstance(exc.face, Face):
                landmarks.append(exc.face.landmarks)
            if on_frame:
                on_frame(i, exc)
        else:
            results.append(result)
            landmarks.append(result.face.landmarks)
            if on_frame:
                on_frame(i, result)
        i += 1
        if (config.enough is not None and len(results) >= config.enough
                and (until is None or until(landmarks))):
            break
        if config.seconds is not None and clock() - started >= config.seconds:
            break
    if len(results) < config.needed:
        raise CaptureError(len(results), config.needed, dict(dropped))
    stack = np.stack([r.embedding for r in results])
    combined = l2_normalise(l2_normalise(stack).mean(axis=0))
    spread = float(np.min(stack @ combined))
    scores = [r.pad for r in results if r.pad is not None]
    pad = None if models.pad is None or not config.pipeline.pad else decide(
        scores, models.pad.config)
    return Capture(combined, len(results), i, dict(dropped), spread, results, pad, landmarks)

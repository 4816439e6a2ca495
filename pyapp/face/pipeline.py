"""Frame -> one L2-normalised face embedding: detect, gate, align, gate, embed.

The composition is async because the Inference port is (onnxruntime-web); every stage in
between is plain numpy. The same code runs in CPython (pyapp.host) and in Pyodide.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pyapp.errors import QualityError, Reason
from pyapp.face.align import chip_transform, cut_chip
from pyapp.face.detect import Detector, Face, detect, pyramid
from pyapp.face.embed import Embedder, Embedding
from pyapp.face.frame import validate_frame
from pyapp.face.quality import (
    ChipStats,
    Pose,
    QualityConfig,
    check_chip,
    check_exposure,
    check_face,
    chip_stats,
    select_face,
)


@dataclass(frozen=True)
class FaceModels:
    detector: Detector
    embedder: Embedder


@dataclass(frozen=True)
class PipelineConfig:
    gates: bool = True  # False (evaluation only): no quality gates, central face chosen
    flip: bool = True  # test-time flip averaging
    quality: QualityConfig = field(default_factory=QualityConfig)
    chip_padding: float = 0.19  # chosen on LFW folds 1-2 (min EER of 0.16/0.19/0.22/0.25)
    chip_source: str = "supersample"  # pyapp.face.align.cut_chip: "supersample" or "pyramid"


@dataclass(frozen=True)
class FaceResult:
    embedding: Embedding = field(repr=False)
    face: Face
    pose: Pose | None
    stats: ChipStats
    timings: dict[str, float]  # milliseconds per stage
    rejected: Reason | None = None  # with gates off: the gate the frame would have failed


async def embed_frame(frame: object, models: FaceModels,
                      config: PipelineConfig = PipelineConfig(),
                      clock: Callable[[], float] = time.perf_counter) -> FaceResult:
    """The embedding of the one face in ``frame`` (RGBA uint8, H x W x 4).

    Raises InputError for a malformed frame and QualityError (with a Reason) for a frame that
    fails a gate.
    """
    timings: dict[str, float] = {}
    t0 = clock()
    checked = validate_frame(frame)
    height, width = checked.shape[0], checked.shape[1]
    img = checked[:, :, :3]  # a uint8 view: the pyramid's first level, never copied whole
    t1 = clock()
    timings["prepare"] = (t1 - t0) * 1e3
    levels = pyramid(img)
    faces = await detect(img, models.detector, levels)
    t2 = clock()
    timings["detect"] = (t2 - t1) * 1e3
    if not faces:
        check_exposure(img, config.quality)
        raise QualityError(Reason.NO_FACE)
    rejected: Reason | None = None
    face_pose: Pose | None = None
    try:
        face = select_face(faces, height, width, config.quality, strict=True)
        face_pose = check_face(face, height, width, config.quality)
    except QualityError as exc:
        if config.gates:
            raise
        rejected = exc.reason
    if not config.gates:  # evaluation: always the central face
        face = select_face(faces, height, width, config.quality, strict=False)
    size = models.embedder.chip_size
    m = chip_transform(face.landmarks, size, config.chip_padding)
    chip = cut_chip(levels, m, size, config.chip_source)
    t3 = clock()
    timings["align"] = (t3 - t2) * 1e3
    stats = chip_stats(chip)
    try:
        check_chip(stats, config.quality)
    except QualityError as exc:
        if config.gates:
            raise
        rejected = rejected or exc.reason
    embedding = await models.embedder.embed(chip, flip=config.flip)
    t4 = clock()
    timings["embed"] = (t4 - t3) * 1e3
    timings["total"] = (t4 - t0) * 1e3
    return FaceResult(embedding, face, face_pose, stats, timings, rejected)

"""Frame -> one L2-normalised face embedding: detect, gate, align, gate, embed.

Which detector and embedder run is the pipeline's choice (models/manifest.json,
``pipelines``): v1 = MTCNN + dlib's ResNet, v2 = YuNet (+ O-Net landmarks) + SFace.
:func:`assemble` builds :class:`FaceModels` from the manifest and one Inference session per
model role; the CPython host and the browser both call it, so both run the same pipeline.

The composition is async because the Inference port is (onnxruntime-web); every stage in
between is plain numpy. The same code runs in CPython (pyapp.host) and in Pyodide.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from pyapp.errors import ModelError, QualityError, Reason
from pyapp.face.align import chip_transform, cut_chip
from pyapp.face.detect import Detector, Face, pyramid
from pyapp.face.embed import Embedder, Embedding
from pyapp.face.frame import validate_frame
from pyapp.face.manifest import ChipSpec, Manifest
from pyapp.face.mtcnn import MtcnnConfig, MtcnnDetector
from pyapp.face.pad import PIPELINE_PAD, PadConfig, PadModels, PadScore
from pyapp.face.pad import score as pad_score
from pyapp.face.quality import (
    PIPELINE_QUALITY,
    ChipStats,
    Pose,
    QualityConfig,
    check_chip,
    check_exposure,
    check_face,
    chip_stats,
    select_face,
)
from pyapp.face.yunet import YuNetConfig, YuNetDetector
from pyapp.ports import Inference

DEFAULT_PIPELINE = "v2"  # what new templates are made with


@dataclass(frozen=True)
class FaceModels:
    """One pipeline's models, ready to run: ``embed_frame(frame, models)``."""

    name: str  # the pipeline ("v1", "v2"): templates record it
    detector: Detector
    embedder: Embedder
    chip: ChipSpec
    flip: bool
    quality: QualityConfig = field(default_factory=QualityConfig)  # the pipeline's gates
    pad: PadModels | None = None  # presentation-attack detection, scored on each usable frame


@dataclass(frozen=True)
class PipelineConfig:
    gates: bool = True  # False (evaluation only): no quality gates, central face chosen
    flip: bool | None = None  # test-time flip averaging; None: the pipeline's own choice
    quality: QualityConfig | None = None  # None: the pipeline's own thresholds
    chip_padding: float | None = None  # None: the embedder's manifest entry
    chip_source: str = "supersample"  # pyapp.face.align.cut_chip: "supersample" or "pyramid"
    pad: bool = True  # score PAD on usable frames when the models have it


def assemble(manifest: Manifest, pipeline: str, sessions: Mapping[str, Inference],
             mtcnn: MtcnnConfig | None = None, yunet: YuNetConfig | None = None,
             pad: PadConfig | None = None) -> FaceModels:
    """FaceModels for ``pipeline`` from one session per model role it names; with the
    presentation-attack detection models too when ``sessions`` holds every one the
    manifest lists (``pad`` then configures them)."""
    spec = manifest.pipeline(pipeline)
    try:
        stage = {name: sessions[role] for name, role in spec.models.items()}
    except KeyError as exc:
        raise ModelError(f"pipeline {pipeline} needs model {exc.args[0]!r}: not loaded") from exc
    detector: Detector
    if spec.detector == "mtcnn":
        detector = MtcnnDetector(stage["pnet"], stage["rnet"], stage["onet"],
                                 mtcnn or MtcnnConfig())
    else:
        config = yunet or YuNetConfig()
        if "onet" not in stage and config.landmarks == "refine":
            config = replace(config, landmarks="yunet")
        detector = YuNetDetector(stage["yunet"], stage.get("onet"), config)
    embedder_spec = manifest.models[spec.models["embedder"]]
    assert embedder_spec.input.chip is not None  # checked by parse_manifest
    pad_models = None
    if manifest.pad and all(role in sessions for role in manifest.pad):
        pad_models = PadModels.assemble([manifest.models[r] for r in manifest.pad], sessions,
                                        pad or PIPELINE_PAD.get(spec.name))
    return FaceModels(spec.name, detector, Embedder(stage["embedder"], embedder_spec),
                      embedder_spec.input.chip, spec.flip,
                      PIPELINE_QUALITY.get(spec.name, QualityConfig()), pad_models)


@dataclass(frozen=True)
class FaceResult:
    embedding: Embedding = field(repr=False)
    face: Face
    pose: Pose | None
    stats: ChipStats
    timings: dict[str, float]  # milliseconds per stage
    rejected: Reason | None = None  # with gates off: the gate the frame would have failed
    pad: PadScore | None = None  # presentation-attack detection (when the models have it)


async def embed_frame(frame: object, models: FaceModels,
                      config: PipelineConfig = PipelineConfig(),
                      clock: Callable[[], float] = time.perf_counter) -> FaceResult:
    """The embedding of the one face in ``frame`` (RGBA uint8, H x W x 4).

    Raises InputError for a malformed frame and QualityError (with a Reason) for a frame that
    fails a gate.
    """
    timings: dict[str, float] = {}
    quality = config.quality or models.quality
    t0 = clock()
    checked = validate_frame(frame)
    height, width = checked.shape[0], checked.shape[1]
    img = checked[:, :, :3]  # a uint8 view: the pyramid's first level, never copied whole
    t1 = clock()
    timings["prepare"] = (t1 - t0) * 1e3
    levels = pyramid(img)
    faces = await models.detector.detect(img, levels)
    t2 = clock()
    timings["detect"] = (t2 - t1) * 1e3
    if not faces:
        check_exposure(img, quality)
        raise QualityError(Reason.NO_FACE)
    rejected: Reason | None = None
    face_pose: Pose | None = None
    # the largest face (the central one in evaluation); a refusal from here on carries it,
    # so the active check can follow a turned face too (pyapp.face.liveness)
    face = max(faces, key=lambda f: f.width) if config.gates else select_face(
        faces, height, width, quality, strict=False)
    try:
        select_face(faces, height, width, quality, strict=True)
        face_pose = check_face(face, height, width, quality)
    except QualityError as exc:
        if config.gates:
            exc.face = face
            raise
        rejected = exc.reason
    chip_spec = models.chip
    padding = chip_spec.padding if config.chip_padding is None else config.chip_padding
    m = chip_transform(face.landmarks, chip_spec.size, padding, chip_spec.template)
    chip = cut_chip(levels, m, chip_spec.size, config.chip_source)
    t3 = clock()
    timings["align"] = (t3 - t2) * 1e3
    stats = chip_stats(chip)
    try:
        check_chip(stats, quality)
    except QualityError as exc:
        if config.gates:
            exc.face = face
            raise
        rejected = rejected or exc.reason
    flip = models.flip if config.flip is None else config.flip
    embedding = await models.embedder.embed(chip, flip=flip)
    t4 = clock()
    timings["embed"] = (t4 - t3) * 1e3
    liveness = None
    if models.pad is not None and config.pad:
        liveness = await pad_score(img, face, models.pad)
        timings["pad"] = (clock() - t4) * 1e3
    timings["total"] = (clock() - t0) * 1e3
    return FaceResult(embedding, face, face_pose, stats, timings, rejected, liveness)

"""Quality gates: which face to use, and whether the frame is good enough to embed.

Each gate raises :class:`~pyapp.errors.QualityError` with a named :class:`Reason`. The
thresholds (QualityConfig) were set on webcam-like frames and checked on LFW photos pasted
into 640x480 frames (rejection rates in docs/models.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pyapp.errors import QualityError, Reason
from pyapp.face.detect import Face
from pyapp.face.frame import FloatImage, Image


@dataclass(frozen=True)
class QualityConfig:
    min_face_width: float = 72.0  # pixels of the detector's face box
    other_face_ratio: float = 0.6  # another face at least this wide (relative) = many faces
    other_face_score: float = 0.98
    max_outside: float = 0.1  # part of the face box that may lie outside the frame
    max_yaw: float = 0.5  # |nose offset from the eye/mouth midline| / eye distance
    pitch_range: tuple[float, float] = (0.15, 0.85)  # nose height between eyes and mouth
    max_roll_deg: float = 35.0
    dark: float = 40.0  # mean luma of the face below this ...
    dark_highlight: float = 100.0  # ... and its 95th percentile below this: too dark
    bright: float = 215.0  # mean luma above this: too bright
    max_clipped: float = 0.35  # part of face pixels at >= 250: too bright
    min_sharpness: float = 7.0  # variance of the Laplacian of the grey chip centre
    frame_dark: float = 30.0  # no face and a mean frame luma below this: too dark
    frame_bright: float = 230.0  # no face and a mean frame luma above this: too bright


# Per pipeline: the detectors' scores and the chips' sharpness live on different scales.
# v2 (YuNet scores sit in 0.85-0.95; the ArcFace chip is tighter than dlib's): thresholds set at
# the same LFW percentiles as v1's (docs/models.md, "Quality gates").
PIPELINE_QUALITY = {
    "v1": QualityConfig(),
    "v2": QualityConfig(other_face_score=0.85, min_sharpness=21.0),
}
# The face's extent from its landmarks (s = max(eye distance, eye-to-mouth distance)): the
# median MTCNN box on LFW frames is 2.0 s wide, 2.7 s high, centred 0.21 s above the mean of
# the five points. A detector that boxes only the visible part of a face cut by the frame
# edge (YuNet) still shows the cut through this extent.
EXTENT_WIDTH, EXTENT_HEIGHT, EXTENT_RAISE = 2.0, 2.7, 0.21


@dataclass(frozen=True)
class Pose:
    yaw: float  # signed, in eye distances
    pitch: float  # 0 = nose at eye level, 1 = nose at mouth level
    roll_deg: float


@dataclass(frozen=True)
class ChipStats:
    brightness: float
    highlight: float  # 95th percentile of the luma
    clipped: float
    sharpness: float


def select_face(faces: list[Face], height: int, width: int, config: QualityConfig,
                strict: bool = True) -> Face:
    """The face to use: the largest. Strictly, another sizeable face is MANY_FACES."""
    if not faces:
        raise QualityError(Reason.NO_FACE)
    if not strict:  # evaluation: the largest face nearest the centre
        cx, cy = width / 2, height / 2

        def key(f: Face) -> float:
            fx, fy = (f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2
            return f.width * f.height / (1.0 + math.hypot(fx - cx, fy - cy) / f.width)

        return max(faces, key=key)
    main = max(faces, key=lambda f: f.width)
    others = [f for f in faces if f is not main and f.score >= config.other_face_score
              and f.width >= config.other_face_ratio * main.width]
    if others:
        raise QualityError(Reason.MANY_FACES, f"{len(others) + 1} faces")
    return main


def pose(face: Face) -> Pose:
    """Head pose proxies from the five landmarks, in the eye-line frame."""
    le, re_, nose, ml, mr = face.landmarks.astype(np.float64)
    eye_vec = re_ - le
    eye_dist = float(np.hypot(*eye_vec)) or 1e-6
    roll = math.degrees(math.atan2(eye_vec[1], eye_vec[0]))
    u = eye_vec / eye_dist
    v = np.array([-u[1], u[0]])
    eyes, mouth = (le + re_) / 2, (ml + mr) / 2
    mid_x = float(((eyes + mouth) / 2 - eyes) @ u)
    yaw = (float((nose - eyes) @ u) - mid_x) / eye_dist
    span = float((mouth - eyes) @ v)
    pitch = float((nose - eyes) @ v) / span if span > 1e-6 else 0.0
    return Pose(yaw, pitch, roll)


def landmark_extent(face: Face) -> tuple[float, float, float, float]:
    """The face box implied by the five landmarks (see EXTENT_*)."""
    le, re_, _, ml, mr = face.landmarks.astype(np.float64)
    s = max(float(np.hypot(*(re_ - le))), float(np.hypot(*((ml + mr) / 2 - (le + re_) / 2))))
    cx, cy = face.landmarks.astype(np.float64).mean(axis=0)
    cy -= EXTENT_RAISE * s
    return (cx - EXTENT_WIDTH * s / 2, cy - EXTENT_HEIGHT * s / 2,
            cx + EXTENT_WIDTH * s / 2, cy + EXTENT_HEIGHT * s / 2)


def outside_fraction(box: tuple[float, float, float, float], height: int, width: int) -> float:
    x1, y1, x2, y2 = box
    inside_w = max(0.0, min(x2, width - 1) - max(x1, 0))
    inside_h = max(0.0, min(y2, height - 1) - max(y1, 0))
    return 1.0 - inside_w * inside_h / max((x2 - x1) * (y2 - y1), 1e-6)


def check_face(face: Face, height: int, width: int, config: QualityConfig) -> Pose:
    if face.width < config.min_face_width:
        raise QualityError(Reason.TOO_SMALL, f"face {face.width:.0f} px wide")
    outside = max(outside_fraction(face.box, height, width),
                  outside_fraction(landmark_extent(face), height, width))
    if outside > config.max_outside:
        raise QualityError(Reason.CUT_OFF, f"{outside:.0%} outside the frame")
    p = pose(face)
    lo, hi = config.pitch_range
    if abs(p.yaw) > config.max_yaw or not lo <= p.pitch <= hi or (
            abs(p.roll_deg) > config.max_roll_deg):
        raise QualityError(Reason.TURNED)
    return p


def chip_stats(chip: FloatImage) -> ChipStats:
    """Brightness and sharpness of the inner face (the chip's central half)."""
    s = chip.shape[0]
    inner = chip[s // 4: s - s // 4, s // 4: s - s // 4]
    grey = inner @ np.array([0.299, 0.587, 0.114], np.float32)
    lap = (grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1]
           - 4 * grey[1:-1, 1:-1])
    return ChipStats(float(grey.mean()), float(np.percentile(grey, 95)),
                     float((grey >= 250).mean()), float(lap.var()))


def check_chip(stats: ChipStats, config: QualityConfig) -> None:
    if stats.brightness < config.dark and stats.highlight < config.dark_highlight:
        raise QualityError(Reason.TOO_DARK)
    if stats.brightness > config.bright or stats.clipped > config.max_clipped:
        raise QualityError(Reason.TOO_BRIGHT)
    if stats.sharpness < config.min_sharpness:
        raise QualityError(Reason.BLURRED)


def check_exposure(img: Image, config: QualityConfig) -> None:
    """For a frame without a face: say so if the whole frame is far too dark or bright."""
    luma = float(img[::4, ::4].mean())
    if luma < config.frame_dark:
        raise QualityError(Reason.TOO_DARK)
    if luma > config.frame_bright:
        raise QualityError(Reason.TOO_BRIGHT)

"""Active liveness check: "turn your head a little", judged from the 5 landmarks of a burst.

A flat thing (a printed photo, a phone showing one) moved in front of the camera, however it
is turned, tilted or shifted, maps its points from one frame to the next by one homography:
four points fix that homography, and the fifth then lands exactly where the homography puts
it. The eyes and mouth corners of a head lie close to one plane, but the tip of the nose
stands about 0.4 eye distances in front of it: when the head turns, the nose moves further
than the plane of eyes and mouth predicts, in the direction of the turn.

So, over the frames of a burst (landmarks of every frame with a face, turned or not):

1. the reference frame is the most frontal one (smallest yaw proxy, ``quality.pose``);
2. for every other frame, the homography that takes the reference's eyes and mouth corners to
   that frame's is solved exactly, the reference's nose is mapped through it, and the nose's
   miss is measured along the eye line in eye distances, signed by the direction of the turn;
3. the burst *turned enough* when some frame's yaw differs from the reference's by at least
   ``min_turn``, and it *shows depth* when the second-largest signed miss is at least
   ``min_depth`` (one glitching frame cannot pass a burst alone).

Thresholds were chosen on lfw-dev folds 1-2 and synthetic sequences (docs/security.md). The
check says nothing about whether the head is the enrolled person's: the embedding does that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pyapp.errors import InputError, LivenessRefused
from pyapp.face.detect import Face
from pyapp.face.quality import pose

PLANE = (0, 1, 3, 4)  # left eye, right eye, mouth left, mouth right
NOSE = 2


@dataclass(frozen=True)
class ActiveConfig:
    min_frames: int = 4  # frames with landmarks needed to judge at all
    min_turn: float = 0.08  # yaw proxy change (eye distances) that counts as a turn
    min_depth: float = 0.07  # second-largest signed nose miss (eye distances) for depth


@dataclass(frozen=True)
class ActiveResult:
    """The outcome; ``turned`` False means the person should turn more (a prompt, not a
    verdict). Measured values stay out of the repr."""

    passed: bool
    turned: bool
    frames: int

    def require(self) -> None:
        if not self.passed:
            raise LivenessRefused("active")


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3x3 homography mapping 4 (or more, least squares) src points onto dst (DLT,
    with both point sets normalised for conditioning)."""

    def normaliser(p: np.ndarray) -> np.ndarray:
        c = p.mean(axis=0)
        s = np.sqrt(2) / max(float(np.mean(np.hypot(*(p - c).T))), 1e-12)
        return np.array([[s, 0, -s * c[0]], [0, s, -s * c[1]], [0, 0, 1.0]])

    ts, td = normaliser(src), normaliser(dst)
    a = []
    for (x, y), (u, v) in zip(apply(ts, src), apply(td, dst), strict=True):
        a.append([-x, -y, -1, 0, 0, 0, u * x, u * y, u])
        a.append([0, 0, 0, -x, -y, -1, v * x, v * y, v])
    _, _, vt = np.linalg.svd(np.asarray(a))
    h = np.linalg.inv(td) @ vt[-1].reshape(3, 3) @ ts
    return np.asarray(h / h[2, 2])


def apply(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    p = np.c_[pts, np.ones(len(pts))] @ h.T
    return np.asarray(p[:, :2] / p[:, 2:3])


def nose_miss(ref: np.ndarray, cur: np.ndarray) -> float:
    """How far ``cur``'s nose lies off where the plane of eyes and mouth puts it, along the
    eye line, in eye distances (positive: towards the right of the image)."""
    h = homography(ref[list(PLANE)], cur[list(PLANE)])
    predicted = apply(h, ref[NOSE][None])[0]
    eye = cur[1] - cur[0]
    dist = float(np.hypot(*eye)) or 1e-6
    return float((cur[NOSE] - predicted) @ (eye / dist)) / dist


def _yaw(marks: np.ndarray) -> float:
    return pose(Face((0.0, 0.0, 0.0, 0.0), 0.0, marks)).yaw


def measure(landmarks: Sequence[np.ndarray]) -> tuple[float, float]:
    """(largest yaw change from the reference frame, second-largest signed nose miss)."""
    marks = [np.asarray(m, np.float64) for m in landmarks]
    if any(m.shape != (5, 2) or not np.all(np.isfinite(m)) for m in marks):
        raise InputError("landmarks must be finite (5, 2) arrays")
    if len(marks) < 2:
        return 0.0, 0.0
    yaws = np.array([_yaw(m) for m in marks])
    r = int(np.argmin(np.abs(yaws)))
    turns = yaws - yaws[r]
    misses = sorted(nose_miss(marks[r], m) * (1.0 if t >= 0 else -1.0)
                    for i, (m, t) in enumerate(zip(marks, turns, strict=True)) if i != r)
    depth = misses[-2] if len(misses) >= 2 else misses[-1]
    return float(np.abs(turns).max()), float(depth)


def check(landmarks: Sequence[np.ndarray], config: ActiveConfig = ActiveConfig()
          ) -> ActiveResult:
    """Judge one burst's landmark sequence (frame pixels, ``detect.LANDMARK_NAMES`` order)."""
    if len(landmarks) < config.min_frames:
        return ActiveResult(False, False, len(landmarks))
    turn, depth = measure(landmarks)
    turned = turn >= config.min_turn
    return ActiveResult(turned and depth >= config.min_depth, turned, len(landmarks))

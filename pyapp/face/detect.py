"""Face detection, whatever the detector: the Face it reports, the port every detector fills,
and the pieces detectors share (non-maximum suppression, box squaring, the frame pyramid).

Two detectors implement :class:`Detector`: MTCNN (:mod:`pyapp.face.mtcnn`, pipeline v1) and
YuNet (:mod:`pyapp.face.yunet`, pipeline v2, optionally with its landmarks refined by MTCNN's
O-Net). Both report faces in frame pixel coordinates with the five landmarks in one order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from pyapp.face.frame import Image, downscale2

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")  # image left


@dataclass(frozen=True)
class Face:
    """One detected face in frame pixel coordinates (pixel centres at integers)."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float
    landmarks: np.ndarray  # (5, 2): x, y of LANDMARK_NAMES

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def __repr__(self) -> str:  # no landmark values in logs
        return f"Face(box={tuple(round(v) for v in self.box)}, score={self.score:.3f})"


class Detector(Protocol):
    """Finds the faces in an (H, W, 3) RGB frame, best first.

    ``levels`` is ``pyramid(img)`` (the frame and its 2x2-mean halvings), which the pipeline
    builds once and shares with the alignment step.
    """

    async def detect(self, img: Image, levels: list[Image]) -> list[Face]: ...


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, method: str = "union"
        ) -> np.ndarray:
    """Indices of boxes kept by greedy non-maximum suppression, best score first."""
    if boxes.shape[0] == 0:
        return np.zeros(0, np.intp)
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores, kind="stable")[::-1]
    keep: list[int] = []
    while order.size > 0:
        i, rest = int(order[0]), order[1:]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if method == "min" else (
            area[i] + area[rest] - inter)
        order = rest[inter / denom <= threshold]
    return np.asarray(keep, np.intp)


def square(boxes: np.ndarray) -> np.ndarray:
    """Boxes grown to squares around their centres (MTCNN's ``rerec``)."""
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def pyramid(img: Image, depth: int = 3) -> list[Image]:
    """[img, img/2, img/4, ...] by 2x2 means (img may be the frame's uint8 RGB view)."""
    levels: list[Image] = [img]
    for _ in range(depth - 1):
        levels.append(downscale2(levels[-1]))
    return levels

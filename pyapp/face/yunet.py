"""YuNet (OpenCV Zoo, 2023mar) decoded in numpy: pipeline v2's detector.

YuNet is one small anchor-free network: for each cell of three grids (strides 8, 16, 32) it
gives a class and an objectness score (the face score is sqrt(cls * obj)), a box (centre
offset in cells, log width and height in cells) and five landmarks (offsets in cells), in the
same order as MTCNN's (eye, eye, nose, mouth corner, mouth corner; image left first).

The frame is read at the level of the 2x2-mean pyramid whose long side is nearest
``input_long`` (a 640x480 camera frame: its 160x120 quarter), converted to BGR 0..255 and
padded at the bottom and right to multiples of 32. When that finds no face, or only one
narrower than ``retry_width`` pixels at that level, YuNet runs again one level finer (a face
at arm's length fills the quarter frame well; a distant one gets the finer look it needs).
Boxes and landmarks come back in frame pixels (pixel centres at integers). With
``landmarks="refine"`` the kept faces' landmarks are taken again by MTCNN's O-Net from their
boxes (:func:`pyapp.face.mtcnn.refine_landmarks`, crop and mirror averaged), which reads the
full-resolution frame instead of YuNet's small input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pyapp.face.detect import Face, nms, square
from pyapp.face.frame import Image
from pyapp.face.mtcnn import refine_landmarks
from pyapp.ports import Inference

STRIDES = (8, 16, 32)
ALIGN = 32  # YuNet's input height and width must be multiples of this


@dataclass(frozen=True)
class YuNetConfig:
    score: float = 0.6  # smallest sqrt(cls * obj) kept
    nms: float = 0.3  # IoU above which the weaker of two boxes is dropped
    input_long: int = 160  # long side of the pyramid level YuNet reads first (nearest one)
    retry_width: float = 40.0  # a largest face narrower than this (level pixels): look finer
    max_faces: int = 16
    # "yunet": YuNet's own landmarks; "refine": MTCNN's O-Net on each kept face's box
    landmarks: str = "refine"
    # the O-Net box for "refine", from YuNet's box: centre shifted down by this many box
    # heights and the side scaled by this factor (YuNet's box reaches higher, to the hairline)
    refine_shift: float = 0.0
    refine_scale: float = 1.0


def level_for(height: int, width: int, levels: int, input_long: int) -> int:
    """The pyramid level whose long side is nearest ``input_long`` (never upsampled)."""
    long_side = max(height, width)
    if long_side <= input_long:
        return 0
    return int(min(levels - 1, max(0, round(math.log2(long_side / input_long)))))


def network_input(img: Image) -> np.ndarray:
    """[1, 3, H', W'] BGR 0..255 float32, zero-padded to multiples of 32."""
    h, w = img.shape[0], img.shape[1]
    ph, pw = -(-h // ALIGN) * ALIGN, -(-w // ALIGN) * ALIGN
    x = np.zeros((1, 3, ph, pw), np.float32)
    x[0, :, :h, :w] = np.moveaxis(np.asarray(img, np.float32)[:, :, ::-1], 2, 0)
    return x


def decode(out: dict[str, np.ndarray], height: int, width: int, threshold: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes [N, 4] (x1, y1, x2, y2), scores [N] and landmarks [N, 5, 2] above
    ``threshold``, in the network input's corner-based pixel coordinates."""
    boxes, scores, marks = [], [], []
    for s in STRIDES:
        cols = width // s
        cls = np.clip(out[f"cls_{s}"][0, :, 0], 0, 1)
        obj = np.clip(out[f"obj_{s}"][0, :, 0], 0, 1)
        score = np.sqrt(cls * obj)
        idx = np.nonzero(score >= threshold)[0]
        if idx.size == 0:
            continue
        row, col = (idx // cols).astype(np.float64), (idx % cols).astype(np.float64)
        b = out[f"bbox_{s}"][0, idx].astype(np.float64)
        cx, cy = (col + b[:, 0]) * s, (row + b[:, 1]) * s
        w, h = np.exp(b[:, 2]) * s, np.exp(b[:, 3]) * s
        boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1))
        k = out[f"kps_{s}"][0, idx].astype(np.float64).reshape(-1, 5, 2)
        marks.append(np.stack([(k[:, :, 0] + col[:, None]) * s,
                               (k[:, :, 1] + row[:, None]) * s], axis=2))
        scores.append(score[idx].astype(np.float64))
    if not boxes:
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(marks)


def refine_box(boxes: np.ndarray, config: YuNetConfig) -> np.ndarray:
    """The square O-Net box for each YuNet box, integer and in MTCNN's 1-based convention
    (a box covers pixels x1 - 1 .. x2 - 1)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx = (boxes[:, 0] + boxes[:, 2]) / 2 + 1
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 + 1 + config.refine_shift * h
    side = np.maximum(w, h) * config.refine_scale / 2
    out = np.stack([cx - side, cy - side, cx + side, cy + side], axis=1)
    fixed: np.ndarray = np.fix(square(out))
    return fixed


@dataclass(frozen=True)
class YuNetDetector:
    """YuNet (and, for ``landmarks="refine"``, MTCNN's O-Net) as a Detector."""

    model: Inference
    onet: Inference | None = None
    config: YuNetConfig = YuNetConfig()

    async def run_level(self, levels: list[Image], level: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes, scores, landmarks of YuNet on one pyramid level (that level's pixels)."""
        x = network_input(levels[level])
        out = await self.model.run({"input": x})
        return decode(out, x.shape[2], x.shape[3], self.config.score)

    async def detect(self, img: Image, levels: list[Image]) -> list[Face]:
        cfg = self.config
        level = level_for(img.shape[0], img.shape[1], len(levels), cfg.input_long)
        boxes, scores, marks = await self.run_level(levels, level)
        widest = float((boxes[:, 2] - boxes[:, 0]).max()) if boxes.shape[0] else 0.0
        if level > 0 and widest < cfg.retry_width:
            level -= 1
            boxes, scores, marks = await self.run_level(levels, level)
        if boxes.shape[0] == 0:
            return []
        keep = nms(boxes, scores, cfg.nms)[: cfg.max_faces]
        # corner-based level coordinates -> frame pixels with centres at integers
        f = float(2 ** level)
        boxes, scores = boxes[keep] * f - 0.5, scores[keep]
        marks = marks[keep] * f - 0.5
        if cfg.landmarks == "refine":
            if self.onet is None:
                raise ValueError("landmarks='refine' needs MTCNN's O-Net")
            marks = await refine_landmarks(levels, refine_box(boxes, cfg), self.onet)
        return [Face((float(b[0]), float(b[1]), float(b[2]), float(b[3])), float(sc), mk)
                for b, sc, mk in zip(boxes, scores, marks, strict=True)]

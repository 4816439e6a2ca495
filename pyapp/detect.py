"""Face detection: MTCNN (P-Net, R-Net, O-Net) decoded in numpy, with non-maximum suppression.

Follows Zhang et al. 2016 / ipazc's MTCNN (thresholds 0.6/0.7/0.7, pyramid factor 0.709,
the same box regression, squaring and 1-based crop convention), with two speed changes for
the browser: the pyramid is built from a half-resolution copy of the frame and starts at a
minimum face size of ``min_face`` frame pixels, and R-Net crops come from that half-resolution
copy. R-Net crops come from a quarter-resolution copy; O-Net, which gives the landmarks,
reads the half-resolution copy with 2x2 supersampling (the full frame for small faces).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyapp.frame import FloatImage, downscale2, resize, sample, supersampling
from pyapp.ports import Inference

MEAN, SCALE = np.float32(127.5), np.float32(0.0078125)
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


@dataclass(frozen=True)
class DetectorConfig:
    min_face: float = 48.0  # smallest face searched for, frame pixels
    factor: float = 0.709
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    max_candidates: int = 64  # boxes passed from P-Net to R-Net
    mirror_landmarks: bool = True  # average O-Net's landmarks over the crop and its mirror
    onet_full_res: bool = False  # O-Net crops from the full frame (else half resolution)


@dataclass(frozen=True)
class Detector:
    pnet: Inference
    rnet: Inference
    onet: Inference
    config: DetectorConfig = DetectorConfig()


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


def regress(boxes: np.ndarray, reg: np.ndarray, plus_one: bool = True) -> np.ndarray:
    """Apply the networks' box regression (offsets relative to the box size)."""
    extra = 1.0 if plus_one else 0.0
    w = boxes[:, 2] - boxes[:, 0] + extra
    h = boxes[:, 3] - boxes[:, 1] + extra
    out = boxes.copy()
    out[:, 0:4] = boxes[:, 0:4] + reg[:, 0:4] * np.stack([w, h, w, h], axis=1)
    return out


def pnet_boxes(prob: np.ndarray, reg: np.ndarray, scale: float, threshold: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate boxes from one P-Net output map (prob: [H', W'], reg: [H', W', 4])."""
    rows, cols = np.nonzero(prob >= threshold)
    score = prob[rows, cols]
    x1 = np.fix((2 * cols + 1) / scale)
    y1 = np.fix((2 * rows + 1) / scale)
    x2 = np.fix((2 * cols + 12) / scale)
    y2 = np.fix((2 * rows + 12) / scale)
    return np.stack([x1, y1, x2, y2], axis=1), score, reg[rows, cols]


def crops(img: FloatImage, boxes: np.ndarray, size: int, shrink: float = 1.0,
          max_k: int = 4) -> np.ndarray:
    """Normalised [N, W, H, 3] network input: each (integer) box resampled to size x size.

    A box covers pixels x1-1 .. x2-1 (MTCNN's 1-based convention); outside the image is 0
    before normalisation, as in MTCNN. ``img`` may be the frame shrunk by ``shrink``.
    """
    n = boxes.shape[0]
    w = (boxes[:, 2] - boxes[:, 0] + 1) / shrink
    h = (boxes[:, 3] - boxes[:, 1] + 1) / shrink
    k = supersampling(float(max(w.max(), h.max())) / size, max_k) if n else 1
    t = (np.arange(size * k, dtype=np.float64) + 0.5) / (size * k)
    x0 = (boxes[:, 0] - 1) / shrink - 0.5 + 0.5 / shrink
    y0 = (boxes[:, 1] - 1) / shrink - 0.5 + 0.5 / shrink
    xs = x0[:, None, None] + w[:, None, None] * t[None, None, :]
    ys = y0[:, None, None] + h[:, None, None] * t[None, :, None]
    xs, ys = np.broadcast_arrays(xs, ys)
    patch = sample(img, xs, ys)
    if k > 1:
        patch = patch.reshape(n, size, k, size, k, 3).mean(axis=(2, 4))
    patch = (patch - MEAN) * SCALE
    return np.ascontiguousarray(patch.transpose(0, 2, 1, 3), dtype=np.float32)


def pyramid_scales(height: int, width: int, config: DetectorConfig) -> list[float]:
    m = 12.0 / config.min_face
    side = min(height, width) * m
    scales: list[float] = []
    while side >= 12:
        scales.append(m * config.factor ** len(scales))
        side *= config.factor
    return scales


async def detect(img: FloatImage, detector: Detector) -> list[Face]:
    """All faces in an (H, W, 3) RGB float image, best first."""
    cfg = detector.config
    height, width = img.shape[0], img.shape[1]
    half = downscale2(img)
    thr = cfg.thresholds

    # stage 1: P-Net over the pyramid; each level is resampled from the previous one
    all_boxes, all_scores, all_reg = [], [], []
    quarter = downscale2(half)
    source = half
    for s in pyramid_scales(height, width, cfg):
        lh, lw = math.ceil(height * s), math.ceil(width * s)
        source = resize(source, lh, lw)
        level = (source - MEAN) * SCALE
        out = await detector.pnet.run({"input_1": level.transpose(1, 0, 2)[None]})
        prob = out["softmax"][0, :, :, 1].T
        reg = out["conv2d_4"][0].transpose(1, 0, 2)
        boxes, scores, regs = pnet_boxes(prob, reg, s, thr[0])
        keep = nms(boxes, scores, 0.5)
        all_boxes.append(boxes[keep])
        all_scores.append(scores[keep])
        all_reg.append(regs[keep])
    if not all_boxes or sum(b.shape[0] for b in all_boxes) == 0:
        return []
    boxes, scores, regs = (np.concatenate(all_boxes), np.concatenate(all_scores),
                           np.concatenate(all_reg))
    keep = nms(boxes, scores, 0.7)[: cfg.max_candidates]
    boxes = np.fix(square(regress(boxes[keep], regs[keep], plus_one=False)))

    # stage 2: R-Net refines and filters (crops from the quarter-resolution image)
    out = await detector.rnet.run({"input_2": crops(quarter, boxes, 24, 4.0, 1)})
    score = out["softmax_1"][:, 1]
    ok = score > thr[1]
    boxes, score, reg = boxes[ok], score[ok], out["dense_2"][ok]
    if boxes.shape[0] == 0:
        return []
    keep = nms(boxes, score, 0.7)
    boxes = np.fix(square(regress(boxes[keep], reg[keep])))

    # stage 3: O-Net gives the final boxes and the landmarks
    big = float((boxes[:, 2] - boxes[:, 0]).max()) >= 2 * 48 and not cfg.onet_full_res
    source, shrink = (half, 2.0) if big else (img, 1.0)
    patches = crops(source, boxes, 48, shrink, 2 if big else 4)
    n = boxes.shape[0]
    if cfg.mirror_landmarks:
        patches = np.concatenate([patches, patches[:, ::-1]])
    res: dict[str, Any] = {k: v.astype(np.float64) for k, v in
                           (await detector.onet.run({"input_3": patches})).items()}
    if cfg.mirror_landmarks:
        pts, mpts = res["dense_6"][:n], res["dense_6"][n:]
        mirrored = np.concatenate([1.0 - mpts[:, [1, 0, 2, 4, 3]], mpts[:, [6, 5, 7, 9, 8]]], 1)
        mreg = res["dense_5"][n:]
        res = {"dense_6": (pts + mirrored) / 2,
               "dense_5": (res["dense_5"][:n] + np.stack(
                   [-mreg[:, 2], mreg[:, 1], -mreg[:, 0], mreg[:, 3]], axis=1)) / 2,
               "softmax_2": (res["softmax_2"][:n] + res["softmax_2"][n:]) / 2}
    score = res["softmax_2"][:, 1]
    ok = score > thr[2]
    boxes, score = boxes[ok], score[ok]
    reg, pts = res["dense_5"][ok], res["dense_6"][ok]
    if boxes.shape[0] == 0:
        return []
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    xs = w[:, None] * pts[:, 0:5] + boxes[:, 0:1] - 1
    ys = h[:, None] * pts[:, 5:10] + boxes[:, 1:2] - 1
    boxes = regress(boxes, reg)
    keep = nms(boxes, score, 0.7, "min")
    return [Face(tuple(float(v) for v in boxes[i, :4]), float(score[i]),  # type: ignore[arg-type]
                 np.stack([xs[i], ys[i]], axis=1)) for i in keep]

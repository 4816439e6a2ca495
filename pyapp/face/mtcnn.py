"""MTCNN (P-Net, R-Net, O-Net) decoded in numpy: pipeline v1's detector, and the O-Net
landmark refinement pipeline v2 puts on YuNet's boxes.

Follows Zhang et al. 2016 / ipazc's MTCNN (thresholds 0.6/0.7/0.7, pyramid factor 0.709,
the same box regression, squaring and 1-based crop convention), with speed changes for the
browser: the P-Net pyramid starts at a minimum face size of ``min_face`` frame pixels, is
resampled from a half-resolution copy, and all its levels go through P-Net as one canvas (one
run); R-Net and O-Net crops read the coarsest 2x2-mean level of the frame on which the box is
still at least as wide as the crop. The landmarks of the kept faces come from one more small
O-Net run on their final boxes and the mirrored crops, averaged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pyapp.face.detect import Face, nms, pyramid, square
from pyapp.face.frame import FloatImage, Image, resize, sample
from pyapp.ports import Inference

MEAN, SCALE = np.float32(127.5), np.float32(0.0078125)


@dataclass(frozen=True)
class MtcnnConfig:
    min_face: float = 48.0  # smallest face searched for, frame pixels
    factor: float = 0.709
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    max_candidates: int = 64  # boxes passed from P-Net to R-Net
    # "onet": O-Net's landmarks as they are; "mirror": averaged with those of the mirrored
    # crop (one more O-Net run); "refine": from a second O-Net run on each kept face's final
    # box (squared, so better centred than the R-Net box) and its mirror, averaged
    landmarks: str = "refine"
    mosaic: bool = True  # all P-Net levels in one run (one canvas) instead of one run each


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


def crops(levels: list[Image], boxes: np.ndarray, size: int, mirror: bool = False
          ) -> np.ndarray:
    """Normalised [N, W, H, 3] network input: each (integer) box resampled to size x size.

    A box covers pixels x1-1 .. x2-1 (MTCNN's 1-based convention); outside the image is 0
    before normalisation, as in MTCNN. ``levels`` = [frame, frame/2, frame/4, ...] (2x2
    means); each crop reads the coarsest level on which its box is still at least ``size``
    wide, bilinear, so no crop shrinks by 2 or more (no aliasing, few samples).
    """
    n = boxes.shape[0]
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) + 1
    level = np.clip(np.floor(np.log2(np.maximum(side / size, 1.0))), 0, len(levels) - 1)
    out = np.empty((n, size, size, 3), np.float32)
    t = (np.arange(size, dtype=np.float64) + 0.5) / size
    for lv in np.unique(level).astype(int):
        idx = np.nonzero(level == lv)[0]
        shrink = float(2 ** lv)
        b = boxes[idx]
        w = (b[:, 2] - b[:, 0] + 1) / shrink
        h = (b[:, 3] - b[:, 1] + 1) / shrink
        x0 = (b[:, 0] - 1) / shrink - 0.5 + 0.5 / shrink
        y0 = (b[:, 1] - 1) / shrink - 0.5 + 0.5 / shrink
        tx = t[::-1] if mirror else t
        xs = x0[:, None, None] + w[:, None, None] * tx[None, None, :]
        ys = y0[:, None, None] + h[:, None, None] * t[None, :, None]
        xs, ys = np.broadcast_arrays(xs, ys)
        out[idx] = sample(levels[lv], xs, ys)
    patch = (out - MEAN) * SCALE
    return np.ascontiguousarray(patch.transpose(0, 2, 1, 3), dtype=np.float32)


def pyramid_scales(height: int, width: int, config: MtcnnConfig) -> list[float]:
    m = 12.0 / config.min_face
    side = min(height, width) * m
    scales: list[float] = []
    while side >= 12:
        scales.append(m * config.factor ** len(scales))
        side *= config.factor
    return scales


def mosaic_layout(sizes: list[tuple[int, int]]) -> tuple[tuple[int, int],
                                                        list[tuple[int, int]]]:
    """Where each (height, width) level goes on one canvas: (canvas size, [(top, left)]).

    The first (largest) level sits at the top left; the others fill columns to its right,
    top to bottom. Offsets are even, so P-Net's stride-2 grid of every level falls on the
    canvas grid.
    """
    height = sizes[0][0]
    places = [(0, 0)]
    left = sizes[0][1] + sizes[0][1] % 2
    top, column_width = 0, 0
    for h, w in sizes[1:]:
        if top > 0 and top + h > height:  # next column
            left += column_width + column_width % 2
            top, column_width = 0, 0
        places.append((top, left))
        top += h + h % 2
        column_width = max(column_width, w)
    return (max(height, max(t + h for (t, _), (h, _) in zip(places, sizes, strict=True))),
            left + column_width), places


def _pnet_output(out: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """P-Net's outputs as (face probability [H', W'], box regression [H', W', 4])."""
    return out["softmax"][0, :, :, 1].T, out["conv2d_4"][0].transpose(1, 0, 2)


async def _pnet_each(levels: list[FloatImage], pnet: Inference
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """P-Net run once per pyramid level."""
    maps = []
    for level in levels:
        x = (level - MEAN) * SCALE
        maps.append(_pnet_output(await pnet.run({"input_1": x.transpose(1, 0, 2)[None]})))
    return maps


async def _pnet_mosaic(levels: list[FloatImage], pnet: Inference
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
    """P-Net run once on a canvas holding every pyramid level (each call has a fixed cost of
    about a millisecond in onnxruntime-web). P-Net is convolutional with a 12-pixel window at
    stride 2, so a window that lies inside one level gives that level's own output; only
    those windows are kept (windows across two levels are dropped).
    """
    (ch, cw), places = mosaic_layout([lv.shape[:2] for lv in levels])
    canvas = np.zeros((1, cw, ch, 3), np.float32)  # P-Net takes width and height swapped
    for level, (top, left) in zip(levels, places, strict=True):
        h, w = level.shape[0], level.shape[1]
        canvas[0, left:left + w, top:top + h] = ((level - MEAN) * SCALE).transpose(1, 0, 2)
    prob, reg = _pnet_output(await pnet.run({"input_1": canvas}))
    maps = []
    for level, (top, left) in zip(levels, places, strict=True):
        rows = max(0, (level.shape[0] - 12) // 2 + 1)
        cols = max(0, (level.shape[1] - 12) // 2 + 1)
        r0, c0 = top // 2, left // 2
        maps.append((prob[r0:r0 + rows, c0:c0 + cols], reg[r0:r0 + rows, c0:c0 + cols]))
    return maps


def _onet_decode(out: dict[str, np.ndarray], boxes: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """O-Net outputs -> (score, box regression, landmarks in frame pixels [N, 5, 2])."""
    score = out["softmax_2"][:, 1].astype(np.float64)
    reg = out["dense_5"].astype(np.float64)
    pts = out["dense_6"].astype(np.float64)
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    xs = w[:, None] * pts[:, 0:5] + boxes[:, 0:1] - 1
    ys = h[:, None] * pts[:, 5:10] + boxes[:, 1:2] - 1
    return score, reg, np.stack([xs, ys], axis=2)


def _unmirror(marks: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Landmarks O-Net found on mirrored crops, in frame coordinates with the usual names.

    A mirrored crop maps x to its mirror image about the box centre (x1 - 1 + w / 2), and
    swaps the names left/right.
    """
    w = boxes[:, 2] - boxes[:, 0] + 1
    out = marks[:, [1, 0, 2, 4, 3]].copy()
    out[:, :, 0] = (2 * boxes[:, 0:1] - 2 + w[:, None]) - out[:, :, 0]
    return out


async def refine_landmarks(levels: list[Image], boxes: np.ndarray, onet: Inference
                           ) -> np.ndarray:
    """Landmarks [N, 5, 2] from O-Net run on the (integer, square) ``boxes`` and on their
    mirrored crops, averaged: one run of 2N crops."""
    n = boxes.shape[0]
    out = await onet.run({"input_3": np.concatenate(
        [crops(levels, boxes, 48), crops(levels, boxes, 48, mirror=True)])})
    _, _, both = _onet_decode(out, np.concatenate([boxes, boxes]))
    marks: np.ndarray = (both[:n] + _unmirror(both[n:], boxes)) / 2
    return marks


@dataclass(frozen=True)
class MtcnnDetector:
    """MTCNN as a :class:`pyapp.face.detect.Detector`."""

    pnet: Inference
    rnet: Inference
    onet: Inference
    config: MtcnnConfig = MtcnnConfig()

    async def detect(self, img: Image, levels: list[Image] | None = None) -> list[Face]:
        """All faces in an (H, W, 3) RGB image, best first.

        ``levels`` may pass in ``pyramid(img)`` when the caller already has it.
        """
        cfg = self.config
        height, width = img.shape[0], img.shape[1]
        levels = levels or pyramid(img)
        thr = cfg.thresholds
        boxes = await self._candidates(height, width, levels)
        if boxes.shape[0] == 0:
            return []

        # stage 2: R-Net refines and filters
        out = await self.rnet.run({"input_2": crops(levels, boxes, 24)})
        score = out["softmax_1"][:, 1]
        ok = score > thr[1]
        boxes, score, reg = boxes[ok], score[ok], out["dense_2"][ok]
        if boxes.shape[0] == 0:
            return []
        keep = nms(boxes, score, 0.7)
        boxes = np.fix(square(regress(boxes[keep], reg[keep])))

        # stage 3: O-Net gives the final boxes and the landmarks
        score, reg, marks = _onet_decode(
            await self.onet.run({"input_3": crops(levels, boxes, 48)}), boxes)
        ok = score > thr[2]
        boxes, score, reg, marks = boxes[ok], score[ok], reg[ok], marks[ok]
        if boxes.shape[0] == 0:
            return []
        final = regress(boxes, reg)
        keep = nms(final, score, 0.7, "min")
        boxes, final, marks, score = boxes[keep], final[keep], marks[keep], score[keep]
        if cfg.landmarks == "refine":  # O-Net again on the final, better centred box
            marks = await refine_landmarks(levels, np.fix(square(final)), self.onet)
        elif cfg.landmarks == "mirror":  # O-Net once more on the kept faces' mirrored crops
            _, _, mirrored = _onet_decode(
                await self.onet.run({"input_3": crops(levels, boxes, 48, mirror=True)}),
                boxes)
            marks = (marks + _unmirror(mirrored, boxes)) / 2
        return [Face((float(b[0]), float(b[1]), float(b[2]), float(b[3])), float(sc), mk)
                for b, sc, mk in zip(final, score, marks, strict=True)]

    async def _candidates(self, height: int, width: int, levels: list[Image]) -> np.ndarray:
        """Stage 1: P-Net over the pyramid; each level is resampled from the previous one."""
        cfg = self.config
        scales = pyramid_scales(height, width, cfg)
        pnet_levels: list[FloatImage] = []
        source = np.asarray(levels[1], np.float32)  # levels >= 1 are float32 already
        for s in scales:
            lh, lw = math.ceil(height * s), math.ceil(width * s)
            if source is levels[1] and len(levels) > 2 and levels[2].shape[:2] == (lh, lw):
                source = np.asarray(levels[2], np.float32)  # usually the quarter image itself
            else:
                source = resize(source, lh, lw)
            pnet_levels.append(source)
        maps = await (_pnet_mosaic(pnet_levels, self.pnet) if cfg.mosaic
                      else _pnet_each(pnet_levels, self.pnet))
        all_boxes, all_scores, all_reg = [], [], []
        for s, (prob, reg) in zip(scales, maps, strict=True):
            boxes, scores, regs = pnet_boxes(prob, reg, s, cfg.thresholds[0])
            keep = nms(boxes, scores, 0.5)
            all_boxes.append(boxes[keep])
            all_scores.append(scores[keep])
            all_reg.append(regs[keep])
        if not all_boxes or sum(b.shape[0] for b in all_boxes) == 0:
            return np.zeros((0, 4))
        boxes, scores, regs = (np.concatenate(all_boxes), np.concatenate(all_scores),
                               np.concatenate(all_reg))
        keep = nms(boxes, scores, 0.7)[: cfg.max_candidates]
        fixed: np.ndarray = np.fix(square(regress(boxes[keep], regs[keep], plus_one=False)))
        return fixed

"""Alignment: a similarity transform from the five landmarks to the embedder's template, and a
numpy warp (bilinear, supersampled when the face is shrunk) that cuts out the face chip.

Two templates, named by the embedder's manifest entry (``input.chip.template``):

* ``dlib`` (pipeline v1): dlib's mean face shape (``get_face_chip_details``, landmarks 17-67
  of the 68-point model) with a padding around it, in a 150x150 chip. The five points map to
  the mean shape's eye centres (mean of the six eye-contour points), nose tip (30) and mouth
  corners (48, 54).
* ``arcface`` (pipeline v2, SFace): the five reference points of the InsightFace/ArcFace
  112x112 crop, the template OpenCV's ``FaceRecognizerSF.alignCrop`` uses (no padding).
"""

from __future__ import annotations

import numpy as np

from pyapp.face.frame import FloatImage, Image, sample, supersampling

# dlib's mean face shape, points 17..67 of the 68-point model, unit square.
_MEAN_X = np.array([
    0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124,
    0.904991, 0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036,
    0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
    0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149,
    0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
    0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
    0.553364, 0.490127, 0.42689])
_MEAN_Y = np.array([
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891,
    0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326,
    0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733,
    0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099,
    0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
    0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
    0.784792, 0.824182, 0.831803, 0.824182])


def _mean_point(points: list[int]) -> tuple[float, float]:
    idx = np.asarray(points) - 17
    return float(_MEAN_X[idx].mean()), float(_MEAN_Y[idx].mean())


# MTCNN order: eye on the image left, eye on the image right, nose, mouth left, mouth right.
UNIT_TEMPLATE = np.array([
    _mean_point([36, 37, 38, 39, 40, 41]),
    _mean_point([42, 43, 44, 45, 46, 47]),
    _mean_point([30]),
    _mean_point([48]),
    _mean_point([54]),
])


# ArcFace's 112x112 reference points (pixel centres at integers), same order as above.
ARCFACE_TEMPLATE = np.array([
    [38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
    [70.7299, 92.2041]])
TEMPLATES = ("dlib", "arcface")


def chip_template(size: int = 150, padding: float = 0.25, kind: str = "dlib") -> np.ndarray:
    """The five template points in chip pixel coordinates."""
    if kind == "arcface":
        scaled: np.ndarray = ARCFACE_TEMPLATE * (size / 112.0)
        return scaled
    if kind != "dlib":
        raise ValueError(f"unknown chip template {kind!r} (one of {TEMPLATES})")
    return (UNIT_TEMPLATE + padding) / (1 + 2 * padding) * size


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) mapping ``src`` to ``dst``.

    Umeyama (1991). Returns a 2x3 matrix M with dst ~= M @ [x, y, 1].
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s_c, d_c = src - mu_s, dst - mu_d
    var_s = (s_c ** 2).sum() / len(src)
    cov = d_c.T @ s_c / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    scale = float(np.trace(np.diag(d) @ sign) / var_s) if var_s > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def chip_transform(landmarks: np.ndarray, size: int = 150, padding: float = 0.25,
                   kind: str = "dlib") -> np.ndarray:
    """Frame -> chip similarity for a face's five landmarks."""
    return similarity(landmarks, chip_template(size, padding, kind))


def warp(img: Image, frame_to_chip: np.ndarray, size: int = 150, supersample: bool = True
         ) -> FloatImage:
    """Cut out a size x size chip: chip pixel p shows frame point inverse(M)(p).

    When the face is shrunk (frame scale > chip scale) each chip pixel averages k x k bilinear
    samples, so the chip is not aliased (dlib's chip extractor does the same with a pyramid).
    """
    a = frame_to_chip[:, :2]
    inv = np.linalg.inv(a)
    shift = -inv @ frame_to_chip[:, 2]
    shrink = 1.0 / float(np.sqrt(abs(np.linalg.det(a))))
    k = supersampling(shrink) if supersample else 1  # bilinear alone up to a shrink of 1.25
    t = (np.arange(size * k, dtype=np.float64) + 0.5) / k - 0.5
    # chip pixel (row i, column j) -> frame point, as two broadcast sums (no meshgrid)
    xs = (inv[0, 0] * t)[None, :] + (inv[0, 1] * t + shift[0])[:, None]
    ys = (inv[1, 0] * t)[None, :] + (inv[1, 1] * t + shift[1])[:, None]
    chip = sample(img, xs, ys)
    if k > 1:  # mean of each k x k block, as strided sums (reshape-mean is slow in Pyodide)
        acc = chip[0::k, 0::k].copy()
        for i in range(k):
            for j in range(k):
                if i or j:
                    acc += chip[i::k, j::k]
        chip = acc * np.float32(1.0 / (k * k))
    return chip.astype(np.float32, copy=False)


def crop_region(img: Image, frame_to_chip: np.ndarray, size: int = 150, margin: int = 2
                ) -> tuple[Image, np.ndarray]:
    """The part of ``img`` the chip reads (plus a margin) and the transform shifted onto it.

    Warping from this small crop instead of the whole frame keeps memory traffic low.
    """
    inv = np.linalg.inv(frame_to_chip[:, :2])
    shift = -inv @ frame_to_chip[:, 2]
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64)
    pts = corners @ inv.T + shift
    x0 = max(0, int(np.floor(pts[:, 0].min())) - margin)
    y0 = max(0, int(np.floor(pts[:, 1].min())) - margin)
    x1 = min(img.shape[1], int(np.ceil(pts[:, 0].max())) + margin + 1)
    y1 = min(img.shape[0], int(np.ceil(pts[:, 1].max())) + margin + 1)
    m = frame_to_chip.copy()
    m[:, 2] = frame_to_chip[:, 2] + frame_to_chip[:, :2] @ np.array([x0, y0], np.float64)
    return img[y0:max(y0, y1), x0:max(x0, x1)], m


def level_transform(frame_to_chip: np.ndarray, level: int) -> np.ndarray:
    """The same mapping for pyramid level ``level`` (2x2 means: pixel i covers 2i, 2i+1)."""
    f = float(2 ** level)
    m = frame_to_chip.copy()
    m[:, :2] = frame_to_chip[:, :2] * f
    m[:, 2] = frame_to_chip[:, 2] + frame_to_chip[:, :2] @ np.full(2, (f - 1) / 2)
    return m


def cut_chip(levels: list[Image], frame_to_chip: np.ndarray, size: int = 150,
             source: str = "supersample") -> FloatImage:
    """The chip, read from a level of the 2x2-mean pyramid ``levels`` = [frame, frame/2, ...].

    ``source="supersample"``: the coarsest level that still has >= 1 pixel per chip pixel,
    bilinear, 2x2 supersampled when it still shrinks by 1.25 or more (a quarter of the samples
    of supersampling the full frame, for the same anti-aliasing).
    ``source="pyramid"`` (dlib's own chip extractor does this): the finest level with <= 1
    pixel per chip pixel, bilinear, no supersampling (about a quarter of the samples again).
    """
    shrink = 1.0 / float(np.sqrt(abs(np.linalg.det(frame_to_chip[:, :2]))))
    if source == "pyramid":
        level = int(np.clip(np.ceil(np.log2(max(shrink, 1.0)) - 1e-9), 0, len(levels) - 1))
    else:
        level = int(np.clip(np.floor(np.log2(max(shrink, 1.0))), 0, len(levels) - 1))
    m = level_transform(frame_to_chip, level)
    region, m_region = crop_region(levels[level], m, size)
    return warp(region, m_region, size)

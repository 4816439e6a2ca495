"""Camera frames: validation of RGBA uint8 arrays and the numpy resampling every stage uses.

A frame is what ``canvas.getImageData`` gives: an (H, W, 4) uint8 array, RGBA. Everything
here is vectorised numpy (index arithmetic, no per-pixel Python loops) so it is fast enough
in Pyodide.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from pyapp.errors import InputError

FloatImage = npt.NDArray[np.float32]
Frame = npt.NDArray[np.uint8]
# an image the samplers read: float32, or the frame's own uint8 RGB channels (a view, so the
# full-resolution level of a pyramid costs no conversion)
Image = npt.NDArray[np.float32] | npt.NDArray[np.uint8]

MIN_SIDE = 64  # smaller frames cannot hold a face the gates would accept
MAX_SIDE = 4096
MAX_PIXELS = 4096 * 2304  # 4K: anything larger is not a camera frame
FRAME_SIZE = (640, 480)  # (width, height) of the frames the widget captures


def validate_frame(frame: object, name: str = "frame") -> Frame:
    """Check that ``frame`` is an (H, W, 4) uint8 RGBA array of a sane size; return it."""
    if not isinstance(frame, np.ndarray):
        raise InputError(f"{name} must be a numpy array, not {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise InputError(f"{name} must be uint8 RGBA, not {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 4:
        raise InputError(f"{name} must have shape (height, width, 4), not {frame.shape}")
    h, w = int(frame.shape[0]), int(frame.shape[1])
    if min(h, w) < MIN_SIDE:
        raise InputError(f"{name} is too small ({w}x{h}); at least {MIN_SIDE} pixels a side")
    if max(h, w) > MAX_SIDE or h * w > MAX_PIXELS:
        raise InputError(f"{name} is too large ({w}x{h})")
    return frame


def frame_from_buffer(data: bytes | bytearray | memoryview, width: int, height: int) -> Frame:
    """An RGBA frame from a flat buffer (e.g. ImageData.data); the length must match exactly."""
    if not isinstance(width, int) or not isinstance(height, int) or width <= 0 or height <= 0:
        raise InputError(f"frame size must be positive integers, not {width!r}x{height!r}")
    expected = width * height * 4
    size = memoryview(data).nbytes
    if size != expected:
        raise InputError(f"frame buffer holds {size} bytes, {width}x{height} RGBA needs "
                         f"{expected} (truncated or wrong size)")
    arr = np.frombuffer(data, np.uint8).reshape(height, width, 4)
    return validate_frame(arr)


def rgb(frame: Frame) -> FloatImage:
    """The RGB channels as float32 (alpha dropped: camera frames are opaque)."""
    return frame[:, :, :3].astype(np.float32)


def downscale2(img: Image) -> FloatImage:
    """Halve both sides by averaging 2x2 blocks (an odd last row/column is dropped).

    A uint8 image is summed in float32 (exact), so the result is the same as for its float32
    copy, without making that copy.
    """
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    v = img[:h, :w]
    acc = v[0::2, 0::2].astype(np.float32)
    acc += v[0::2, 1::2]
    acc += v[1::2, 0::2]
    acc += v[1::2, 1::2]
    acc *= np.float32(0.25)
    return acc


def _axis_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of a linear resize along one axis (pixel centres aligned)."""
    pos = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    i0 = np.floor(pos).astype(np.intp)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (pos - i0).astype(np.float32)


def resize(img: FloatImage, out_h: int, out_w: int) -> FloatImage:
    """Bilinear resize of an (H, W, C) float image; shrinks by more than 2x go via 2x2 means."""
    while img.shape[0] >= 2 * out_h and img.shape[1] >= 2 * out_w:
        img = downscale2(img)
    y0, y1, wy = _axis_weights(img.shape[0], out_h)
    x0, x1, wx = _axis_weights(img.shape[1], out_w)
    rows = img[y0] * (1 - wy)[:, None, None] + img[y1] * wy[:, None, None]
    out: FloatImage = (rows[:, x0] * (1 - wx)[None, :, None]
                       + rows[:, x1] * wx[None, :, None]).astype(np.float32, copy=False)
    return out


def sample(img: Image, xs: np.ndarray, ys: np.ndarray) -> FloatImage:
    """Bilinear samples of ``img`` (H, W, C) at float coordinates; outside the image is 0.

    ``xs`` and ``ys`` have any common shape S; the result has shape S + (C,). Pixel (i, j)
    has its centre at x=j, y=i. The part of the image the samples touch is copied into a
    buffer with a zero border (1 pixel before, 2 after) and coordinates are clamped into it,
    so no masks are needed. Coordinates are made relative to that buffer, then float32; each
    corner is one gather of whole pixels (C float32 values as one item): in Pyodide that
    is 3-4x faster than gathering rows of a float array.
    """
    h, w, c = img.shape
    if h == 0 or w == 0 or xs.size == 0:
        return np.zeros((*xs.shape, c), np.float32)
    # only the part of the image the samples can touch is copied into the padded buffer
    x_lo = int(np.clip(np.floor(xs.min()), 0, w - 1))
    y_lo = int(np.clip(np.floor(ys.min()), 0, h - 1))
    x_hi = int(np.clip(np.floor(xs.max()) + 2, x_lo + 1, w))
    y_hi = int(np.clip(np.floor(ys.max()) + 2, y_lo + 1, h))
    img = img[y_lo:y_hi, x_lo:x_hi]
    h, w = img.shape[0], img.shape[1]
    padded = np.zeros((h + 3, w + 3, c), np.float32)
    padded[1:h + 1, 1:w + 1] = img  # (uint8 is converted here, only the touched part)
    pixels = padded.view(np.dtype((np.void, 4 * c))).reshape(-1)  # one item per pixel
    # coordinates relative to the buffer, then float32 (cheaper, and exact enough there)
    x = np.clip((xs - (x_lo - 1)).astype(np.float32), np.float32(0), np.float32(w + 1))
    y = np.clip((ys - (y_lo - 1)).astype(np.float32), np.float32(0), np.float32(h + 1))
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = (x - x0)[..., None]
    fy = (y - y0)[..., None]
    i00 = y0.astype(np.intp) * (w + 3) + x0.astype(np.intp)

    def corner(offset: int) -> FloatImage:
        out: FloatImage = pixels.take(i00 + offset).view(np.float32).reshape(*xs.shape, c)
        return out

    a, b = corner(0), corner(1)
    top = a + (b - a) * fx
    a, b = corner(w + 3), corner(w + 4)
    bottom = a + (b - a) * fx
    result: FloatImage = top + (bottom - top) * fy
    return result


def supersampling(scale: float, cap: int = 4) -> int:
    """How many samples per output pixel and axis a shrink by ``scale`` (> 1) needs."""
    return max(1, min(cap, math.ceil(scale - 0.25)))


def photo_frame(photo: Frame, size: tuple[int, int] = FRAME_SIZE) -> Frame:
    """A photo (H, W, 4) scaled to fit ``size`` = (width, height), centred on black.

    Deterministic: used to turn LFW's 150x150 thumbnails into 640x480 "camera frames" where
    the face has a webcam-like size (about 200 pixels wide).
    """
    photo = validate_frame(photo, "photo")
    fw, fh = size
    s = min(fw / photo.shape[1], fh / photo.shape[0])
    pw, ph = max(1, round(photo.shape[1] * s)), max(1, round(photo.shape[0] * s))
    scaled = resize(photo.astype(np.float32), ph, pw)
    out = np.zeros((fh, fw, 4), np.uint8)
    out[:, :, 3] = 255
    top, left = (fh - ph) // 2, (fw - pw) // 2
    out[top:top + ph, left:left + pw] = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    out[top:top + ph, left:left + pw, 3] = 255
    return out

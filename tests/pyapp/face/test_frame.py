"""pyapp.face.frame: RGBA frame validation and the numpy resampling primitives."""

from __future__ import annotations

import numpy as np
import pytest

from pyapp.errors import InputError
from pyapp.face.frame import (
    downscale2,
    frame_from_buffer,
    photo_frame,
    resize,
    rgb,
    sample,
    supersampling,
    validate_frame,
)


def rgba(h: int, w: int, value: int = 128) -> np.ndarray:
    f = np.full((h, w, 4), value, np.uint8)
    f[..., 3] = 255
    return f


@pytest.mark.parametrize(("bad", "fragment"), [
    (None, "numpy array"),
    ([[1, 2, 3, 4]], "numpy array"),
    (np.zeros((480, 640, 4), np.float32), "uint8"),
    (np.full((480, 640, 4), np.nan, np.float32), "uint8"),
    (np.zeros((480, 640, 3), np.uint8), "shape"),
    (np.zeros((480, 640), np.uint8), "shape"),
    (np.zeros((0, 0, 4), np.uint8), "too small"),
    (np.zeros((10, 10, 4), np.uint8), "too small"),
    (np.zeros((5000, 64, 4), np.uint8), "too large"),
])
def test_bad_frames_raise_input_error(bad: object, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        validate_frame(bad)


def test_valid_frame_is_returned_unchanged() -> None:
    f = rgba(480, 640)
    assert validate_frame(f) is f


def test_frame_from_buffer_checks_length() -> None:
    data = bytes(range(256)) * (64 * 64 * 4 // 256)
    f = frame_from_buffer(data, 64, 64)
    assert f.shape == (64, 64, 4)
    assert f[0, 0].tolist() == [0, 1, 2, 3]
    with pytest.raises(InputError, match="truncated"):
        frame_from_buffer(data[:-1], 64, 64)
    with pytest.raises(InputError, match="truncated"):
        frame_from_buffer(b"", 64, 64)
    with pytest.raises(InputError, match="positive"):
        frame_from_buffer(data, 0, 64)


def test_rgb_drops_alpha() -> None:
    f = rgba(64, 64)
    f[..., 0] = 10
    out = rgb(f)
    assert out.shape == (64, 64, 3) and out.dtype == np.float32
    assert out[0, 0].tolist() == [10.0, 128.0, 128.0]


def test_downscale2_averages_blocks() -> None:
    img = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    out = downscale2(img)
    assert out[:, :, 0].tolist() == [[2.5, 4.5], [10.5, 12.5]]


def test_resize_keeps_constant_and_linear_images() -> None:
    const = np.full((40, 60, 3), 7.0, np.float32)
    assert np.allclose(resize(const, 17, 23), 7.0)
    ramp = np.tile(np.arange(60, dtype=np.float32)[None, :, None], (40, 1, 3))
    out = resize(ramp, 40, 120)  # upsample x2: pixel centres keep a linear ramp linear
    inner = out[0, 2:-2, 0]
    assert np.allclose(np.diff(inner), 0.5, atol=1e-5)


def test_sample_bilinear_and_zero_outside() -> None:
    img = np.array([[0, 10], [20, 30]], np.float32)[:, :, None]
    xs = np.array([0.5, 0.0, 1.0, -5.0, 3.0, -0.5])
    ys = np.array([0.5, 0.0, 1.0, 0.0, 0.0, 0.0])
    out = sample(img, xs, ys)[:, 0]
    assert out.tolist() == pytest.approx([15.0, 0.0, 30.0, 0.0, 0.0, 0.0])


def test_supersampling_grows_with_shrink() -> None:
    assert supersampling(1.0) == 1
    assert supersampling(2.0) == 2
    assert supersampling(9.0) == 4


def test_photo_frame_letterboxes_deterministically() -> None:
    photo = rgba(150, 150, 200)
    f1, f2 = photo_frame(photo), photo_frame(photo)
    assert f1.shape == (480, 640, 4) and np.array_equal(f1, f2)
    assert f1[240, 320, :3].tolist() == [200, 200, 200]
    assert f1[240, 10, :3].tolist() == [0, 0, 0]  # the letterbox bar
    assert np.all(f1[..., 3] == 255)


def test_uint8_images_resample_like_their_float_copy() -> None:
    rng = np.random.default_rng(5)
    u8 = rng.integers(0, 256, (61, 80, 3), dtype=np.uint8)
    f32 = u8.astype(np.float32)
    assert np.array_equal(downscale2(u8), downscale2(f32))  # exact: sums of small integers
    xs = rng.uniform(-3, 83, (7, 9))
    ys = rng.uniform(-3, 64, (7, 9))
    assert np.array_equal(sample(u8, xs, ys), sample(f32, xs, ys))
    assert sample(u8, xs, ys).dtype == np.float32


def test_sample_matches_a_direct_bilinear_formula() -> None:
    rng = np.random.default_rng(6)
    img = rng.uniform(0, 255, (40, 50, 3)).astype(np.float32)
    xs = rng.uniform(0, 49, 200)
    ys = rng.uniform(0, 39, 200)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    x1, y1 = np.minimum(x0 + 1, 49), np.minimum(y0 + 1, 39)
    fx, fy = (xs - x0)[:, None], (ys - y0)[:, None]
    want = ((img[y0, x0] * (1 - fx) + img[y0, x1] * fx) * (1 - fy)
            + (img[y1, x0] * (1 - fx) + img[y1, x1] * fx) * fy)
    assert np.allclose(sample(img, xs, ys), want, atol=2e-3)

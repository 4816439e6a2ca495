"""pyapp.face.align: similarity from landmarks to dlib's template, and the numpy chip warp."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pyapp.face.align import (
    UNIT_TEMPLATE,
    chip_template,
    chip_transform,
    crop_region,
    similarity,
    warp,
)


def rotation(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    a = math.radians(angle_deg)
    m = np.zeros((2, 3))
    m[:, :2] = scale * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    m[:, 2] = shift
    return m


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def test_template_is_a_plausible_face() -> None:
    t = chip_template(150, 0.25)
    left_eye, right_eye, nose, mouth_l, _ = t
    assert left_eye[0] < nose[0] < right_eye[0]
    assert left_eye[1] == right_eye[1] or abs(left_eye[1] - right_eye[1]) < 1e-9
    assert left_eye[1] < nose[1] < mouth_l[1]
    assert np.allclose(t, (UNIT_TEMPLATE + 0.25) / 1.5 * 150)
    assert 45 < right_eye[0] - left_eye[0] < 60  # dlib chips: eyes ~53 px apart


def test_similarity_recovers_a_known_transform() -> None:
    src = np.array([[10.0, 20.0], [50.0, 22.0], [30.0, 40.0], [15.0, 60.0], [48.0, 61.0]])
    m = rotation(17.0, 1.7, (5.0, -3.0))
    got = similarity(src, apply(m, src))
    assert np.allclose(got, m, atol=1e-9)


def test_similarity_never_reflects() -> None:
    src = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    mirrored = src * np.array([-1.0, 1.0])
    got = similarity(src, mirrored)
    assert np.linalg.det(got[:, :2]) > 0


def test_chip_transform_maps_landmarks_to_template() -> None:
    m_true = rotation(-8.0, 0.6, (-100.0, -40.0))  # frame -> chip
    frame_pts = apply(np.linalg.inv(np.vstack([m_true, [0, 0, 1]]))[:2], chip_template())
    m = chip_transform(frame_pts)
    assert np.allclose(apply(m, frame_pts), chip_template(), atol=1e-6)


def test_warp_reproduces_a_shifted_image() -> None:
    yy, xx = np.mgrid[0:200, 0:300].astype(np.float32)
    img = np.stack([xx, yy, xx + yy], axis=-1)
    m = np.array([[1.0, 0.0, -40.0], [0.0, 1.0, -30.0]])  # chip pixel = frame pixel - (40, 30)
    chip = warp(img, m, 150)
    assert chip.shape == (150, 150, 3)
    assert np.allclose(chip[0, 0], [40, 30, 70]) and np.allclose(chip[149, 149], [189, 179, 368])


def test_warp_supersamples_when_shrinking() -> None:
    checker = ((np.indices((600, 600)).sum(axis=0) % 2) * 255).astype(np.float32)
    img = np.repeat(checker[:, :, None], 3, axis=2)
    m = np.array([[0.25, 0.0, 0.0], [0.0, 0.25, 0.0]])  # shrink 4x
    chip = warp(img, m, 150)
    assert np.all(np.abs(chip[5:-5, 5:-5] - 127.5) < 40)  # averaged, not aliased


def test_crop_region_gives_the_same_chip() -> None:
    rng = np.random.default_rng(3)
    img = rng.uniform(0, 255, (480, 640, 3)).astype(np.float32)
    m = rotation(12.0, 0.7, (-150.0, -60.0))
    full = warp(img, m)
    region, m2 = crop_region(img, m)
    assert region.shape[0] < 480 and region.shape[1] < 640
    assert np.allclose(warp(region, m2), full, atol=1e-3)


def test_crop_region_of_a_face_outside_is_empty_but_safe() -> None:
    img = np.ones((100, 100, 3), np.float32)
    m = np.array([[1.0, 0.0, 1000.0], [0.0, 1.0, 1000.0]])
    region, m2 = crop_region(img, m)
    assert np.all(warp(region, m2) == 0)


def test_cut_chip_pyramid_source_is_close_to_supersampling() -> None:
    from pyapp.face.align import cut_chip
    from pyapp.face.detect import pyramid

    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    img = np.stack([np.sin(xx / 9) * 60 + 120, np.cos(yy / 7) * 60 + 120, (xx + yy) / 5],
                   axis=-1).astype(np.float32)
    levels = pyramid(img)
    m = rotation(10.0, 0.6, (-150.0, -60.0))  # the face is shrunk 1.67x: level 0 or 1
    fine = cut_chip(levels, m, 150, "supersample")
    coarse = cut_chip(levels, m, 150, "pyramid")
    assert fine.shape == coarse.shape == (150, 150, 3)
    assert not np.array_equal(fine, coarse)  # different levels were read
    assert np.abs(fine - coarse)[5:-5, 5:-5].mean() < 2.0  # grey levels, of 0..255
    assert np.array_equal(cut_chip(levels, m, 150), fine)  # supersampling is the default


def test_arcface_template_is_the_112_crop() -> None:
    t = chip_template(112, kind="arcface")
    assert t[0].tolist() == pytest.approx([38.2946, 51.6963])
    assert t[0, 0] < t[2, 0] < t[1, 0] and t[2, 1] < t[3, 1]  # eyes, nose, mouth in order
    assert np.allclose(chip_template(224, kind="arcface"), 2 * t)
    with pytest.raises(ValueError, match="unknown chip template"):
        chip_template(112, kind="sphereface")

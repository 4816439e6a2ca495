"""pyapp.face.mtcnn: MTCNN decoding (known answers) and detection on real photos."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import onnxruntime  # noqa: F401  (CPython only: runs the real models)
import pytest

from pyapp.face.detect import pyramid
from pyapp.face.frame import photo_frame, rgb
from pyapp.face.mtcnn import (
    MtcnnConfig,
    crops,
    mosaic_layout,
    pnet_boxes,
    pyramid_scales,
    regress,
)
from tests.pyapp.conftest import run


def test_regress() -> None:
    moved = regress(np.array([[0.0, 0.0, 9.0, 9.0]]), np.array([[0.1, 0.0, 0.1, -0.1]]))
    assert moved.tolist() == [[1.0, 0.0, 10.0, 8.0]]


def test_pnet_boxes_map_cells_back_to_the_frame() -> None:
    prob = np.zeros((5, 7))
    prob[2, 3] = 0.95
    boxes, scores, _ = pnet_boxes(prob, np.zeros((5, 7, 4)), 0.5, 0.6)
    assert scores.tolist() == [0.95]
    assert boxes.tolist() == [[14.0, 10.0, 36.0, 32.0]]  # fix((2*3+1)/0.5) ... fix((2*2+12)/.5)


def test_pyramid_starts_at_the_minimum_face() -> None:
    scales = pyramid_scales(480, 640, MtcnnConfig(min_face=48))
    assert scales[0] == pytest.approx(0.25)
    assert 480 * scales[-1] >= 12 and 480 * scales[-1] * 0.709 < 12


def test_crops_layout_and_zero_padding() -> None:
    img = np.full((100, 100, 3), 127.5, np.float32)
    out = crops([img], np.array([[-49.0, 1.0, 50.0, 100.0]]), 24)
    assert out.shape == (1, 24, 24, 3)  # [N, W, H, C]
    assert np.allclose(out[0, :10], -127.5 * 0.0078125)  # left half is outside: zeros
    assert np.allclose(out[0, 14:, :-1], 0.0, atol=1e-5)  # the last row blends with the border


def test_one_face_with_landmarks_in_place(models_v1: Any, lfw_frame: Any) -> None:
    faces = run(models_v1.detector.detect(rgb(lfw_frame("Aaron_Sorkin", 1))))
    assert len(faces) == 1
    face = faces[0]
    x1, y1, x2, y2 = face.box
    assert face.score > 0.95 and 150 < face.width < 260
    lm = face.landmarks
    assert np.all((lm[:, 0] > x1) & (lm[:, 0] < x2) & (lm[:, 1] > y1) & (lm[:, 1] < y2))
    left_eye, right_eye, nose, mouth_l, mouth_r = lm
    assert left_eye[0] < nose[0] < right_eye[0] and mouth_l[0] < mouth_r[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_l[1], mouth_r[1])
    assert "landmarks" not in repr(face)


def test_no_face_in_a_blank_or_noise_frame(models_v1: Any) -> None:
    blank = np.full((480, 640, 4), 90, np.uint8)
    assert run(models_v1.detector.detect(rgb(blank))) == []
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 4), dtype=np.uint8)
    assert run(models_v1.detector.detect(rgb(noise))) == []


def test_five_faces_are_five(models_v1: Any, lfw_photo: Any) -> None:
    people = [("Aaron_Sorkin", 1), ("Abbas_Kiarostami", 1), ("Abdoulaye_Wade", 1),
              ("Aaron_Patterson", 1), ("Abdel_Madi_Shabneh", 1)]
    frame = np.zeros((480, 640, 4), np.uint8)
    frame[..., 3] = 255
    spots = [(10, 10), (10, 240), (10, 470), (250, 120), (250, 360)]
    for (name, n), (top, left) in zip(people, spots, strict=True):
        photo = photo_frame(lfw_photo(name, n), (160, 160))
        frame[top:top + 160, left:left + 160] = photo
    faces = run(models_v1.detector.detect(rgb(frame)))
    assert len(faces) == 5


def test_crops_read_a_coarser_level_for_big_boxes() -> None:
    rng = np.random.default_rng(2)
    img = rng.uniform(0, 255, (400, 400, 3)).astype(np.float32)
    levels = pyramid(img)
    box = np.array([[101.0, 101.0, 300.0, 300.0]])  # 200 px -> 48: read from the quarter
    got = crops(levels, box, 48)
    assert got.shape == (1, 48, 48, 3)
    # the same crop from a 2x2-mean image, computed by hand at the quarter level
    q = levels[2]
    assert np.allclose(got[0, 0, 0], (q[25, 25] - 127.5) * 0.0078125, atol=0.05)
    mirrored = crops(levels, box, 48, mirror=True)
    assert np.allclose(mirrored[0, ::-1], got[0], atol=1e-5)  # [N, W, H, C]: W reversed


def test_landmark_estimators_agree(models_v1: Any, lfw_frame: Any) -> None:
    img = rgb(lfw_frame("Aaron_Sorkin", 1))

    def marks(how: str) -> np.ndarray:
        det = replace(models_v1.detector, config=MtcnnConfig(landmarks=how))
        faces = run(det.detect(img))
        assert len(faces) == 1
        return faces[0].landmarks

    plain, mirror, refine = marks("onet"), marks("mirror"), marks("refine")
    assert np.array_equal(refine, run(models_v1.detector.detect(img))[0].landmarks)  # default
    for other in (mirror, refine):  # pixels, on a face ~180 wide
        assert np.abs(plain - other).max() < 4.0
        assert not np.array_equal(plain, other)


def test_mosaic_layout_places_levels_apart_on_even_offsets() -> None:
    sizes = [(80, 107), (57, 76), (40, 54), (29, 38), (21, 27), (15, 19)]
    (height, width), places = mosaic_layout(sizes)
    assert places[0] == (0, 0) and height == 80
    rects = [(t, left, t + h, left + w) for (t, left), (h, w) in zip(places, sizes, strict=True)]
    for i, (t, left, b, r) in enumerate(rects):
        assert t % 2 == 0 and left % 2 == 0 and b <= height and r <= width
        for t2, l2, b2, r2 in rects[i + 1:]:
            assert b <= t2 or b2 <= t or r <= l2 or r2 <= left  # no overlap
    assert height * width < 1.3 * sum(h * w for h, w in sizes)  # little waste


@pytest.mark.parametrize("min_face", [48.0, 72.0])
def test_one_pnet_run_finds_what_one_run_per_level_finds(models_v1: Any, lfw_frame: Any,
                                                          min_face: float) -> None:
    img = rgb(lfw_frame("Aaron_Sorkin", 1))

    def faces(mosaic: bool) -> list[Any]:
        det = replace(models_v1.detector, config=MtcnnConfig(min_face=min_face, mosaic=mosaic))
        return run(det.detect(img))

    each, mosaic = faces(False), faces(True)
    assert len(each) == len(mosaic) == 1
    assert np.allclose(each[0].box, mosaic[0].box, atol=1e-4)
    assert np.allclose(each[0].landmarks, mosaic[0].landmarks, atol=1e-3)

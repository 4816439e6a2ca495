"""pyapp.face.detect: what every detector shares (NMS, squaring, the pyramid, Face)."""

from __future__ import annotations

import numpy as np

from pyapp.face.detect import Face, nms, pyramid, square


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10]], float)
    scores = np.array([0.8, 0.9, 0.7, 0.1])
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(boxes, scores, 0.99).tolist() == [1, 0, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).size == 0


def test_nms_min_suppresses_a_box_inside_another() -> None:
    boxes = np.array([[0, 0, 100, 100], [40, 40, 50, 50]], float)
    scores = np.array([0.9, 0.8])
    assert nms(boxes, scores, 0.7, "union").tolist() == [0, 1]
    assert nms(boxes, scores, 0.7, "min").tolist() == [0]


def test_square() -> None:
    sq = square(np.array([[10.0, 20.0, 30.0, 60.0]]))
    assert sq.tolist() == [[0.0, 20.0, 40.0, 60.0]]


def test_pyramid_halves_by_2x2_means() -> None:
    img = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    levels = pyramid(img)
    assert [lv.shape for lv in levels] == [(8, 8, 3), (4, 4, 3), (2, 2, 3)]
    assert levels[0] is img  # the frame itself, never copied
    assert np.allclose(levels[1][0, 0], img[:2, :2].reshape(4, 3).mean(axis=0))


def test_face_repr_shows_no_landmarks() -> None:
    face = Face((1.0, 2.0, 30.0, 40.0), 0.9, np.full((5, 2), 17.25))
    assert face.width == 29.0 and face.height == 38.0
    assert "17.25" not in repr(face) and "landmarks" not in repr(face)

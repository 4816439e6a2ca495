"""pyapp.face.quality: face choice, pose from landmarks, exposure and blur gates."""

from __future__ import annotations

import numpy as np
import pytest

from pyapp.errors import QualityError, Reason
from pyapp.face.align import chip_template
from pyapp.face.detect import Face
from pyapp.face.quality import (
    QualityConfig,
    check_chip,
    check_exposure,
    check_face,
    chip_stats,
    pose,
    select_face,
)

CFG = QualityConfig()


def face(x: float, y: float, size: float, landmarks: np.ndarray | None = None,
         score: float = 0.99) -> Face:
    if landmarks is None:
        landmarks = chip_template(150) / 150 * size + np.array([x, y])
    return Face((x, y, x + size, y + size), score, landmarks)


def textured_chip(level: float = 120.0, contrast: float = 60.0) -> np.ndarray:
    rng = np.random.default_rng(5)
    base = rng.uniform(-1, 1, (150, 150, 1)) * contrast + level
    return np.repeat(base, 3, axis=2).astype(np.float32)


def test_no_face() -> None:
    with pytest.raises(QualityError) as e:
        select_face([], 480, 640, CFG)
    assert e.value.reason is Reason.NO_FACE


def test_many_faces_only_when_the_other_is_sizeable() -> None:
    main, small, big = face(200, 100, 200), face(10, 10, 60), face(420, 100, 150)
    assert select_face([small, main], 480, 640, CFG) is main
    with pytest.raises(QualityError) as e:
        select_face([main, big], 480, 640, CFG)
    assert e.value.reason is Reason.MANY_FACES
    assert select_face([main, big], 480, 640, CFG, strict=False) is main


def test_too_small_and_cut_off() -> None:
    with pytest.raises(QualityError) as e:
        check_face(face(300, 200, 50), 480, 640, CFG)
    assert e.value.reason is Reason.TOO_SMALL
    with pytest.raises(QualityError) as e:
        check_face(face(500, 100, 200), 480, 640, CFG)
    assert e.value.reason is Reason.CUT_OFF
    check_face(face(200, 100, 200), 480, 640, CFG)


def test_pose_of_a_frontal_and_a_turned_face() -> None:
    frontal = face(200, 100, 200)
    p = pose(frontal)
    assert abs(p.yaw) < 0.05 and 0.4 < p.pitch < 0.7 and abs(p.roll_deg) < 1
    turned_marks = frontal.landmarks.copy()
    turned_marks[2, 0] += 0.8 * (turned_marks[1, 0] - turned_marks[0, 0])  # nose far right
    turned = face(200, 100, 200, turned_marks)
    assert pose(turned).yaw > 0.5
    with pytest.raises(QualityError) as e:
        check_face(turned, 480, 640, CFG)
    assert e.value.reason is Reason.TURNED


def test_roll_is_measured_in_degrees() -> None:
    f = face(200, 100, 200)
    c = f.landmarks.mean(axis=0)
    a = np.radians(50)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    rolled = face(200, 100, 200, (f.landmarks - c) @ rot.T + c)
    assert pose(rolled).roll_deg == pytest.approx(50, abs=0.01)
    with pytest.raises(QualityError):
        check_face(rolled, 480, 640, CFG)


@pytest.mark.parametrize(("chip", "reason"), [
    (textured_chip(15, 10), Reason.TOO_DARK),
    (textured_chip(245, 10), Reason.TOO_BRIGHT),
    (np.full((150, 150, 3), 120, np.float32), Reason.BLURRED),
])
def test_chip_gates(chip: np.ndarray, reason: Reason) -> None:
    with pytest.raises(QualityError) as e:
        check_chip(chip_stats(chip), CFG)
    assert e.value.reason is reason


def test_a_normal_chip_passes() -> None:
    st = chip_stats(textured_chip())
    check_chip(st, CFG)
    assert 100 < st.brightness < 140 and st.sharpness > CFG.min_sharpness


def test_exposure_of_a_faceless_frame() -> None:
    with pytest.raises(QualityError) as e:
        check_exposure(np.full((480, 640, 3), 5, np.float32), CFG)
    assert e.value.reason is Reason.TOO_DARK
    with pytest.raises(QualityError) as e:
        check_exposure(np.full((480, 640, 3), 250, np.float32), CFG)
    assert e.value.reason is Reason.TOO_BRIGHT
    check_exposure(np.full((480, 640, 3), 120, np.float32), CFG)

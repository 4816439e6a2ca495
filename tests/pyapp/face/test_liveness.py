"""pyapp.face.liveness: a turning head passes, a flat picture moved in any way does not.

Pure numpy (runs in Pyodide too): heads are 5 landmarks of a 3-D face model seen by a pinhole
camera, flat pictures are the same landmarks on a plane moved by random homographies. Both
get landmark noise of the size MTCNN's jitter has (docs/security.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from pyapp.errors import InputError, LivenessRefused
from pyapp.face.liveness import ActiveConfig, apply, check, homography, measure, nose_miss

# eye centres, nose tip, mouth corners; x right, y down, z towards the camera; 330 = one
# eye distance (the proportions of the usual 3-D face model of head-pose estimation)
HEAD = np.array([[-165, -170, -135], [165, -170, -135], [0, 0, 0], [-150, 150, -125],
                 [150, 150, -125]], np.float64)


def project(points: np.ndarray, yaw: float, pitch: float = 0.0, shift: float = 0.0,
            distance: float = 3000.0, focal: float = 700.0) -> np.ndarray:
    cy, sy, cx, sx = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    rot = (np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
           @ np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]]))
    p = points @ rot.T
    z = distance - p[:, 2]
    return np.c_[focal * (p[:, 0] + shift) / z + 320, focal * p[:, 1] / z + 240]


def head_turn(rng: np.random.Generator, degrees: float, frames: int = 10,
              noise: float = 0.01) -> list[np.ndarray]:
    """A head turning from frontal to ``degrees`` and partly back, with landmark noise
    (``noise`` eye distances, standard deviation)."""
    seq = []
    for i in range(frames):
        yaw = np.radians(degrees) * np.sin(np.pi * 0.75 * i / (frames - 1))
        marks = project(HEAD, yaw, pitch=rng.uniform(-0.05, 0.05), shift=rng.uniform(-20, 20))
        eye = np.hypot(*(marks[1] - marks[0]))
        seq.append(marks + rng.normal(0, noise * eye, marks.shape))
    return seq


def flat_picture(rng: np.random.Generator, frames: int = 10, noise: float = 0.01
                 ) -> list[np.ndarray]:
    """The frontal head's landmarks printed on a card that is turned, tilted and moved."""
    card = project(HEAD, 0.0)
    seq = []
    for _ in range(frames):
        h = np.array([[rng.uniform(0.8, 1.2), rng.uniform(-0.2, 0.2), rng.uniform(-50, 50)],
                      [rng.uniform(-0.2, 0.2), rng.uniform(0.8, 1.2), rng.uniform(-50, 50)],
                      [rng.uniform(-8e-4, 8e-4), rng.uniform(-8e-4, 8e-4), 1.0]])
        marks = apply(h, card)
        eye = np.hypot(*(marks[1] - marks[0]))
        seq.append(marks + rng.normal(0, noise * eye, marks.shape))
    return seq


def test_homography_from_four_points_is_exact() -> None:
    rng = np.random.default_rng(1)
    h = np.array([[1.1, 0.2, 30], [-0.1, 0.9, -12], [2e-4, -3e-4, 1.0]])
    src = rng.uniform(0, 400, (4, 2))
    assert np.allclose(homography(src, apply(h, src)), h, atol=1e-8)
    five = rng.uniform(0, 400, (5, 2))
    assert abs(nose_miss(five, apply(h, five))) < 1e-9  # any planar motion: no miss


def test_a_turning_head_passes() -> None:
    rng = np.random.default_rng(2)
    results = [check(head_turn(rng, 25)) for _ in range(50)]
    assert sum(r.passed for r in results) >= 48
    assert all(r.turned for r in results)


def test_a_still_head_is_asked_to_turn() -> None:
    rng = np.random.default_rng(3)
    result = check(head_turn(rng, 2))
    assert not result.passed and not result.turned
    with pytest.raises(LivenessRefused) as refused:
        result.require()
    assert "turn your head" in str(refused.value) and "spoof" not in str(refused.value)


def test_a_flat_picture_moved_around_fails() -> None:
    rng = np.random.default_rng(4)
    results = [check(flat_picture(rng)) for _ in range(200)]
    assert sum(r.passed for r in results) <= 2
    _turn, depth = measure(flat_picture(rng, noise=0.0))
    assert abs(depth) < 1e-6  # without noise the nose lands exactly on the plane


def test_the_nose_moves_with_the_turn() -> None:
    for degrees in (-20, 20):
        seq = [project(HEAD, np.radians(degrees) * i / 5) for i in range(6)]
        turn, depth = measure(seq)
        assert turn > 0.12 and depth > 0.1


def test_short_or_malformed_sequences() -> None:
    rng = np.random.default_rng(5)
    assert not check(head_turn(rng, 25)[:3]).passed  # fewer than min_frames
    assert check(head_turn(rng, 25)[:4], ActiveConfig(min_frames=4)).frames == 4
    bad = head_turn(rng, 25)
    bad[2] = np.full((5, 2), np.nan)
    with pytest.raises(InputError):
        check(bad)
    with pytest.raises(InputError):
        check([np.zeros((4, 2))] * 5)


def test_measured_values_stay_out_of_the_repr() -> None:
    result = check(head_turn(np.random.default_rng(6), 25))
    assert repr(result) == f"ActiveResult(passed={result.passed}, turned=True, frames=10)"

"""pyapp.face.pipeline on real LFW photos in 640x480 frames, and on bad input, for both
pipelines (v1: MTCNN + dlib, v2: YuNet + O-Net landmarks + SFace)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime  # noqa: F401  (CPython only: runs the real models)
import pytest

from pyapp.errors import InputError, QualityError, Reason
from pyapp.face.frame import photo_frame
from pyapp.face.pipeline import PipelineConfig, embed_frame
from tests.pyapp.conftest import run

# cosine at FAR 1e-3 on LFW dev, all pairs (docs/models.md), rounded down
THRESHOLD = {"v1": 0.92, "v2": 0.38}


@pytest.fixture(scope="module", params=["v1", "v2"])
def models(request: Any, models_v1: Any) -> Any:
    if request.param == "v1":
        return models_v1
    return request.getfixturevalue("models_v2")


def test_same_person_closer_than_different_people(models: Any, lfw_frame: Any) -> None:
    a1 = run(embed_frame(lfw_frame("Aaron_Sorkin", 1), models)).embedding
    a2 = run(embed_frame(lfw_frame("Aaron_Sorkin", 2), models)).embedding
    b = run(embed_frame(lfw_frame("Abbas_Kiarostami", 1), models)).embedding
    for e in (a1, a2, b):
        assert e.shape == (128,) and e.dtype == np.float32
        assert np.linalg.norm(e) == pytest.approx(1.0, abs=1e-5)
    assert float(a1 @ a2) > THRESHOLD[models.name] > float(a1 @ b)


def test_result_reports_face_pose_stats_and_timings(models: Any, lfw_frame: Any) -> None:
    r = run(embed_frame(lfw_frame("Aaron_Sorkin", 1), models))
    assert r.rejected is None and r.pose is not None
    assert set(r.timings) == {"prepare", "detect", "align", "embed", "total"}
    assert all(v >= 0 for v in r.timings.values())
    assert "embedding" not in repr(r)


def test_deterministic(models: Any, lfw_frame: Any) -> None:
    f = lfw_frame("Abdoulaye_Wade", 1)
    e1 = run(embed_frame(f, models)).embedding
    e2 = run(embed_frame(f.copy(), models)).embedding
    assert np.array_equal(e1, e2)


def test_flip_off_gives_a_nearby_embedding(models: Any, lfw_frame: Any) -> None:
    f = lfw_frame("Aaron_Sorkin", 1)
    e1 = run(embed_frame(f, models, PipelineConfig(flip=True))).embedding
    e2 = run(embed_frame(f, models, PipelineConfig(flip=False))).embedding
    assert 0.95 < float(e1 @ e2) < 1.0
    default = run(embed_frame(f, models)).embedding
    assert np.array_equal(default, e1 if models.flip else e2)  # the pipeline's own choice


def test_raw_150px_photo_also_works(models: Any, lfw_photo: Any, lfw_frame: Any) -> None:
    photo = lfw_photo("Aaron_Sorkin", 1)
    small = run(embed_frame(photo, models, PipelineConfig(gates=False))).embedding
    framed = run(embed_frame(lfw_frame("Aaron_Sorkin", 1), models)).embedding
    assert float(small @ framed) > 0.95


def reason_of(frame: Any, models: Any) -> Reason:
    with pytest.raises(QualityError) as e:
        run(embed_frame(frame, models))
    return e.value.reason


def test_gates_on_real_frames(models: Any, lfw_frame: Any, lfw_photo: Any) -> None:
    blank = np.full((480, 640, 4), 128, np.uint8)
    assert reason_of(blank, models) is Reason.NO_FACE
    f = lfw_frame("Aaron_Sorkin", 1)
    dark = f.copy()
    dark[..., :3] = (f[..., :3] * 0.2).astype(np.uint8)
    assert reason_of(dark, models) is Reason.TOO_DARK
    bright = f.copy()
    bright[..., :3] = np.clip(f[..., :3].astype(np.int32) * 3 + 60, 0, 255).astype(np.uint8)
    assert reason_of(bright, models) in (Reason.TOO_BRIGHT, Reason.NO_FACE)
    small = photo_frame(lfw_photo("Aaron_Sorkin", 1), (640, 480))
    small[:] = 0
    small[..., 3] = 255
    small[200:260, 300:360] = photo_frame(lfw_photo("Aaron_Sorkin", 1), (60, 60))
    assert reason_of(small, models) in (Reason.TOO_SMALL, Reason.NO_FACE)
    for dx, dy in ((320, 0), (0, 200)):  # face pushed past the right / bottom edge
        moved = np.zeros_like(f)
        moved[..., 3] = 255
        moved[dy:, dx:] = f[:480 - dy, :640 - dx]
        assert reason_of(moved, models) is Reason.CUT_OFF


def test_blur_is_rejected(models: Any, lfw_frame: Any) -> None:
    f = lfw_frame("Aaron_Sorkin", 1).astype(np.float32)
    k = np.ones(9, np.float32) / 9
    for axis in (0, 1):
        for _ in range(2):
            f[..., :3] = np.apply_along_axis(lambda v: np.convolve(v, k, "same"), axis,
                                             f[..., :3])
    assert reason_of(f.astype(np.uint8), models) is Reason.BLURRED


def test_five_faces_rejected(models: Any, lfw_photo: Any) -> None:
    frame = np.zeros((480, 640, 4), np.uint8)
    frame[..., 3] = 255
    people = ["Aaron_Sorkin", "Abbas_Kiarostami", "Abdoulaye_Wade", "Aaron_Patterson",
              "Abdel_Madi_Shabneh"]
    spots = [(10, 10), (10, 240), (10, 470), (250, 120), (250, 360)]
    for name, (top, left) in zip(people, spots, strict=True):
        frame[top:top + 160, left:left + 160] = photo_frame(lfw_photo(name, 1), (160, 160))
    assert reason_of(frame, models) is Reason.MANY_FACES


@pytest.mark.parametrize("bad", [
    np.zeros((0, 0, 4), np.uint8),
    np.zeros((8, 8, 4), np.uint8),
    np.zeros((480, 640, 3), np.uint8),
    np.full((480, 640, 4), np.nan, np.float32),
    np.zeros((480, 640, 4), np.int16),
    np.zeros((4097, 4097, 4), np.uint8),
    b"\x00" * 100,
    None,
])
def test_bad_input_is_an_input_error(models: Any, bad: object) -> None:
    with pytest.raises(InputError):
        run(embed_frame(bad, models))

"""pyapp.face.yunet: YuNet decoding (known answers), its input, and detection on real photos."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import onnxruntime  # noqa: F401  (CPython only: runs the real models)
import pytest

from pyapp.face.detect import pyramid
from pyapp.face.frame import rgb
from pyapp.face.yunet import (
    STRIDES,
    YuNetConfig,
    decode,
    level_for,
    network_input,
    refine_box,
)
from tests.pyapp.conftest import run


def empty_outputs(height: int, width: int) -> dict[str, np.ndarray]:
    out = {}
    for s in STRIDES:
        cells = (height // s) * (width // s)
        out[f"cls_{s}"] = np.zeros((1, cells, 1), np.float32)
        out[f"obj_{s}"] = np.zeros((1, cells, 1), np.float32)
        out[f"bbox_{s}"] = np.zeros((1, cells, 4), np.float32)
        out[f"kps_{s}"] = np.zeros((1, cells, 10), np.float32)
    return out


def test_decode_maps_one_cell_to_its_box_and_landmarks() -> None:
    out = empty_outputs(64, 96)  # stride 16: 4 rows x 6 columns
    cell = 2 * 6 + 3  # row 2, column 3
    out["cls_16"][0, cell, 0] = 0.81
    out["obj_16"][0, cell, 0] = 1.0
    out["bbox_16"][0, cell] = [0.5, 0.25, np.log(2.0), np.log(3.0)]
    out["kps_16"][0, cell] = [0, 0, 1, 0, 0.5, 0.5, 0, 1, 1, 1]
    boxes, scores, marks = decode(out, 64, 96, 0.5)
    assert scores.tolist() == pytest.approx([0.9])  # sqrt(cls * obj)
    cx, cy, w, h = (3 + 0.5) * 16, (2 + 0.25) * 16, 2 * 16, 3 * 16
    assert boxes[0].tolist() == pytest.approx([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    assert np.allclose(marks[0], [[48, 32], [64, 32], [56, 40], [48, 48], [64, 48]])


def test_decode_keeps_nothing_below_the_threshold() -> None:
    out = empty_outputs(32, 32)
    out["cls_8"][0, 0, 0] = out["obj_8"][0, 0, 0] = 0.5  # score 0.5
    assert decode(out, 32, 32, 0.6)[0].shape == (0, 4)
    assert decode(out, 32, 32, 0.4)[0].shape == (1, 4)


def test_network_input_is_bgr_padded_to_32() -> None:
    img = np.zeros((50, 70, 3), np.uint8)
    img[..., 0], img[..., 2] = 200, 10  # red, blue
    x = network_input(img)
    assert x.shape == (1, 3, 64, 96)
    assert x[0, 0, 0, 0] == 10 and x[0, 2, 0, 0] == 200  # channel 0 is blue
    assert not x[0, :, 50:].any() and not x[0, :, :, 70:].any()


def test_level_for_reads_the_half_of_a_camera_frame() -> None:
    assert level_for(480, 640, 3, 160) == 2
    assert level_for(480, 640, 3, 320) == 1
    assert level_for(720, 1280, 3, 320) == 2
    assert level_for(240, 320, 3, 320) == 0
    assert level_for(2160, 3840, 3, 320) == 2  # no deeper level than the pyramid has


def test_refine_box_is_a_square_around_the_face() -> None:
    box = refine_box(np.array([[100.0, 50.0, 180.0, 160.0]]), YuNetConfig())
    x1, y1, x2, y2 = box[0]
    assert x2 - x1 == pytest.approx(y2 - y1, abs=1) and x2 - x1 == pytest.approx(110, abs=1)
    assert (x1 + x2) / 2 == pytest.approx(141, abs=1)  # centre + 1: MTCNN's 1-based boxes


def test_one_face_with_landmarks_in_place(models: Any, lfw_frame: Any) -> None:
    img = rgb(lfw_frame("Aaron_Sorkin", 1))
    faces = run(models.detector.detect(img, pyramid(img)))
    assert len(faces) == 1
    face = faces[0]
    x1, y1, x2, y2 = face.box
    assert face.score > 0.8 and 140 < face.width < 260
    lm = face.landmarks
    assert np.all((lm[:, 0] > x1) & (lm[:, 0] < x2) & (lm[:, 1] > y1) & (lm[:, 1] < y2))
    left_eye, right_eye, nose, mouth_l, mouth_r = lm
    assert left_eye[0] < nose[0] < right_eye[0] and mouth_l[0] < mouth_r[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_l[1], mouth_r[1])


def test_own_and_refined_landmarks_agree(models: Any, lfw_frame: Any) -> None:
    img = rgb(lfw_frame("Aaron_Sorkin", 1))
    levels = pyramid(img)
    own = replace(models.detector, config=YuNetConfig(landmarks="yunet"))
    a = run(own.detect(img, levels))[0]
    b = run(models.detector.detect(img, levels))[0]
    assert a.box == b.box
    # YuNet's own points come from the quarter frame (1 pixel there = 4 here)
    assert np.abs(a.landmarks - b.landmarks).max() < 20.0  # pixels, on a face ~180 wide
    assert not np.array_equal(a.landmarks, b.landmarks)


def test_no_face_in_a_blank_or_noise_frame(models: Any) -> None:
    blank = rgb(np.full((480, 640, 4), 90, np.uint8))
    assert run(models.detector.detect(blank, pyramid(blank))) == []
    noise = rgb(np.random.default_rng(0).integers(0, 256, (480, 640, 4), dtype=np.uint8))
    assert run(models.detector.detect(noise, pyramid(noise))) == []


def test_a_small_face_gets_a_second_finer_look(models: Any, lfw_photo: Any) -> None:
    """A face too small for the quarter frame is found on the half frame: YuNet runs twice."""
    from pyapp.face.frame import photo_frame

    frame = np.zeros((480, 640, 4), np.uint8)
    frame[..., 3] = 255
    frame[200:300, 300:400] = photo_frame(lfw_photo("Aaron_Sorkin", 1), (100, 100))
    calls: list[tuple[int, ...]] = []
    inner = models.detector.model

    class Counting:
        async def run(self, inputs: Any) -> Any:
            calls.append(tuple(inputs["input"].shape))
            return await inner.run(inputs)

    detector = replace(models.detector, model=Counting())
    img = rgb(frame)
    faces = run(detector.detect(img, pyramid(img)))
    assert len(faces) == 1 and 30 < faces[0].width < 100
    assert calls == [(1, 3, 128, 160), (1, 3, 256, 320)]
    big = rgb(photo_frame(lfw_photo("Aaron_Sorkin", 1)))
    calls.clear()
    assert len(run(detector.detect(big, pyramid(big)))) == 1
    assert calls == [(1, 3, 128, 160)]  # a face at arm's length: one look

"""pyapp.face.capture: a burst of frames, bad ones dropped with reasons, the rest combined."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime  # noqa: F401  (CPython only: runs the real models)
import pytest

from pyapp.errors import CaptureError, InputError, Reason
from pyapp.face.capture import CaptureConfig, capture
from pyapp.face.pipeline import PipelineConfig, embed_frame
from tests.pyapp.conftest import run


def source_of(frames: list[np.ndarray]) -> Any:
    it = iter(frames)

    async def next_frame() -> object:
        return next(it)

    return next_frame


def test_burst_drops_bad_frames_and_combines(models: Any, lfw_frame: Any) -> None:
    good = [lfw_frame("Aaron_Sorkin", 1), lfw_frame("Aaron_Sorkin", 2)]
    blank = np.full((480, 640, 4), 128, np.uint8)
    dark = good[0].copy()
    dark[..., :3] //= 6
    frames = [good[0], blank, good[1], dark, good[0]]
    seen: list[int] = []
    cap = run(capture(source_of(frames), models, CaptureConfig(frames=5, needed=3),
                      on_frame=lambda i, _: seen.append(i)))
    assert seen == [0, 1, 2, 3, 4]
    assert (cap.used, cap.taken) == (3, 5)
    assert cap.dropped == {Reason.NO_FACE: 1, Reason.TOO_DARK: 1}
    singles = [run(embed_frame(f, models)).embedding for f in good]
    want = 2 * singles[0] + singles[1]
    want /= np.linalg.norm(want)
    assert np.allclose(cap.embedding, want, atol=1e-5)
    # the photo seen once is the furthest from the mean: its cosine to it is the spread
    assert cap.spread == pytest.approx(float(singles[1] @ want), abs=1e-5)
    assert float(singles[0] @ singles[1]) < cap.spread < 1.0
    assert "embedding" not in repr(cap)


def test_burst_stops_once_enough_frames_were_usable(models: Any, lfw_frame: Any) -> None:
    good = lfw_frame("Aaron_Sorkin", 1)
    blank = np.full((480, 640, 4), 128, np.uint8)
    taken: list[int] = []
    frames = [blank, good, good, blank, good, good, good]

    async def next_frame() -> object:
        taken.append(len(taken))
        return frames[len(taken) - 1]

    cap = run(capture(next_frame, models, CaptureConfig(frames=7, needed=2, enough=3)))
    assert (cap.used, cap.taken, len(taken)) == (3, 5, 5)  # the 6th frame is never grabbed
    assert cap.dropped == {Reason.NO_FACE: 2}
    with pytest.raises(CaptureError):  # "enough" never cuts a burst short of "needed"
        run(capture(source_of([blank, blank, good]), models,
                    CaptureConfig(frames=3, needed=2, enough=2)))


def test_guided_capture_waits_for_until_and_stops_at_the_time_limit(models: Any,
                                                                    lfw_frame: Any) -> None:
    """A guided camera: frames keep coming past ``enough`` until ``until`` holds for the
    landmarks seen so far; the time limit ends the capture whatever ``until`` says."""
    good = lfw_frame("Aaron_Sorkin", 1)
    blank = np.full((480, 640, 4), 128, np.uint8)
    frames = [blank, good, good, good, blank, good, good, good]
    asked: list[int] = []

    def until(marks: Any) -> bool:
        asked.append(len(marks))
        return len(marks) >= 5

    cap = run(capture(source_of(frames), models,
                      CaptureConfig(frames=100, needed=2, enough=2), until=until))
    assert (cap.used, cap.taken) == (5, 7)  # went on past 2 usable until 5 faces were seen
    assert asked == [2, 3, 3, 4, 5] and len(cap.landmarks) == 5  # asked after each frame
    # a clock the camera moves: one second per frame
    now = [0.0]

    def timed(frames: list[np.ndarray]) -> Any:
        source = source_of(frames)

        async def next_frame() -> object:
            now[0] += 1.0
            return await source()

        return next_frame

    cap = run(capture(timed(frames), models,
                      CaptureConfig(frames=100, needed=2, enough=2, seconds=4.5),
                      until=lambda marks: False, clock=lambda: now[0]))
    assert (cap.taken, cap.used) == (5, 3)  # frames at t = 1..5 s; stopped once 4.5 s passed
    now[0] = 0.0
    with pytest.raises(CaptureError):  # time up before "needed" usable frames
        run(capture(timed([blank] * 10), models,
                    CaptureConfig(frames=100, needed=2, seconds=3.0), clock=lambda: now[0]))
    assert now[0] == 3.0  # no frame grabbed after the time was up


def test_too_few_usable_frames(models: Any, lfw_frame: Any) -> None:
    blank = np.full((480, 640, 4), 128, np.uint8)
    with pytest.raises(CaptureError) as e:
        run(capture(source_of([blank, blank, lfw_frame("Aaron_Sorkin", 1)]), models,
                    CaptureConfig(frames=3, needed=2)))
    assert (e.value.used, e.value.needed) == (1, 2)
    assert e.value.reasons == {Reason.NO_FACE: 2}
    assert "No face" in str(e.value)


def test_malformed_frame_propagates(models: Any) -> None:
    with pytest.raises(InputError):
        run(capture(source_of([np.zeros((10, 10, 4), np.uint8)]), models,
                    CaptureConfig(frames=1, needed=1)))


def test_config_is_checked(models: Any) -> None:
    with pytest.raises(ValueError, match="needed"):
        run(capture(source_of([]), models, CaptureConfig(frames=2, needed=3)))
    with pytest.raises(ValueError, match="enough"):
        run(capture(source_of([]), models, CaptureConfig(frames=4, needed=3, enough=2)))
    with pytest.raises(ValueError, match="enough"):
        run(capture(source_of([]), models, CaptureConfig(frames=4, needed=3, enough=5)))


def test_burst_with_pad_decides_and_keeps_every_faces_landmarks(lfw_frame: Any) -> None:
    """With the PAD models loaded, each usable frame is scored and the burst decided; the
    landmarks of every frame with a face (usable or turned away) are kept for the active
    check, and nothing about them shows in the repr."""
    from pyapp import host
    from pyapp.face.liveness import check

    models = host.load_models(pad=True)
    good = lfw_frame("Aaron_Sorkin", 1)
    blank = np.full((480, 640, 4), 128, np.uint8)
    cap = run(capture(source_of([good, blank, good, good]), models,
                      CaptureConfig(frames=4, needed=3)))
    assert cap.pad is not None and cap.pad.frames == 3
    assert cap.pad.passed  # a real photo as a frame, at the shipped threshold
    assert all(r.pad is not None and "pad" in r.timings for r in cap.results)
    assert len(cap.landmarks) == 3 and "landmarks" not in repr(cap)
    assert not check(cap.landmarks).turned  # the same still photo: no turn
    no_pad = run(capture(source_of([good] * 3), models, CaptureConfig(
        frames=3, needed=3, pipeline=PipelineConfig(pad=False))))
    assert no_pad.pad is None and all(r.pad is None for r in no_pad.results)

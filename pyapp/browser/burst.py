"""The guided camera: camera on, frames through the face pipeline with a live hint and the
face frame drawn on the preview for each, capture as soon as enough frames were good (and,
for the active check, the head has turned a little), camera off as soon as it is taken.

The camera stays on for up to ``CaptureConfig.seconds`` (about 30 s), so a person not yet in
frame is guided in (closer, more light, one face, look here) instead of failing a short
burst. The usable frames are kept (in this page's memory only, the last ``KEEP``) until the
flow that asked for them is done, so that a template made by another face pipeline can be
opened from the same capture.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pyapp import i18n
from pyapp.browser import dom
from pyapp.browser.camera import Camera
from pyapp.browser.screen import Screen
from pyapp.errors import CaptureError, QualityError, Reason
from pyapp.face import liveness
from pyapp.face.capture import Capture, CaptureConfig, capture
from pyapp.face.pipeline import FaceModels, FaceResult

KEEP = 16  # usable frames kept for a replay through another pipeline
TURN_WINDOW = 24  # the active check judges the last this many faces (a few seconds)


def head_turned(landmarks: Sequence[np.ndarray]) -> bool:
    """The active check on the faces seen last (pyapp.face.liveness): passed or not."""
    return liveness.check(landmarks[-TURN_WINDOW:]).passed


class Burst:
    def __init__(self, camera: Camera, screen: Screen) -> None:
        self.camera = camera
        self.screen = screen
        self.frames: list[object] = []  # the last capture's usable frames, cleared by the flow

    async def take(self, face_models: FaceModels, burst: CaptureConfig,
                   active: bool = False) -> Capture | None:
        """Camera on, a guided capture with live hints, camera off. With ``active`` the
        capture goes on after enough good frames, asking the person to turn the head a
        little, until the turn shows depth (or time is up: the caller judges the capture's
        landmarks with :func:`head_turned`). None (and the reason shown) when the camera
        cannot start or too few frames were usable."""
        self.screen.say("hint", "camera_starting")
        try:
            width, height = await self.camera.start()
        except Exception as exc:  # permission denied, no camera: a JS error
            dom.set_text("hint", "")
            self.screen.result("camera_denied", False, why=str(exc).split(":")[-1].strip())
            self.screen.emit("fallback", reason="camera")
            dom.show("again")
            return None
        dom.show("camera-area")
        dom.mark("camera")
        good = 0
        total = burst.enough or burst.needed
        last: list[object] = []

        def on_frame(index: int, outcome: FaceResult | QualityError) -> None:
            nonlocal good
            if isinstance(outcome, QualityError):
                dom.set_text("hint", i18n.hint(self.screen.page.lang, outcome.reason))
                self.screen.draw_box(None, width, height)
                return
            good += 1
            self.frames.append(last[-1])
            del self.frames[:-KEEP]
            if active and good >= total:
                self.screen.say("hint", "turn_head")
            else:
                self.screen.say("hint", "hold_still", done=min(good, total), total=total)
            self.screen.draw_box(outcome, width, height)

        async def next_frame() -> object:
            frame = self.camera.grab()
            last[:] = [frame]
            return frame

        self.frames.clear()
        try:
            captured = await capture(next_frame, face_models, burst, on_frame=on_frame,
                                     until=head_turned if active else None)
        except CaptureError as exc:
            counts = sorted(exc.reasons.items(), key=lambda item: -item[1])
            reason = counts[0][0] if counts else Reason.NO_FACE
            self.camera.stop()
            dom.show("camera-area", False)
            self.screen.result("capture_failed", False,
                               hint=i18n.hint(self.screen.page.lang, reason))
            dom.show("again")
            return None
        self.camera.stop()  # stopped as soon as the capture is taken
        dom.mark("captured")
        dom.show("camera-area", False)
        self.screen.say("hint", "checking")
        return captured

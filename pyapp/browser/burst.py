"""One camera burst with live guidance: camera on, frames through the face pipeline with a
hint and the face frame drawn on the preview for each, camera off as soon as it is taken.

The frames are kept (in this page's memory only) until the flow that asked for them is done,
so that a template made by another face pipeline can be opened from the same burst.
"""

from __future__ import annotations

from pyapp import i18n
from pyapp.browser import dom
from pyapp.browser.camera import Camera
from pyapp.browser.screen import Screen
from pyapp.errors import CaptureError, QualityError, Reason
from pyapp.face.capture import Capture, CaptureConfig, capture
from pyapp.face.pipeline import FaceModels, FaceResult


class Burst:
    def __init__(self, camera: Camera, screen: Screen) -> None:
        self.camera = camera
        self.screen = screen
        self.frames: list[object] = []  # the last burst's frames, cleared by the flow

    async def take(self, face_models: FaceModels, burst: CaptureConfig) -> Capture | None:
        """Camera on, one burst with live hints, camera off. None (and the reason shown) when
        the camera cannot start or too few frames were usable."""
        self.screen.say("hint", "camera_starting")
        try:
            width, height = await self.camera.start()
        except Exception as exc:  # permission denied, no camera: a JS error
            self.screen.result("camera_denied", False, why=str(exc).split(":")[-1].strip())
            self.screen.emit("fallback", reason="camera")
            return None
        dom.show("camera-area")
        dom.mark("camera")
        good = 0

        def on_frame(index: int, outcome: FaceResult | QualityError) -> None:
            nonlocal good
            if isinstance(outcome, QualityError):
                dom.set_text("hint", i18n.hint(self.screen.page.lang, outcome.reason))
                self.screen.draw_box(None, width, height)
            else:
                good += 1
                total = burst.enough or burst.frames
                self.screen.say("hint", "hold_still", done=min(good, total), total=total)
                self.screen.draw_box(outcome, width, height)

        async def next_frame() -> object:
            frame = self.camera.grab()
            self.frames.append(frame)
            return frame

        self.frames.clear()
        try:
            captured = await capture(next_frame, face_models, burst, on_frame=on_frame)
        except CaptureError as exc:
            counts = sorted(exc.reasons.items(), key=lambda item: -item[1])
            reason = counts[0][0] if counts else Reason.NO_FACE
            self.camera.stop()
            self.screen.result("capture_failed", False,
                               hint=i18n.hint(self.screen.page.lang, reason))
            dom.show("again")
            return None
        self.camera.stop()  # stopped as soon as the burst is taken
        dom.mark("captured")
        dom.show("camera-area", False)
        self.screen.say("hint", "checking")
        return captured

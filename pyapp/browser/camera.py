"""The camera, from Python: start, grab RGBA frames as numpy arrays, stop.

getUserMedia and canvas reads only exist on the main thread, so the tiny glue in
``web/glue/camera.js`` does them; this module converts what it returns into numpy and
keeps no JS object alive.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from pyapp.browser import dom


class Camera:
    """One ``<video>`` element fed by the user's camera. Start only after consent."""

    def __init__(self, video_id: str) -> None:
        self.video_id = video_id
        self._glue: Any = dom.window.ownfaceGlue.camera

    async def start(self, width: int = 640, height: int = 480) -> tuple[int, int]:
        size = await self._glue.start(dom.element(self.video_id), width, height)
        w, h = size.to_py()
        return int(w), int(h)

    def grab(self) -> npt.NDArray[np.uint8]:
        """The current frame as an (H, W, 4) uint8 RGBA array (a copy, safe to keep)."""
        image = self._glue.grab(dom.element(self.video_id))  # an ImageData, cloned to us
        width, height = int(image.width), int(image.height)
        pixels = image.data.to_py()
        return np.frombuffer(pixels, dtype=np.uint8).reshape(height, width, 4).copy()

    def stop(self) -> None:
        self._glue.stop(dom.element(self.video_id))

    @property
    def active(self) -> bool:
        return bool(self._glue.active)

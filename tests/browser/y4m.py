"""Write YUV4MPEG2 (.y4m) files for Chromium's fake camera, from RGB numpy frames.

Chromium's ``--use-file-for-fake-video-capture`` loops the file as a camera; BT.601 studio
range 4:2:0 is what it expects. Pure numpy, so tests need no ffmpeg.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt


def rgb_to_yuv420(rgb: npt.NDArray[np.uint8]) -> bytes:
    if rgb.ndim != 3 or rgb.shape[2] < 3 or rgb.shape[0] % 2 or rgb.shape[1] % 2:
        raise ValueError("need an (H, W, 3) frame with even H and W")
    f = rgb[..., :3].astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b

    def sub(plane: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return (plane[0::2, 0::2] + plane[1::2, 0::2] + plane[0::2, 1::2]
                + plane[1::2, 1::2]) / 4

    planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, sub(u), sub(v))]
    return b"".join(p.tobytes() for p in planes)


def write_y4m(path: Path, frames: Sequence[npt.NDArray[np.uint8]], fps: int = 10,
              repeat: int = 1) -> Path:
    """Write ``frames`` (each shown ``repeat`` times) as a looping fake-camera file."""
    h, w = frames[0].shape[:2]
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            data = rgb_to_yuv420(frame)
            for _ in range(repeat):
                fh.write(b"FRAME\n")
                fh.write(data)
    return path

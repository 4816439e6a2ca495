"""The system-check page (``/check/``): proves the whole in-browser chain, step by step.

Python boots in a worker, numpy imports, the camera starts only when the button is pressed,
one frame becomes a numpy array, an ONNX model runs on it through onnxruntime-web called
from Python, and the page shows the result. Nothing leaves the device.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
from pyodide.http import pyfetch  # type: ignore[import-not-found]

from pyapp.browser import dom, ort
from pyapp.browser.camera import Camera

_keep: list[Any] = []  # event-handler proxies must outlive this module's main()


async def fetch_bytes(url: str) -> bytes:
    response = await pyfetch(dom.absolute(url))
    if not response.ok:
        raise OSError(f"{url}: HTTP {response.status}")
    return bytes(await response.bytes())


def centre_square(frame: np.ndarray, size: int) -> np.ndarray:
    """The frame's central square, resampled to ``size`` x ``size`` RGB (nearest)."""
    h, w = frame.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    idx = (np.arange(size) * side / size).astype(np.intp)
    square: np.ndarray = frame[top + idx][:, left + idx, :3]
    return square


async def main() -> None:
    root = dom.element("check")
    model_name = str(root.dataset.model)
    dom.set_text("python", f"Python {sys.version.split()[0]} in a worker, numpy {np.__version__}")
    info = ort.describe()
    dom.set_text("runtime", f"onnxruntime-web {info['version']}, {info['threads']} thread(s), "
                 f"cross-origin isolated: {'yes' if info['cross_origin_isolated'] else 'no'}")
    url = dom.manifest()["models"][model_name]
    session = await ort.OrtWebInference.create(await fetch_bytes(url))
    dom.set_text("model", f"model {model_name} loaded ({', '.join(session.input_names)})")
    camera = Camera("camera")

    async def grab(event: Any) -> None:
        button = dom.element("grab")
        button.disabled = True
        dom.set_text("status", "Starting the camera…")
        try:
            await camera.start()
            frame = camera.grab()
        finally:
            camera.stop()  # the camera runs only for as long as it takes to read one frame
        dom.set_text("frame", f"frame {frame.shape[1]}x{frame.shape[0]} RGBA, "
                     f"mean brightness {frame[..., :3].mean():.1f}")
        crop = (centre_square(frame, 48).astype(np.float32) - 127.5) / 128.0
        # MTCNN's O-Net was trained on transposed (x, y) crops
        batch = crop.transpose(1, 0, 2)[None]
        started = time.perf_counter()
        outputs = await session.run({session.input_names[0]: batch})
        elapsed = (time.perf_counter() - started) * 1000
        scores = next(v for k, v in outputs.items() if v.shape[-1] == 2)
        face = float(scores[0, 1])
        dom.element("result").dataset.face = f"{face:.4f}"
        dom.set_text("result", f"face probability in the centre of the frame: {face:.3f} "
                     f"(model ran in {elapsed:.1f} ms)")
        dom.set_text("status", "Done. The camera is off.")
        button.disabled = False

    _keep.append(dom.on("grab", "click", grab))
    dom.element("grab").disabled = False
    dom.set_text("status", "Ready. Press the button to read one camera frame.")

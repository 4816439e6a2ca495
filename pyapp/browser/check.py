"""The system-check page (``/check/``): proves the whole in-browser chain, step by step.

Python boots in a worker, numpy imports, the face models download (hash-checked) into
onnxruntime-web, the camera starts only when the button is pressed, one frame becomes a numpy
array, the face pipeline runs on it from Python, and the page shows what it found. Nothing
leaves the device.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from pyapp.browser import dom, models, ort
from pyapp.browser.camera import Camera
from pyapp.errors import OwnFaceError, QualityError
from pyapp.face.pipeline import FaceModels, embed_frame

_keep: list[Any] = []  # event-handler proxies must outlive main()


def report(face_models: FaceModels, frame: np.ndarray, result: Any) -> dict[str, Any]:
    """What the page shows (and the end-to-end test reads) about one frame: no biometrics."""
    return {
        "frame": [int(frame.shape[1]), int(frame.shape[0])],
        "faces": 1,
        "box": [round(float(v)) for v in result.face.box],
        "dim": int(result.embedding.shape[0]),
        "norm": round(float(np.linalg.norm(result.embedding)), 4),
        "ms": {k: round(v, 1) for k, v in result.timings.items()},
    }


async def main() -> None:
    dom.mark("python")
    dom.set_text("python", f"Python {sys.version.split()[0]} in a worker, numpy {np.__version__}")
    info = ort.describe()
    dom.set_text("runtime", f"onnxruntime-web {info['version']}, {info['threads']} thread(s), "
                 f"cross-origin isolated: {'yes' if info['cross_origin_isolated'] else 'no'}")

    def progress(role: str, done: int, total: int) -> None:
        dom.set_text("model", f"Loading face models… {done} of {total} ({role})")

    face_models = await models.load_pipeline(progress=progress)
    dom.mark("models")
    dom.set_text("model", f"Face models loaded: pipeline {face_models.name} "
                 f"({type(face_models.detector).__name__}, {face_models.embedder.spec.name}; "
                 "hashes checked)")
    dom.element("check").dataset.ready = "models"
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
        dom.set_text("frame", f"Read one {frame.shape[1]}x{frame.shape[0]} frame; "
                     "the camera is off again.")
        result_el = dom.element("result")
        try:
            result = await embed_frame(frame, face_models)
        except QualityError as exc:
            outcome: dict[str, Any] = {"faces": 0 if exc.reason.value == "no_face" else None,
                                       "reason": exc.reason.value}
            dom.set_text("result", str(exc))
        except OwnFaceError as exc:
            outcome = {"error": str(exc)}
            dom.set_text("result", f"Error: {exc}")
        else:
            outcome = report(face_models, frame, result)
            dom.set_text("result", f"One face found; its {outcome['dim']}-number description "
                         f"was computed in {outcome['ms']['total']:.0f} ms and stayed on this "
                         "device.")
        result_el.dataset.outcome = json.dumps(outcome)
        dom.set_text("status", "Done. The camera is off.")
        button.disabled = False

    _keep.append(dom.on("grab", "click", grab))
    dom.element("grab").disabled = False
    dom.set_text("status", "Ready. Press the button to read one camera frame.")

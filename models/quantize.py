"""int8 dlib ResNet: the convolutions run on 8-bit integers (2x faster in onnxruntime-web).

Used by ``models/convert.py``; CPython only (onnx, onnxruntime.quantization, PIL).

* Weights: the stored codes are already integers (``step0.15``: ``w = q * step_c`` with q in
  -127..128), so the int8 graph uses exactly those q as its int8 weights and ``step_c`` as the
  per-output-channel weight scale: the int8 graph has the same weights as the float32 one it
  replaces (the 16 codes of +128 in the whole network are clipped to +127).
* Activations: one uint8 scale and zero point per tensor (onnxruntime's static quantiser,
  QOperator format, MinMax), calibrated on face chips cut by pyapp's own pipeline from the
  six demo photos in the same pinned npm package (``@vladmandic/face-api@1.7.15``,
  ``package/demo/sample1..6.jpg``, group photos of people who are not in LFW): nothing is
  fitted on the evaluation data, and the build still needs nothing but the registry packages.
* The final fully connected layer stays float32 (it is 0.02% of the work).
"""

from __future__ import annotations

import asyncio
import io
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pyapp.ports import FloatArray

DEMO_PHOTOS = [f"package/demo/sample{i}.jpg" for i in range(1, 7)]
MAX_SIDE = 1280  # demo photos (1920 px wide) are scaled to this before detection


class _Session:
    """A float32 onnxruntime session behind pyapp's async Inference port (calibration only)."""

    def __init__(self, model: bytes) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        self._outputs = [o.name for o in self._session.get_outputs()]

    async def run(self, inputs: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
        values = self._session.run(self._outputs, dict(inputs))
        return {k: np.asarray(v, np.float32) for k, v in zip(self._outputs, values, strict=True)}


def demo_frames(archive: Path) -> list[np.ndarray]:
    """The package's demo photos as RGBA frames (scaled to at most MAX_SIDE wide)."""
    from PIL import Image

    frames = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in DEMO_PHOTOS:
            f = tar.extractfile(member)
            if f is None:
                raise SystemExit(f"{member} missing from {archive}")
            with Image.open(io.BytesIO(f.read())) as photo:
                rgba = photo.convert("RGBA")
            s = min(1.0, MAX_SIDE / max(rgba.size))
            if s < 1.0:
                rgba = rgba.resize((round(rgba.size[0] * s), round(rgba.size[1] * s)),
                                   Image.Resampling.BILINEAR)
            frames.append(np.asarray(rgba, np.uint8).copy())
    return frames


def calibration_batches(frames: list[np.ndarray], mtcnn: dict[str, bytes],
                        embedder_spec: Any, padding: float) -> list[np.ndarray]:
    """[2, 3, 150, 150] network inputs (chip + mirror) of every sizeable face in ``frames``."""
    from pyapp.face.align import chip_transform, cut_chip
    from pyapp.face.detect import pyramid
    from pyapp.face.frame import rgb
    from pyapp.face.mtcnn import MtcnnDetector

    detector = MtcnnDetector(_Session(mtcnn["pnet"]), _Session(mtcnn["rnet"]),
                             _Session(mtcnn["onet"]))
    mean = np.asarray(embedder_spec.mean, np.float32)
    scale = np.float32(embedder_spec.scale)

    async def run() -> list[np.ndarray]:
        out = []
        for frame in frames:
            img = rgb(frame)
            levels = pyramid(img)
            for face in await detector.detect(img, levels):
                if face.score < 0.95 or face.width < 48:
                    continue
                chip = cut_chip(levels, chip_transform(face.landmarks, 150, padding), 150)
                batch = (np.stack([chip, chip[:, ::-1]]) - mean) * scale  # as pyapp.face.embed
                out.append(np.ascontiguousarray(batch.transpose(0, 3, 1, 2), np.float32))
        return out

    return asyncio.run(run())


def quantize(model: Any, batches: list[np.ndarray], codes: dict[str, tuple[np.ndarray,
                                                                          np.ndarray]]) -> Any:
    """The int8 (QOperator) version of the float ``model``; ``codes`` maps each conv weight's
    name to its stored (integer codes q, per-channel step), which become the int8 weights."""
    import onnx
    from onnx import numpy_helper
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            b = next(self._it, None)
            return None if b is None else {"input": b}

    for i, node in enumerate(model.graph.node):  # the quantiser excludes nodes by name
        node.name = node.name or f"{node.op_type}_{i}"
    matmuls = [n.name for n in model.graph.node if n.op_type == "MatMul"]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "f32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, str(src))
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QOperator,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                        nodes_to_exclude=matmuls)
        qmodel = onnx.load(str(dst))
    inits = {i.name: i for i in qmodel.graph.initializer}
    floats = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}

    def put(name: str, arr: np.ndarray) -> None:
        inits[name].CopyFrom(numpy_helper.from_array(arr, name))

    for node in qmodel.graph.node:
        if node.op_type != "QLinearConv":
            continue
        w_name, ws_name = node.input[3], node.input[4]
        source = w_name.removesuffix("_quantized")
        q, step = codes[source]
        put(w_name, np.clip(q, -127, 127).astype(np.int8))
        put(ws_name, step.astype(np.float32))
        if len(node.input) > 8:
            x_scale = float(numpy_helper.to_array(inits[node.input[1]]))
            bias = floats[node.input[8].removesuffix("_quantized")].astype(np.float64)
            put(node.input[8], np.rint(bias / (x_scale * step.astype(np.float64)))
                .astype(np.int32))
    onnx.checker.check_model(qmodel)
    return qmodel

"""CPython adapters: onnxruntime sessions behind the async Inference port, and image files.

Only CPython imports this module (tests, ``ownface eval``, benchmarks); the browser has its
own adapter in pyapp/browser/. onnxruntime and PIL are imported lazily.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pyapp.errors import InputError, ModelError
from pyapp.face.detect import Detector, DetectorConfig
from pyapp.face.embed import Embedder
from pyapp.face.frame import Frame, validate_frame
from pyapp.face.manifest import ModelFiles, load_model_files, parse_manifest
from pyapp.face.pipeline import FaceModels
from pyapp.ports import FloatArray

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


class OrtInference:
    """One onnxruntime session (single-threaded by default) behind the async port."""

    def __init__(self, files: ModelFiles, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        opts.add_external_initializers_from_files_in_memory(
            [files.spec.data_name], [files.data], [len(files.data)])
        try:
            self._session = ort.InferenceSession(files.graph, sess_options=opts,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"onnxruntime cannot load {files.spec.name}: {exc}") from exc
        self.name = files.spec.name
        self._outputs = list(files.spec.outputs)

    def run_sync(self, inputs: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
        feed = {k: np.ascontiguousarray(v, np.float32) for k, v in inputs.items()}
        values = self._session.run(self._outputs, feed)
        return {name: np.asarray(v, np.float32) for name, v in zip(self._outputs, values,
                                                                     strict=True)}

    async def run(self, inputs: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
        return self.run_sync(inputs)

    def __repr__(self) -> str:
        return f"OrtInference({self.name})"


def read_model_files(models_dir: Path = MODELS_DIR) -> dict[str, ModelFiles]:
    """Read manifest.json and every model it lists, checking all sha256 digests."""
    try:
        specs = parse_manifest((models_dir / "manifest.json").read_bytes())
    except FileNotFoundError as exc:
        raise ModelError(f"no model manifest in {models_dir}") from exc
    out = {}
    for role, spec in specs.items():
        try:
            graph = (models_dir / spec.graph.file).read_bytes()
            weights = (models_dir / spec.weights.file).read_bytes()
        except FileNotFoundError as exc:
            raise ModelError(f"model file missing: {exc.filename}") from exc
        out[role] = load_model_files(spec, graph, weights)
    return out


def load_models(models_dir: Path = MODELS_DIR, threads: int = 1,
                detector_config: DetectorConfig | None = None) -> FaceModels:
    files = read_model_files(models_dir)
    sessions = {role: OrtInference(f, threads) for role, f in files.items()}
    detector = Detector(sessions["mtcnn_pnet"], sessions["mtcnn_rnet"], sessions["mtcnn_onet"],
                        detector_config or DetectorConfig())
    embedder = Embedder(sessions["dlib_resnet"], files["dlib_resnet"].spec)
    return FaceModels(detector, embedder)


def read_photo(path: Path | str) -> Frame:
    """An image file as an RGBA uint8 frame; unreadable files raise InputError."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            rgba: Any = im.convert("RGBA")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise InputError(f"cannot read image {Path(path).name}: {exc}") from exc
    return validate_frame(np.asarray(rgba, np.uint8).copy(), "photo")

"""CPython adapters: onnxruntime sessions behind the async Inference port, and image files.

Only CPython imports this module (tests, ``ownface eval``, benchmarks); the browser has its
own adapter in pyapp/browser/. onnxruntime and PIL are imported lazily.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pyapp.errors import ModelError, UnreadableImage
from pyapp.face.frame import Frame, validate_frame
from pyapp.face.manifest import (
    Manifest,
    ModelFiles,
    check_file,
    load_model_files,
    parse_manifest,
)
from pyapp.face.mtcnn import MtcnnConfig
from pyapp.face.pad import PadConfig, PadModels
from pyapp.face.pipeline import DEFAULT_PIPELINE, FaceModels, assemble
from pyapp.face.yunet import YuNetConfig
from pyapp.ports import FloatArray
from pyapp.template.binarise import Scheme, scheme_from_params

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


def read_manifest(models_dir: Path = MODELS_DIR) -> Manifest:
    try:
        return parse_manifest((models_dir / "manifest.json").read_bytes())
    except FileNotFoundError as exc:
        raise ModelError(f"no model manifest in {models_dir}") from exc


def read_model_files(models_dir: Path = MODELS_DIR, roles: list[str] | None = None
                     ) -> dict[str, ModelFiles]:
    """Read the models ``roles`` names (default: all the manifest lists), checking every
    sha256 digest."""
    manifest = read_manifest(models_dir)
    out = {}
    for role in roles if roles is not None else sorted(manifest.models):
        spec = manifest.models.get(role)
        if spec is None:
            raise ModelError(f"the manifest in {models_dir} has no model {role!r}")
        try:
            graph = (models_dir / spec.graph.file).read_bytes()
            weights = (models_dir / spec.weights.file).read_bytes()
        except FileNotFoundError as exc:
            raise ModelError(f"model file missing: {exc.filename}") from exc
        out[role] = load_model_files(spec, graph, weights)
    return out


def load_models(models_dir: Path = MODELS_DIR, threads: int = 1,
                pipeline: str = DEFAULT_PIPELINE, mtcnn: MtcnnConfig | None = None,
                yunet: YuNetConfig | None = None, pad: PadConfig | bool = False
                ) -> FaceModels:
    """One face pipeline's models as onnxruntime sessions; with ``pad`` (True or a
    PadConfig) the presentation-attack detection models too."""
    manifest = read_manifest(models_dir)
    roles = manifest.roles(pipeline) + (list(manifest.pad) if pad else [])
    files = read_model_files(models_dir, roles)
    sessions = {role: OrtInference(f, threads) for role, f in files.items()}
    return assemble(manifest, pipeline, sessions, mtcnn, yunet,
                    pad if isinstance(pad, PadConfig) else None)


def load_pad(models_dir: Path = MODELS_DIR, threads: int = 1,
             config: PadConfig | None = None) -> PadModels:
    """The presentation-attack detection models the manifest lists, as onnxruntime sessions."""
    manifest = read_manifest(models_dir)
    files = read_model_files(models_dir, list(manifest.pad))
    sessions = {role: OrtInference(f, threads) for role, f in files.items()}
    return PadModels.assemble([manifest.models[r] for r in manifest.pad], sessions, config)


def load_scheme(pipeline: str = DEFAULT_PIPELINE, models_dir: Path = MODELS_DIR) -> Scheme:
    """A pipeline's binarisation scheme (the manifest names the file and its sha256)."""
    spec = read_manifest(models_dir).pipeline(pipeline).scheme
    try:
        data = check_file(spec, (models_dir / spec.file).read_bytes())
    except FileNotFoundError as exc:
        raise ModelError(f"binarisation parameters missing: {exc.filename}") from exc
    return scheme_from_params(json.loads(data))


PHOTO_MAX_SIDE = 1920  # an ordinary phone photo (12 MP: 4032 x 3024) is scaled to this first


def read_photo(path: Path | str, max_side: int | None = PHOTO_MAX_SIDE) -> Frame:
    """An image file as an RGBA uint8 frame, upright (EXIF orientation applied) and scaled
    down (area average) to at most ``max_side`` pixels a side, so that a phone photo is a
    frame before the frame limits are checked. Unreadable files raise UnreadableImage."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if max_side:
                im.draft("RGB", (max_side, max_side))  # a JPEG decodes at a smaller scale
            upright: Any = ImageOps.exif_transpose(im)
            if max_side and max(upright.size) > max_side:
                s = max_side / max(upright.size)
                upright = upright.resize((max(1, round(upright.size[0] * s)),
                                          max(1, round(upright.size[1] * s))),
                                         Image.Resampling.BOX)
            rgba: Any = upright.convert("RGBA")
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(f"cannot read image {Path(path).name}: {exc}") from exc
    return validate_frame(np.asarray(rgba, np.uint8).copy(), "photo")

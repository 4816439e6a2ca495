"""CPython loader of the two PAD models (onnxruntime), until pyapp.host loads every entry.

Reads the ``minifasnet_*`` entries of models/manifest.json, checks every file through
``pyapp.face.manifest.load_model_files`` (sha256 of graph, stored weights and expanded data)
and wraps each in a ``pyapp.host.OrtInference`` session. Delete this module once the
manifest parser and ``pyapp.host`` load the PAD entries themselves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pyapp.errors import ModelError
from pyapp.face.manifest import FileSpec, InputSpec, ModelSpec, load_model_files
from pyapp.face.pad import PadConfig, PadModel, PadModels
from pyapp.host import MODELS_DIR, OrtInference

PAD_NAMES = ("minifasnet_v2", "minifasnet_v1se")


def model_spec(name: str, entry: dict[str, Any]) -> ModelSpec:
    inp, weights = entry["input"], entry["weights"]
    return ModelSpec(
        name=name, graph=FileSpec(entry["graph"]["file"], entry["graph"]["sha256"]),
        weights=FileSpec(weights["file"], weights["sha256"]), data_name=weights["data_name"],
        data_sha256=weights["data_sha256"],
        input=InputSpec(inp["name"], tuple(inp["shape"]), inp["layout"], inp["colour"],
                        tuple(inp["mean"]), float(inp["scale"])),
        outputs={o["name"]: int(o["dim"]) for o in entry["outputs"]},
        licence=entry["licence"], source={k: str(v) for k, v in entry["source"].items()})


def load_pad_models(models_dir: Path = MODELS_DIR, threads: int = 1,
                    config: PadConfig | None = None) -> PadModels:
    doc = json.loads((models_dir / "manifest.json").read_text())
    models = []
    for name in PAD_NAMES:
        entry = doc["models"].get(name)
        if entry is None:
            raise ModelError(f"manifest has no model {name!r}: run models/convert_pad.py")
        spec = model_spec(name, entry)
        files = load_model_files(spec, (models_dir / spec.graph.file).read_bytes(),
                                 (models_dir / spec.weights.file).read_bytes())
        models.append(PadModel.from_manifest(OrtInference(files, threads), name, entry))
    return PadModels(tuple(models), config or PadConfig())


def read_upright(path: Path | str) -> Any:
    """An image file as an RGBA frame, turned upright by its EXIF orientation (as
    ``cv2.imread`` does; the PAD samples are stored sideways with orientation 6)."""
    import numpy as np
    from PIL import Image, ImageOps

    from pyapp.face.frame import validate_frame

    with Image.open(path) as im:
        upright = ImageOps.exif_transpose(im).convert("RGBA")
    return validate_frame(np.asarray(upright, np.uint8).copy(), "photo")

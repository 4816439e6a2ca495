"""The model manifest (models/manifest.json) as typed specs, and the sha256 checks on files.

No I/O here: callers read the bytes (from disk in CPython, over fetch in the browser) and
hand them to :func:`check_file` / :func:`load_model_files`, which refuse anything whose hash
differs from the manifest with a :class:`~pyapp.errors.ModelError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyapp.errors import ModelError

MANIFEST_VERSION = 1
ROLES = ("mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet", "dlib_resnet")


@dataclass(frozen=True)
class FileSpec:
    file: str
    sha256: str


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: tuple[int, ...]  # -1 for a free dimension
    layout: str  # "NCHW" or "NHWC"
    colour: str  # "RGB" or "BGR"
    mean: tuple[float, float, float]
    scale: float  # network input = (pixel - mean) * scale


@dataclass(frozen=True)
class ModelSpec:
    name: str
    graph: FileSpec
    weights: FileSpec
    data_name: str  # the external data file name the graph refers to
    data_sha256: str  # sha256 of the expanded float32 data file
    input: InputSpec
    outputs: dict[str, int]  # output name -> last dimension
    licence: str
    source: dict[str, str]


@dataclass(frozen=True)
class ModelFiles:
    """What an Inference adapter needs to create a session: graph + its external data."""

    spec: ModelSpec
    graph: bytes
    data: bytes  # the float32 external data file, named spec.data_name


def _get(obj: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind):
        raise ModelError(f"manifest: {where}.{key} is missing or not a {kind.__name__}")
    return value


def _file(obj: Mapping[str, Any], where: str) -> FileSpec:
    sha = _get(obj, "sha256", str, where)
    if len(sha) != 64:
        raise ModelError(f"manifest: {where}.sha256 is not a sha256 hex digest")
    return FileSpec(_get(obj, "file", str, where), sha.lower())


def parse_manifest(text: str | bytes) -> dict[str, ModelSpec]:
    """Parse manifest.json; every role in ROLES must be present and well formed."""
    import json

    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("version") != MANIFEST_VERSION:
        raise ModelError(f"manifest version must be {MANIFEST_VERSION}")
    models = _get(doc, "models", dict, "manifest")
    specs: dict[str, ModelSpec] = {}
    for role in ROLES:
        entry = models.get(role)
        if not isinstance(entry, dict):
            raise ModelError(f"manifest has no model {role!r}")
        weights = _get(entry, "weights", dict, role)
        inp = _get(entry, "input", dict, role)
        mean = _get(inp, "mean", list, f"{role}.input")
        if len(mean) != 3:
            raise ModelError(f"manifest: {role}.input.mean must have 3 values")
        outputs = {_get(o, "name", str, f"{role}.outputs"): int(_get(o, "dim", int, role))
                   for o in _get(entry, "outputs", list, role)}
        specs[role] = ModelSpec(
            name=role,
            graph=_file(_get(entry, "graph", dict, role), f"{role}.graph"),
            weights=_file(weights, f"{role}.weights"),
            data_name=_get(weights, "data_name", str, f"{role}.weights"),
            data_sha256=_get(weights, "data_sha256", str, f"{role}.weights"),
            input=InputSpec(
                name=_get(inp, "name", str, f"{role}.input"),
                shape=tuple(int(d) for d in _get(inp, "shape", list, f"{role}.input")),
                layout=_get(inp, "layout", str, f"{role}.input"),
                colour=_get(inp, "colour", str, f"{role}.input"),
                mean=(float(mean[0]), float(mean[1]), float(mean[2])),
                scale=float(_get(inp, "scale", float, f"{role}.input")),
            ),
            outputs=outputs,
            licence=_get(entry, "licence", str, role),
            source={k: str(v) for k, v in _get(entry, "source", dict, role).items()},
        )
    return specs


def check_file(spec: FileSpec, data: bytes) -> bytes:
    """Return ``data`` if its sha256 matches ``spec``; raise ModelError otherwise."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise ModelError(f"model file {spec.file} fails its sha256 check (expected "
                         f"{spec.sha256[:16]}..., got {digest[:16]}...): refusing to load it")
    return data


def load_model_files(spec: ModelSpec, graph: bytes, weights: bytes) -> ModelFiles:
    """Check both files, expand the stored weights and check the expanded data too."""
    from pyapp.face import weights as stored_weights

    check_file(spec.graph, graph)
    check_file(spec.weights, weights)
    data = stored_weights.expand(weights)
    check_file(FileSpec(spec.data_name, spec.data_sha256), data)
    return ModelFiles(spec, graph, data)

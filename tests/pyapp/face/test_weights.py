"""pyapp.face.weights: compact stored weights expand to the exact float32 data file."""

from __future__ import annotations

import numpy as np
import pytest

from pyapp.errors import ModelError
from pyapp.face import weights as sw


def tensors() -> tuple[dict[str, np.ndarray], dict[str, int]]:
    rng = np.random.default_rng(7)
    t = {"conv": (rng.standard_normal((8, 4, 3, 3)) * np.arange(1, 9)[:, None, None, None])
         .astype(np.float32),
         "fc": rng.standard_normal((64, 16)).astype(np.float32),
         "bias": rng.standard_normal(1500).astype(np.float32)}
    return t, {"conv": 0, "fc": 1, "bias": 0}


@pytest.mark.parametrize(("bits", "method", "tol"), [
    (8, "uniform", 0.01), (6, "uniform", 0.04), (5, "kmeans", 0.06), (32, "uniform", 0.0)])
def test_roundtrip_error_is_bounded(bits: int, method: str, tol: float) -> None:
    t, axes = tensors()
    stored = sw.from_bytes(sw.to_bytes(sw.encode(t, axes, bits=bits, method=method)))
    for entry in stored.layout:
        name = str(entry["name"])
        got = sw.decode_tensor(stored, entry)
        assert got.shape == t[name].shape and got.dtype == np.float32
        rel = np.sqrt(np.mean((got - t[name]) ** 2) / np.mean(t[name] ** 2))
        assert rel <= tol + 1e-7, (name, rel)


def test_expand_places_tensors_at_their_offsets() -> None:
    t, axes = tensors()
    stored = sw.encode(t, axes, bits=32, method="uniform")
    blob = sw.expand(sw.to_bytes(stored))
    for e in sw.external_layout(stored):
        assert e.offset % sw.ALIGN == 0
        arr = np.frombuffer(blob, "<f4", e.nbytes // 4, e.offset).reshape(e.shape)
        assert np.array_equal(arr, t[e.name])


def test_to_bytes_is_deterministic() -> None:
    t, axes = tensors()
    a = sw.to_bytes(sw.encode(t, axes, bits=5, method="kmeans"))
    b = sw.to_bytes(sw.encode(t, axes, bits=5, method="kmeans"))
    assert a == b


def test_per_channel_scale_keeps_small_channels_accurate() -> None:
    t, axes = tensors()
    stored = sw.encode(t, axes, bits=6, method="uniform")
    entry = next(e for e in stored.layout if e["name"] == "conv")
    got = sw.decode_tensor(stored, entry)
    small = np.abs(got[0] - t["conv"][0]).max() / np.abs(t["conv"][0]).max()
    assert small < 0.04  # channel 0 is 8x smaller than channel 7 and still fine


@pytest.mark.parametrize("junk", [b"", b"not a zip", b"PK\x03\x04" + b"\0" * 40])
def test_unreadable_weights_raise_model_error(junk: bytes) -> None:
    with pytest.raises(ModelError):
        sw.expand(junk)


def test_wrong_sized_tensor_raises_model_error() -> None:
    t, axes = tensors()
    stored = sw.encode(t, axes, bits=6, method="uniform")
    key = next(str(e["key"]) for e in stored.layout if e["name"] == "conv")
    stored.arrays[f"{key}.codes"] = stored.arrays[f"{key}.codes"][:, :-1]
    with pytest.raises(ModelError, match="wrong size"):
        sw.expand(sw.to_bytes(stored))


def test_int8_tensors_are_kept_exactly() -> None:
    rng = np.random.default_rng(8)
    t: dict[str, np.ndarray] = {
        "q": rng.integers(-127, 128, (16, 3, 3, 3), dtype=np.int8),
        "fc": rng.standard_normal((64, 16)).astype(np.float32)}
    stored = sw.from_bytes(sw.to_bytes(sw.encode(t, {"q": 0, "fc": 1}, bits=32,
                                                 method="uniform")))
    layout = {e.name: e for e in sw.external_layout(stored)}
    assert layout["q"].dtype == "int8" and layout["q"].nbytes == t["q"].size
    assert layout["fc"].dtype == "float32"
    blob = sw.expand(sw.to_bytes(stored))
    q = layout["q"]
    assert np.array_equal(np.frombuffer(blob, np.int8, q.nbytes, q.offset).reshape(q.shape),
                          t["q"])
    fc = layout["fc"]
    assert np.array_equal(np.frombuffer(blob, "<f4", fc.nbytes // 4, fc.offset)
                          .reshape(fc.shape), t["fc"])

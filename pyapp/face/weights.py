"""Compact stored weights: palettised codes per tensor, expanded to float32 at load time.

A model ships as an ONNX graph whose large initializers are *external* (they point into a
data file ``<stem>.data`` by offset and length) plus a ``<stem>.weights.npz`` holding those
initializers compactly. :func:`expand` rebuilds the exact bytes of ``<stem>.data`` in numpy,
so inference runs at float32 speed and no dequantisation op sits in the graph.

Storage of one tensor ``w`` with channel axis ``a`` (C channels, n values each):

* ``f32``: the values as they are (small tensors).
* ``i8``: int8 values as they are (the weights of an int8 graph, whose convolutions run on
  8-bit integers); they stay int8 in the data file.
* ``pal``: ``codes`` uint8 [C, n], a per-tensor ``palette`` float32 [K] (K = 2**bits levels)
  and a per-channel ``scale`` float32 [C]; ``w = moveaxis(palette[codes] * scale[:, None])``.
  The palette is a uniform grid over [-1, 1] (``uniform``; scale = max |w| of the channel),
  the k-means centres of the channel-normalised values (``kmeans``; scale = the channel's
  standard deviation), or the integers (``stepX``: a uniform step of X channel standard
  deviations, i.e. entropy-constrained scalar quantisation; rare outliers are clipped to the
  2**bits levels). Codes are kept one per byte: brotli entropy-codes them, which beats bit
  packing and, for ``stepX``, makes the size follow the step rather than the bit count.

The npz also carries ``layout.json`` (uint8): the tensors' names, shapes, axes and their
offsets in the data file. Only numpy and the standard library are used (runs in Pyodide).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pyapp.errors import ModelError

ALIGN = 64  # byte alignment of each tensor inside the data file
LAYOUT_KEY = "layout.json"


@dataclass(frozen=True)
class TensorEntry:
    name: str
    shape: tuple[int, ...]
    offset: int
    nbytes: int
    dtype: str = "float32"  # or "int8"


@dataclass(frozen=True)
class Stored:
    """Tensors in stored form: ``arrays`` as written to the npz, ``layout`` describing them."""

    arrays: dict[str, npt.NDArray[np.generic]]
    layout: list[dict[str, object]]


def _kmeans_1d(values: npt.NDArray[np.float64], k: int, iters: int = 40) -> np.ndarray:
    """Lloyd's algorithm on sorted 1-D data, centres started at equal-frequency quantiles."""
    v = np.sort(values)
    centres = np.quantile(v, (np.arange(k) + 0.5) / k)
    csum = np.concatenate([[0.0], np.cumsum(v)])
    for _ in range(iters):
        bounds = np.searchsorted(v, (centres[1:] + centres[:-1]) / 2)
        edges = np.concatenate([[0], bounds, [v.size]])
        counts = np.diff(edges)
        sums = csum[edges[1:]] - csum[edges[:-1]]
        new = np.where(counts > 0, sums / np.maximum(counts, 1), centres)
        if np.allclose(new, centres, rtol=0, atol=1e-12):
            break
        centres = np.sort(new)
    return centres


def _encode_one(w: np.ndarray, axis: int, bits: int, method: str) -> dict[str, np.ndarray]:
    k = 1 << bits
    mat = np.moveaxis(w.astype(np.float64), axis, 0).reshape(w.shape[axis], -1)
    if method == "uniform":
        scale = np.abs(mat).max(axis=1)
        scale[scale == 0] = 1.0
        palette = np.linspace(-1.0, 1.0, k)
        norm = mat / scale[:, None]
        codes = np.rint((norm + 1.0) * (k - 1) / 2.0)
    elif method == "kmeans":
        scale = mat.std(axis=1)
        scale[scale == 0] = 1.0
        norm = mat / scale[:, None]
        palette = _kmeans_1d(norm.ravel(), k)
        mids = (palette[1:] + palette[:-1]) / 2
        codes = np.searchsorted(mids, norm)
    elif method.startswith("step"):  # uniform step of (step) channel std, entropy-coded
        step = float(method[4:])
        scale = mat.std(axis=1) * step
        scale[scale == 0] = 1.0
        half = (k - 1) // 2
        palette = np.arange(-half, k - half, dtype=np.float64)
        codes = np.clip(np.rint(mat / scale[:, None]), -half, k - 1 - half) + half
    else:
        raise ValueError(f"unknown method {method!r}")
    return {
        "codes": np.clip(codes, 0, k - 1).astype(np.uint8),
        "palette": palette.astype(np.float32),
        "scale": scale.astype(np.float32),
    }


def encode(tensors: Mapping[str, np.ndarray], axes: Mapping[str, int], *, bits: int,
           method: str, plan: Mapping[str, tuple[int, str]] | None = None) -> Stored:
    """Encode float32 (or int8) tensors (name -> array, name -> channel axis). Build side only.

    int8 tensors are kept as they are (``i8``); float32 ones are encoded per ``bits`` and
    ``method``, or per ``plan[name] = (bits, method)`` for the tensors ``plan`` names (mixed
    precision: a network's sensitive layers finer than its robust ones).
    """
    arrays: dict[str, npt.NDArray[np.generic]] = {}
    layout: list[dict[str, object]] = []
    offset = 0
    default_bits, default_method = bits, method
    for i, (name, w) in enumerate(tensors.items()):
        bits, method = (plan or {}).get(name, (default_bits, default_method))
        nbytes = int(w.size) * w.dtype.itemsize
        entry: dict[str, object] = {"name": name, "shape": list(w.shape), "offset": offset,
                                    "nbytes": nbytes, "key": f"t{i}"}
        if w.dtype == np.int8:
            arrays[f"t{i}.values"] = np.ascontiguousarray(w)
            entry["encoding"] = "i8"
        elif bits >= 32 or w.ndim < 2:
            arrays[f"t{i}.values"] = np.ascontiguousarray(w, np.float32)
            entry["encoding"] = "f32"
        else:
            for part, arr in _encode_one(w, axes[name], bits, method).items():
                arrays[f"t{i}.{part}"] = arr
            entry.update(encoding="pal", axis=int(axes[name]), bits=bits, method=method)
        layout.append(entry)
        offset += -(-nbytes // ALIGN) * ALIGN
    return Stored(arrays, layout)


def external_layout(stored: Stored) -> list[TensorEntry]:
    return [TensorEntry(str(e["name"]), tuple(int(d) for d in e["shape"]),  # type: ignore[attr-defined]
                        int(e["offset"]), int(e["nbytes"]),  # type: ignore[call-overload]
                        "int8" if e.get("encoding") == "i8" else "float32")
            for e in stored.layout]


def to_bytes(stored: Stored) -> bytes:
    """Deterministic npz bytes (fixed zip timestamps, stored entries, sorted keys)."""
    buf = io.BytesIO()
    items = {**stored.arrays,
             LAYOUT_KEY: np.frombuffer(json.dumps(stored.layout, sort_keys=True).encode(),
                                       np.uint8)}
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for key in sorted(items):
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            arr_buf = io.BytesIO()
            np.lib.format.write_array(arr_buf, np.ascontiguousarray(items[key]),
                                      allow_pickle=False)
            zf.writestr(info, arr_buf.getvalue())
    return buf.getvalue()


def from_bytes(data: bytes) -> Stored:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        layout = json.loads(arrays.pop(LAYOUT_KEY).tobytes().decode())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelError(f"stored weights are not readable: {exc}") from exc
    if not isinstance(layout, list):
        raise ModelError("stored weights have no layout")
    return Stored(arrays, layout)


def decode_tensor(stored: Stored, entry: Mapping[str, object]) -> npt.NDArray[np.generic]:
    """One tensor back to float32 (int8 for ``i8``), in its graph shape."""
    key = str(entry["key"])
    shape = tuple(int(d) for d in entry["shape"])  # type: ignore[attr-defined]
    try:
        if entry["encoding"] == "i8":
            values = stored.arrays[f"{key}.values"]
            if values.dtype != np.int8 or values.size != int(np.prod(shape)):
                raise ModelError(f"stored tensor {entry['name']} is not int8 of its size")
            return values.reshape(shape)
        if entry["encoding"] == "f32":
            return stored.arrays[f"{key}.values"].astype(np.float32).reshape(shape)
        codes = stored.arrays[f"{key}.codes"]
        palette = stored.arrays[f"{key}.palette"].astype(np.float32)
        scale = stored.arrays[f"{key}.scale"].astype(np.float32)
        axis = int(entry["axis"])  # type: ignore[call-overload]
    except KeyError as exc:
        raise ModelError(f"stored weights lack {exc}") from exc
    moved = (shape[axis], *shape[:axis], *shape[axis + 1:])
    if codes.size != int(np.prod(shape)) or scale.size != shape[axis]:
        raise ModelError(f"stored tensor {entry['name']} has the wrong size")
    mat = palette[codes] * scale[:, None]
    return np.ascontiguousarray(np.moveaxis(mat.reshape(moved), 0, axis))


def expand(data: bytes) -> bytes:
    """The exact bytes of the external data file the ONNX graph refers to."""
    stored = from_bytes(data)
    end = max((int(e["offset"]) + int(e["nbytes"]) for e in stored.layout),  # type: ignore[call-overload]
              default=0)
    blob = np.zeros(end, np.uint8)
    for entry in stored.layout:
        arr = decode_tensor(stored, entry)
        off, nbytes = int(entry["offset"]), int(entry["nbytes"])  # type: ignore[call-overload]
        if arr.size * (1 if arr.dtype == np.int8 else 4) != nbytes:
            raise ModelError(f"stored tensor {entry['name']} has the wrong length")
        raw = arr if arr.dtype == np.int8 else arr.astype("<f4")
        blob[off:off + nbytes] = raw.view(np.uint8).ravel()
    return blob.tobytes()

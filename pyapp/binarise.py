"""Embedding -> bit string for the fuzzy commitment, with per-enrolment randomness.

Scheme (parameters learned once on a disjoint population, shipped in models/binarise-v1.json):

1. Average the L2-normalised embeddings given (several frames or photos), re-normalise,
   subtract the population mean (centring), re-normalise.
2. Project onto ``p`` fixed pseudo-random +-1 directions (generated from a public seed with
   SHA-256, so CPython and Pyodide get the identical matrix).
3. Cut each projection into ``L`` equal-frequency levels (thresholds = population quantiles)
   and write the level as a thermometer code (L-1 bits), so the Hamming distance between two
   codes is the L1 distance between their level vectors, which over many random directions
   approximates the Euclidean (cosine) distance of the embeddings.
4. Keep exactly the code length n of bits and permute them with a permutation drawn from the
   per-enrolment ``seed`` (stored in the template). Two enrolments of one face therefore put
   their bits under unrelated codewords in unrelated orders; re-enrolling revokes.

The Hamming distance between enrolment and probe is unchanged by the permutation (both use
the template's seed), so accuracy is decided by steps 1-3 alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pyapp.ecc import BCH, Bits, bch
from pyapp.errors import InputError, ModelError

FORMAT = "ownface-binarise"
SEED_BYTES = 16
F64 = npt.NDArray[np.float64]


def _stream(label: bytes, seed: bytes, nbytes: int) -> bytes:
    """SHA-256 in counter mode: a deterministic, platform-independent byte stream."""
    blocks = [hashlib.sha256(label + seed + i.to_bytes(4, "big")).digest()
              for i in range(-(-nbytes // 32))]
    return b"".join(blocks)[:nbytes]


def rademacher(count: int, dim: int, seed: bytes) -> F64:
    """A count x dim matrix of +-1/sqrt(dim) from the public projection seed."""
    raw = np.frombuffer(_stream(b"OwnFace/1 projection", seed, -(-count * dim // 8)),
                        dtype=np.uint8)
    signs = np.unpackbits(raw, bitorder="little")[: count * dim].astype(np.float64)
    matrix: F64 = ((2.0 * signs - 1.0) / np.sqrt(dim)).reshape(count, dim)
    return matrix


def permutation(seed: bytes, size: int) -> npt.NDArray[np.int64]:
    """The per-enrolment bit permutation drawn from ``seed`` (argsort of 64-bit keys)."""
    if len(seed) != SEED_BYTES:
        raise InputError(f"an enrolment seed must be {SEED_BYTES} bytes")
    keys = np.frombuffer(_stream(b"OwnFace/1 permutation", seed, 8 * size), dtype="<u8")
    order: npt.NDArray[np.int64] = np.argsort(keys, kind="stable").astype(np.int64)
    return order


@dataclass(frozen=True, repr=False)
class Scheme:
    """Learned binarisation parameters plus the BCH code they feed."""

    params: dict[str, Any]
    mean: F64
    projection: F64
    thresholds: F64  # p x (L-1), increasing along axis 1
    code: BCH
    scheme_id: bytes  # 8 bytes naming these exact parameters (stored in every template)

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @property
    def levels(self) -> int:
        return int(self.thresholds.shape[1]) + 1

    def __repr__(self) -> str:
        return (f"Scheme(v{self.params['version']}, {self.projection.shape[0]} projections x "
                f"{self.levels} levels -> {self.code!r})")


def scheme_from_params(params: dict[str, Any]) -> Scheme:
    """Validate a parameter dictionary (the JSON file's content) and build the scheme."""
    try:
        if params["format"] != FORMAT or params["version"] != 1:
            raise ModelError("unknown binarisation parameter format or version")
        dim = int(params["dim"])
        mean = np.asarray(params["mean"], dtype=np.float64)
        proj = params["projection"]
        if proj["kind"] != "rademacher":
            raise ModelError(f"unknown projection kind {proj['kind']!r}")
        projection = rademacher(int(proj["count"]), dim, bytes.fromhex(proj["seed"]))
        thresholds = np.asarray(params["thresholds"], dtype=np.float64)
        code = bch(int(params["code"]["m"]), int(params["code"]["t"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"malformed binarisation parameters: {exc}") from exc
    if mean.shape != (dim,) or thresholds.ndim != 2 or thresholds.shape[0] != len(projection):
        raise ModelError("binarisation parameters have inconsistent shapes")
    if np.any(np.diff(thresholds, axis=1) < 0) or not np.all(np.isfinite(thresholds)):
        raise ModelError("binarisation thresholds must be finite and increasing")
    if thresholds.size < code.length:
        raise ModelError(f"{thresholds.size} bits cannot fill a code of length {code.length}")
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":")).encode()
    scheme_id = hashlib.sha256(canonical).digest()[:8]
    return Scheme(params, mean, projection, thresholds, code, scheme_id)


def load_scheme(path: str | Path) -> Scheme:
    try:
        params = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read binarisation parameters {path}: {exc}") from exc
    return scheme_from_params(params)


def average(embeddings: object, dim: int) -> F64:
    """The re-normalised mean of one (d,) or several (n, d) L2-normalised embeddings."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != dim or x.shape[0] == 0:
        raise InputError(f"embeddings must have shape ({dim},) or (n, {dim})")
    if not np.all(np.isfinite(x)):
        raise InputError("embeddings must be finite")
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    mean: F64 = x.mean(axis=0)
    return mean / float(np.linalg.norm(mean))


def project(embeddings: object, scheme: Scheme) -> F64:
    """Step 1-2: the p projections of the (averaged, centred) embedding."""
    x = average(embeddings, scheme.dim) - scheme.mean
    norm = np.linalg.norm(x)
    if norm == 0:
        raise InputError("the embedding equals the population mean")
    projected: F64 = scheme.projection @ (x / norm)
    return projected


def levels(projected: F64, scheme: Scheme) -> npt.NDArray[np.int64]:
    """Step 3: the equal-frequency level (0 .. L-1) of each projection."""
    level: npt.NDArray[np.int64] = (projected[..., :, None] > scheme.thresholds).sum(
        axis=-1).astype(np.int64)
    return level


def thermometer(level: npt.NDArray[np.int64], count: int) -> Bits:
    """Levels -> thermometer bits (level l -> l ones then zeros), flattened in order."""
    return (level[..., :, None] > np.arange(count)).reshape(*level.shape[:-1], -1).astype(
        np.uint8)


def unpermuted_bits(embeddings: object, scheme: Scheme) -> Bits:
    """The code-length bits before the per-enrolment permutation (for measurements)."""
    bits = thermometer(levels(project(embeddings, scheme), scheme), scheme.levels - 1)
    return bits[: scheme.code.length]


def binarise(embeddings: object, scheme: Scheme, seed: bytes) -> Bits:
    """The bits to commit to (or to open with) under the enrolment ``seed``."""
    bits = unpermuted_bits(embeddings, scheme)
    return bits[permutation(seed, scheme.code.length)]


# --- fitting (CPython, run by bench/protection.py on the training people) ---------------------
def fit(train: F64, *, projections: int, levels_: int, code_m: int, code_t: int,
        projection_seed: bytes, note: str = "") -> dict[str, Any]:
    """Learn mean and equal-frequency thresholds on ``train`` (rows: L2-normalised)."""
    x = train / np.linalg.norm(train, axis=1, keepdims=True)
    mean = x.mean(axis=0)
    centred = x - mean
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    matrix = rademacher(projections, x.shape[1], projection_seed)
    z = centred @ matrix.T
    quantiles = np.arange(1, levels_) / levels_
    thresholds = np.quantile(z, quantiles, axis=0).T
    return {
        "format": FORMAT, "version": 1, "dim": int(x.shape[1]),
        "mean": [round(float(v), 7) for v in mean],
        "projection": {"kind": "rademacher", "count": projections,
                       "seed": projection_seed.hex()},
        "thresholds": [[round(float(v), 6) for v in row] for row in thresholds],
        "code": {"m": code_m, "t": code_t},
        "note": note,
    }

"""Embedding -> bit string for the fuzzy commitment, with per-enrolment randomness.

Scheme (parameters learned once on a disjoint population, shipped in models/binarise-v1.json):

1. Average the L2-normalised embeddings given (several frames or photos) and re-normalise.
2. Rotate by a fixed pseudo-random orthogonal matrix (Haar-distributed: QR of a Gaussian
   matrix drawn from SHA-256 of a public seed, so CPython and Pyodide build the same one).
   A rotation keeps the cosine geometry and spreads every embedding dimension over all
   coordinates, so the coordinates have similar spread.
3. Quantise each coordinate with L levels of ONE common width, centred on that coordinate's
   population median, and write the level as a thermometer code (L-1 bits). The Hamming
   distance of two codes is then the L1 distance of their level vectors, which (for rotated
   coordinates of equal scale) tracks the Euclidean, i.e. cosine, distance of the embeddings.
   Equal-frequency levels (each coordinate stretched to its own spread) were measured and
   rejected: they act like a diagonal whitening and lose ~4-10 points of TAR (docs/security.md).
4. Keep exactly the code length n of bits and permute them with a permutation drawn from the
   per-enrolment ``seed`` (stored in the template). Two enrolments of one face therefore put
   their bits under unrelated codewords in unrelated orders; re-enrolling revokes.

The Hamming distance between enrolment and probe is unchanged by the permutation (both use
the template's seed), so accuracy is decided by steps 1-3 alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pyapp.errors import InputError, ModelError
from pyapp.template.ecc import BCH, Bits, bch

FORMAT = "ownface-binarise"
SEED_BYTES = 16
F64 = npt.NDArray[np.float64]


def _stream(label: bytes, seed: bytes, nbytes: int) -> bytes:
    """SHA-256 in counter mode: a deterministic, platform-independent byte stream."""
    blocks = [hashlib.sha256(label + seed + i.to_bytes(4, "big")).digest()
              for i in range(-(-nbytes // 32))]
    return b"".join(blocks)[:nbytes]


def _uniform(label: bytes, seed: bytes, count: int) -> F64:
    """``count`` floats in (0, 1) from 53-bit integers of the SHA-256 stream (exact)."""
    raw = np.frombuffer(_stream(label, seed, 8 * count), dtype="<u8")
    uniform: F64 = ((raw >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
    return uniform


def rotation(count: int, dim: int, seed: bytes) -> F64:
    """``count`` rows of stacked Haar-random dim x dim orthogonal matrices from ``seed``.

    Gaussian entries by Box-Muller from the SHA-256 stream, then QR with the signs fixed
    (R's diagonal made positive), so the result does not depend on the LAPACK in use.
    """
    blocks = []
    half = -(-dim * dim // 2)
    for b in range(-(-count // dim)):
        u = _uniform(b"OwnFace/1 rotation" + b.to_bytes(2, "big"), seed, 2 * half)
        radius, angle = np.sqrt(-2.0 * np.log(u[:half])), 2.0 * np.pi * u[half:]
        gauss = np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])
        q, r = np.linalg.qr(gauss[: dim * dim].reshape(dim, dim))
        blocks.append((q * np.where(np.diag(r) < 0, -1.0, 1.0)).T)
    matrix: F64 = np.vstack(blocks)[:count]
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
    projection: F64  # p x d rotation rows
    thresholds: F64  # p x (L-1), increasing along axis 1
    code: BCH
    scheme_id: bytes  # 8 bytes naming these exact parameters (stored in every template)

    @property
    def dim(self) -> int:
        return int(self.projection.shape[1])

    @property
    def pipeline(self) -> str:
        """The face pipeline whose embeddings these parameters were fitted on (models/
        manifest.json); binarise-v1.json predates the field and is pipeline v1's."""
        return str(self.params.get("pipeline", "v1"))

    @property
    def levels(self) -> int:
        return int(self.thresholds.shape[1]) + 1

    def __repr__(self) -> str:
        return (f"Scheme({self.pipeline}, {self.projection.shape[0]} rotated "
                f"coordinates x {self.levels} levels -> {self.code!r})")


def level_thresholds(centre: F64, step: float, levels_: int) -> F64:
    """Thresholds of L equal-width levels centred on each coordinate's median."""
    offsets = (np.arange(1, levels_) - levels_ / 2) * step
    thresholds: F64 = centre[:, None] + offsets[None, :]
    return thresholds


def scheme_from_params(params: dict[str, Any]) -> Scheme:
    """Validate a parameter dictionary (the JSON file's content) and build the scheme."""
    try:
        if params["format"] != FORMAT or params["version"] != 1:
            raise ModelError("unknown binarisation parameter format or version")
        dim = int(params["dim"])
        rot = params["rotation"]
        if rot["kind"] != "haar-qr":
            raise ModelError(f"unknown rotation kind {rot['kind']!r}")
        projection = rotation(int(rot["count"]), dim, bytes.fromhex(rot["seed"]))
        centre = np.asarray(params["centre"], dtype=np.float64)
        step, levels_ = float(params["step"]), int(params["levels"])
        code = bch(int(params["code"]["m"]), int(params["code"]["t"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelError(f"malformed binarisation parameters: {exc!r}") from exc
    if centre.shape != (len(projection),) or not np.all(np.isfinite(centre)):
        raise ModelError("binarisation centres must be one finite value per coordinate")
    if not (step > 0 and np.isfinite(step)) or not 2 <= levels_ <= 64:
        raise ModelError("binarisation step must be positive and levels 2..64")
    thresholds = level_thresholds(centre, step, levels_)
    if thresholds.size < code.length:
        raise ModelError(f"{thresholds.size} bits cannot fill a code of length {code.length}")
    import json

    canonical = json.dumps(params, sort_keys=True, separators=(",", ":")).encode()
    scheme_id = hashlib.sha256(canonical).digest()[:8]
    return Scheme(params, projection, thresholds, code, scheme_id)


def load_scheme(path: str | Path) -> Scheme:
    import json

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
    """Steps 1-2: the rotated coordinates of the (averaged) embedding."""
    projected: F64 = scheme.projection @ average(embeddings, scheme.dim)
    return projected


def levels(projected: F64, scheme: Scheme) -> npt.NDArray[np.int64]:
    """Step 3: the level (0 .. L-1) of each rotated coordinate."""
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
def fit(train: F64, *, coordinates: int, levels_: int, width: float, code_m: int,
        code_t: int, rotation_seed: bytes, note: str = "", pipeline: str = "v2"
        ) -> dict[str, Any]:
    """Learn the coordinate medians and the common level width on ``train`` (rows).

    The step is ``width * 4 / L`` times the mean per-coordinate standard deviation, so the
    L levels span about +-2 * width standard deviations.
    """
    x = train / np.linalg.norm(train, axis=1, keepdims=True)
    z = x @ rotation(coordinates, x.shape[1], rotation_seed).T
    centre = np.median(z, axis=0)
    step = width * 4.0 / levels_ * float(z.std(axis=0).mean())
    return {
        "format": FORMAT, "version": 1, "dim": int(x.shape[1]),
        "rotation": {"kind": "haar-qr", "count": coordinates, "seed": rotation_seed.hex()},
        "centre": [round(float(v), 7) for v in centre],
        "step": round(step, 9), "levels": levels_,
        "code": {"m": code_m, "t": code_t},
        "pipeline": pipeline,
        "note": note,
    }

"""Embedding: normalise the chip per the manifest, run the embedder, L2-normalise.

Test-time flip averaging: the chip and its mirror image go through the network as one
batch of two, and the two L2-normalised descriptors are averaged and normalised again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pyapp.errors import InputError
from pyapp.face.frame import FloatImage
from pyapp.face.manifest import ModelSpec
from pyapp.ports import Inference

Embedding = npt.NDArray[np.float32]


def l2_normalise(x: np.ndarray, axis: int = -1) -> np.ndarray:
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    if not np.all(np.isfinite(norm)) or np.any(norm == 0):
        raise InputError("cannot normalise a zero or non-finite vector")
    out: np.ndarray = (x / norm).astype(np.float32)
    return out


@dataclass(frozen=True)
class Embedder:
    model: Inference
    spec: ModelSpec

    @property
    def chip_size(self) -> int:
        return self.spec.input.shape[-1] if self.spec.input.layout == "NCHW" else (
            self.spec.input.shape[-2])

    @property
    def dim(self) -> int:
        return next(iter(self.spec.outputs.values()))

    def prepare(self, chips: FloatImage) -> np.ndarray:
        """[N, S, S, 3] RGB 0..255 chips -> the network's input tensor."""
        inp = self.spec.input
        x = chips[..., ::-1] if inp.colour == "BGR" else chips
        x = (x - np.asarray(inp.mean, np.float32)) * np.float32(inp.scale)
        if inp.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x, np.float32)

    async def embed(self, chip: FloatImage, flip: bool = True) -> Embedding:
        """One L2-normalised descriptor of an (S, S, 3) chip."""
        size = self.chip_size
        if chip.shape != (size, size, 3):
            raise InputError(f"chip must be {size}x{size}x3, not {chip.shape}")
        if not np.all(np.isfinite(chip)):
            raise InputError("chip contains NaN or infinite values")
        batch = np.stack([chip, chip[:, ::-1]]) if flip else chip[None]
        out = await self.model.run({self.spec.input.name: self.prepare(batch)})
        desc = out[next(iter(self.spec.outputs))]
        if desc.shape != (batch.shape[0], self.dim) or not np.all(np.isfinite(desc)):
            raise InputError("the embedder returned an unusable descriptor")
        return l2_normalise(l2_normalise(desc).sum(axis=0))

"""Passive presentation-attack detection (PAD): MiniFASNetV2 + MiniFASNetV1SE on each frame.

Per usable frame of a burst, the pipeline calls ``score = await score(rgb, face, pad_models)``
and, once the burst is over, ``decide(scores, config)``:

* each model sees its own crop of the frame, cut exactly as upstream
  (minivision-ai/Silent-Face-Anti-Spoofing, ``CropImage``) cuts it: the detector's box
  scaled about its centre by the model's crop scale (2.7 for V2, 4.0 for V1SE; lowered when
  the scaled box cannot fit in the frame), shifted back inside the frame where it sticks
  out, cut at integer pixels, resized bilinearly to 80 x 80 (pixel centres aligned, like
  ``cv2.resize``), rounded to uint8, BGR, 0..255;
* each model's logits -> softmax; class 1 is bona fide;
* the frame's score fuses the models' bona fide probabilities (``PadConfig.fusion``);
* the burst passes when the rule of ``PadConfig.rule`` over the frames' scores holds.

The threshold was chosen for a bona fide presentation classification error rate (BPCER)
of at most 1% on lfw-dev frames (docs/security.md, "Presentation-attack detection"); LFW's
press photos look much like recaptures to these models, so that threshold is low and the
passive check alone stops only part of the attacks measured there. The crop follows the
detector's box, so each face pipeline has its own measured settings (``PIPELINE_PAD``;
``pipeline.assemble`` picks them). Scores are biometric-derived values: they never appear
in a repr or a message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pyapp.errors import InputError, LivenessRefused, ModelError
from pyapp.face.detect import Face
from pyapp.face.frame import Image, _axis_weights
from pyapp.face.manifest import ModelSpec
from pyapp.ports import Inference

BONA_FIDE = 1  # index of the bona fide class in the models' outputs
BGR = np.array([2, 1, 0])  # RGB(A) channel indices in the order the models take them


@dataclass(frozen=True)
class PadModel:
    """One MiniFASNet: its session and how its input is cut (from its manifest entry)."""

    session: Inference = field(repr=False)
    name: str
    crop_scale: float
    size: int = 80
    input_name: str = "input"
    output_name: str = "logits"

    @classmethod
    def from_manifest(cls, session: Inference, name: str, entry: Mapping[str, Any]
                      ) -> PadModel:
        """Read the crop and I/O facts from a ``models/manifest.json`` entry."""
        try:
            inp = entry["input"]
            crop = inp["crop"]
            if inp["colour"] != "BGR" or inp["layout"] != "NCHW" or float(inp["scale"]) != 1.0:
                raise ModelError(f"manifest: {name} is not a BGR 0..255 NCHW model")
            return cls(session, name, float(crop["scale"]), int(crop["size"]),
                       str(inp["name"]), str(entry["outputs"][0]["name"]))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ModelError(f"manifest: {name} lacks its PAD input spec ({exc})") from exc

    @classmethod
    def from_spec(cls, session: Inference, spec: ModelSpec) -> PadModel:
        """The same from a parsed manifest entry (pyapp.face.manifest.ModelSpec)."""
        inp = spec.input
        return cls.from_manifest(session, spec.name, {
            "input": {"name": inp.name, "colour": inp.colour, "layout": inp.layout,
                      "scale": inp.scale, "crop": inp.extra.get("crop")},
            "outputs": [{"name": name} for name in spec.outputs]})


@dataclass(frozen=True)
class PadConfig:
    """How frames and bursts are judged. The defaults are bench/pad_measure.py's choice on
    lfw-dev folds 1-2 with the shipped pipeline's boxes (v2: YuNet): the lowest mean APCER
    on synthetic attacks among the fusions and rules whose threshold keeps BPCER <= 1% on
    bona fide bursts there (docs/security.md)."""

    # "mean": mean of the models' bona fide probabilities (upstream sums the softmaxes);
    # "min": the lower of them (both models must agree); "upstream": 1 if upstream's argmax
    # of the summed softmaxes is the bona fide class, else 0
    fusion: str = "mean"
    # fused scores below this are refused: BPCER 1% on the folds-1-2 bursts with YuNet's
    # boxes (0.00654 measured; v1's MTCNN boxes gave 0.0128, PIPELINE_PAD)
    threshold: float = 0.0065
    # burst rule: "all" (every scored frame >= threshold) or "median" (the median frame)
    rule: str = "all"
    min_frames: int = 3  # fewer scored frames than this never pass (capture needs 3)


# Per face pipeline: settings measured with that pipeline's boxes (bench/pad_measure.py
# --pipeline NAME); v1 = MTCNN's boxes, still used when an old v1 template is verified.
PIPELINE_PAD = {
    "v1": PadConfig(fusion="mean", threshold=0.0128, rule="all"),
    "v2": PadConfig(),
}


@dataclass(frozen=True)
class PadModels:
    models: tuple[PadModel, ...]
    config: PadConfig = PadConfig()

    @classmethod
    def assemble(cls, specs: Sequence[ModelSpec], sessions: Mapping[str, Inference],
                 config: PadConfig | None = None) -> PadModels:
        """The PAD models (the manifest's ``pad`` list) from one session per model role."""
        return cls(tuple(PadModel.from_spec(sessions[s.name], s) for s in specs),
                   config or PadConfig())


@dataclass(frozen=True)
class PadScore:
    """One frame's PAD outcome: per model the softmax over the 3 classes (hidden in reprs)."""

    probs: np.ndarray = field(repr=False)  # [models, 3]

    def fused(self, fusion: str = "mean") -> float:
        live = self.probs[:, BONA_FIDE]
        if fusion == "mean":
            return float(live.mean())
        if fusion == "min":
            return float(live.min())
        if fusion == "upstream":
            return float(int(np.argmax(self.probs.sum(axis=0))) == BONA_FIDE)
        raise ValueError(f"unknown PAD fusion {fusion!r}")

    def __repr__(self) -> str:
        return f"PadScore(models={self.probs.shape[0]})"


@dataclass(frozen=True)
class PadDecision:
    passed: bool
    frames: int  # scored frames the decision used

    def require(self) -> None:
        """Raise LivenessRefused unless the burst passed."""
        if not self.passed:
            raise LivenessRefused("passive")


def crop_box(box: tuple[float, float, float, float], height: int, width: int,
             scale: float) -> tuple[int, int, int, int]:
    """Upstream's crop window (left, top, right, bottom; inclusive pixels) for a face box.

    ``box`` is the detector's (x1, y1, x2, y2); upstream's detector box is (x, y, w, h) with
    w = x2 - x1. The one place where a detector's box becomes a PAD crop: re-measure the
    thresholds when the detector changes.
    """
    x, y = box[0], box[1]
    w, h = max(box[2] - box[0], 1.0), max(box[3] - box[1], 1.0)
    scale = min((height - 1) / h, (width - 1) / w, scale)
    cx, cy = x + w / 2, y + h / 2
    left, right = cx - w * scale / 2, cx + w * scale / 2
    top, bottom = cy - h * scale / 2, cy + h * scale / 2
    if left < 0:
        right, left = right - left, 0.0
    if top < 0:
        bottom, top = bottom - top, 0.0
    if right > width - 1:
        left, right = left - (right - width + 1), float(width - 1)
    if bottom > height - 1:
        top, bottom = top - (bottom - height + 1), float(height - 1)
    return int(left), int(top), int(right), int(bottom)  # int() truncates, as upstream


def crop(img: Image, face: Face, scale: float, size: int = 80) -> np.ndarray:
    """The model input for one face: [3, size, size] float32, BGR, 0..255 (integers)."""
    left, top, right, bottom = crop_box(face.box, img.shape[0], img.shape[1], scale)
    # separable bilinear, pixel centres aligned, edges clamped (cv2.resize INTER_LINEAR);
    # only the 4 x size x size pixels it reads are gathered
    y0, y1, wy = _axis_weights(bottom - top + 1, size)
    x0, x1, wx = _axis_weights(right - left + 1, size)
    y0, y1, x0, x1 = y0 + top, y1 + top, x0 + left, x1 + left
    wy, wx = wy[:, None, None], wx[None, :, None]

    def at(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        return np.asarray(img[np.ix_(ys, xs, BGR)], np.float32)

    upper = at(y0, x0) * (1 - wx) + at(y0, x1) * wx
    lower = at(y1, x0) * (1 - wx) + at(y1, x1) * wx
    patch = np.floor(upper * (1 - wy) + lower * wy + np.float32(0.5))  # cv2: uint8, half up
    return np.ascontiguousarray(patch.transpose(2, 0, 1), np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return np.asarray(e / e.sum(axis=-1, keepdims=True))


async def score(img: Image, face: Face, pad: PadModels) -> PadScore:
    """Both models on one frame's face; ``img`` is the frame's (H, W, 3+) uint8 RGB(A)."""
    if img.ndim != 3 or img.shape[2] < 3:
        raise InputError(f"PAD needs an (H, W, 3) image, not {img.shape}")
    probs = []
    for model in pad.models:
        x = crop(img, face, model.crop_scale, model.size)[None]
        out = await model.session.run({model.input_name: x})
        logits = np.asarray(out[model.output_name], np.float64).reshape(-1)
        if logits.shape != (3,) or not np.all(np.isfinite(logits)):
            raise ModelError(f"{model.name} gave no 3 finite logits")
        probs.append(softmax(logits))
    return PadScore(np.stack(probs))


def burst_score(scores: Sequence[PadScore], config: PadConfig = PadConfig()) -> float:
    """The burst's statistic the rule compares with the threshold (NaN without frames)."""
    fused = [s.fused(config.fusion) for s in scores]
    if not fused:
        return math.nan
    if config.rule == "median":
        return float(np.median(fused))
    if config.rule == "all":
        return float(min(fused))
    raise ValueError(f"unknown PAD rule {config.rule!r}")


def decide(scores: Sequence[PadScore], config: PadConfig = PadConfig()) -> PadDecision:
    """Whether a burst's usable frames, together, look like a live person in front."""
    value = burst_score(scores, config)
    passed = len(scores) >= max(config.min_frames, 1) and value >= config.threshold
    return PadDecision(bool(passed), len(scores))

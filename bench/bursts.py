"""Does averaging a burst move the protected decision? Synthetic camera bursts from LFW photos.

    .venv/bin/python bench/bursts.py embed [--pipeline v2] [--frames 9] [--out DIR]
    .venv/bin/python bench/bursts.py measure [--pipeline v2] [--params FILE] [--out DIR]

The app enrols from the mean of >= 5 usable frames of one burst and verifies with the mean of
3-4 (pyapp.browser.app: ENROL_BURST, VERIFY_BURST). LFW has one photo per moment, so a burst
is simulated from each photo: ``--frames`` camera frames of it (``photo_frame``, then a
small random similarity warp (shift +-3 px, scale +-3 %, rotation +-3 degrees), gain
+-8 %, sensor noise sigma 3 grey levels, rounding), the first 5 averaged as the enrolment
and the last 4 as the probe, so enrolment and probe never share a frame. What this cannot
show: real bursts also differ by blinks, micro-expressions, motion blur and auto-exposure
drift, which are larger than this jitter; so averaged-burst FAR here is a lower bound of the
effect of averaging near-identical frames, not of averaging different photos (the LFW
"three photos" template of bench/protection.py is the other end).

``embed`` caches the per-frame embeddings (gates off, as ``ownface eval`` measures) in
``<out>/bursts-<pipeline>.npz``; ``measure`` compares, on the held-out people of pairs.txt
folds 3-5 and on the fit people of folds 1-2: single frame vs averaged bursts, cosine and
Hamming (the scheme's t), FAR and TAR, and the radius that keeps burst FAR <= 1e-3 on folds
1-2; it writes ``<out>/bursts-<pipeline>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.protection import (  # noqa: E402
    batch_bits,
    hamming_matrix,
    pair_masks,
    person_folds,
    tar_at_far_distance,
)
from pyapp import host  # noqa: E402
from pyapp.errors import OwnFaceError  # noqa: E402
from pyapp.evaluate import list_images, progress  # noqa: E402
from pyapp.face.frame import photo_frame, sample  # noqa: E402
from pyapp.face.pipeline import PipelineConfig, embed_frame  # noqa: E402
from pyapp.template import binarise as bz  # noqa: E402

LFW = ROOT.parent / "shared" / "data" / "lfw-dev"
OUT = ROOT / "bench" / "out"
ENROL, PROBE = 5, 4


def jittered(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One synthetic camera frame of ``frame``: similarity jitter, gain, noise, rounding."""
    h, w = frame.shape[:2]
    angle = math.radians(rng.uniform(-3, 3))
    scale = 1 + rng.uniform(-0.03, 0.03)
    dx, dy = rng.uniform(-3, 3, 2)
    c, s = math.cos(angle) / scale, math.sin(angle) / scale
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    cx, cy = w / 2, h / 2
    src_x = c * (xs - cx - dx) + s * (ys - cy - dy) + cx
    src_y = -s * (xs - cx - dx) + c * (ys - cy - dy) + cy
    warped = sample(frame[:, :, :3].astype(np.float32), src_x, src_y)
    rgb = warped * rng.uniform(0.92, 1.08) + rng.normal(0, 3.0, warped.shape)
    out = frame.copy()
    out[:, :, :3] = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return out


def embed(pipeline: str, frames: int, out: Path, models_dir: Path, limit: int = 0) -> Path:
    paths = list_images(LFW)[: limit or None]
    models = host.load_models(models_dir, pipeline=pipeline)
    target = out / f"bursts-{pipeline}.npz"
    emb = np.full((len(paths), frames, models.embedder.dim), np.nan, np.float32)
    start = time.perf_counter()

    async def run() -> None:
        for i, p in enumerate(paths):
            base = photo_frame(host.read_photo(p))
            rng = np.random.default_rng(i)
            for k in range(frames):
                try:
                    result = await embed_frame(jittered(base, rng), models,
                                               PipelineConfig(gates=False))
                    emb[i, k] = result.embedding
                except OwnFaceError:  # a frame without a face stays NaN
                    pass
            if (i + 1) % 20 == 0 or i + 1 == len(paths):
                progress(i + 1, len(paths), start)

    asyncio.run(run())
    out.mkdir(parents=True, exist_ok=True)
    np.savez(target, emb=emb, paths=np.array([str(p.relative_to(LFW)) for p in paths]))
    return target


def mean_rows(x: np.ndarray) -> np.ndarray:
    """Re-normalised mean of the finite frames of each row (as pyapp.face.capture does)."""
    ok = np.all(np.isfinite(x), axis=2)
    xs = np.where(ok[..., None], x, 0.0)
    m = xs.sum(axis=1) / np.maximum(ok.sum(axis=1, keepdims=True), 1)
    norm = np.linalg.norm(m, axis=1, keepdims=True)
    out: np.ndarray = np.where(norm > 0, m / np.maximum(norm, 1e-12), np.nan)
    return out


def cross(a: np.ndarray, b: np.ndarray, names: np.ndarray, scheme: bz.Scheme
          ) -> dict[str, Any]:
    """Enrolment rows ``a`` against probe rows ``b`` (different photos only)."""
    ok = np.all(np.isfinite(a), axis=1) & np.all(np.isfinite(b), axis=1)
    a, b, names = a[ok], b[ok], names[ok]
    genuine, impostor = pair_masks(names)  # upper triangle: i < j, different photos
    hd = hamming_matrix(batch_bits(a, scheme), batch_bits(b, scheme))
    cos = a @ b.T
    t = scheme.code.t
    return {"photos": int(ok.sum()), "genuine": int(genuine.sum()),
            "impostor": int(impostor.sum()),
            "hd": hd, "cos": cos, "genuine_mask": genuine, "impostor_mask": impostor,
            "far_at_t": float((hd[impostor] <= t).mean()),
            "tar_at_t": float((hd[genuine] <= t).mean())}


def measure(pipeline: str, params: Path, out: Path) -> dict[str, Any]:
    data = np.load(out / f"bursts-{pipeline}.npz")
    emb = data["emb"].astype(np.float64)
    names = np.array([Path(p).parent.name for p in data["paths"]])
    folds = person_folds(LFW / "pairs.txt")
    fold = np.array([folds.get(n, 0) for n in names])
    scheme = bz.load_scheme(params)
    variants = {
        "single frame": (emb[:, 0], emb[:, -1]),
        f"bursts ({ENROL} vs {PROBE} frames)": (mean_rows(emb[:, :ENROL]),
                                                mean_rows(emb[:, -PROBE:])),
    }
    report: dict[str, Any] = {"pipeline": pipeline, "t": scheme.code.t,
                              "frames": int(emb.shape[1]), "groups": {}}
    for group, sel in (("folds 1-2 (fit)", np.isin(fold, (1, 2))),
                       ("folds 3-5 (held out)", np.isin(fold, (3, 4, 5)))):
        rows = {}
        for label, (a, b) in variants.items():
            r = cross(a[sel], b[sel], names[sel], scheme)
            hd_g, hd_i = r["hd"][r["genuine_mask"]], r["hd"][r["impostor_mask"]]
            tar3, _, tau3 = tar_at_far_distance(hd_g, hd_i, 1e-3)
            rows[label] = {k: r[k] for k in ("photos", "genuine", "impostor", "far_at_t",
                                             "tar_at_t")}
            rows[label].update({"radius_far_1e-3": int(tau3), "tar_at_that_radius": tar3})
        report["groups"][group] = rows
    out.mkdir(parents=True, exist_ok=True)
    (out / f"bursts-{pipeline}.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"pipeline {pipeline}, scheme t = {scheme.code.t}; load {os.getloadavg()[0]:.2f}")
    for group, rows in report["groups"].items():
        print(group)
        for label, r in rows.items():
            print(f"  {label:28s} FAR@t {r['far_at_t']:.2e}  TAR@t {r['tar_at_t']:.2%}  "
                  f"radius for FAR 1e-3: {r['radius_far_1e-3']} (TAR {r['tar_at_that_radius']:.2%})"
                  f"  [{r['genuine']} genuine / {r['impostor']} impostor]")
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=("embed", "measure"))
    ap.add_argument("--pipeline", default="v2", choices=("v1", "v2"))
    ap.add_argument("--frames", type=int, default=ENROL + PROBE)
    ap.add_argument("--models", type=Path, default=host.MODELS_DIR)
    ap.add_argument("--params", type=Path, help="default: models/binarise-<pipeline>.json")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--limit", type=int, default=0, help="embed: only the first N photos")
    args = ap.parse_args(argv)
    if not (LFW / "images").is_dir():
        print(f"no photos at {LFW}: nothing to measure", file=sys.stderr)
        return 2
    if args.command == "embed":
        print(f"wrote {embed(args.pipeline, args.frames, args.out, args.models, args.limit)}")
    else:
        measure(args.pipeline, args.params or ROOT / "models" /
                f"binarise-{args.pipeline}.json", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

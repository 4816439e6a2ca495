"""Accuracy cost of each stored-weight encoding (and of flip averaging) on LFW.

    python bench/accuracy.py LFW_DIR MODEL_DIR [MODEL_DIR ...] [--chips FILE] [--json OUT]

Detection and alignment do not depend on the embedder's weights, so the 150x150 chips of
every image (photo pasted into a 640x480 frame, MTCNN, dlib-template similarity warp) are
computed once with the first MODEL_DIR's detector and cached; each MODEL_DIR's embedder is
then run on the same chips, with and without flip averaging. Prints LFW pairs accuracy
(5-fold), EER and TAR at FAR 1e-2/1e-3/1e-4 over all pairs, and the cosine of each variant's
descriptors to the first MODEL_DIR's (use the float32 build first).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyapp import host
from pyapp.errors import OwnFaceError
from pyapp.evaluate import (
    all_pair_scores,
    kfold_accuracy,
    list_images,
    read_pairs,
    roc_metrics,
)
from pyapp.face.align import chip_template, crop_region, similarity, warp
from pyapp.face.detect import DetectorConfig, detect
from pyapp.face.embed import l2_normalise
from pyapp.face.frame import photo_frame, rgb
from pyapp.face.quality import QualityConfig, select_face


def frame_of(path: Path, upscale: str) -> np.ndarray:
    photo = host.read_photo(path)
    if upscale == "bilinear":
        return photo_frame(photo)
    from PIL import Image

    size = (480, 480)
    big = np.asarray(Image.fromarray(photo).resize(size, getattr(Image.Resampling,
                                                                 upscale.upper())))
    out = np.zeros((480, 640, 4), np.uint8)
    out[..., 3] = 255
    out[:, 80:560] = big
    return out


def make_landmarks(paths: list[Path], models_dir: Path, out: Path, how: str,
                   upscale: str) -> np.ndarray:
    models = host.load_models(models_dir, detector_config=DetectorConfig(landmarks=how))
    marks = np.full((len(paths), 5, 2), np.nan)

    async def run() -> None:
        for i, p in enumerate(paths):
            img = rgb(frame_of(p, upscale))
            try:
                faces = await detect(img, models.detector)
                marks[i] = select_face(faces, 480, 640, QualityConfig(), strict=False).landmarks
            except OwnFaceError:
                continue
            if i % 500 == 0:
                print(f"landmarks {i}/{len(paths)}", file=sys.stderr)

    asyncio.run(run())
    np.save(out, marks)
    return marks


def make_chips(paths: list[Path], marks: np.ndarray, padding: float, points: list[int],
               upscale: str) -> np.ndarray:
    chips = np.full((len(paths), 150, 150, 3), np.nan, np.float32)
    for i, p in enumerate(paths):
        if not np.all(np.isfinite(marks[i])):
            continue
        img = rgb(frame_of(p, upscale))
        m = similarity(marks[i][points], chip_template(150, padding)[points])
        region, mr = crop_region(img, m)
        chips[i] = warp(region, mr)
    return chips


def embed_all(chips: np.ndarray, models_dir: Path, flip: bool) -> np.ndarray:
    files = host.read_model_files(models_dir)["dlib_resnet"]
    from pyapp.face.embed import Embedder

    emb = Embedder(host.OrtInference(files), files.spec)
    out = np.full((chips.shape[0], emb.dim), np.nan, np.float32)
    ok = np.all(np.isfinite(chips.reshape(len(chips), -1)), axis=1)
    for start in range(0, len(chips), 32):
        idx = np.arange(start, min(start + 32, len(chips)))
        idx = idx[ok[idx]]
        if idx.size == 0:
            continue
        batch = chips[idx]
        run = emb.model.run_sync  # type: ignore[attr-defined]
        d = l2_normalise(run({"input": emb.prepare(batch)})["embedding"])
        if flip:
            d2 = l2_normalise(run({"input": emb.prepare(batch[:, :, ::-1])})["embedding"])
            d = l2_normalise(d + d2)
        out[idx] = d
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("lfw", type=Path)
    ap.add_argument("models", type=Path, nargs="+")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/ownface-bench"))
    ap.add_argument("--padding", type=float, default=0.25)
    ap.add_argument("--flips", default="0,1")
    ap.add_argument("--landmarks", default="refine", choices=["onet", "mirror", "refine"],
                    help="landmark estimator (pyapp.face.detect.DetectorConfig.landmarks)")
    ap.add_argument("--upscale", default="bilinear", help="photo -> frame: bilinear "
                    "(pyapp.face.frame.photo_frame) or a PIL filter name (bicubic, lanczos)")
    ap.add_argument("--points", default="0,1,2,3,4", help="landmarks used for alignment")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    paths = list_images(args.lfw)
    rel = [str(p.relative_to(args.lfw)) for p in paths]
    names = [p.parent.name for p in paths]
    args.cache.mkdir(parents=True, exist_ok=True)
    up = "" if args.upscale == "bilinear" else f"-{args.upscale}"
    mfile = args.cache / f"landmarks-{args.landmarks}{up}.npy"
    marks = np.load(mfile) if mfile.exists() else make_landmarks(
        paths, args.models[0], mfile, args.landmarks, args.upscale)
    points = [int(p) for p in args.points.split(",")]
    tag = f"pad{args.padding:g}-{args.landmarks}-pts{''.join(map(str, points))}{up}"
    cfile = args.cache / f"chips-{tag}.npy"
    if cfile.exists():
        chips = np.load(cfile)
    else:
        chips = make_chips(paths, marks, args.padding, points, args.upscale)
        np.save(cfile, chips)
    index = {str(Path(r).with_suffix("")).removeprefix("images/"): i for i, r in enumerate(rel)}
    ij, labels, folds = read_pairs(args.lfw / "pairs.txt", index)
    results = []
    reference: dict[bool, np.ndarray] = {}
    for md in args.models:
        for flip in [bool(int(f)) for f in args.flips.split(",")]:
            t = time.perf_counter()
            efile = args.cache / f"emb-{md.name}-{tag}-flip{int(flip)}.npy"
            if efile.exists():
                emb = np.load(efile)
            else:
                emb = embed_all(chips, md, flip)
                np.save(efile, emb)
            e = np.nan_to_num(emb)
            scores = np.sum(e[ij[:, 0]] * e[ij[:, 1]], axis=1)
            acc, std, _ = kfold_accuracy(scores, labels, folds)
            g, imp = all_pair_scores(emb, names)
            r = {"models": md.name, "flip": flip, "chips": tag,
                 "pairs_accuracy": acc, "std": std,
                 **{k: v for k, v in roc_metrics(g, imp).items() if "threshold" not in k},
                 "seconds": time.perf_counter() - t}
            ref = reference.setdefault(flip, e)
            cos = np.sum(ref * e, axis=1)[np.all(np.isfinite(emb), axis=1)]
            r["cos_to_first"] = {"min": float(cos.min()), "mean": float(cos.mean())}
            results.append(r)
            print(json.dumps(r), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

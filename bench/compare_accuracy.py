"""Accuracy side by side on LFW: face-api.js's own pipeline vs OwnFace, unprotected and protected.

Every photo of ``lfw-dev`` becomes the same 640x480 camera frame (``pyapp.face.frame.photo_frame``)
and goes through

* face-api.js 1.7.15 in headless Chromium (TF.js wasm backend; SSD MobileNet v1, 68-point
  landmarks, 128-D descriptor, one face), scored by euclidean distance as face-api does:
  at its fixed 0.6 threshold (``FaceMatcher``'s default) and over its whole ROC;
* OwnFace's CPython pipeline (``pyapp.evaluate.compute_embeddings``; ``--pipeline v2``:
  YuNet, O-Net landmarks, SFace; ``v1``: MTCNN, alignment, dlib ResNet with flip averaging),
  scored by cosine, i.e. ``ownface eval``'s numbers;
* OwnFace protected: the binarised code of ``models/binarise-<pipeline>.json`` (Hamming distance of
  the codes, accepted within the BCH code's t: the fuzzy commitment's acceptance region),
  measured here on the people of pairs.txt folds 3-5 (the scheme was fitted on folds 1-2),
  next to bench/protection.py's own JSON (``bench/out/protection.json``) when present.

Reported: detection failures, pairs.txt accuracy (5-fold, threshold learned on the other
folds; plus face-api's fixed 0.6), and TAR at FAR 1e-2/1e-3/1e-4 over all same-person pairs
against all different-person pairs (7.2 million on the full set).

face-api.js runs in Chromium, batched through ``page.evaluate`` (measured: ~0.3 s a frame,
against ~0.7-1.1 s in Node 20 with @tensorflow/tfjs-backend-wasm, whose wasm backend is
much slower there), so a cold run over 3,811 photos takes ~25 minutes. Descriptors and
embeddings are cached per photo under ``.cache/bench/`` in the repository, or
``$OWNFACE_BENCH_CACHE`` (keyed by the pinned face-api lock and the model manifest), so a
re-run takes seconds; an interrupted run resumes. ``--from-eval DIR`` takes OwnFace's
embeddings from a finished ``ownface eval LFW --out DIR`` of the same pipeline instead of
computing them (its ``embeddings.npz``, checked against the photo list and the pipeline; whether
its cache key still matches this checkout's models and settings is recorded in the JSON; the
rows are used for this run only, never written to the per-photo cache).

    .venv/bin/python bench/compare_accuracy.py [--pipeline v2] [--lfw DIR] [--smoke] [--json OUT]
        [--from-eval DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.faceapi import assets as faceapi_assets  # noqa: E402
from bench.faceapi import machine  # noqa: E402
from bench.faceapi.accuracy import (  # noqa: E402
    PhotoCache,
    code_distances,
    distance_scores,
    fixed_threshold,
    person_folds,
    similarity_scores,
    summary_row,
)
from pyapp.evaluate import list_images, read_pairs  # noqa: E402

LFW = Path(os.environ.get("OWNFACE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "lfw-dev"
CACHE = Path(os.environ.get("OWNFACE_BENCH_CACHE", ROOT / ".cache" / "bench"))
OUT = ROOT / "bench" / "out" / "compare_accuracy.json"
PROTECTION_JSON = ROOT / "bench" / "out" / "protection.json"  # v2's; v1's: protection_v1.json
PIPELINE = "v2"  # --pipeline
FACEAPI_THRESHOLD = 0.6


def shown(path: Path) -> str:
    """A path as the JSON records it: from the checkout (or its parent) when it lies there."""
    path = path.resolve()
    for base, prefix in ((ROOT, ""), (ROOT.parent, "../")):
        if path.is_relative_to(base):
            return prefix + str(path.relative_to(base))
    return str(path)


def faceapi_cache_path(folder: Path, detector: str) -> Path:
    lock = hashlib.sha256(faceapi_assets.LOCK.read_bytes()).hexdigest()[:12]
    return folder / f"faceapi-{detector}-{lock}-photo_frame.npz"


PIPELINE_SOURCES = ("face/frame", "face/detect", "face/mtcnn", "face/yunet", "face/quality",
                    "face/align", "face/embed", "face/pipeline", "face/weights",
                    "face/manifest", "host")
DESCRIBE = {"v1": "OwnFace CPython pipeline v1 (MTCNN, 5-point alignment, dlib ResNet, flip "
                  "averaging); cosine",
            "v2": "OwnFace CPython pipeline v2 (YuNet, O-Net landmarks, ArcFace alignment, "
                  "SFace); cosine"}


def ownface_cache_path(folder: Path) -> Path:
    """Keyed by the model manifest (which pins every weight) and the pipeline's source code."""
    digest = hashlib.sha256((ROOT / "models" / "manifest.json").read_bytes())
    for name in PIPELINE_SOURCES:
        digest.update((ROOT / "pyapp" / f"{name}.py").read_bytes())
    return folder / f"ownface-{PIPELINE}-{digest.hexdigest()[:12]}-photo_frame.npz"


def run_faceapi(root: Path, rel: list[str], detector: str, batch: int, folder: Path
                ) -> PhotoCache:
    """face-api.js descriptors (NaN rows: no face) for every photo, computed where missing."""
    cache = PhotoCache(faceapi_cache_path(folder, detector), 128)
    todo = cache.missing(rel)
    if not todo:
        return cache
    from playwright.sync_api import sync_playwright

    from bench.faceapi.serve import bench_server, launch_args

    print(f"face-api.js: {len(todo)} photos to describe (cache {cache.path})", file=sys.stderr)
    start = time.perf_counter()
    with bench_server() as srv, sync_playwright() as pw:
        srv.lfw = [root / r for r in todo]
        browser = pw.chromium.launch(**launch_args())
        page = browser.new_page()
        page.goto(f"{srv.url}/_bench/index.html?detector={detector}&threads=1")
        page.wait_for_selector("html[data-ready], html[data-error]", state="attached",
                               timeout=120_000)
        if page.locator("html").get_attribute("data-error"):
            raise RuntimeError(page.locator("html").get_attribute("data-error"))
        for lo in range(0, len(todo), batch):
            idx = list(range(lo, min(lo + batch, len(todo))))
            spec = {"frames": [f"/_bench/lfw/{i}" for i in idx], "width": 640,
                    "height": 480, "repeats": 1}
            data = page.evaluate("spec => window.faceapiBench.run(spec)", spec)
            for i, row in zip(idx, data["results"], strict=True):
                vec = np.asarray(row["descriptor"], np.float32) if "descriptor" in row else \
                    np.full(128, np.nan, np.float32)
                cache.rows[todo[i]] = (vec, float(row["ms"][0]))
            cache.save()
            done = idx[-1] + 1
            rate = done / (time.perf_counter() - start)
            print(f"  {done}/{len(todo)} ({rate:.2f}/s, load {machine.load()}, "
                  f"eta {(len(todo) - done) / rate / 60:.1f} min)", file=sys.stderr)
        browser.close()
    return cache


def from_eval(cache: PhotoCache, root: Path, todo: list[str], folder: Path
              ) -> dict[str, Any]:
    """Fill ``todo``'s rows of ``cache`` (in memory) from an ``ownface eval --out folder``."""
    from pyapp.evaluate import cache_key
    from pyapp.host import MODELS_DIR

    report = json.loads((folder / "eval.json").read_text())
    if report.get("pipeline") != PIPELINE:
        raise SystemExit(f"--from-eval {folder}: pipeline {report.get('pipeline')}, "
                         f"not {PIPELINE}")
    paths = list_images(root)
    rel_all = [str(p.relative_to(root)) for p in paths]
    with np.load(folder / "embeddings.npz", allow_pickle=False) as z:
        emb, key = z["emb"], str(z["key"])
        names = [str(n) for n in z["timing_names"]]
        total = z["timings"][names.index("total")] if "total" in names else \
            np.full(len(emb), np.nan)
    if len(emb) != len(rel_all) or report.get("images") != len(rel_all):
        raise SystemExit(f"--from-eval {folder}: {len(emb)} embeddings for "
                         f"{len(rel_all)} photos under {root}")
    at = {r: i for i, r in enumerate(rel_all)}
    for r in todo:
        good = bool(np.all(np.isfinite(emb[at[r]])))
        cache.rows[r] = (emb[at[r]], float(total[at[r]]) if good else float("nan"))
    current = cache_key(paths, root, MODELS_DIR, report.get("flip"), False, [], PIPELINE)
    return {"from_eval": folder.name, "photos": len(todo), "eval_key": key[:12],
            "key_matches_this_checkout": key == current,
            "spot_check": spot_check(cache, root, todo[:: max(1, len(todo) // SPOT_CHECK)])}


SPOT_CHECK = 24  # photos of an --from-eval recomputed by this checkout


def spot_check(cache: PhotoCache, root: Path, sample: list[str]) -> dict[str, Any]:
    """Recompute ``sample`` with this checkout: does the evaluation still hold for it?"""
    from pyapp.evaluate import compute_embeddings
    from pyapp.host import MODELS_DIR

    here = compute_embeddings([root / r for r in sample], root, MODELS_DIR, None, False,
                              pipeline=PIPELINE)["emb"]
    there = np.stack([cache.rows[r][0] for r in sample])
    found_here, found_there = np.isfinite(here).all(1), np.isfinite(there).all(1)
    both = found_here & found_there
    cos = np.sum(here[both] * there[both], 1) / (
        np.linalg.norm(here[both], axis=1) * np.linalg.norm(there[both], axis=1))
    return {"photos": len(sample), "same_detections": bool(np.array_equal(found_here,
                                                                          found_there)),
            "min_cosine": float(cos.min()) if cos.size else None}


def run_ownface(root: Path, rel: list[str], batch: int, folder: Path,
                evaluated: Path | None = None) -> tuple[PhotoCache, dict[str, Any]]:
    """OwnFace embeddings (CPython pipeline, as ``ownface eval``) where missing; the source."""
    cache = PhotoCache(ownface_cache_path(folder), 128)
    todo = cache.missing(rel)
    source: dict[str, Any] = {"cache": shown(cache.path), "cached_photos": len(rel) - len(todo)}
    if not todo:
        return cache, source
    if evaluated is not None:
        return cache, {**source, **from_eval(cache, root, todo, evaluated)}
    from pyapp.evaluate import compute_embeddings
    from pyapp.host import MODELS_DIR

    print(f"OwnFace: {len(todo)} photos to embed (cache {cache.path})", file=sys.stderr)
    for lo in range(0, len(todo), batch):
        part = todo[lo: lo + batch]
        data = compute_embeddings([root / r for r in part], root, MODELS_DIR, None, False,
                                  pipeline=PIPELINE)
        total = data["timings"][list(data["timing_names"]).index("total")] \
            if "total" in list(data["timing_names"]) else np.full(len(part), np.nan)
        ok = np.all(np.isfinite(data["emb"]), axis=1)
        t_iter = iter(total)
        for r, vec, good in zip(part, data["emb"], ok, strict=True):
            cache.rows[r] = (vec, float(next(t_iter)) if good else float("nan"))
        cache.save()
    return cache, {**source, "computed_photos": len(todo)}


def protected(emb: np.ndarray, names: np.ndarray, rel: list[str], root: Path,
              pairs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[str, Any] | None:
    """OwnFace's protected comparison on folds 3-5 (people the scheme was not fitted on)."""
    from pyapp.host import load_scheme

    scheme = load_scheme(PIPELINE)
    folds = person_folds(root / "pairs.txt")
    test = np.array([folds.get(n, 0) >= 3 for n in names])
    t = int(scheme.code.t)
    dist, genuine, impostor = code_distances(emb, names, test, scheme)
    out: dict[str, Any] = {"scheme": repr(scheme), "t": t, "people_folds": [3, 4, 5],
                           "images": int(test.sum())}
    out.update(summary_row(-genuine, -impostor))
    out["all_pairs"]["at_t"] = {"tar": float(np.mean(genuine <= t)),
                                "far": float(np.mean(impostor <= t))}
    ij, labels, fold = pairs
    sel = fold >= 2  # pairs.txt folds 3-5 (0-based 2-4)
    index = {int(k): i for i, k in enumerate(np.flatnonzero(test))}
    d = np.array([dist[index[a], index[b]] if a in index and b in index else np.inf
                  for a, b in ij[sel]])
    out["pairs_folds_3_5"] = {"pairs": int(sel.sum()),
                              "accuracy_at_t": float(np.mean((d <= t) == labels[sel]))}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, default=LFW)
    parser.add_argument("--detector", choices=("ssd", "tiny"), default="ssd")
    parser.add_argument("--pipeline", choices=("v1", "v2"), default="v2")
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--smoke", action="store_true",
                        help="only the photos of 2 same + 2 different pairs of each pairs.txt fold")
    parser.add_argument("--json", type=Path, default=OUT)
    parser.add_argument("--cache", type=Path, default=CACHE,
                        help="folder of the per-photo descriptor/embedding caches")
    parser.add_argument("--export", type=Path,
                        help="write OwnFace's embeddings (paths, names, emb) here for "
                             "bench/protection.py (full runs only; default: "
                             "<cache>/ownface-embeddings-<pipeline>.npz)")
    parser.add_argument("--from-eval", type=Path, metavar="DIR",
                        help="OwnFace's embeddings from this `ownface eval --out DIR` of the "
                             "same pipeline (embeddings.npz, eval.json) where not cached")
    args = parser.parse_args(argv)
    global PIPELINE
    PIPELINE = args.pipeline
    if args.export is None:
        args.export = args.cache / f"ownface-embeddings-{PIPELINE}.npz"
    root = args.lfw
    if not (root / "pairs.txt").is_file():
        print(f"no LFW pairs at {root}: nothing to measure", file=sys.stderr)
        return 2
    started = time.time()
    paths = list_images(root)
    rel_all = [str(p.relative_to(root)) for p in paths]
    index_all = {str(Path(r).with_suffix("")).removeprefix("images/"): i
                 for i, r in enumerate(rel_all)}
    if args.smoke:
        ij, same, fold = read_pairs(root / "pairs.txt", index_all)
        chosen = [k for f in np.unique(fold) for label in (True, False)
                  for k in np.flatnonzero((fold == f) & (same == label))[:2]]
        keep = sorted({int(v) for v in ij[chosen].ravel()})
        rel_all = [rel_all[i] for i in keep]
        index_all = {str(Path(r).with_suffix("")).removeprefix("images/"): i
                     for i, r in enumerate(rel_all)}
    rel = rel_all
    names = np.array([Path(r).parent.name for r in rel])
    pairs = read_pairs(root / "pairs.txt", index_all)
    load = machine.LoadSampler()
    fa_cache = run_faceapi(root, rel, args.detector, args.batch, args.cache)
    load.tick()
    own_cache, own_source = run_ownface(root, rel, 200, args.cache, args.from_eval)
    load.tick()
    fa, fa_ms = fa_cache.matrix(rel)
    own, own_ms = own_cache.matrix(rel)
    if not args.smoke and args.export:
        args.export.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.export, paths=np.array(rel), names=names, emb=own)

    result: dict[str, Any] = {
        "command": "bench/compare_accuracy.py " + " ".join(argv if argv is not None
                                                           else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M"), "lfw": shown(root), "images": len(rel),
        "people": len(set(names.tolist())), "machine": machine.describe(),
        "caches": {"faceapi": shown(fa_cache.path), "ownface": shown(own_cache.path)},
    }
    fa_gen, fa_imp, fa_pair = distance_scores(fa, names, pairs[0])
    own_gen, own_imp, own_pair = similarity_scores(own, names, pairs[0])
    assert fa_pair is not None and own_pair is not None
    result["faceapi"] = {
        "pipeline": f"face-api.js 1.7.15, detector {args.detector}, 68-point landmarks, "
                    "128-D descriptor; euclidean distance",
        "detection_failures": int((~np.all(np.isfinite(fa), axis=1)).sum()),
        **summary_row(fa_gen, fa_imp, fa_pair, pairs),
        "fixed_0.6": fixed_threshold(fa_gen, fa_imp, fa_pair, pairs, -FACEAPI_THRESHOLD),
        "ms_per_photo_median": float(np.nanmedian(fa_ms)),
    }
    result["ownface"] = {
        "pipeline": DESCRIBE[PIPELINE], "pipeline_name": PIPELINE,
        "detection_failures": int((~np.all(np.isfinite(own), axis=1)).sum()),
        **summary_row(own_gen, own_imp, own_pair, pairs),
        "ms_per_photo_median": float(np.nanmedian(own_ms)), "source": own_source,
    }
    folds = person_folds(root / "pairs.txt")
    test = np.array([folds.get(n, 0) >= 3 for n in names])
    result["folds_3_5"] = {
        "images": int(test.sum()),
        "faceapi": summary_row(*distance_scores(fa[test], names[test], None)[:2]),
        "ownface_cosine": summary_row(*similarity_scores(own[test], names[test], None)[:2]),
    }
    prot = protected(own, names, rel, root, pairs)
    if prot:
        result["folds_3_5"]["ownface_protected_here"] = prot
    protection_json = PROTECTION_JSON if PIPELINE == "v2" else \
        PROTECTION_JSON.with_name(f"protection_{PIPELINE}.json")
    if protection_json.is_file():
        p = json.loads(protection_json.read_text())
        s = p.get("single_image", {})
        result["folds_3_5"]["protection_json"] = {
            "file": str(protection_json.relative_to(ROOT)), "embeddings": p.get("embeddings"),
            "scheme": p.get("scheme"), "genuine_pairs": p.get("genuine_pairs"),
            "impostor_pairs": p.get("impostor_pairs"),
            **{k: s.get(k) for k in ("cosine_tar@0.001", "cosine_tar@0.0001",
                                     "protected_tar@0.001", "protected_tar@0.0001")}}
    result["load"] = load.summary()
    result["seconds"] = round(time.time() - started, 1)
    print_table(result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


def print_table(r: dict[str, Any]) -> None:
    print(f"{r['images']} photos of {r['people']} people (640x480 frames); "
          f"{r['faceapi']['all_pairs']['genuine_pairs']} genuine / "
          f"{r['faceapi']['all_pairs']['impostor_pairs']} impostor pairs")
    print(f"{'':34}{'failed':>7}{'pairs acc':>10}{'TAR@1e-2':>9}{'TAR@1e-3':>9}{'TAR@1e-4':>9}")

    def line(label: str, d: dict[str, Any], failed: Any = "") -> None:
        a = d["all_pairs"]
        acc = d.get("pairs", {}).get("accuracy")
        print(f"{label:34}{failed!s:>7}{'' if acc is None else f'{acc:.2%}':>10}"
              f"{a['tar_at_far_0.01']:>9.2%}{a['tar_at_far_0.001']:>9.2%}"
              f"{a['tar_at_far_0.0001']:>9.2%}")

    line("face-api.js (ROC, 5-fold acc)", r["faceapi"], r["faceapi"]["detection_failures"])
    fx = r["faceapi"]["fixed_0.6"]
    print(f"{'face-api.js at distance 0.6':34}{'':>7}{fx['pairs_accuracy']:>10.2%}"
          f"   TAR {fx['tar']:.2%} at FAR {fx['far']:.2e}")
    line("OwnFace unprotected (cosine)", r["ownface"], r["ownface"]["detection_failures"])
    f = r["folds_3_5"]
    print(f"people of pairs.txt folds 3-5 ({f['images']} photos; the protection scheme was "
          "fitted on folds 1-2):")
    line("  face-api.js", f["faceapi"])
    line("  OwnFace unprotected", f["ownface_cosine"])
    if "ownface_protected_here" in f:
        p = f["ownface_protected_here"]
        line("  OwnFace protected (code Hamming)", p)
        print(f"{'  ... at the shipped t=' + str(p['t']):34}{'':>7}"
              f"{p['pairs_folds_3_5']['accuracy_at_t']:>10.2%}   TAR "
              f"{p['all_pairs']['at_t']['tar']:.2%} at FAR {p['all_pairs']['at_t']['far']:.2e}")
    if "protection_json" in f:
        j = f["protection_json"]
        print(f"  bench/protection.py: protected TAR {j['protected_tar@0.001']:.2%} @1e-3, "
              f"{j['protected_tar@0.0001']:.2%} @1e-4 (cosine {j['cosine_tar@0.001']:.2%}, "
              f"{j['cosine_tar@0.0001']:.2%})")


if __name__ == "__main__":
    raise SystemExit(main())

"""``ownface eval``: run the CPython pipeline over a labelled folder and measure it.

    ownface eval DIR [--pairs pairs.txt] [--out DIR] [--models DIR] [--pipeline v2] [--raw]
                     [--flip on|off] [--limit N] [--npz FILE] [--choice-folds 1,2]
                     [--set mtcnn.KEY=V | yunet.KEY=V | pipeline.KEY=V ...]

DIR holds ``<person>/<image>`` (or ``images/<person>/<image>``). Each photo becomes a 640x480
RGBA "camera frame" (pyapp.face.frame.photo_frame) unless ``--raw``. Prints and writes
``eval.json`` and ``roc.png``: detection failures, quality-gate rejections (measured, not
excluded), LFW pairs accuracy (k-fold over the folds of pairs.txt), EER and TAR at FAR
1e-2/1e-3/1e-4 over all same-person pairs against all different-person pairs, and per-stage
timing. Embeddings are cached in ``<out>/embeddings.npz`` keyed by the models and settings, so
a re-run is fast. ``--set`` changes one MtcnnConfig / YuNetConfig / PipelineConfig field (to
measure a lever); ``--choice-folds`` also reports the people of those pairs folds (where
choices were made) and of the other folds (held out) separately.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from pyapp.errors import OwnFaceError, QualityError, UnreadableImage

FARS = (1e-2, 1e-3, 1e-4)
IMAGE_EXT = {".jpg", ".jpeg", ".png"}


def list_images(root: Path) -> list[Path]:
    base = root / "images" if (root / "images").is_dir() else root
    return sorted(p for p in base.glob("*/*") if p.suffix.lower() in IMAGE_EXT)


def read_pairs(path: Path, index: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LFW pairs.txt -> (i, j) image indices, same-person labels, fold numbers."""
    lines = path.read_text().split("\n")
    folds, per = (int(v) for v in lines[0].split())
    pairs, labels, fold_ids = [], [], []
    for k, line in enumerate(x for x in lines[1:] if x.strip()):
        f = line.split("\t")
        if len(f) == 3:
            a, b, same = (f[0], int(f[1])), (f[0], int(f[2])), True
        else:
            a, b, same = (f[0], int(f[1])), (f[2], int(f[3])), False
        ka, kb = f"{a[0]}/{a[0]}_{a[1]:04d}", f"{b[0]}/{b[0]}_{b[1]:04d}"
        if ka in index and kb in index:
            pairs.append((index[ka], index[kb]))
            labels.append(same)
            fold_ids.append(k // (2 * per))
    del folds
    return np.array(pairs, np.intp).reshape(-1, 2), np.array(labels), np.array(fold_ids)


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    cands = np.unique(scores)
    mids = np.concatenate([[cands[0] - 1e-6], (cands[1:] + cands[:-1]) / 2, [cands[-1] + 1e-6]])
    acc = [(np.mean((scores > t) == labels), -abs(t)) for t in mids]
    return float(mids[int(np.argmax([a for a, _ in acc]))])


def kfold_accuracy(scores: np.ndarray, labels: np.ndarray, folds: np.ndarray
                   ) -> tuple[float, float, list[float]]:
    accs = []
    for f in np.unique(folds):
        test = folds == f
        t = best_threshold(scores[~test], labels[~test])
        accs.append(float(np.mean((scores[test] > t) == labels[test])))
    return float(np.mean(accs)), float(np.std(accs)), accs


def all_pair_scores(emb: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores of every same-person pair and every different-person pair.

    A failed image (NaN row) scores -inf: it is rejected as genuine and never accepted.
    """
    ok = np.all(np.isfinite(emb), axis=1)
    e = np.where(ok[:, None], emb, 0).astype(np.float32)
    sim = e @ e.T
    sim[~ok, :] = -np.inf
    sim[:, ~ok] = -np.inf
    ids = np.unique(np.array(names), return_inverse=True)[1]
    iu, ju = np.triu_indices(len(names), 1)
    same = ids[iu] == ids[ju]
    s = sim[iu, ju]
    return s[same], s[~same]


def roc_metrics(genuine: np.ndarray, impostor: np.ndarray) -> dict[str, Any]:
    imp = np.sort(impostor)[::-1]
    out: dict[str, Any] = {"genuine_pairs": int(genuine.size), "impostor_pairs": int(imp.size)}
    for far in FARS:
        k = int(np.floor(far * imp.size))
        thr = float(imp[k]) if k < imp.size else float(imp[-1])
        out[f"tar_at_far_{far:g}"] = float(np.mean(genuine > thr))
        out[f"threshold_at_far_{far:g}"] = thr
    fin_g = genuine[np.isfinite(genuine)]
    lo = float(min(fin_g.min(), imp[np.isfinite(imp)].min()))
    grid = np.linspace(lo, 1.0, 2001)
    frr = np.searchsorted(np.sort(genuine), grid, side="right") / genuine.size
    far_ = 1.0 - np.searchsorted(np.sort(impostor), grid, side="right") / impostor.size
    i = int(np.argmin(np.abs(frr - far_)))
    out["eer"] = float((frr[i] + far_[i]) / 2)
    out["eer_threshold"] = float(grid[i])
    return out


def fold_group(emb: np.ndarray, names: list[str], ij: np.ndarray, labels: np.ndarray,
               folds: np.ndarray, scores: np.ndarray, group: np.ndarray) -> dict[str, Any]:
    """Pairs accuracy over the folds in ``group``, and all-pairs metrics over their people."""
    mean, _, _ = kfold_accuracy(scores[group], labels[group], folds[group])
    people = {names[i] for i in ij[group].ravel()}
    keep = np.array([n in people for n in names])
    genuine, impostor = all_pair_scores(emb[keep], [n for n, k in zip(names, keep, strict=True)
                                                    if k])
    return {"accuracy": mean, "people": len(people), **roc_metrics(genuine, impostor)}


def plot_roc(genuine: np.ndarray, impostor: np.ndarray, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    imp = np.sort(impostor)[::-1]
    fars = np.logspace(np.log10(max(1.0 / imp.size, 1e-6)), 0, 200)
    tars = [np.mean(genuine > imp[min(int(f * imp.size), imp.size - 1)]) for f in fars]
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    ax.semilogx(fars, tars)
    for far in FARS:
        ax.axvline(far, color="grey", lw=0.5, ls=":")
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", lw=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def progress(done: int, total: int, start: float) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    rate = done / max(time.perf_counter() - start, 1e-9)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                     f"{rate:.1f} img/s")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def configs(flip: bool | None, overrides: list[str]) -> dict[str, Any]:
    """{"mtcnn": MtcnnConfig, "yunet": YuNetConfig, "pipeline": PipelineConfig} with
    ``section.field=value`` overrides applied."""
    import dataclasses

    from pyapp.face.mtcnn import MtcnnConfig
    from pyapp.face.pipeline import PipelineConfig
    from pyapp.face.yunet import YuNetConfig

    made: dict[str, Any] = {"mtcnn": MtcnnConfig(), "yunet": YuNetConfig(),
                            "pipeline": PipelineConfig(gates=False, flip=flip)}
    for item in overrides:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        if section not in made or name not in {f.name for f in dataclasses.fields(made[section])}:
            raise SystemExit(f"--set {item}: no such setting")
        old = getattr(made[section], name)
        if isinstance(old, bool) or (old is None and value in ("0", "1")):
            typed: Any = value == "1"
        else:
            typed = type(old)(value) if old is not None else float(value)
        made[section] = dataclasses.replace(made[section], **{name: typed})
    return made


def compute_embeddings(paths: list[Path], root: Path, models_dir: Path, flip: bool | None,
                       raw: bool, overrides: list[str] | None = None,
                       pipeline: str = "v2") -> dict[str, Any]:
    from pyapp import host
    from pyapp.face.frame import photo_frame
    from pyapp.face.pipeline import embed_frame

    made = configs(flip, overrides or [])
    config = made["pipeline"]
    models = host.load_models(models_dir, pipeline=pipeline, mtcnn=made["mtcnn"],
                              yunet=made["yunet"])
    n = len(paths)
    emb = np.full((n, models.embedder.dim), np.nan, np.float32)
    verdict = np.array([""] * n, dtype=object)
    timings: dict[str, list[float]] = {}
    start = time.perf_counter()

    async def run() -> None:
        for i, p in enumerate(paths):
            try:
                photo = host.read_photo(p)
                result = await embed_frame(photo if raw else photo_frame(photo), models, config)
                emb[i] = result.embedding
                verdict[i] = result.rejected.value if result.rejected else ""
                for k, v in result.timings.items():
                    timings.setdefault(k, []).append(v)
            except UnreadableImage:
                verdict[i] = "unreadable"
            except QualityError as exc:
                verdict[i] = f"fail:{exc.reason.value}"
            except OwnFaceError as exc:
                verdict[i] = f"fail:{type(exc).__name__}"
            if (i + 1) % 10 == 0 or i + 1 == n:
                progress(i + 1, n, start)

    asyncio.run(run())
    return {"emb": emb, "verdict": verdict.astype(str),
            "timing_names": np.array(sorted(timings)),
            "timings": np.array([timings[k] for k in sorted(timings)], np.float64)}


def cache_key(paths: list[Path], root: Path, models_dir: Path, flip: bool | None, raw: bool,
              overrides: list[str] | None = None, pipeline: str = "v2") -> str:
    """Changes with the models, the images and every pipeline setting."""
    h = hashlib.sha256()
    h.update(repr(configs(flip, overrides or [])).encode())
    h.update(pipeline.encode())
    h.update((models_dir / "manifest.json").read_bytes())
    for p in paths:
        h.update(str(p.relative_to(root)).encode())
    h.update(f"flip={flip} raw={raw} v5".encode())
    return h.hexdigest()


def main(argv: list[str]) -> int:
    import json

    from pyapp.host import MODELS_DIR

    ap = argparse.ArgumentParser(prog="ownface eval", description=__doc__.split("\n")[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--pairs", type=Path, help="LFW pairs.txt (default: DIR/pairs.txt)")
    ap.add_argument("--out", type=Path, default=Path("eval-out"))
    ap.add_argument("--models", type=Path, default=MODELS_DIR)
    ap.add_argument("--pipeline", default="v2", help="face pipeline of the manifest (v1, v2)")
    ap.add_argument("--flip", choices=("on", "off"), help="test-time flip averaging (default: "
                    "the pipeline's own choice)")
    ap.add_argument("--raw", action="store_true", help="feed photos as they are, not as frames")
    ap.add_argument("--limit", type=int, default=0, help="only the first N images")
    ap.add_argument("--npz", type=Path, help="also write names/paths/emb to this npz")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                    help="change a DetectorConfig (detector.) or PipelineConfig (pipeline.) field")
    ap.add_argument("--choice-folds", default="", help="e.g. 1,2: also report those folds' "
                    "people and the other folds' people separately")
    args = ap.parse_args(argv)

    root = args.dir
    paths = list_images(root)
    if args.limit:
        paths = paths[: args.limit]
    if len(paths) < 2:
        print(f"no images found under {root}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    flip = None if args.flip is None else args.flip == "on"
    key = cache_key(paths, root, args.models, flip, args.raw, args.set, args.pipeline)
    cache = args.out / "embeddings.npz"
    data: dict[str, Any] | None = None
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            if str(z["key"]) == key:
                data = {k: z[k] for k in z.files}
    if data is None:
        data = compute_embeddings(paths, root, args.models, flip, args.raw, args.set,
                                  args.pipeline)
        np.savez(cache, key=np.array(key), **data)
    emb = data["emb"]
    names = [p.parent.name for p in paths]
    rel = [str(p.relative_to(root)) for p in paths]
    if args.npz:
        np.savez(args.npz, names=np.array(names), paths=np.array(rel), emb=emb)

    verdict = [str(v) for v in data["verdict"]]
    failures = Counter(v[5:] for v in verdict if v.startswith("fail:"))
    unreadable = [rel[i] for i, v in enumerate(verdict) if v == "unreadable"]
    detected = [v for v in verdict if not v.startswith("fail:") and v != "unreadable"]
    rejections = Counter(v for v in detected if v)
    report: dict[str, Any] = {
        "images": len(paths), "people": len(set(names)), "pipeline": args.pipeline,
        "flip": flip,
        "input": "photo as-is" if args.raw else "photo pasted into a 640x480 frame",
        "unreadable_files": len(unreadable), "unreadable": unreadable[:50],
        "detection_failures": sum(failures.values()), "failure_reasons": dict(failures),
        "quality_rejections": sum(rejections.values()),
        "quality_rejection_rate": sum(rejections.values()) / max(len(detected), 1),
        "rejection_reasons": dict(rejections),
    }
    timing_names = [str(t) for t in data["timing_names"]]
    report["timing_ms"] = {n: {"median": float(np.median(t)), "mean": float(np.mean(t))}
                           for n, t in zip(timing_names, data["timings"], strict=True)}
    pairs_file = args.pairs or (root / "pairs.txt")
    if pairs_file.exists():
        index = {str(Path(r).with_suffix("")).removeprefix("images/"): i
                 for i, r in enumerate(rel)}
        ij, labels, folds = read_pairs(pairs_file, index)
        if ij.size:
            e = np.nan_to_num(emb, nan=0.0)
            scores = np.sum(e[ij[:, 0]] * e[ij[:, 1]], axis=1)
            failed = ~np.all(np.isfinite(emb[ij[:, 0]]) & np.isfinite(emb[ij[:, 1]]), axis=1)
            scores[failed] = -1.0
            mean, std, accs = kfold_accuracy(scores, labels, folds)
            report["pairs"] = {"pairs": len(labels), "folds": len(accs),
                               "accuracy": mean, "std": std, "fold_accuracy": accs,
                               "pairs_with_failed_image": int(failed.sum())}
            if args.choice_folds:
                chosen = [int(f) - 1 for f in args.choice_folds.split(",")]
                report["by_folds"] = {
                    name: fold_group(emb, names, ij, labels, folds, scores, group)
                    for name, group in (("choice", np.isin(folds, chosen)),
                                        ("held_out", ~np.isin(folds, chosen)))}
    genuine, impostor = all_pair_scores(emb, names)
    report["all_pairs"] = roc_metrics(genuine, impostor)
    (args.out / "eval.json").write_text(json.dumps(report, indent=2) + "\n")
    title = (f"{root.name}: {len(paths)} images, {genuine.size} genuine / "
             f"{impostor.size} impostor pairs")
    plot_roc(genuine, impostor, args.out / "roc.png", title)
    print(json.dumps(report, indent=2))
    return 0

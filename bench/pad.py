"""Presentation-attack detection, measured (ISO/IEC 30107-3 terms): BPCER, APCER per policy.

    python bench/pad.py frames    [--lfw DIR] [--limit N]  # detect + gate lfw-dev frames
    python bench/pad.py encoding                          # output agreement per weight encoding
    python bench/pad.py bona-fide                         # PAD scores of lfw-dev frames (+ jitter)
    python bench/pad.py attacks   [--per-kind N]          # synthetic attack presentations
    python bench/pad.py speed                             # onnxruntime ms per frame (1 thread)
    python bench/pad_measure.py                           # thresholds, BPCER, APCER per policy
    python bench/liveness.py                              # the active check's pass rates

Every command takes ``--pipeline v1|v2`` (default: the shipped pipeline, DEFAULT_PIPELINE):
the PAD crop is cut around the pipeline's detector box, and the active check reads its
landmarks, so each pipeline has its own caches (bench/out/pad_*-v1.npz, pad_*-v2.npz) and
numbers (pad_*-v1.json, ...); v1's (MTCNN boxes and landmarks) stay reproducible.

Bona fide presentations are lfw-dev photos as camera frames (``photo_frame``, as ``ownface
eval`` feeds them), usable when the pipeline's quality gates pass. Attacks are the two
upstream samples and synthetic attacks rendered from lfw-dev photos (bench/attacks.py).
Everything chosen (fusion, burst rule, threshold, active-check thresholds) is chosen on the
people of pairs folds 1-2 and reported on folds 3-5 as well. Everything is cached in
bench/out/ (npz, per pipeline), numbers go to bench/out/*-PIPELINE.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pyapp import host  # noqa: E402
from pyapp.errors import OwnFaceError, QualityError  # noqa: E402
from pyapp.evaluate import list_images, read_pairs  # noqa: E402
from pyapp.face.detect import Face  # noqa: E402
from pyapp.face.frame import photo_frame  # noqa: E402
from pyapp.face.pipeline import (  # noqa: E402
    DEFAULT_PIPELINE,
    FaceModels,
    PipelineConfig,
    embed_frame,
)

DATA = Path(os.environ.get("OWNFACE_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "bench" / "out"
CHOICE_FOLDS = (0, 1)  # pairs folds 1-2 (0-based): choices are made on their people
PIPELINES = ("v1", "v2")


def cache(name: str, pipeline: str, ext: str = "npz") -> Path:
    """A pipeline's cache or result file in bench/out/ (``pad_frames`` -> pad_frames-v2.npz)."""
    return OUT / f"{name}-{pipeline}.{ext}"


def shard_of(spec: str) -> tuple[int, int]:
    """``--shard K/N`` -> (K, N): this process does every item whose key % N == K."""
    try:
        k, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise SystemExit(f"--shard takes K/N, not {spec!r}") from None
    if not 0 <= k < n:
        raise SystemExit(f"--shard {spec}: K must be in 0..N-1")
    return k, n


def output(name: str, args: argparse.Namespace) -> Path:
    """The cache a command writes: the whole file, or one shard's part of it."""
    k, n = shard_of(args.shard)
    j, m = shard_of(getattr(args, "subset", "0/1"))
    part = (f".{j}-of-{m}" if m > 1 else "") + (f".{k}-of-{n}" if n > 1 else "")
    return cache(name + part, args.pipeline)


def seeded(seed: int, args: argparse.Namespace) -> np.random.Generator:
    """The command's random stream; shards get their own (unsharded runs keep the seed)."""
    k, n = shard_of(args.shard)
    return np.random.default_rng(seed if n == 1 else [seed, k, n])


def cmd_merge(args: argparse.Namespace) -> None:
    """Join every part file of one cache (``--what frames|bona_fide|attacks``) found in
    bench/out/ (pad_WHAT.*-PIPELINE.npz: shards, subsets, attack streams stopped early);
    rows must not repeat (frames: paths, bona fide: frame index)."""
    parts = sorted(OUT.glob(f"pad_{args.what}.*-{args.pipeline}.npz"))
    if not parts:
        raise SystemExit(f"no parts of pad_{args.what} ({args.pipeline}) in {OUT}")
    loaded = [dict(np.load(p)) for p in parts]
    merged = {key: np.concatenate([d[key] for d in loaded]) for key in loaded[0]}
    key = {"frames": "paths", "bona_fide": "index"}.get(args.what)
    if key and len(np.unique(merged[key])) != len(merged[key]):
        raise SystemExit(f"parts overlap ({key} repeats): {[p.name for p in parts]}")
    np.savez(cache(f"pad_{args.what}", args.pipeline), **merged)
    print(f"merged {[p.name for p in parts]}: {len(merged[next(iter(merged))])} rows")


async def analyse(frame: np.ndarray, models: FaceModels) -> tuple[Face | None, str]:
    """The face the pipeline would use and its verdict ("" = usable, else the gate's reason)."""
    try:
        result = await embed_frame(frame, models, PipelineConfig(gates=False))
    except QualityError as exc:
        return None, exc.reason.value
    except OwnFaceError as exc:
        return None, type(exc).__name__
    return result.face, result.rejected.value if result.rejected else ""


def face_arrays(faces: list[Face | None]) -> dict[str, np.ndarray]:
    box = np.full((len(faces), 4), np.nan)
    marks = np.full((len(faces), 5, 2), np.nan)
    for i, f in enumerate(faces):
        if f is not None:
            box[i], marks[i] = f.box, f.landmarks
    return {"box": box, "landmarks": marks}


def as_face(box: np.ndarray, marks: np.ndarray) -> Face:
    return Face((float(box[0]), float(box[1]), float(box[2]), float(box[3])), 1.0, marks)


def progress(done: int, total: int, start: float) -> None:
    rate = done / max(time.perf_counter() - start, 1e-9)
    print(f"\r{done}/{total} frames, {rate:.1f}/s", end="" if done < total else "\n",
          file=sys.stderr, flush=True)


def lfw_people_folds(lfw: Path, paths: list[Path]) -> np.ndarray:
    """Per image: the pairs fold (0-based) its person appears in first (-1: in no pair)."""
    index = {f"{p.parent.name}/{p.stem}": i for i, p in enumerate(paths)}
    ij, _, folds = read_pairs(lfw / "pairs.txt", index)
    person_fold: dict[str, int] = {}
    for (i, j), fold in zip(ij, folds, strict=True):
        for k in (i, j):
            person_fold.setdefault(paths[k].parent.name, int(fold))
    return np.array([person_fold.get(p.parent.name, -1) for p in paths])


def cmd_frames(args: argparse.Namespace) -> None:
    """Detect and gate every lfw-dev frame once; cached in bench/out/pad_frames-PIPELINE.npz."""
    paths = list_images(args.lfw)[: args.limit or None]
    k, n = shard_of(args.shard)  # by person: a person's photos stay in one shard
    people = sorted({p.parent.name for p in paths})
    mine = {name for i, name in enumerate(people) if i % n == k}
    keep = np.array([p.parent.name in mine for p in paths])
    folds = lfw_people_folds(args.lfw, paths)[keep]  # from all pairs, not the shard's
    paths = [p for p, kept in zip(paths, keep, strict=True) if kept]
    models = host.load_models(pipeline=args.pipeline)
    faces: list[Face | None] = []
    verdicts: list[str] = []
    start = time.perf_counter()

    async def run() -> None:
        for i, p in enumerate(paths):
            face, verdict = await analyse(photo_frame(host.read_photo(p)), models)
            faces.append(face)
            verdicts.append(verdict)
            if (i + 1) % 20 == 0 or i + 1 == len(paths):
                progress(i + 1, len(paths), start)

    asyncio.run(run())
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez(output("pad_frames", args), paths=np.array([str(p.relative_to(args.lfw))
                                                     for p in paths]),
             verdict=np.array(verdicts), fold=folds,
             **face_arrays(faces))
    print(f"{len(paths)} frames, {sum(v == '' for v in verdicts)} usable")


def load_frames(lfw: Path, pipeline: str) -> dict[str, Any]:
    path = cache("pad_frames", pipeline)
    if not path.exists():
        raise SystemExit(f"{path} missing: run 'python bench/pad.py frames --pipeline "
                         f"{pipeline}' first")
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    data["lfw"], data["pipeline"] = lfw, pipeline
    return data


def lfw_frame(data: dict[str, Any], i: int) -> np.ndarray:
    return photo_frame(host.read_photo(data["lfw"] / str(data["paths"][i])))


def crop_set(data: dict[str, Any], every: int, attacks: int) -> np.ndarray:
    """Model inputs of both crop scales: every ``every``-th usable lfw-dev frame, the three
    upstream samples and ``attacks`` synthetic attacks of each kind (bench/attacks.py)."""
    from bench import attacks as synth
    from pyapp.face.pad import crop

    models = host.load_models(pipeline=data["pipeline"])
    usable = np.nonzero(data["verdict"] == "")[0]
    frames = [lfw_frame(data, int(i)) for i in usable[::every]]
    frames += [host.read_photo(DATA / "pad" / "samples" / f"image_{n}.jpg")
               for n in ("F1", "F2", "T1")]
    rng = np.random.default_rng(11)
    for kind in ("screen", "print", "screen-close", "print-close"):
        for _ in range(attacks):
            a, b = (host.read_photo(data["lfw"] / str(data["paths"][int(k)]))
                    for k in rng.choice(len(data["paths"]), 2))
            frames += synth.render(kind, a, b, rng)
    out = []
    for frame in frames:
        face, _ = asyncio.run(analyse(frame, models))
        if face is not None:
            out += [crop(frame[..., :3], face, 2.7), crop(frame[..., :3], face, 4.0)]
    return np.stack(out).reshape(-1, 2, 3, 80, 80)


def cmd_encoding(args: argparse.Namespace) -> None:
    """Output agreement of each stored-weight encoding with the float32 weights."""
    import tempfile

    import brotli

    from models import convert_pad
    from pyapp.face.pad import softmax

    crops = crop_set(load_frames(args.lfw, args.pipeline), 5, 25)
    rng = np.random.default_rng(5)
    noise = rng.uniform(0, 255, (64, 2, 3, 80, 80)).astype(np.float32)
    rows = []
    base: dict[str, np.ndarray] = {}
    for bits, method in [(32, "f32"), (8, "uniform"), (8, "step0.05"), (8, "step0.1"),
                         (8, "step0.15"), (7, "uniform"), (6, "uniform"), (6, "kmeans"),
                         (5, "kmeans"), (4, "kmeans")]:
        with tempfile.TemporaryDirectory() as tmp:
            convert_pad.main(["--out", tmp, "--bits", str(bits), "--method", method])
            pad = host.load_pad(Path(tmp))
            size = sum(len(brotli.compress(p.read_bytes(), quality=11))
                       for p in Path(tmp).glob("minifasnet_*"))
            raw = sum(p.stat().st_size for p in Path(tmp).glob("minifasnet_*"))
        probs = {}
        for which, x in (("faces", crops), ("noise", noise)):
            per_model = [softmax(m.session.run_sync(  # type: ignore[attr-defined]
                {"input": np.ascontiguousarray(x[:, k])})["logits"].astype(np.float64))[:, 1]
                for k, m in enumerate(pad.models)]
            probs[which] = np.stack(per_model, 1)
        if method == "f32":
            base = probs
        diff = np.abs(probs["faces"] - base["faces"])
        fused = np.abs(probs["faces"].mean(1) - base["faces"].mean(1))
        flips = int(np.sum((probs["faces"].mean(1) >= 0.5) != (base["faces"].mean(1) >= 0.5)))
        row = {"encoding": f"{method} {bits}-bit" if method != "f32" else "float32",
               "raw_bytes": raw, "brotli_bytes": size,
               "max_dp_model": float(diff.max()), "p99_dp_model": float(np.quantile(diff, 0.99)),
               "max_dp_fused": float(fused.max()), "mean_dp_fused": float(fused.mean()),
               "flips_at_0.5": flips, "crops": len(crops),
               "max_dp_noise": float(np.abs(probs["noise"] - base["noise"]).max())}
        rows.append(row)
        print(json.dumps(row))
    save(args, cache("pad_encoding", args.pipeline, "json"), {"rows": rows})


KINDS = ("screen", "print", "screen-close", "print-close")
BURST = 8  # frames per presentation (a burst)


def scores_of(frame: np.ndarray, face: Face, pad: Any) -> np.ndarray:
    from pyapp.face.pad import score

    return asyncio.run(score(frame[..., :3], face, pad)).probs


def jitter(rng: np.random.Generator, frame: np.ndarray, face: Face) -> tuple[np.ndarray, Face]:
    """A camera-like neighbour of a still frame: exposure, sensor noise, the detector's box
    moved by a few percent of its size."""
    img = frame[..., :3].astype(np.float32) * np.float32(rng.uniform(0.9, 1.1))
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(2.0)
    out = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    box = np.asarray(face.box) + rng.normal(0, 0.02 * face.width, 4)
    return out, as_face(box, face.landmarks)


def cmd_bona_fide(args: argparse.Namespace) -> None:
    """PAD probabilities of every usable lfw-dev frame, and of BURST jittered copies of every
    ``--burst-every``-th one (NaN for the others)."""
    data = load_frames(args.lfw, args.pipeline)
    pad = host.load_pad()
    k, n = shard_of(args.shard)
    j, m = shard_of(args.subset)
    every = np.nonzero(data["verdict"] == "")[0]
    position = np.arange(len(every))[j::m][k::n]  # among all usable frames
    usable = every[position]
    rng = seeded(21, args)
    probs = np.full((len(usable), 1 + BURST, 2, 3), np.nan)
    start = time.perf_counter()
    for row, i in enumerate(usable):  # bursts: every burst_every-th usable frame
        frame = lfw_frame(data, int(i))
        face = as_face(data["box"][i], data["landmarks"][i])
        probs[row, 0] = scores_of(frame, face, pad)
        for b in range(BURST if position[row] % args.burst_every == 0 else 0):
            img, moved = jitter(rng, frame, face)
            probs[row, 1 + b] = scores_of(img, moved, pad)
        if (row + 1) % 10 == 0 or row + 1 == len(usable):
            progress(row + 1, len(usable), start)
            # the rows done so far: a run stopped at a deadline leaves a prefix
            done = usable[:row + 1]
            np.savez(output("pad_bona_fide", args), index=done, fold=data["fold"][done],
                     probs=probs[:row + 1])


def cmd_attacks(args: argparse.Namespace) -> None:
    """Synthetic attack presentations (BURST frames each, moved like a held object):
    verdicts, PAD probabilities and landmarks per frame. A shard runs in rounds (one
    presentation per kind and group) and saves after each, so a shard stopped early still
    leaves a balanced prefix of its stream; unsharded runs keep v1's order (group, kind)."""
    from bench import attacks as synth

    data = load_frames(args.lfw, args.pipeline)
    models, pad = host.load_models(pipeline=args.pipeline), host.load_pad()
    rng = seeded(31, args)
    usable = np.nonzero(data["verdict"] == "")[0]
    groups = {"choice": usable[np.isin(data["fold"][usable], CHOICE_FOLDS)],
              "held_out": usable[data["fold"][usable] >= 2]}
    rows: dict[str, list[Any]] = {k: [] for k in ("kind", "group", "verdict", "probs",
                                                 "landmarks", "yaw")}
    part, parts = shard_of(args.shard)
    per_kind = len(range(part, args.per_kind, parts))  # this shard's share of --per-kind
    rounds = [(g, kind) for g in groups for kind in KINDS]
    order = ([(g, kind) for g, kind in rounds for _ in range(per_kind)] if parts == 1
             else rounds * per_kind)
    start = time.perf_counter()
    for done, (group, kind) in enumerate(order, 1):
        a, b = (host.read_photo(data["lfw"] / str(data["paths"][int(i)]))
                for i in (rng.choice(groups[group]), rng.choice(len(data["paths"]))))
        yaw = rng.uniform(0.2, 0.45) * rng.choice([-1, 1])
        frames = synth.render(kind, a, b, rng, synth.plane_motion(rng, BURST, yaw))
        verdicts, probs, marks = [], np.full((BURST, 2, 3), np.nan), np.full(
            (BURST, 5, 2), np.nan)
        for j, frame in enumerate(frames):
            face, verdict = asyncio.run(analyse(frame, models))
            verdicts.append(verdict if face is not None else verdict or "no_face")
            if face is not None:
                probs[j], marks[j] = scores_of(frame, face, pad), face.landmarks
        for key, value in (("kind", kind), ("group", group), ("verdict", verdicts),
                           ("probs", probs), ("landmarks", marks), ("yaw", yaw)):
            rows[key].append(value)
        progress(done, len(order), start)
        if done == len(order) or (parts > 1 and done % len(rounds) == 0):
            np.savez(output("pad_attacks", args), **{k: np.array(v) for k, v in rows.items()})


def cmd_speed(args: argparse.Namespace) -> None:
    """Milliseconds per frame in CPython, onnxruntime 1 thread: PAD (both crops and both
    models) next to the face pipeline's own stages; median of 3 passes over 20 frames."""
    data = load_frames(args.lfw, args.pipeline)
    models, pad = host.load_models(pipeline=args.pipeline), host.load_pad()
    usable = np.nonzero(data["verdict"] == "")[0][:20]
    frames = [lfw_frame(data, int(i)) for i in usable]
    faces = [as_face(data["box"][i], data["landmarks"][i]) for i in usable]
    passes: dict[str, list[float]] = {"pad": [], "pipeline": []}
    for _ in range(3):
        t0 = time.perf_counter()
        for frame, face in zip(frames, faces, strict=True):
            scores_of(frame, face, pad)
        t1 = time.perf_counter()
        for frame in frames:
            asyncio.run(embed_frame(frame, models))
        t2 = time.perf_counter()
        passes["pad"].append((t1 - t0) * 1e3 / len(frames))
        passes["pipeline"].append((t2 - t1) * 1e3 / len(frames))
    result = {k: float(np.median(v)) for k, v in passes.items()}
    result["load_average"] = os.getloadavg()[0]
    result["face_pipeline"] = args.pipeline  # "pipeline" above is its ms per frame
    save(args, cache("pad_speed", args.pipeline, "json"), result)
    print(json.dumps(result))


def save(args: argparse.Namespace, default: Path, result: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    path = args.json or default
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["frames", "encoding", "bona-fide", "attacks", "speed",
                                        "merge"])
    ap.add_argument("--lfw", type=Path, default=DATA / "lfw-dev")
    ap.add_argument("--pipeline", choices=PIPELINES, default=DEFAULT_PIPELINE,
                    help="face pipeline whose boxes and landmarks PAD uses (default %(default)s)")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--shard", default="0/1", help="K/N: run part K of N (by person for "
                    "frames, by usable frame for bona-fide; attacks: N independent streams "
                    "of --per-kind/N each); join with 'merge --shard 0/N --what NAME'")
    ap.add_argument("--what", choices=["frames", "bona_fide", "attacks"], default="frames")
    ap.add_argument("--subset", default="0/1", help="bona-fide: J/M, only usable frames at "
                    "positions = J mod M (then sharded); pick M = --burst-every to put the "
                    "bursts in their own run")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--burst-every", type=int, default=3, help="bona fide bursts: every "
                    "N-th usable frame")
    ap.add_argument("--per-kind", type=int, default=60, help="attack presentations per kind "
                    "and fold group")
    args = ap.parse_args(argv)
    if not (args.lfw / "pairs.txt").is_file():
        raise SystemExit(f"lfw-dev not found at {args.lfw} (set OWNFACE_SHARED_DATA)")
    {"frames": cmd_frames, "encoding": cmd_encoding, "bona-fide": cmd_bona_fide,
     "attacks": cmd_attacks, "speed": cmd_speed, "merge": cmd_merge}[args.command](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

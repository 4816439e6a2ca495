"""How far each stage of OwnFace's pipeline is from what this CPU could do in onnxruntime-web.

Per stage of a face pipeline (``--pipeline v2``: YuNet, O-Net landmarks, SFace; ``v1``: MTCNN
P-Net over the pyramid, R-Net, O-Net, dlib ResNet):

* the input shapes a 640x480 frame really feeds it (the CPython pipeline run on LFW frames
  with every model call recorded; the median frame per stage);
* its multiply-accumulates (``onnx`` shape inference on the graphs in models/ with those
  shapes; Conv + Gemm + MatMul);
* the time those MACs would take at the *measured peak* of onnxruntime-web in Chromium on
  this CPU (float: the best of a 1024^3 MatMul and 3x3 Convs of two sizes; 8-bit: the same
  Convs as QLinearConv, for quantised models; best run; 1 thread, as OwnFace runs, and 2
  threads, the whole machine);
* the measured time of the model alone in onnxruntime-web (same shapes, 1 thread, median
  after 6 untimed runs: the first runs of a session are up to 2.5x slower) and in native
  onnxruntime (1 thread), and the measured pipeline stage (Python + numpy + model,
  from bench/pipeline_speed.py's JSON, ``bench/out/pipeline.json``),

so the distance to the limit is visible. The 1-minute load average is kept with each timing.

    .venv/bin/python bench/limits.py [--pipeline v2] [--frames 10] [--runs 15] [--smoke]
        [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.faceapi import machine  # noqa: E402
from bench.faceapi.macs import (  # noqa: E402
    Recorder,
    conv_model,
    count_macs,
    full_model,
    matmul_model,
    qconv_model,
)
from pyapp import host  # noqa: E402
from pyapp.errors import QualityError  # noqa: E402
from pyapp.face.pipeline import assemble, embed_frame  # noqa: E402

LFW = Path(os.environ.get("OWNFACE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "lfw-dev"
OUT = ROOT / "bench" / "out" / "limits.json"
PIPELINE_JSON = ROOT / "bench" / "out" / "pipeline.json"
# peak probes: (kind, builder). Several sizes, because the best size differs per kind (the 8-bit
# Conv runs at ~26 GOP/s at 64 channels x 112x112 but ~44 at 256 x 28x28 here).
PROBES: dict[str, tuple[str, Callable[[], tuple[bytes, list[dict[str, Any]], int]]]] = {
    "matmul_1024": ("float", lambda: matmul_model(1024)),
    "conv3x3_64ch_112": ("float", lambda: conv_model(64, 112)),
    "conv3x3_256ch_28": ("float", lambda: conv_model(256, 28)),
    "qconv3x3_64ch_112": ("int8", lambda: qconv_model(64, 112)),
    "qconv3x3_256ch_28": ("int8", lambda: qconv_model(256, 28)),
}
PIPELINE_STAGES = {  # stage key, model role, label; the detector's stages first
    "v1": (("pnet", "mtcnn_pnet", "P-Net (pyramid)"), ("rnet", "mtcnn_rnet", "R-Net"),
           ("onet", "mtcnn_onet", "O-Net"), ("embed", "dlib_resnet", "dlib ResNet")),
    "v2": (("yunet", "yunet", "YuNet"), ("onet", "mtcnn_onet", "O-Net landmarks"),
           ("embed", "sface", "SFace")),
}
STAGES = PIPELINE_STAGES["v2"]


def record_shapes(frames: list[np.ndarray], pipeline: str
                  ) -> tuple[dict[str, list[list[tuple[int, ...]]]], dict[str, Any]]:
    """Per role, per embedded frame, the input shapes of every call the pipeline made."""
    manifest = host.read_manifest()
    files = host.read_model_files(roles=manifest.roles(pipeline))
    sessions = {role: host.OrtInference(f, 1) for role, f in files.items()}
    per_frame: dict[str, list[list[tuple[int, ...]]]] = {role: [] for role in files}

    async def run() -> None:
        for frame in frames:
            rec = {role: Recorder(s) for role, s in sessions.items()}
            models = assemble(manifest, pipeline, rec)
            try:
                await embed_frame(frame, models)
            except QualityError:
                continue
            for role, r in rec.items():
                per_frame[role].append(r.calls)

    asyncio.run(run())
    return per_frame, {"files": files, "sessions": sessions}


def median_frame(calls: list[list[tuple[int, ...]]], macs_of: Any) -> tuple[int, list[int]]:
    """Index of the frame with the median MACs for this stage, and each frame's MACs."""
    totals = [sum(macs_of(shape) for shape in frame) for frame in calls]
    order = np.argsort(totals, kind="stable")
    return int(order[len(order) // 2]), totals


def native_ms(session: host.OrtInference, name: str, shapes: list[tuple[int, ...]],
              runs: int) -> float:
    rng = np.random.default_rng(0)
    feeds = [{name: rng.standard_normal(s).astype(np.float32)} for s in shapes]
    for f in feeds:
        session.run_sync(f)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for f in feeds:
            session.run_sync(f)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def browser_times(models: dict[str, bytes],
                  stage_calls: dict[str, tuple[str, list[tuple[int, ...]]]],
                  runs: int, peak_runs: int) -> dict[str, Any]:
    """onnxruntime-web in Chromium: peak GFLOP/s (1 and 2 threads), each stage's model alone."""
    from playwright.sync_api import sync_playwright

    from bench.faceapi.serve import bench_server, launch_args

    probes = {label: build() for label, (_, build) in PROBES.items()}
    out: dict[str, Any] = {"peak": {}, "stages": {}}
    with bench_server() as srv, sync_playwright() as pw:
        srv.blobs.update({**{f"{k}.onnx": v[0] for k, v in probes.items()},
                          **{f"{k}.onnx": v for k, v in models.items()}})
        browser = pw.chromium.launch(**launch_args())
        for threads in (1, 2):
            page = browser.new_page()
            page.goto(f"{srv.url}/_bench/peak.html?threads={threads}")
            page.wait_for_selector("html[data-ready]", state="attached", timeout=120_000)
            measured = {}
            for label, (_, inputs, macs) in probes.items():
                load = machine.load()
                r = page.evaluate("s => window.peakBench.time(s)", {
                    "model": f"/_bench/blob/{label}.onnx", "inputs": inputs,
                    "runs": peak_runs, "warmup": 4})
                best = min(r["ms"])
                measured[label] = {"kind": PROBES[label][0], "macs": macs, "best_ms": best,
                                   "median_ms": statistics.median(r["ms"]),
                                   "gflops": 2 * macs / best / 1e6, "load": load}
            out["peak"][str(threads)] = {"threads": r["threads"], "runs": peak_runs,
                                         "cross_origin_isolated": r["cross_origin_isolated"],
                                         "version": r["version"], "probes": measured}
            if threads == 1:
                for key, (name, shapes) in stage_calls.items():
                    load = machine.load()
                    total = []
                    per_call = [page.evaluate("s => window.peakBench.time(s)", {
                        "model": f"/_bench/blob/{key}.onnx", "inputs": [
                            {"name": name, "shape": list(s)}], "runs": runs, "warmup": 6})["ms"]
                        for s in shapes]
                    total = [sum(c[i] for c in per_call) for i in range(runs)]
                    out["stages"][key] = {"median_ms": statistics.median(total), "load": load}
            page.close()
        browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--smoke", action="store_true", help="2 frames, 3 runs")
    parser.add_argument("--pipeline", choices=tuple(PIPELINE_STAGES), default="v2")
    parser.add_argument("--json", type=Path, default=OUT)
    args = parser.parse_args(argv)
    global STAGES
    STAGES = PIPELINE_STAGES[args.pipeline]
    if args.smoke:
        args.frames, args.runs = 2, 3
    if not (LFW / "images").is_dir():
        print(f"no photos at {LFW}: nothing to measure", file=sys.stderr)
        return 2
    from bench.faceapi.serve import lfw_frame

    started = time.time()
    photos = sorted((LFW / "images").glob("*/*_0001.jpg"))[: args.frames]
    calls, ctx = record_shapes([lfw_frame(p) for p in photos], args.pipeline)
    files, sessions = ctx["files"], ctx["sessions"]
    graphs = {role: full_model(files[role]) for role in files}
    stages: dict[str, Any] = {}
    stage_calls: dict[str, tuple[str, list[tuple[int, ...]]]] = {}
    native_load = machine.load()
    for key, role, label in STAGES:
        graph = graphs[role]
        cache: dict[tuple[int, ...], dict[str, int]] = {}

        def macs_of(shape: tuple[int, ...], graph: Any = graph,
                    cache: dict[tuple[int, ...], dict[str, int]] = cache) -> dict[str, int]:
            if shape not in cache:
                cache[shape] = count_macs(graph, shape)
            return cache[shape]

        i, totals = median_frame(calls[role], lambda shape, m=macs_of: m(shape)["total"])
        shapes = calls[role][i]
        name = graph.graph.input[0].name
        stage_calls[key] = (name, shapes)
        stages[key] = {"label": label, "model": role, "frames": len(totals),
                       "calls": len(shapes), "shapes": [list(s) for s in shapes],
                       "macs": totals[i], "macs_range": [min(totals), max(totals)],
                       "macs_float": sum(macs_of(x)["float"] for x in shapes),
                       "macs_int8": sum(macs_of(x)["int8"] for x in shapes),
                       "native_ms": native_ms(sessions[role], name, shapes, args.runs)}
    print("onnxruntime-web in Chromium: peak and per-stage models ...", file=sys.stderr)
    web = browser_times({k: graphs[r].SerializeToString() for k, r, _ in STAGES}, stage_calls,
                        args.runs, max(args.runs // 2, 3))
    peaks = {t: {kind: max(p["gflops"] for p in web["peak"][t]["probes"].values()
                           if p["kind"] == kind) for kind in ("float", "int8")}
             for t in ("1", "2")}
    for key, s in stages.items():
        for t, label in (("1", "ideal_ms_1_thread"), ("2", "ideal_ms_2_threads")):
            s[label] = (2 * s["macs_float"] / peaks[t]["float"]
                        + 2 * s["macs_int8"] / peaks[t]["int8"]) / 1e6
        s["web_ms"] = web["stages"][key]["median_ms"]
        s["web_load"] = web["stages"][key]["load"]
    pipeline = json.loads(PIPELINE_JSON.read_text()) if PIPELINE_JSON.is_file() else None
    result = {
        "command": "bench/limits.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine.describe(),
        "pipeline_name": args.pipeline,
        "frames": len(photos), "runs": args.runs, "native_load": native_load,
        "peak": web["peak"], "peak_gflops": peaks, "stages": stages,
        "pipeline": pipeline and {"file": str(PIPELINE_JSON.relative_to(ROOT)),
                                  "date": pipeline.get("date"),
                                  "stages_ms": pipeline.get("stages_ms"),
                                  "browser_ms": pipeline.get("browser_ms"),
                                  "load": pipeline.get("load")},
        "seconds": 0.0,
    }
    result["seconds"] = round(time.time() - started, 1)
    print_table(result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


def print_table(r: dict[str, Any]) -> None:
    for t in ("1", "2"):
        d = r["peak"][t]
        print(f"onnxruntime-web {d['version']} peak, {d['threads']} thread(s): "
              + ", ".join(f"{k} {v['gflops']:.1f}" for k, v in d["probes"].items())
              + f" G(FL)OP/s (load {min(v['load'] for v in d['probes'].values())}-"
              f"{max(v['load'] for v in d['probes'].values())})")
    print(f"{'stage':<17}{'calls':>6}{'MMAC':>8}{'8-bit':>6}{'at peak 1t':>11}{'at peak 2t':>11}"
          f"{'ort-web':>9}{'native':>8}  (ms; model alone, 1 thread)")
    for s in r["stages"].values():
        share = s["macs_int8"] / s["macs"] if s["macs"] else 0.0
        print(f"{s['label']:<17}{s['calls']:>6}{s['macs'] / 1e6:>8.1f}{share:>6.0%}"
              f"{s['ideal_ms_1_thread']:>11.2f}{s['ideal_ms_2_threads']:>11.2f}"
              f"{s['web_ms']:>9.2f}{s['native_ms']:>8.2f}")
    st = r["stages"]
    det = sum(s["web_ms"] for k, s in st.items() if k != "embed")
    ideal = sum(s["ideal_ms_1_thread"] for k, s in st.items() if k != "embed")
    pl = r["pipeline"]
    if pl and pl.get("stages_ms"):
        sm = pl["stages_ms"]
        print(f"pipeline stages in the browser ({pl['file']}, {pl['date']}): detect "
              f"{sm['detect']:.1f} ms (models alone {det:.1f}, at peak {ideal:.2f}); embed "
              f"{sm['embed']:.1f} ms (model alone {st['embed']['web_ms']:.1f}, at peak "
              f"{st['embed']['ideal_ms_1_thread']:.2f}); align {sm['align']:.1f} ms (numpy only)")
    else:
        print("no bench/out/pipeline.json: run bench/pipeline_speed.py for the stage times")


if __name__ == "__main__":
    raise SystemExit(main())

"""OwnFace against face-api.js in the same headless Chromium: per-frame speed, startup, bytes.

The same frames (LFW photos made into 640x480 camera frames by ``pyapp.face.frame.photo_frame``)
go through

* (a) OwnFace's in-browser pipeline: pyapp in Pyodide in a PyScript worker, calling
  onnxruntime-web (the test harness page ``/_test/pipeline.html``: detect, quality gates,
  align, embed with flip averaging; the protection step is not in that harness), and
* (b) ``@vladmandic/face-api`` 1.7.15 on TF.js's wasm backend (``bench/faceapi/``): SSD
  MobileNet v1 (face-api's default detector, the one its docs describe as aiming at accuracy),
  68-point landmarks, 128-D descriptor, one face,

each timed inside its page from the RGBA pixels in memory to the descriptor, alternating
A/B (ABBA order) frame by frame in two pages of one browser. Prints median and p90 per frame,
the per-frame-pair ratio OwnFace/face-api, cold and warm time to ready and bytes the server
sent (compressed bodies + headers; cold = new empty profile, warm = the same profile again),
onnxruntime-web's and TF.js's thread counts and whether the pages were cross-origin isolated.
The 1-minute load average is recorded next to every timing (the machine is shared).

    .venv/bin/python bench/compare_browser.py [--frames 20] [--repeats 3] [--visits 2]
        [--faceapi-threads 1] [--detector ssd|tiny] [--smoke] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.faceapi import machine  # noqa: E402
from bench.faceapi.serve import (  # noqa: E402
    BenchServer,
    add_frames,
    bench_server,
    launch_args,
    lfw_frame,
)
from bench.startup import visit as ownface_visit  # noqa: E402

LFW = Path(os.environ.get("OWNFACE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "lfw-dev"
OUT = ROOT / "bench" / "out" / "compare_browser.json"
OWNFACE_RUN = "spec => window.ownfaceGlue.worker.sync.run(spec)"
FACEAPI_RUN = "spec => window.faceapiBench.run(spec)"


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values) if values else float("nan"),
            "p90": pct(values, 90), "n": len(values)}


def faceapi_page(detector: str, threads: int) -> str:
    folder = "/_bench/relaxed/" if threads > 1 else "/_bench/"
    return f"{folder}index.html?detector={detector}&threads={threads}"


def faceapi_visit(pw: Any, srv: BenchServer, page_path: str, profile: Path) -> dict[str, Any]:
    """One visit of the face-api page with an on-disk profile: ms to ready, bytes sent."""
    srv.counter.reset()
    load = machine.load()
    context = pw.chromium.launch_persistent_context(str(profile), **launch_args())
    try:
        page = context.new_page()
        page.goto(srv.url + page_path)
        page.wait_for_selector("html[data-ready], html[data-error]", state="attached",
                               timeout=120_000)
        root = page.locator("html")
        if root.get_attribute("data-error"):
            raise RuntimeError(f"face-api page failed: {root.get_attribute('data-error')}")
        ms = {k: float(root.get_attribute(f"data-{k}-ms") or "nan")
              for k in ("script", "backend", "models")}
        time.sleep(0.5)  # let trailing responses finish
    finally:
        context.close()
    return {"script_ms": ms["script"], "backend_ms": ms["backend"], "ready_ms": ms["models"],
            "bytes": srv.counter.bytes, "responses": srv.counter.responses, "load": load}


def startup(pw: Any, srv: BenchServer, page_path: str, visits: int, work: Path
            ) -> list[dict[str, Any]]:
    """Cold then warm visits of both, alternating OwnFace / face-api, ``visits`` times."""
    rows: list[dict[str, Any]] = []
    for run in range(visits):
        for kind in ("cold", "warm"):
            order = ("ownface", "faceapi") if (run + (kind == "warm")) % 2 == 0 else (
                "faceapi", "ownface")
            for side in order:
                profile = work / f"{side}-profile-{run}"
                if side == "ownface":
                    load = machine.load()
                    v = ownface_visit(pw, srv.url, profile, srv.counter)
                    row = {"ready_ms": v["models_ready_ms"], "python_ms": v["python_ready_ms"],
                           "bytes": v["bytes"], "responses": v["responses"], "load": load}
                else:
                    row = faceapi_visit(pw, srv, page_path, profile)
                rows.append({"side": side, "visit": kind, "run": run, **row})
                print(f"  {kind} {side}: ready {row['ready_ms']:.0f} ms, "
                      f"{row['bytes'] / 1e6:.3f} MB (load {row['load']})", file=sys.stderr)
    return rows


PIPELINE = "v2"  # OwnFace's face pipeline under test (--pipeline)


def open_pages(browser: Any, srv: BenchServer, page_path: str) -> tuple[Any, Any]:
    a = browser.new_page()
    a.goto(f"{srv.url}/_test/pipeline.html?pipeline={PIPELINE}")
    b = browser.new_page()
    b.goto(srv.url + page_path)
    a.wait_for_selector("#state[data-ready]", state="attached", timeout=180_000)
    b.wait_for_selector("html[data-ready], html[data-error]", state="attached", timeout=120_000)
    if b.locator("html").get_attribute("data-error"):
        raise RuntimeError(f"face-api page failed: {b.locator('html').get_attribute('data-error')}")
    return a, b


def run_one(page: Any, side: str, url: str) -> tuple[float, dict[str, Any], dict[str, Any]]:
    spec = {"frames": [url], "width": 640, "height": 480, "repeats": 1, "protect": True}
    page.bring_to_front()
    if side == "ownface":
        data = json.loads(page.evaluate(OWNFACE_RUN, json.dumps(spec)))
    else:
        data = page.evaluate(FACEAPI_RUN, spec)
    row = data["results"][0]
    return float(row["ms"][0]), row, data["runtime"]


def per_frame(pw: Any, srv: BenchServer, urls: list[str], repeats: int, page_path: str
              ) -> dict[str, Any]:
    browser = pw.chromium.launch(**launch_args())
    try:
        pages = dict(zip(("ownface", "faceapi"), open_pages(browser, srv, page_path),
                         strict=True))
        for url in urls[:3]:  # warm-up: first inferences initialise kernels and caches
            for side, page in pages.items():
                run_one(page, side, url)
        pairs: list[dict[str, Any]] = []
        runtime: dict[str, Any] = {}
        for r in range(repeats):
            for i, url in enumerate(urls):
                order = ("ownface", "faceapi") if (i + r) % 2 == 0 else ("faceapi", "ownface")
                pair: dict[str, Any] = {"frame": url.rsplit("/", 1)[-1], "repeat": r,
                                        "first": order[0], "load": machine.load()}
                for side in order:
                    ms, row, runtime[side] = run_one(pages[side], side, url)
                    found = "embedding" in row or "descriptor" in row
                    pair[side] = {"ms": ms, "face": found,
                                  "reason": row.get("reason") or row.get("error")}
                    if side == "ownface" and found:
                        pair[side]["stages"] = row["timings"]
                pairs.append(pair)
        tensors = pages["faceapi"].evaluate("window.faceapiBench.runtime && "
                                            "window.faceapiBench.run({frames: []})")
    finally:
        browser.close()
    return {"pairs": pairs, "runtime": runtime, "faceapi_tensors_after": tensors["tensors"]}


def summarise(timing: dict[str, Any], visits: list[dict[str, Any]]) -> dict[str, Any]:
    pairs = timing["pairs"]
    both = [p for p in pairs if p["ownface"]["face"] and p["faceapi"]["face"]]
    out: dict[str, Any] = {"pairs": len(pairs), "pairs_both_found_face": len(both)}
    for side in ("ownface", "faceapi"):
        out[side] = {
            "per_frame_ms": stats([p[side]["ms"] for p in both]),
            "per_frame_ms_all_frames": stats([p[side]["ms"] for p in pairs]),
            "no_face_or_rejected": sum(not p[side]["face"] for p in pairs),
        }
        for kind in ("cold", "warm"):
            sel = [v for v in visits if v["side"] == side and v["visit"] == kind]
            if sel:
                out[side][kind] = {
                    "ready_ms": statistics.median(v["ready_ms"] for v in sel),
                    "bytes": statistics.median(v["bytes"] for v in sel),
                    "load": [v["load"] for v in sel], "visits": len(sel)}
    ratios = [p["ownface"]["ms"] / p["faceapi"]["ms"] for p in both]
    out["ratio_ownface_over_faceapi"] = stats(ratios)
    stages = [p["ownface"]["stages"] for p in both if "stages" in p["ownface"]]
    if stages:
        out["ownface"]["stages_median_ms"] = {
            k: statistics.median(s[k] for s in stages)
            for k in ("prepare", "detect", "align", "embed", "protect") if k in stages[0]}
    loads = [p["load"] for p in pairs]
    out["load_during_frames"] = {"min": min(loads), "max": max(loads),
                                 "median": round(statistics.median(loads), 2)}
    return out


def print_table(s: dict[str, Any], rt: dict[str, Any]) -> None:
    own, fa = rt.get("ownface", {}), rt.get("faceapi", {})
    print(f"OwnFace: onnxruntime-web {own.get('version')}, {own.get('threads')} thread(s), "
          f"cross-origin isolated: {own.get('cross_origin_isolated')}")
    print(f"face-api.js {fa.get('faceapi')}: TF.js {fa.get('tfjs')} {fa.get('backend')}, "
          f"detector {fa.get('detector')}, {fa.get('threads')} thread(s), cross-origin "
          f"isolated: {fa.get('cross_origin_isolated')}")
    ld = s["load_during_frames"]
    print(f"{s['pairs']} frame pairs (A/B alternating), {s['pairs_both_found_face']} with a face "
          f"found by both; load average {ld['min']}-{ld['max']} (median {ld['median']})")
    head = (f"{'':10}{'median ms':>10}{'p90 ms':>9}{'cold ready ms':>15}{'cold MB':>9}"
            f"{'warm ready ms':>15}{'warm KB':>9}")
    print(head)
    for side, label in (("ownface", "OwnFace"), ("faceapi", "face-api")):
        d = s[side]
        cold, warm = d.get("cold", {}), d.get("warm", {})
        print(f"{label:<10}{d['per_frame_ms']['median']:>10.1f}{d['per_frame_ms']['p90']:>9.1f}"
              f"{cold.get('ready_ms', float('nan')):>15.0f}"
              f"{cold.get('bytes', float('nan')) / 1e6:>9.2f}"
              f"{warm.get('ready_ms', float('nan')):>15.0f}"
              f"{warm.get('bytes', float('nan')) / 1e3:>9.1f}")
    r = s["ratio_ownface_over_faceapi"]
    print(f"per-frame ratio OwnFace/face-api: median {r['median']:.2f}, p90 {r['p90']:.2f} "
          "(target <= 1.0)")
    if "stages_median_ms" in s["ownface"]:
        print("OwnFace stages (median ms): " + ", ".join(
            f"{k} {v:.1f}" for k, v in s["ownface"]["stages_median_ms"].items()))
    print(f"no face / rejected: OwnFace {s['ownface']['no_face_or_rejected']}, face-api "
          f"{s['faceapi']['no_face_or_rejected']} (of {s['pairs']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--visits", type=int, default=2, help="cold+warm visit pairs per side")
    parser.add_argument("--faceapi-threads", type=int, default=1)
    parser.add_argument("--detector", choices=("ssd", "tiny"), default="ssd")
    parser.add_argument("--pipeline", choices=("v1", "v2"), default="v2",
                        help="OwnFace's face pipeline (v2: YuNet + SFace; v1: MTCNN + dlib)")
    parser.add_argument("--smoke", action="store_true", help="2 frames, 1 repeat, 1 visit")
    parser.add_argument("--json", type=Path, default=OUT)
    args = parser.parse_args(argv)
    global PIPELINE
    PIPELINE = args.pipeline
    if args.smoke:
        args.frames, args.repeats, args.visits = 2, 1, 1
    if not (LFW / "images").is_dir():
        print(f"no photos at {LFW}: nothing to measure", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    photos = sorted((LFW / "images").glob("*/*_0001.jpg"))[: args.frames]
    page_path = faceapi_page(args.detector, args.faceapi_threads)
    work = Path(tempfile.mkdtemp(prefix="ownface-compare-"))
    started = time.time()
    with bench_server(work / "data") as srv, sync_playwright() as pw:
        urls = add_frames({p.stem: lfw_frame(p) for p in photos})
        print("startup visits (cold, warm) ...", file=sys.stderr)
        visits = startup(pw, srv, page_path, args.visits, work)
        print(f"{len(urls)} frames x {args.repeats} ...", file=sys.stderr)
        timing = per_frame(pw, srv, urls, args.repeats, page_path)
    summary = summarise(timing, visits)
    print_table(summary, timing["runtime"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "command": "bench/compare_browser.py " + " ".join(argv if argv is not None
                                                          else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M"), "seconds": round(time.time() - started, 1),
        "frames": len(urls), "repeats": args.repeats, "faceapi_page": page_path,
        "pipeline": PIPELINE, "detector": args.detector,
        "machine": machine.describe(), "runtime": timing["runtime"],
        "faceapi_tensors_after": timing["faceapi_tensors_after"],
        "summary": summary, "visits": visits, "pairs": timing["pairs"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

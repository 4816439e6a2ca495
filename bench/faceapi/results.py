"""bench/RESULTS.md from the JSON the bench scripts wrote (bench/run_all.py calls render()).

One section per script, each with the command that produced it and the load average around
it. Sections read the JSON fields they know; when a script's JSON is missing or has changed
shape, the section shows the table that script printed instead (kept by run_all in logs/).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.faceapi import overview
from bench.faceapi.overview import J, accuracy_sides, browser_sides
from bench.faceapi.overview import load as _load
from bench.faceapi.overview import pct as _pct
from bench.faceapi.overview import table as _table

# hand-measured sections kept next to the JSON they came from (shown when the step did not run)
RESULTS = Path(__file__).resolve().parents[1] / "results"


def _ms(v: float | None, digits: int = 0) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _size(v: float | None, unit: float, digits: int) -> str:
    return "n/a" if v is None else f"{v / unit:.{digits}f}"


def machine_section(run: J) -> list[str]:
    m = run.get("machine", {})
    rows = [["CPU", f"{m.get('cpu')} ({', '.join(m.get('simd', []))})"],
            ["cores", str(m.get("cores"))], ["memory", f"{m.get('memory_gib')} GiB"],
            ["OS", str(m.get("os"))], ["browser", str(m.get("chromium"))],
            ["Python / Node", f"{m.get('python')} / {m.get('node')}"],
            ["load average at the end (1/5/15 min)", str(m.get("load_average"))]]
    return ["## Machine", "", *_table(["", ""], rows), "",
            "The machine is shared with other jobs (2 cores): timings are noisy; each one is "
            "shown with the 1-minute load average sampled around it. Read them as a range.", ""]


def browser_section(d: J) -> list[str]:
    s, rt = d["summary"], d["runtime"]
    own, fa = rt.get("ownface", {}), rt.get("faceapi", {})
    pipeline, detector = browser_sides(d)
    rows = []
    for side, label in (("ownface", f"OwnFace {pipeline} (Pyodide + onnxruntime-web, worker)"),
                        ("faceapi", f"face-api.js {fa.get('faceapi')} (TF.js "
                                    f"{fa.get('tfjs')} wasm, {fa.get('detector')})")):
        x = s[side]
        cold, warm = x.get("cold", {}), x.get("warm", {})
        rows.append([label, _ms(x["per_frame_ms"]["median"], 1), _ms(x["per_frame_ms"]["p90"], 1),
                     _ms(cold.get("ready_ms")), _size(cold.get("bytes"), 1e6, 2),
                     _ms(warm.get("ready_ms")), _size(warm.get("bytes"), 1e3, 1),
                     str(x["no_face_or_rejected"])])
    r = s["ratio_ownface_over_faceapi"]
    ld = s["load_during_frames"]
    stages = s["ownface"].get("stages_median_ms", {})
    loads = {k: s[k].get("cold", {}).get("load") for k in ("ownface", "faceapi")}
    title = f"## Browser, side by side: OwnFace {pipeline} and face-api.js " + (
        "SSD MobileNet v1" if detector == "ssd" else "TinyFaceDetector")
    return [
        title, "",
        f"{d['date']}, {d['seconds']:.0f} s. {d['frames']} LFW frames x {d['repeats']} repeats, "
        f"A/B alternating (ABBA), {s['pairs_both_found_face']} of {s['pairs']} pairs with a face "
        f"found by both; load average during the frames {ld['min']}-{ld['max']} (median "
        f"{ld['median']})" + (f", during the cold visits {loads}" if any(loads.values()) else "")
        + ".", "",
        *_table(["pipeline", "median ms", "p90 ms", "cold ready ms", "cold MB", "warm ready ms",
                 "warm KB", "no face / rejected"], rows), "",
        f"Per-frame ratio OwnFace/face-api.js: median **{r['median']:.2f}**, p90 {r['p90']:.2f}.",
        f"OwnFace: onnxruntime-web {own.get('version')}, {own.get('threads')} thread(s), "
        f"cross-origin isolated: {own.get('cross_origin_isolated')}. face-api.js: TF.js "
        f"{fa.get('backend')}, {fa.get('threads')} thread(s), cross-origin isolated: "
        f"{fa.get('cross_origin_isolated')}. OwnFace stages (median ms): "
        + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()) + ".",
        "Ready = all models loaded (OwnFace: /check/ page's models milestone; face-api: its "
        "three nets loaded), in ms since navigation start; bytes = what the server sent "
        "(compressed bodies + headers), cold = new empty profile, warm = same profile again.",
        ""]


def accuracy_section(d: J) -> list[str]:
    def row(label: str, x: J, failed: Any = "") -> list[str]:
        a = x["all_pairs"]
        acc = x.get("pairs", {}).get("accuracy")
        return [label, str(failed), _pct(acc), _pct(a["tar_at_far_0.01"]),
                _pct(a["tar_at_far_0.001"]), _pct(a["tar_at_far_0.0001"]),
                f"{a['genuine_pairs']} / {a['impostor_pairs']}"]

    fa, own, f35 = d["faceapi"], d["ownface"], d["folds_3_5"]
    pipeline, detector = accuracy_sides(d)
    rows = [row("face-api.js (euclidean; acc 5-fold)", fa, fa["detection_failures"]),
            row(f"OwnFace {pipeline} unprotected (cosine)", own, own["detection_failures"]),
            row("face-api.js, folds 3-5 people", f35["faceapi"]),
            row(f"OwnFace {pipeline} unprotected, folds 3-5 people", f35["ownface_cosine"])]
    lines = [f"## Accuracy, side by side: OwnFace {pipeline} and face-api.js " + (
        "TinyFaceDetector" if detector == "tiny" else "SSD MobileNet v1") + " (LFW dev set)", "",
             f"{d['date']}. {d['images']} photos of "
             f"{d['people']} people, each made into a 640x480 frame; pairs accuracy on "
             "pairs.txt (5 folds, threshold from the other folds); TAR over all same-person "
             "pairs against all different-person pairs. OwnFace: "
             f"{own.get('pipeline', pipeline)}; {ownface_source(own.get('source', {}))}", ""]
    prot = f35.get("ownface_protected_here")
    if prot:
        rows.append(row(f"OwnFace {pipeline} protected (code Hamming, t={prot['t']}), folds 3-5",
                        prot))
    lines += _table(["system", "failed", "pairs acc", "TAR@1e-2", "TAR@1e-3", "TAR@1e-4",
                     "genuine / impostor pairs"], rows)
    fx = fa["fixed_0.6"]
    lines += ["", f"face-api.js at its own threshold (distance 0.6): pairs accuracy "
              f"{fx['pairs_accuracy']:.2%}, TAR {fx['tar']:.2%} at FAR {fx['far']:.2e}."]
    if prot:
        lines.append(f"OwnFace protected at the shipped t={prot['t']}: pairs.txt folds 3-5 "
                     f"accuracy {prot['pairs_folds_3_5']['accuracy_at_t']:.2%}, TAR "
                     f"{prot['all_pairs']['at_t']['tar']:.2%} at FAR "
                     f"{prot['all_pairs']['at_t']['far']:.2e}. Folds 3-5 only: the "
                     "binarisation was fitted on the people of folds 1-2.")
    pj = f35.get("protection_json")
    if pj:
        lines.append(f"bench/protection.py's own numbers ({pj['file']}): protected TAR "
                     f"{_pct(pj.get('protected_tar@0.001'))} at FAR 1e-3, "
                     f"{_pct(pj.get('protected_tar@0.0001'))} at 1e-4 (its cosine reference "
                     f"{_pct(pj.get('cosine_tar@0.001'))} / {_pct(pj.get('cosine_tar@0.0001'))}).")
    return [*lines, ""]


def ownface_source(src: J) -> str:
    """Where compare_accuracy took OwnFace's embeddings from, in a sentence."""
    if src.get("from_eval"):
        match = ("its cache key matches this checkout's models and settings"
                 if src.get("key_matches_this_checkout") else
                 "computed by an earlier revision: its cache key does not match this "
                 "checkout's models and settings (see the spot check)")
        spot = src.get("spot_check") or {}
        checked = "" if not spot else (
            f" Spot check: {spot['photos']} of those photos recomputed by this checkout, "
            f"faces found {'the same' if spot.get('same_detections') else 'DIFFERENTLY'}, "
            f"lowest cosine to the evaluation's embedding {spot.get('min_cosine')}.")
        return (f"embeddings of {src['photos']} photos taken from the finished `ownface eval` "
                f"output `{src['from_eval']}` (key {src.get('eval_key')}; {match}).{checked}")
    if src.get("computed_photos"):
        return f"embeddings of {src['computed_photos']} photos computed in this run."
    return "embeddings from the per-photo cache of this checkout." if src else ""


def limits_section(d: J) -> list[str]:
    p = d["peak"]
    lines = [f"## Limits: distance to onnxruntime-web's peak on this CPU (OwnFace "
             f"{d.get('pipeline_name', 'v1')})", "",
             f"{d['date']}. Peak = best run of large MatMul / 3x3 Conv models (float) and "
             "of the same Convs as QLinearConv (8-bit: the quantised models are limited by "
             "that one) in onnxruntime-web in Chromium:"]
    for t in ("1", "2"):
        x = p[t]
        lines.append(f"- {x['threads']} thread(s): " + ", ".join(
            f"{k} {v['gflops']:.1f} G{'FL' if v['kind'] == 'float' else ''}OP/s"
            for k, v in x["probes"].items())
            + f" (load {min(v['load'] for v in x['probes'].values())}-"
              f"{max(v['load'] for v in x['probes'].values())})")
    rows = [[s["label"], str(s["calls"]), f"{s['macs'] / 1e6:.1f}",
             f"{s.get('macs_int8', 0) / max(s['macs'], 1):.0%}",
             f"{s['ideal_ms_1_thread']:.2f}", f"{s['ideal_ms_2_threads']:.2f}",
             f"{s['web_ms']:.2f}", f"{s['native_ms']:.2f}",
             f"{s['ideal_ms_1_thread'] / s['web_ms']:.0%}"] for s in d["stages"].values()]
    lines += ["", *_table(["stage (model alone)", "calls/frame", "MMAC", "8-bit MACs",
                           "ms at peak, 1 thr",
                           "ms at peak, 2 thr", "ort-web ms (1 thr)", "native ms (1 thr)",
                           "ort-web vs its peak"], rows)]
    pl = d.get("pipeline")
    if pl and pl.get("stages_ms"):
        sm = pl["stages_ms"]
        st = d["stages"]
        det = [k for k in st if k != "embed"]
        alone = sum(st[k]["web_ms"] * st[k]["calls"] for k in det)
        lines += ["", f"Measured pipeline stages in the browser ({pl['file']}, {pl['date']}): "
                  f"detect {sm['detect']:.1f} ms (its models alone: "
                  f"{' + '.join(st[k]['label'] for k in det)} {alone:.1f} ms), align "
                  f"{sm['align']:.1f} ms (numpy only), embed {sm['embed']:.1f} ms (model alone "
                  f"{st['embed']['web_ms']:.1f} ms). The rest of each stage is Python/numpy in "
                  "Pyodide and the JS<->Python copies; the two come from separate runs on a "
                  "shared machine, so compare them as ranges. With 2 threads onnxruntime-web "
                  "only gains when the second core is free (rarely, at this load)."]
    return [*lines, ""]


def startup_section(d: J) -> list[str]:
    rows = [[k, "-" if math.isnan(v["python_ready_ms"]) else _ms(v["python_ready_ms"]),
             "-" if math.isnan(v["models_ready_ms"]) else _ms(v["models_ready_ms"]),
             f"{v['bytes'] / 1e6:.3f} MB"] for k, v in d["median"].items()]
    load = d.get("load_average")
    return ["## Startup (OwnFace /check/; password: the app's password path)", "",
            f"Date {d.get('date')}; medians of "
            f"{sum(r['visit'] == 'cold' for r in d['runs'])} runs"
            + (f", load average {load[0]:.1f}" if load else "") + ". Targets: warm <= 1500 "
            "ms, cold <= 3000 ms, cold transfer <= 16 MB with the face models.", "",
            *_table(["visit", "Python ready ms", "models ready ms", "transferred"], rows), ""]


def pipeline_section(d: J) -> list[str]:
    rows = [["browser (Pyodide + ort-web)", _ms(d["browser_ms"]["median"], 1),
             _ms(d["browser_ms"]["p90"], 1)],
            ["CPython + onnxruntime", _ms(d["cpython_ms"]["median"], 1),
             _ms(d["cpython_ms"]["p90"], 1)]]
    lt = d.get("long_tasks_ms", [])
    stages = d.get("stages_ms", {})
    pad = (f" Passive PAD (both MiniFASNet models, per usable frame) {stages['pad']:.1f} ms "
           f"next to the rest of the frame {d['browser_ms']['median'] - stages['pad']:.1f} ms "
           "(target: PAD <= 15 ms)." if "pad" in stages else "")
    return ["## Pipeline speed (frame -> embedding" + (", with passive PAD)" if pad else ")"),
            "", f"Date {d.get('date')}; {d['frames']} frames x {d['repeats']}." + pad, "",
            *_table(["", "median ms", "p90 ms"], rows), "",
            "Stages (median ms): " + ", ".join(f"{k} {v:.1f}" for k, v in
                                                d.get("stages_ms", {}).items())
            + f". Main-thread long tasks while working: {len(lt)}.", ""]


def app_latency_section(d: J) -> list[str]:
    labels = {"fcp_cold": "opened -> consent screen, cold (target <= 500)",
              "fcp_warm": "opened -> consent screen, warm (target <= 500)",
              "python_cold": "opened -> Python ready, cold", "python_warm":
              "opened -> Python ready, warm (returning person)",
              "models_cold": "opened -> models ready, cold (target <= 3000)",
              "models_warm": "opened -> models ready, warm (target <= 1500)",
              "consent_to_camera": "consent -> camera ready, warm (target <= 1500)",
              "camera_to_result": "camera ready -> verify result (target <= 1000)",
              "burst": "  of which: the burst of frames",
              "protocol": "  of which: template, OPRF, sign, 3 requests",
              "returning": "returning person: opened -> verified, warm, one tap scripted "
                           "(target <= 3000)",
              "longest_task": "longest main-thread task (target < 100)"}
    med = d["median_ms"]
    rows = [[label, _ms(med[k])] for k, label in labels.items() if k in med]
    outcomes = d.get("outcomes", [])
    return ["## The app, as a person waits for it (bench/app_latency.py)", "",
            f"Date {d.get('date')}; medians of {len(d['runs'].get('fcp_cold', []))} runs, "
            f"load average {d.get('load_average', 0):.1f}; verification outcomes: "
            f"{outcomes.count('verified')} of {len(outcomes)} verified.", "",
            *_table(["step", "median ms"], rows), ""]


def protection_section(d: J) -> list[str]:
    rows = []
    for key, label in (("single_image", "single image"), ("three_image", "three-image enrol")):
        x = d[key]
        rows.append([label, _pct(x["cosine_tar@0.001"]), _pct(x["protected_tar@0.001"]),
                     _pct(x["cosine_tar@0.0001"]), _pct(x["protected_tar@0.0001"])])
    scheme = str(d.get("scheme"))
    pipeline = scheme.split("(", 1)[1].split(",", 1)[0] if scheme.startswith("Scheme(") else "?"
    lines = [f"## Template protection, OwnFace {pipeline} (bench/protection.py)", "",
             f"{scheme}; test {d.get('test_images')} images (folds 3-5), "
             f"{d.get('genuine_pairs')} genuine / {d.get('impostor_pairs')} impostor pairs.", "",
             *_table(["", "cosine TAR@1e-3", "protected TAR@1e-3", "cosine TAR@1e-4",
                      "protected TAR@1e-4"], rows)]
    single = d["single_image"]
    if "shipped_t_far" in single:
        lines += ["", f"At the shipped radius t = {d.get('t')} (the fuzzy commitment opens "
                  f"within it): single image TAR {_pct(single['shipped_t_tar'])} at FAR "
                  f"{single['shipped_t_far']:.2e}; three-image enrol TAR "
                  f"{_pct(d['three_image'].get('shipped_t_tar'))} at FAR "
                  f"{d['three_image'].get('shipped_t_far', float('nan')):.2e}."]
    return [*lines, ""]


def server_load_section(d: J) -> list[str]:
    """server_load.py's JSON is its own: its printed table (from logs) stands instead."""
    return []


def crypto_section(d: J) -> list[str]:
    browser = d.get("browser_median_ms", {})
    rows = [[k, f"{v:.2f}", f"{browser[k]:.2f}" if k in browser else "n/a"]
            for k, v in d.get("median_ms", {}).items()]
    return ["## Client crypto (CPython and Pyodide in Chromium)", "",
            f"Load average {d.get('load_average', 0):.1f}. Targets (browser): "
            "client_enrol_after_embedding <= 100 ms, client_open_oprf_sign <= 60 ms.", "",
            *_table(["step", "CPython median ms", "browser median ms"], rows), ""]


SECTIONS: list[tuple[str, str, Callable[[J], list[str]]]] = [
    ("compare_browser", "Browser, side by side: OwnFace v2 and face-api.js SSD", browser_section),
    ("compare_browser_tiny", "Browser, side by side: OwnFace v2 and face-api.js "
     "TinyFaceDetector", browser_section),
    ("compare_browser_v1", "Browser, side by side: OwnFace v1 and face-api.js SSD",
     browser_section),
    ("compare_browser_v1_tiny", "Browser, side by side: OwnFace v1 and face-api.js "
     "TinyFaceDetector", browser_section),
    ("compare_accuracy", "Accuracy, side by side: OwnFace v2 and face-api.js SSD",
     accuracy_section),
    ("compare_accuracy_tiny", "Accuracy, side by side: OwnFace v2 and face-api.js "
     "TinyFaceDetector", accuracy_section),
    ("compare_accuracy_v1", "Accuracy, side by side: OwnFace v1 and face-api.js "
     "TinyFaceDetector", accuracy_section),
    ("protection", "Template protection, OwnFace v2", protection_section),
    ("protection_v1", "Template protection, OwnFace v1", protection_section),
    ("limits", "Limits", limits_section),
    ("startup", "Startup", startup_section),
    ("pipeline", "Pipeline speed", pipeline_section),
    ("pipeline_pad", "Pipeline speed with passive PAD", pipeline_section),
    ("app_latency", "The app", app_latency_section),
    ("server_load", "Server load", server_load_section),
    ("crypto_speed", "Client crypto", crypto_section),
]


def _fresh_protection(accuracy: J, out: Path) -> None:
    """bench/protection.py runs after compare_accuracy: show its latest numbers."""
    name = overview.PROTECTION.get(accuracy.get("ownface", {}).get("pipeline_name", "v1"))
    protection = _load(out, name) if name else None
    if protection is None or "folds_3_5" not in accuracy:
        return
    s = protection.get("single_image", {})
    accuracy["folds_3_5"]["protection_json"] = {
        "file": f"bench/out/{name}.json", "embeddings": protection.get("embeddings"),
        **{k: s.get(k) for k in ("cosine_tar@0.001", "cosine_tar@0.0001",
                                 "protected_tar@0.001", "protected_tar@0.0001")}}


def run_notes(run: J) -> list[str]:
    """What the person who ran the suite wrote about this run (run_all --note), if anything."""
    notes = run.get("notes") or []
    return ["## Notes on this run", "", *[f"- {n}" for n in notes], ""] if notes else []


def render(run: J, out: Path, logs: Path, *, smoke: bool) -> str:
    steps = {s["name"]: s for s in run.get("steps", [])}
    lines = ["# OwnFace benchmark results" + (" (smoke mode: few frames, not results)"
                                              if smoke else ""), "",
             f"Generated by `python bench/run_all.py{' --smoke' if smoke else ''}` on "
             f"{run.get('date')}"
             + (f" in {run['seconds'] / 60:.1f} min" if run.get("seconds") else "")
             + ". Every number below comes from the JSON the named command wrote under "
             "`bench/out/` (server load: the table its script printed; its JSON format is "
             "its own).", "", *machine_section(run), *overview.targets_section(out, run),
             *overview.browser_overview(out), *overview.accuracy_overview(out), *run_notes(run)]
    for name, title, section in SECTIONS:
        step = steps.get(name, {})
        data = _load(out, name)
        written = (out / f"{name}.json").stat().st_mtime if data is not None else 0.0
        if step.get("finished") and written > step["finished"] + 5:
            step = {}  # the JSON was rewritten by a standalone run after this suite run
        body: list[str] = []
        if name.startswith("compare_accuracy") and data is not None:
            _fresh_protection(data, out)
        if data is not None and step.get("status", "ok") == "ok":
            try:
                body = section(data)
            except (KeyError, TypeError, ValueError, ZeroDivisionError):
                body = []
        printed = logs / f"{name}.txt"
        kept = RESULTS / f"{name}.md"
        if not step.get("finished") and kept.is_file():  # measured by hand, kept in the repo
            body = [*kept.read_text().rstrip().splitlines(), ""]
        if not body and printed.is_file() and printed.read_text().strip():
            body = [f"## {title}", "", "Its printed table:", "", "```",
                    printed.read_text().rstrip(), "```", ""]
        if not body:
            body = [f"## {title}", "", f"Not measured in this run ({step.get('status', 'not run')}"
                    f"{': ' + step['reason'] if step.get('reason') else ''}).", ""]
        if step.get("command"):
            body.insert(2, f"Command: `{step['command']}`: {step.get('status')}"
                        + (f" in {step['seconds']} s" if step.get("seconds") else "")
                        + (f", load average {step['load_before']} -> {step.get('load_after')}"
                           if step.get("load_after") is not None else "") + ".")
            body.insert(3, "")
        elif data is not None and data.get("command"):
            body.insert(2, f"Command: `python {data['command']}`.")
            body.insert(3, "")
        lines += body
    return "\n".join(lines).rstrip() + "\n"

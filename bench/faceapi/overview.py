"""The top of bench/RESULTS.md: issue 11's targets, and v1, v2 and face-api.js at a glance.

Each function reads the JSON the side-by-side steps wrote (``<out>/<step>.json``) and returns
Markdown lines; a number whose JSON is missing is left out (its row says "not measured"), never
guessed. Which step measures what:

* ``compare_browser*``: OwnFace (``--pipeline``) against face-api.js (``--detector``) A/B on the
  same frames in Chromium; ``compare_browser`` (v2 vs SSD) also makes the cold and warm visits;
* ``compare_accuracy*``: LFW dev, all pairs and the people of folds 3-5, OwnFace's CPython
  pipeline (the browser's numerics: parity cosine >= 0.9999) and face-api.js;
* ``protection`` / ``protection_v1``: the shipped decision rule (code Hamming distance <= the
  BCH code's t) on folds 3-5, the scheme fitted on folds 1-2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

J = dict[str, Any]
BROWSER = ("compare_browser", "compare_browser_tiny", "compare_browser_v1",
           "compare_browser_v1_tiny")
ACCURACY = ("compare_accuracy", "compare_accuracy_tiny", "compare_accuracy_v1",
            "compare_accuracy_v1_tiny")
PROTECTION = {"v2": "protection", "v1": "protection_v1"}


def load(out: Path, name: str) -> J | None:
    try:
        data: J = json.loads((out / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None
    return data


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return out + ["| " + " | ".join(r) + " |" for r in rows]


def pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2%}"


def browser_sides(d: J) -> tuple[str, str]:
    """(OwnFace pipeline, face-api.js detector) of a compare_browser JSON."""
    fa = d.get("runtime", {}).get("faceapi", {})
    detector = d.get("detector") or fa.get("detector") or "ssd"
    pipeline = d.get("pipeline") or ("v1" if "--pipeline v1" in d.get("command", "") else "v2")
    return pipeline, detector


def accuracy_sides(d: J) -> tuple[str, str]:
    """(OwnFace pipeline, face-api.js detector) of a compare_accuracy JSON."""
    detector = "tiny" if "detector tiny" in d["faceapi"].get("pipeline", "") else "ssd"
    return d["ownface"].get("pipeline_name", "v1"), detector


def browser_runs(out: Path) -> dict[tuple[str, str], J]:
    runs: dict[tuple[str, str], J] = {}
    for name in BROWSER:
        d = load(out, name)
        if d is not None and "summary" in d:
            runs.setdefault(browser_sides(d), d)
    return runs


def accuracy_runs(out: Path) -> dict[tuple[str, str], J]:
    runs: dict[tuple[str, str], J] = {}
    for name in ACCURACY:
        d = load(out, name)
        if d is not None and "ownface" in d:
            runs.setdefault(accuracy_sides(d), d)
    return runs


def ownface_accuracy(runs: dict[tuple[str, str], J], pipeline: str) -> J | None:
    """OwnFace's side is the same whichever face-api.js detector ran next to it."""
    for (p, _), d in sorted(runs.items()):
        if p == pipeline:
            return d
    return None


def faceapi_accuracy(runs: dict[tuple[str, str], J], detector: str) -> J | None:
    for (_, det), d in sorted(runs.items(), key=lambda kv: kv[0][0] != "v2"):
        if det == detector:
            return d
    return None


def _row(issue: str, what: str, target: str, measured: str | None, met: bool | None
         ) -> list[str]:
    if measured is None:
        return [issue, what, target, "not measured", "-"]
    return [issue, what, target, measured, "yes" if met else "no"]


def _tar(d: J | None, key: str) -> float | None:
    return None if d is None else d["all_pairs"][key]


def accuracy_targets(out: Path) -> list[list[str]]:
    acc = accuracy_runs(out)
    v2 = ownface_accuracy(acc, "v2")
    own = v2["ownface"] if v2 else None
    rows = []
    for key, far, target in (("tar_at_far_0.001", "1e-3", 0.985),
                             ("tar_at_far_0.0001", "1e-4", 0.97)):
        v = _tar(own, key)
        rows.append(_row("11", f"v2 unprotected TAR at FAR {far}, lfw-dev all pairs",
                         f">= {target:.1%}",
                         None if v is None else pct(v), v is not None and v >= target))
    fails = None if own is None else int(own["detection_failures"])
    rows.append(_row("11", f"v2 detection failures ({v2['images'] if v2 else '?'} photos)",
                     "0", None if fails is None else str(fails), fails == 0))
    prot = load(out, PROTECTION["v2"])
    single = prot.get("single_image", {}) if prot else {}
    for key, far, target in (("protected_tar@0.001", "1e-3", 0.98),
                             ("protected_tar@0.0001", "1e-4", 0.95)):
        v = single.get(key)
        rows.append(_row("11", f"v2 protected TAR at FAR {far} (shipped rule), folds 3-5",
                         f">= {target:.0%}",
                         None if v is None else pct(v), v is not None and v >= target))
    at_t = single.get("shipped_t_far")
    rows.append(_row("11", f"v2 FAR at the shipped radius t = {prot.get('t') if prot else '?'}, "
                     "folds 3-5", "<= 1e-3", None if at_t is None else
                     f"{at_t:.2e} (TAR {pct(single.get('shipped_t_tar'))})",
                     at_t is not None and at_t <= 1e-3))
    ssd = faceapi_accuracy(acc, "ssd")
    tiny = faceapi_accuracy(acc, "tiny")
    for det, fa in (("SSD", ssd), ("TinyFaceDetector", tiny)):
        o, f = _tar(own, "tar_at_far_0.001"), _tar(fa["faceapi"] if fa else None,
                                                   "tar_at_far_0.001")
        rows.append(_row("7", f"v2 unprotected TAR at FAR 1e-3 vs face-api.js {det}",
                         ">= face-api", None if o is None or f is None else
                         f"{pct(o)} vs {pct(f)}", o is not None and f is not None and o >= f))
    f35 = ssd["folds_3_5"]["faceapi"] if ssd else None
    p, f = single.get("protected_tar@0.001"), _tar(f35, "tar_at_far_0.001")
    rows.append(_row("7", "v2 protected TAR at FAR 1e-3 vs face-api.js SSD, folds 3-5",
                     ">= face-api", None if p is None or f is None else f"{pct(p)} vs {pct(f)}",
                     p is not None and f is not None and p >= f))
    return rows


def speed_targets(out: Path, run: J) -> list[list[str]]:
    runs = browser_runs(out)
    tiny, ssd = runs.get(("v2", "tiny")), runs.get(("v2", "ssd"))
    rows = []
    med = tiny["summary"]["ownface"]["per_frame_ms"]["median"] if tiny else None
    rows.append(_row("11", "v2 per frame in Chromium (detect + align + embed + protect), "
                     "1 thread, median", "<= 100 ms", None if med is None else f"{med:.1f} ms",
                     med is not None and med <= 100))
    for label, d in (("TinyFaceDetector", tiny), ("SSD", ssd)):
        r = d["summary"]["ratio_ownface_over_faceapi"]["median"] if d else None
        rows.append(_row("11" if d is tiny else "7", f"per-frame ratio v2 / face-api.js {label}"
                         " (median of A/B pairs)", "<= 1.0",
                         None if r is None else f"{r:.2f}", r is not None and r <= 1.0))
    own = ssd["summary"]["ownface"] if ssd else {}
    cold, warm = own.get("cold", {}).get("bytes"), own.get("warm", {}).get("bytes")
    if cold is None:
        startup = load(out, "startup")
        cold = startup["median"]["cold"]["bytes"] if startup else None
    rows.append(_row("11", "cold-visit bytes (compressed, v2 models)", "<= 16 MB",
                     None if cold is None else f"{cold / 1e6:.2f} MB",
                     cold is not None and cold <= 16e6))
    rows.append(_row("7", "warm-visit bytes", "<= 100 KB",
                     None if warm is None else f"{warm / 1e3:.1f} KB",
                     warm is not None and warm <= 100e3))
    if run.get("seconds") is not None and not run.get("smoke"):
        rows.append(_row("7", "whole suite (bench/run_all.py)", "< 15 min",
                         f"{run['seconds'] / 60:.1f} min", run["seconds"] < 900))
    return rows


def targets_section(out: Path, run: J) -> list[str]:
    rows = accuracy_targets(out) + speed_targets(out, run)
    return ["## Targets (issue 11; issue 7's that still apply)", "",
            "lfw-dev, single image, the shipped pipeline v2 (YuNet + O-Net landmarks + SFace) "
            "and its shipped scheme; speed from one interleaved A/B run in Chromium.", "",
            *table(["issue", "what", "target", "measured", "met"], rows), ""]


def browser_overview(out: Path) -> list[str]:
    runs = browser_runs(out)
    if not runs:
        return []
    rows = []
    for (pipeline, detector), d in sorted(runs.items(), key=lambda kv: (kv[0][0] != "v2",
                                                                          kv[0][1])):
        s = d["summary"]
        r, ld = s["ratio_ownface_over_faceapi"], s["load_during_frames"]
        rows.append([f"OwnFace {pipeline}", detector,
                     f"{s['ownface']['per_frame_ms']['median']:.1f}",
                     f"{s['faceapi']['per_frame_ms']['median']:.1f}",
                     f"**{r['median']:.2f}** ({r['p90']:.2f})",
                     f"{s['pairs_both_found_face']} / {s['pairs']}",
                     f"{ld['min']}-{ld['max']}", str(d.get("date"))])
    return ["## Speed at a glance: v1, v2 and face-api.js on the same frames", "",
            "Each row is one run of bench/compare_browser.py: the same LFW frames (640x480) "
            "through OwnFace and face-api.js in one Chromium, A/B alternating (ABBA) frame by "
            "frame, so the ratio of each pair is measured under the same load; ratios are "
            "comparable between rows, milliseconds less so (the load moved between runs).", "",
            *table(["OwnFace", "face-api.js detector", "OwnFace median ms",
                    "face-api.js median ms", "ratio median (p90)", "pairs with a face / pairs",
                    "load", "date"], rows), ""]


def accuracy_overview(out: Path) -> list[str]:
    runs = accuracy_runs(out)
    if not runs:
        return []
    rows = []
    for det, label in (("ssd", "face-api.js, SSD MobileNet v1"),
                       ("tiny", "face-api.js, TinyFaceDetector")):
        d = faceapi_accuracy(runs, det)
        if d:
            fa, f35 = d["faceapi"], d["folds_3_5"]["faceapi"]
            rows.append([label, str(fa["detection_failures"]),
                         pct(_tar(fa, "tar_at_far_0.001")), pct(_tar(fa, "tar_at_far_0.0001")),
                         pct(_tar(f35, "tar_at_far_0.001")), pct(_tar(f35, "tar_at_far_0.0001")),
                         "-", "-"])
    for pipeline, label in (("v1", "OwnFace v1 (MTCNN + dlib)"),
                            ("v2", "OwnFace v2 (YuNet + O-Net + SFace)")):
        d = ownface_accuracy(runs, pipeline)
        if d:
            own, f35 = d["ownface"], d["folds_3_5"]["ownface_cosine"]
            prot = load(out, PROTECTION[pipeline])
            single = prot.get("single_image", {}) if prot else {}
            rows.append([label, str(own["detection_failures"]),
                         pct(_tar(own, "tar_at_far_0.001")), pct(_tar(own, "tar_at_far_0.0001")),
                         pct(_tar(f35, "tar_at_far_0.001")), pct(_tar(f35, "tar_at_far_0.0001")),
                         pct(single.get("protected_tar@0.001")),
                         pct(single.get("protected_tar@0.0001"))])
    return ["## Accuracy at a glance: v1, v2 and face-api.js on the same photos", "",
            "LFW dev (3,811 photos, each made into the same 640x480 frame): TAR over all "
            "same-person pairs against all different-person pairs; folds 3-5 = the people of "
            "pairs.txt folds 3-5, on whom the template protection was not fitted; protected = "
            "the shipped decision rule (bench/protection.py). Details and sources in the "
            "sections below.", "",
            *table(["system", "failed", "TAR@1e-3", "TAR@1e-4", "folds 3-5 TAR@1e-3",
                    "folds 3-5 TAR@1e-4", "protected @1e-3", "protected @1e-4"], rows), ""]

"""Run every benchmark, then write bench/RESULTS.md from their JSON outputs, in one command.

    .venv/bin/python bench/run_all.py            # the whole suite (< 15 min), bench/RESULTS.md
    .venv/bin/python bench/run_all.py --smoke    # a few frames each, bench/out/smoke/RESULTS.md
    .venv/bin/python bench/run_all.py --render   # only rewrite RESULTS.md from the JSON there
    .venv/bin/python bench/run_all.py --only compare_browser limits

Scripts run one after the other (the machine has 2 shared cores: never two heavy jobs at
once), each in its own process with a time limit, its printed table and the load average
before and after kept in ``<out>/run_all.json``; a failing script is reported in RESULTS.md
and does not stop the others. Scripts that are not in the checkout are skipped. Never part
of the default test command; tests/bench/test_smoke.py runs the smoke modes of the
side-by-side scripts.

OwnFace runs as pipeline v2 (YuNet + O-Net landmarks + SFace, the default) and, where the
pipeline matters (side by side in the browser and on LFW, template protection), as v1 (MTCNN +
dlib) too, against face-api.js with its SSD MobileNet v1 and with its TinyFaceDetector on the
same frames.

The 15-minute budget assumes compare_accuracy's per-photo caches (``.cache/bench/``, or
``$OWNFACE_BENCH_CACHE``) are filled:
the very first face-api.js pass over 3,811 photos takes ~10 min (TinyFaceDetector) to ~40 min
(SSD MobileNet v1, on a loaded machine), OwnFace's ~8 min per pipeline. Fill them once with
``bench/compare_accuracy.py [--pipeline v1] [--detector tiny]`` (resumable), or hand OwnFace's
side over from a finished ``ownface eval lfw-dev --out DIR [--pipeline v1]``:
``--ownface-eval v2=DIR --ownface-eval v1=DIR`` (passed to compare_accuracy as ``--from-eval``;
RESULTS.md says which evaluation the numbers came from and whether its cache key matches the
checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.faceapi import machine, results  # noqa: E402

OUT = ROOT / "bench" / "out"
CACHE = Path(os.environ.get("OWNFACE_BENCH_CACHE", ROOT / ".cache" / "bench"))


def embeddings(pipeline: str) -> Path:
    """OwnFace's LFW embeddings that compare_accuracy exports for bench/protection.py."""
    path = CACHE / f"ownface-embeddings-{pipeline}.npz"
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path  # scripts run in ROOT


@dataclass(frozen=True)
class Step:
    name: str
    script: str
    args: tuple[str, ...]
    smoke_args: tuple[str, ...] | None  # None: skipped in smoke mode
    json_flag: str  # how the script is told where to write its JSON
    timeout: int  # seconds
    evaluated: str | None = None  # OwnFace pipeline whose --ownface-eval it may take

    def command(self, smoke: bool, out: Path, evals: dict[str, Path] | None = None
                ) -> list[str]:
        args = self.smoke_args if smoke and self.smoke_args is not None else self.args
        folder = (evals or {}).get(self.evaluated or "")
        extra = ("--from-eval", str(folder)) if folder is not None else ()
        return [sys.executable, f"bench/{self.script}", *args, *extra, self.json_flag,
                str(out / f"{self.name}.json")]


def browser_step(name: str, pipeline: str, detector: str, visits: int, timeout: int,
                 smoke: bool = False) -> Step:
    """OwnFace ``pipeline`` against face-api.js ``detector``, A/B on the same 10 frames x 2."""
    return Step(name, "compare_browser.py",
                ("--pipeline", pipeline, "--detector", detector, "--visits", str(visits),
                 "--frames", "10", "--repeats", "2"), ("--smoke",) if smoke else None,
                "--json", timeout)


def accuracy_step(name: str, pipeline: str, detector: str, smoke: bool = False) -> Step:
    return Step(name, "compare_accuracy.py", ("--pipeline", pipeline, "--detector", detector),
                ("--smoke",) if smoke else None, "--json", 900, evaluated=pipeline)


def protection_step(name: str, pipeline: str) -> Step:
    return Step(name, "protection.py", ("measure", "--pipeline", pipeline, "--embeddings",
                                        str(embeddings(pipeline)), "--decode-sample", "1000",
                                        "--link-pairs", "1000", "--attack-templates", "10"),
                None, "--out", 600)


STEPS = (
    Step("startup", "startup.py", ("--runs", "2"), ("--runs", "1"), "--json", 240),
    Step("pipeline", "pipeline_speed.py", ("--pipeline", "v2", "--frames", "20", "--repeats",
                                           "2"), ("--frames", "2", "--repeats", "1"),
         "--json", 300),
    Step("pipeline_pad", "pipeline_speed.py", ("--pipeline", "v2", "--frames", "20",
                                               "--repeats", "2", "--pad"),
         ("--frames", "2", "--repeats", "1", "--pad"), "--json", 300),
    Step("app_latency", "app_latency.py", ("--runs", "3"), ("--runs", "1"), "--json", 300),
    Step("crypto_speed", "crypto_speed.py", ("--repeat", "10"), ("--repeat", "2"), "--out", 120),
    browser_step("compare_browser", "v2", "ssd", 1, 420, smoke=True),
    browser_step("compare_browser_tiny", "v2", "tiny", 0, 300),
    browser_step("compare_browser_v1", "v1", "ssd", 0, 300),
    browser_step("compare_browser_v1_tiny", "v1", "tiny", 0, 300),
    accuracy_step("compare_accuracy_tiny", "v2", "tiny"),  # exports v2's embeddings
    accuracy_step("compare_accuracy_v1", "v1", "tiny"),  # exports v1's
    protection_step("protection", "v2"),
    protection_step("protection_v1", "v1"),
    Step("limits", "limits.py", ("--pipeline", "v2"), ("--smoke",), "--json", 420),
    Step("server_load", "server_load.py", ("--seconds", "3", "--phase-requests", "1000"),
         ("--seconds", "1", "--phase-requests", "100", "--workers", "1", "--db", "sqlite"),
         "--out", 420),
    # last: the first face-api.js SSD pass over 3,811 photos is the longest (resumable)
    accuracy_step("compare_accuracy", "v2", "ssd", smoke=True),
)


def run_step(step: Step, smoke: bool, out: Path, logs: Path,
             evals: dict[str, Path] | None = None) -> dict[str, Any]:
    cmd = step.command(smoke, out, evals)
    shown = " ".join(["python", *cmd[1:]]).replace(str(ROOT) + "/", "")
    for folder in (evals or {}).values():  # an evaluation outside the checkout: by its name
        shown = shown.replace(str(folder.parent) + "/", "")
    row: dict[str, Any] = {"name": step.name, "command": shown, "load_before": machine.load()}
    if not (ROOT / "bench" / step.script).is_file():
        return {**row, "status": "absent"}
    if smoke and step.smoke_args is None:
        return {**row, "status": "skipped", "reason": "not part of the smoke run"}
    if step.script == "protection.py":
        pipeline = step.args[step.args.index("--pipeline") + 1]
        if not (ROOT / embeddings(pipeline)).is_file():
            return {**row, "status": "skipped", "reason": f"{embeddings(pipeline)} missing "
                    f"(bench/compare_accuracy.py --pipeline {pipeline} writes it)"}
    print(f"== {step.name}: {shown}", file=sys.stderr, flush=True)
    start = time.monotonic()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env,
                              timeout=step.timeout, check=False)
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
        stdout, stderr = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        status = f"timeout after {step.timeout} s"
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    seconds = round(time.monotonic() - start, 1)
    (logs / f"{step.name}.txt").write_text(stdout)
    (logs / f"{step.name}.stderr.txt").write_text(stderr)
    print(stdout, flush=True)
    print(f"== {step.name}: {status} in {seconds} s", file=sys.stderr, flush=True)
    tail = "\n".join(stderr.strip().splitlines()[-8:]) if status != "ok" else ""
    return {**row, "status": status, "seconds": seconds, "load_after": machine.load(),
            "error": tail, "finished": time.time()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--render", action="store_true", help="only rewrite RESULTS.md")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in STEPS])
    parser.add_argument("--ownface-eval", action="append", default=[], metavar="PIPELINE=DIR",
                        help="OwnFace's LFW embeddings from a finished `ownface eval --out DIR` "
                             "of that pipeline (compare_accuracy --from-eval)")
    parser.add_argument("--note", action="append", default=[],
                        help="a sentence for RESULTS.md about this run (e.g. frames reduced "
                             "under load); kept with the run, repeatable")
    args = parser.parse_args(argv)
    evals: dict[str, Path] = {}
    for item in args.ownface_eval:
        pipeline, sep, folder = item.partition("=")
        if not sep or not (Path(folder) / "embeddings.npz").is_file():
            parser.error(f"--ownface-eval {item}: want PIPELINE=DIR with DIR/embeddings.npz")
        evals[pipeline] = Path(folder).resolve()
    out = OUT / "smoke" if args.smoke else OUT
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    target = out / "RESULTS.md" if args.smoke else ROOT / "bench" / "RESULTS.md"
    record = out / "run_all.json"
    previous = json.loads(record.read_text()) if record.is_file() else {"steps": []}
    if not args.render:
        started = time.monotonic()
        steps = [s for s in STEPS if not args.only or s.name in args.only]
        done = {r["name"]: r for r in previous.get("steps", [])} if args.only else {}
        for step in steps:
            done[step.name] = run_step(step, args.smoke, out, logs, evals)
            record.write_text(json.dumps({"steps": list(done.values())}, indent=1))
        total = round(time.monotonic() - started, 1)
        previous = {"steps": [done[s.name] for s in STEPS if s.name in done],
                    "seconds": total if not args.only else previous.get("seconds"),
                    "smoke": args.smoke, "machine": machine.describe(),
                    "notes": args.note or previous.get("notes", []),
                    "date": time.strftime("%Y-%m-%d %H:%M %Z")}
        record.write_text(json.dumps(previous, indent=1))
        print(f"suite: {total} s", file=sys.stderr)
    if args.note:  # also with --render: notes about the run being rendered
        previous["notes"] = args.note
        record.write_text(json.dumps(previous, indent=1))
    target.write_text(results.render(previous, out, logs, smoke=args.smoke))
    print(f"wrote {target.relative_to(ROOT)}", file=sys.stderr)
    failed = [r["name"] for r in previous["steps"] if r.get("status") not in
              ("ok", "absent", "skipped")]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

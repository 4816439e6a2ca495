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

The 15-minute budget assumes compare_accuracy's per-photo caches (``.cache/bench/``, or
``$OWNFACE_BENCH_CACHE``) are filled:
the very first face-api.js pass over 3,811 photos takes ~10 min (TinyFaceDetector) to ~40 min
(SSD MobileNet v1, on a loaded machine). Fill them once with
``bench/compare_accuracy.py`` and ``bench/compare_accuracy.py --detector tiny`` (resumable).
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
# written by compare_accuracy (its cache)
EMBEDDINGS = Path(os.environ.get("OWNFACE_BENCH_CACHE", ROOT / ".cache" / "bench")
                  ) / "ownface-embeddings.npz"


@dataclass(frozen=True)
class Step:
    name: str
    script: str
    args: tuple[str, ...]
    smoke_args: tuple[str, ...] | None  # None: skipped in smoke mode
    json_flag: str  # how the script is told where to write its JSON
    timeout: int  # seconds

    def command(self, smoke: bool, out: Path) -> list[str]:
        args = self.smoke_args if smoke and self.smoke_args is not None else self.args
        return [sys.executable, f"bench/{self.script}", *args, self.json_flag,
                str(out / f"{self.name}.json")]


STEPS = (
    Step("startup", "startup.py", ("--runs", "2"), ("--runs", "1"), "--json", 240),
    Step("pipeline", "pipeline_speed.py", ("--frames", "20", "--repeats", "2"),
         ("--frames", "2", "--repeats", "1"), "--json", 300),
    Step("pipeline_pad", "pipeline_speed.py", ("--frames", "20", "--repeats", "2", "--pad"),
         ("--frames", "2", "--repeats", "1", "--pad"), "--json", 300),
    Step("app_latency", "app_latency.py", ("--runs", "3"), ("--runs", "1"), "--json", 300),
    Step("crypto_speed", "crypto_speed.py", ("--repeat", "10"), ("--repeat", "2"), "--out", 120),
    Step("compare_browser", "compare_browser.py", (), ("--smoke",), "--json", 300),
    Step("compare_browser_tiny", "compare_browser.py",
         ("--detector", "tiny", "--visits", "0", "--frames", "10", "--repeats", "2"), None,
         "--json", 240),
    Step("compare_accuracy", "compare_accuracy.py", (), ("--smoke",), "--json", 600),
    Step("compare_accuracy_tiny", "compare_accuracy.py", ("--detector", "tiny"), None,
         "--json", 600),
    Step("protection", "protection.py", ("measure", "--embeddings", str(EMBEDDINGS),
                                         "--decode-sample", "1000", "--link-pairs", "1000",
                                         "--attack-templates", "10"), None, "--out", 420),
    Step("server_load", "server_load.py", ("--seconds", "3", "--phase-requests", "1000"),
         ("--seconds", "1", "--phase-requests", "100", "--workers", "1", "--db", "sqlite"),
         "--out", 420),
    Step("limits", "limits.py", (), ("--smoke",), "--json", 300),
)


def run_step(step: Step, smoke: bool, out: Path, logs: Path) -> dict[str, Any]:
    cmd = step.command(smoke, out)
    shown = " ".join(["python", *cmd[1:]]).replace(str(ROOT) + "/", "")
    row: dict[str, Any] = {"name": step.name, "command": shown, "load_before": machine.load()}
    if not (ROOT / "bench" / step.script).is_file():
        return {**row, "status": "absent"}
    if smoke and step.smoke_args is None:
        return {**row, "status": "skipped", "reason": "not part of the smoke run"}
    if step.name == "protection" and not EMBEDDINGS.is_file():
        return {**row, "status": "skipped",
                "reason": f"{EMBEDDINGS} missing (bench/compare_accuracy.py writes it)"}
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
    args = parser.parse_args(argv)
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
            done[step.name] = run_step(step, args.smoke, out, logs)
            record.write_text(json.dumps({"steps": list(done.values())}, indent=1))
        total = round(time.monotonic() - started, 1)
        previous = {"steps": [done[s.name] for s in STEPS if s.name in done],
                    "seconds": total if not args.only else previous.get("seconds"),
                    "smoke": args.smoke, "machine": machine.describe(),
                    "date": time.strftime("%Y-%m-%d %H:%M %Z")}
        record.write_text(json.dumps(previous, indent=1))
        print(f"suite: {total} s", file=sys.stderr)
    target.write_text(results.render(previous, out, logs, smoke=args.smoke))
    print(f"wrote {target.relative_to(ROOT)}", file=sys.stderr)
    failed = [r["name"] for r in previous["steps"] if r.get("status") not in
              ("ok", "absent", "skipped")]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

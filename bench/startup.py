"""Startup of the in-browser stack: cold and warm visits in headless Chromium.

For each visit of the system-check page (``/check/``) it prints the time from navigation start
to "Python ready" (the first line of pyapp runs in the worker) and to "models ready" (all
face models downloaded, hash-checked and loaded into onnxruntime-web), and the bytes the
server actually sent (bodies as transferred, i.e. compressed, plus response headers).

* cold: a new, empty browser profile per visit;
* warm: a second visit with the same on-disk profile (HTTP cache and wasm code cache kept);
* password: a new profile opening the app and taking the password path (the app loads the
  face runtime only once the face path becomes likely): bytes only.

No request routing is used (it would disable the HTTP cache). Targets (issue 15): warm ready
<= 1.5 s, cold <= 3.0 s; the whole cold visit, face models included, <= 16 MB.

    .venv/bin/python bench/startup.py [--runs 3] [--json bench/out/startup.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server import assets, db, defaults  # noqa: E402
from server.app import create_app  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS, LiveServer, free_port  # noqa: E402
from tests.browser.screens import PASSWORD, submit  # noqa: E402


class ByteCounter:
    """ASGI middleware: counts every byte the server sends (headers + body as sent)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.bytes = 0
        self.responses = 0

    def reset(self) -> None:
        with self.lock:
            self.bytes = self.responses = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counting(message: Any) -> None:
            size = 0
            if message["type"] == "http.response.start":
                size = 17 + sum(len(k) + len(v) + 4 for k, v in message.get("headers", []))
                with self.lock:
                    self.responses += 1
            elif message["type"] == "http.response.body":
                size = len(message.get("body", b""))
            with self.lock:
                self.bytes += size
            await send(message)

        await self.app(scope, receive, counting)


def visit(playwright: Any, url: str, profile: Path, counter: ByteCounter) -> dict[str, float]:
    counter.reset()
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        context.on("requestfailed", lambda r: errors.append(f"{r.url}: {r.failure}"))
        page.goto(f"{url}/check/")
        try:
            page.wait_for_selector("html[data-models-ms]", state="attached", timeout=120_000)
        except Exception:
            print("page errors:", *errors, sep="\n", file=sys.stderr)
            raise
        root = page.locator("html")
        python_ms = float(root.get_attribute("data-python-ms") or "nan")
        models_ms = float(root.get_attribute("data-models-ms") or "nan")
        time.sleep(0.5)  # let trailing responses finish
    finally:
        context.close()
    return {"python_ready_ms": python_ms, "models_ready_ms": models_ms,
            "bytes": counter.bytes, "responses": counter.responses}


def password_visit(playwright: Any, url: str, profile: Path, counter: ByteCounter) -> int:
    """Bytes the server sends to a person who opens the app and creates a password."""
    counter.reset()
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
    try:
        page = context.new_page()
        page.goto(f"{url}/app/?site=demo&user=bench-password")
        page.click("#choose-password")
        page.click("details.create summary")
        page.fill("#new-password", PASSWORD)
        submit(page, "details.create button[type=submit]")
        time.sleep(0.5)
    finally:
        context.close()
    return counter.bytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "startup.json")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="ownface-startup-"))
    settings = Settings(data_dir=work / "data")
    assets.setup(settings, quiet=True)
    engine = db.make_engine(settings.database)
    db.migrate(engine)
    defaults.ensure_demo_site(engine, [])
    engine.dispose()
    counter = ByteCounter(create_app(settings))
    rows: list[dict[str, Any]] = []
    try:
        with LiveServer(counter, free_port()) as server, sync_playwright() as pw:
            for run in range(args.runs):
                profile = work / f"profile-{run}"
                cold = visit(pw, server.url, profile, counter)
                warm = visit(pw, server.url, profile, counter)
                rows += [{"visit": "cold", "run": run, **cold},
                         {"visit": "warm", "run": run, **warm}]
                rows.append({"visit": "password", "run": run, "python_ready_ms": math.nan,
                             "models_ready_ms": math.nan,
                             "bytes": password_visit(pw, server.url, work / f"pw-{run}", counter)})
                print(f"run {run}: cold {cold['python_ready_ms']:.0f} / "
                      f"{cold['models_ready_ms']:.0f} ms, {cold['bytes'] / 1e6:.2f} MB; "
                      f"warm {warm['python_ready_ms']:.0f} / {warm['models_ready_ms']:.0f} ms, "
                      f"{warm['bytes'] / 1e3:.1f} KB", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    summary = {}
    print(f"\n{'visit':<9} {'Python ready ms':>16} {'models ready ms':>16} {'transferred':>14}")
    for kind in ("cold", "warm", "password"):
        sel = [r for r in rows if r["visit"] == kind]
        med = {k: statistics.median(r[k] for r in sel)
               for k in ("python_ready_ms", "models_ready_ms", "bytes")}
        summary[kind] = med
        size = f"{med['bytes'] / 1e6:.2f} MB" if med["bytes"] > 1e6 else \
            f"{med['bytes'] / 1e3:.1f} KB"
        print(f"{kind:<9} {med['python_ready_ms']:>16.0f} {med['models_ready_ms']:>16.0f} "
              f"{size:>14}")
    load = os.getloadavg()
    print(f"(medians of {args.runs} runs, load average {load[0]:.1f} {load[1]:.1f}; targets: "
          "warm ready <= 1500 ms, cold <= 3000 ms, cold transfer <= 16 MB with the models)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"runs": rows, "median": summary, "load_average": load,
                                     "date": time.strftime("%Y-%m-%d %H:%M")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

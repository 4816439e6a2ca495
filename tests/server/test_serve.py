"""``ownface serve`` on a fresh data directory: the addresses it prints work the moment they
are printed (the first start used to say "Try it" while assets were still downloading)."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from server import assets
from tests.server.conftest import free_port
from tests.server.processes import ROOT


@pytest.mark.slow
def test_try_it_is_printed_when_it_is_true(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / assets.MANIFEST).write_text("{}")  # (--no-setup: nothing fetched)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OWNFACE_")}
    env.update({"OWNFACE_DATA_DIR": str(tmp_path / "data"),
                "OWNFACE_ASSETS_DIR": str(tmp_path / "assets"), "OWNFACE_LOG_LEVEL": "warning"})
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--no-setup",
                             "--port", str(port)], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    printed: list[str] = []
    answers: dict[str, int] = {}
    pending = ""
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stderr, selectors.EVENT_READ)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and "Try it" not in answers:
                if not selector.select(timeout=1):
                    assert proc.poll() is None, "\n".join(printed)
                    continue
                # os.read, not readline: a buffered reader can hold the next line back
                # while the selector sees an empty pipe
                chunk = os.read(proc.stderr.fileno(), 65536).decode()
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split("\n")
                for line in lines:
                    printed.append(line + "\n")
                    for label in ("is ready at", "Try it"):
                        if label in line:  # at once, as a person would click it
                            url = next(w for w in line.split() if w.startswith("http"))
                            answers[label] = httpx.get(url, timeout=5).status_code
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert answers == {"is ready at": 200, "Try it": 200}, "".join(printed)
    token_line = next(i for i, line in enumerate(printed) if "admin token" in line)
    ready_line = next(i for i, line in enumerate(printed) if "is ready at" in line)
    assert token_line < ready_line
    data, key = tmp_path / "data", tmp_path / "data-keys" / "server-key.json"
    assert (data.stat().st_mode & 0o077, key.stat().st_mode & 0o077) == (0, 0)
    assert not (data / "server-key.json").exists()

"""pyapp's own tests, run inside Pyodide (CPython 3.12 compiled to wasm) in real Chromium.

pyapp must behave the same in the browser as in CPython; this runs its test suite there,
with pytest installed by micropip from pinned local wheels.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from tests.browser.audit import NetworkAudit
from tests.browser.conftest import LiveServer
from tests.conftest import ROOT, _cpython_only_imports


@pytest.mark.browser
@pytest.mark.slow
def test_pyapp_suite_passes_inside_pyodide(live_server: LiveServer, browser: Any,
                                           audit: NetworkAudit) -> None:
    context = browser.new_context()
    audit.attach(context)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"console.{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"page error: {e}"))
    page.goto(f"{live_server.url}/_test/pyodide-tests.html")
    for _ in range(480):
        done = page.query_selector("#result[data-exit]")
        if done or any(c.startswith("page error") for c in console):
            break
        page.wait_for_timeout(1000)
    assert page.query_selector("#result[data-exit]"), "\n".join(["no result:", *console])
    log = page.text_content("#log") or ""
    exit_code = page.get_attribute("#result", "data-exit")
    context.close()
    print(log)
    assert exit_code == "0", f"pytest inside Pyodide failed:\n{log}"
    counts = outcome_counts(log)
    expected = expected_in_pyodide()
    # every test CPython collects from the same files ran there (or was skipped, saying why)
    assert counts.get("passed", 0) + counts.get("skipped", 0) == expected, (counts, expected)
    assert counts.get("skipped", 0) <= expected // 10, f"too many skipped inside Pyodide:\n{log}"
    audit.check()


def outcome_counts(log: str) -> dict[str, int]:
    """pytest's closing summary, e.g. '317 passed, 6 skipped in 80.1s', as numbers."""
    summary = [line for line in log.splitlines() if re.search(r" in [\d.]+s", line)]
    assert summary, f"no pytest summary in the Pyodide log:\n{log}"
    return {kind: int(n) for n, kind in re.findall(r"(\d+) (\w+)", summary[-1])}


def expected_in_pyodide() -> int:
    """The tests the in-browser run must account for: what CPython collects from
    tests/pyapp, without the modules that need CPython-only packages (left out there, by the
    same rule, tests/conftest.py)."""
    left_out = [path for path in sorted((ROOT / "tests" / "pyapp").rglob("test_*.py"))
                if _cpython_only_imports(path)]
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p",
                           "no:cacheprovider", "-o", "addopts=", "tests/pyapp",
                           *(f"--ignore={p.relative_to(ROOT)}" for p in left_out)],
                          cwd=ROOT, capture_output=True, text=True, check=True, timeout=300)
    found = re.search(r"(\d+) tests? collected", done.stdout)
    assert found, done.stdout[-2000:]
    return int(found.group(1))

"""pyapp's own tests, run inside Pyodide (CPython 3.12 compiled to wasm) in real Chromium.

pyapp must behave the same in the browser as in CPython; this runs its test suite there,
with pytest installed by micropip from pinned local wheels.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.audit import NetworkAudit
from tests.browser.conftest import LiveServer


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
    passed = re.search(r"(\d+) passed", log)
    assert passed and int(passed.group(1)) >= 10, f"too few tests ran inside Pyodide:\n{log}"
    audit.check()

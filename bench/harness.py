"""What the browser benchmarks share: a live OwnFace server with the test harness pages
(/_test/...: pipeline.html, crypto.html, raw frames), and Debian's Chromium."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from starlette.routing import Mount  # noqa: E402

from server import assets  # noqa: E402
from server.app import create_app  # noqa: E402
from server.settings import Settings  # noqa: E402
from server.static import StaticFiles  # noqa: E402
from tests.browser import conftest as harness  # noqa: E402


@contextmanager
def harness_server() -> Iterator[str]:
    """An OwnFace server with the harness pages mounted; yields its URL."""
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="ownface-bench-")))
    assets.setup(settings, quiet=True)
    app = create_app(settings)
    app.router.routes[0:0] = [*harness.test_routes(),
                              Mount("/_test", app=StaticFiles(harness.TEST_PAGES,
                                                              immutable=False,
                                                              render=app.state.page_values))]
    with harness.LiveServer(app, harness.free_port()) as server:
        yield server.url


def open_harness(pw: Any, url: str, page_name: str) -> tuple[Any, Any]:
    """Launch Chromium on ``/_test/<page_name>`` and wait until its worker is ready."""
    browser = pw.chromium.launch(executable_path=harness.CHROMIUM, headless=True,
                                 args=harness.CHROMIUM_FLAGS)
    page = browser.new_page()
    page.goto(f"{url}/_test/{page_name}")
    page.wait_for_selector("#state[data-ready]", state="attached", timeout=180_000)
    return browser, page

"""Browser fixtures: a live OwnFace server, Debian's Chromium, a fake camera, the network audit.

Chromium is driven by pytest-playwright with ``executable_path`` (Playwright cannot download
its own browser here). Its own background traffic is switched off and its DNS pinned to
loopback, so any request to another host shows up as a failed request in the audit.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from server import assets, db, defaults, keys, sites
from server.app import create_app
from server.demo import create_backend, fetch_jwks
from server.settings import ROOT, Settings
from server.shop import create_shop
from server.static import StaticFiles
from tests.browser.audit import NetworkAudit
from tests.browser.y4m import write_y4m

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TEST_PAGES = Path(__file__).with_name("pages")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """uvicorn serving ``app`` from a background thread."""

    def __init__(self, app: Any, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def server_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def demo_port() -> int:
    """The port of the example business page (another origin than the app)."""
    return free_port()


@pytest.fixture(scope="session")
def app_settings(tmp_path_factory: pytest.TempPathFactory, server_port: int,
                 demo_port: int) -> Settings:
    data = tmp_path_factory.mktemp("ownface-data")
    origin = f"http://127.0.0.1:{server_port}"
    # a face lock lasts 10 min here (30 s by default): a test that opens a new browser after
    # the lock, on a loaded machine, still meets it
    settings = Settings(data_dir=data, port=server_port, public_origin=origin,
                        extra={"base_delay": 600})
    assets.setup(settings, with_test=True, quiet=True)
    engine = db.make_engine(settings.database)
    db.migrate(engine)
    defaults.ensure_demo_site(engine, [origin, f"http://localhost:{demo_port}"])
    # Fake cameras play LFW photos: the app's flows are tested without the liveness check
    # (a passive check refuses about 1 bona fide burst in 60, which would make them flaky);
    # tests of the check make their own sites with it.
    sites.set_liveness(engine, defaults.DEMO_SITE, "off")
    engine.dispose()
    return settings


def pyodide_suite() -> list[str]:
    """The test files pyapp's in-browser run needs: tests/pyapp plus the shared conftest."""
    tests = ROOT / "tests"
    files = [tests / "__init__.py", tests / "conftest.py"]
    files += sorted(p for p in (tests / "pyapp").rglob("*") if p.is_file()
                    and "__pycache__" not in p.parts and p.suffix in {".py", ".json"})
    files += sorted(p for p in (ROOT / "models").iterdir()  # the manifest tests check them
                    if p.suffix in {".json", ".onnx", ".npz"})
    files += sorted((ROOT / "models" / "licences").iterdir())
    return [p.relative_to(ROOT).as_posix() for p in files]


SHOP_SITE = "shop"  # the Example Shop's site: enrolment tickets required
FRAMES: dict[str, bytes] = {}  # raw RGBA frames tests hand to in-browser harnesses


def test_routes() -> list[Any]:
    """Test-only routes: the in-Pyodide runner's files and raw frames for the harnesses."""

    async def listing(request: Request) -> Response:
        return JSONResponse({"files": pyodide_suite(), "args": ["tests/pyapp"]})

    async def file(request: Request) -> Response:
        path = request.path_params["path"]
        if path not in pyodide_suite():
            return Response(status_code=404)
        return Response((ROOT / path).read_bytes(), media_type="text/plain")

    async def frame(request: Request) -> Response:
        data = FRAMES.get(request.path_params["name"])
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="application/octet-stream")

    async def bench_file(request: Request) -> Response:
        path = ROOT / "bench" / request.path_params["name"]
        if path.suffix != ".py" or path.parent != ROOT / "bench" or not path.is_file():
            return Response(status_code=404)
        return Response(path.read_bytes(), media_type="text/plain")

    return [Route("/_test/files.json", listing), Route("/_test/files/{path:path}", file),
            Route("/_test/frames/{name}", frame), Route("/_test/bench/{name}", bench_file)]


@pytest.fixture(scope="session")
def live_server(app_settings: Settings) -> Iterator[LiveServer]:
    app = create_app(app_settings)
    # test-only pages, served through the same middleware (headers, CSP) as the real ones
    pages = Mount("/_test", app=StaticFiles(TEST_PAGES, immutable=False,
                                             render=app.state.page_values))
    app.router.routes[0:0] = [*test_routes(), pages]
    with LiveServer(app, app_settings.port) as server:
        yield server


@pytest.fixture(scope="session")
def shop(live_server: LiveServer, demo_port: int, app_settings: Settings) -> Iterator[str]:
    """The Example Shop on its own origin, for a site that requires enrolment tickets: every
    first face or password below goes through the ticket its page gives the widget."""
    shop_origin = f"http://localhost:{demo_port}"
    engine = db.make_engine(app_settings.database)
    sites.add_site(engine, SHOP_SITE, [live_server.url, shop_origin], enrol_tickets=True,
                   liveness="off")  # (fake cameras: see app_settings)
    for language, text in defaults.NOTICES.items():
        sites.set_notice(engine, SHOP_SITE, language, text)
    engine.dispose()
    backend = create_backend(SHOP_SITE, live_server.url,
                             lambda: fetch_jwks(live_server.url, SHOP_SITE))
    ticket_key = keys.load(app_settings).ticket_key(SHOP_SITE)
    with LiveServer(create_shop(live_server.url, SHOP_SITE, backend, ticket_key=ticket_key),
                    demo_port):
        yield shop_origin


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package "
                    "(apt-get install chromium); the README's test command does this.")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def camera_file(tmp_path_factory: pytest.TempPathFactory) -> Callable[[list[np.ndarray]], Path]:
    """Make a fake-camera file from 640x480 RGB frames."""
    folder = tmp_path_factory.mktemp("camera")
    counter = iter(range(10**6))

    def make(frames: list[np.ndarray]) -> Path:
        return write_y4m(folder / f"camera-{next(counter)}.y4m", frames, repeat=5)

    return make


@pytest.fixture
def launch_with_camera(browser_type: Any, browser_type_launch_args: dict[str, Any]
                       ) -> Iterator[Callable[..., Any]]:
    """Launch Chromium whose (fake) camera shows the given .y4m file."""
    launched: list[Any] = []

    def launch(camera: Path, extra: tuple[str, ...] = ()) -> Any:
        args = [*browser_type_launch_args["args"], "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={camera}", *extra]
        browser = browser_type.launch(**{**browser_type_launch_args, "args": args})
        launched.append(browser)
        return browser

    yield launch
    for browser in launched:
        browser.close()


@pytest.fixture
def audit() -> NetworkAudit:
    return NetworkAudit()


def photo_frame(photo: Path, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A camera-like RGB frame: the photo scaled to 3/4 of the frame height, centred on grey."""
    from PIL import Image

    width, height = size
    with Image.open(photo) as img:
        side = height * 3 // 4
        face = np.asarray(img.convert("RGB").resize((side, side), Image.BILINEAR))
    frame = np.full((height, width, 3), 96, dtype=np.uint8)
    top, left = (height - side) // 2, (width - side) // 2
    frame[top:top + side, left:left + side] = face
    return frame


__all__ = ["ROOT", "LiveServer", "photo_frame"]

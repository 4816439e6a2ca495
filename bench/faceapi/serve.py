"""The bench server: OwnFace's app plus the test harness and the face-api.js harness, in-process.

``bench_server()`` starts uvicorn on a free 127.0.0.1 port from a background thread (the
browser tests' ``LiveServer``) with, on top of ``server.app.create_app``:

* ``/_test/...``: the browser tests' harness (``tests/browser/pages``: pipeline.html runs
  pyapp's pipeline in a PyScript worker) and raw frames at ``/_test/frames/<name>``;
* ``/_bench/...``: the pages of this folder (face-api.js harness, onnxruntime-web peak page);
* ``/_bench/vendor/...``: the pinned face-api.js files (``bench/faceapi/assets.py``);
* ``/_bench/lfw/<i>``: the i-th LFW photo as a raw 640x480 RGBA frame, made on request with
  ``pyapp.face.frame.photo_frame`` (so thousands of frames need not sit in memory);
* ``/_bench/blob/<name>``: bytes a script registers (e.g. ONNX models for the peak page).

Every response goes through the app's own middleware, so the bench pages get exactly the
headers the app sends (cross-origin isolation and the strict CSP: face-api.js 1.7.15 and
TF.js's single-threaded wasm backend need no relaxation of it). One documented exception:
``/_bench/relaxed/...`` serves the same pages with ``blob:`` added to ``script-src``, because
TF.js's *threaded* wasm build starts its pthread workers with ``importScripts(blob:...)``; only
the optional multi-threaded face-api.js variant uses it. The whole app is wrapped in
``bench.startup.ByteCounter``, which counts the bytes the server sends.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from bench.faceapi import assets as faceapi_assets
from bench.startup import ByteCounter
from pyapp import host
from pyapp.face.frame import photo_frame
from server import assets
from server.app import create_app
from server.headers import CSP
from server.settings import Settings
from server.static import StaticFiles
from tests.browser import conftest as harness

PAGES = Path(__file__).resolve().parent
RELAXED_CSP = CSP.replace("script-src 'self' 'wasm-unsafe-eval'",
                          "script-src 'self' 'wasm-unsafe-eval' blob:")
FRAME_W, FRAME_H = 640, 480


@dataclass
class BenchServer:
    url: str
    counter: ByteCounter
    lfw: list[Path] = field(default_factory=list)  # /_bench/lfw/<i> serves lfw[i]
    blobs: dict[str, bytes] = field(default_factory=dict)  # /_bench/blob/<name>


def lfw_frame(path: Path) -> np.ndarray:
    """The 640x480 RGBA frame OwnFace's evaluation makes of an LFW photo."""
    return photo_frame(host.read_photo(path))


def add_frames(frames: dict[str, np.ndarray]) -> list[str]:
    """Serve ``frames`` at /_test/frames/<name> (for both harnesses); return their URLs."""
    for name, frame in frames.items():
        harness.FRAMES[name] = np.ascontiguousarray(frame).tobytes()
    return [f"/_test/frames/{name}" for name in frames]


class RelaxedCSP:
    """ASGI wrapper: sets :data:`RELAXED_CSP` (the app's middleware keeps a CSP already set)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def with_csp(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = RELAXED_CSP
            await send(message)

        await self.app(scope, receive, with_csp)


def _routes(state: BenchServer, page_values: Any) -> list[BaseRoute]:
    async def lfw(request: Request) -> Response:
        try:
            path = state.lfw[int(request.path_params["index"])]
        except (ValueError, IndexError):
            return Response(status_code=404)
        return Response(lfw_frame(path).tobytes(), media_type="application/octet-stream")

    async def blob(request: Request) -> Response:
        data = state.blobs.get(request.path_params["name"])
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="application/octet-stream")

    return [
        *harness.test_routes(),
        Mount("/_test", app=StaticFiles(harness.TEST_PAGES, immutable=False,
                                        render=page_values)),
        Route("/_bench/lfw/{index}", lfw),
        Route("/_bench/blob/{name}", blob),
        Mount("/_bench/vendor", app=StaticFiles(faceapi_assets.VENDOR, immutable=True)),
        Mount("/_bench/relaxed", app=RelaxedCSP(StaticFiles(
            PAGES, immutable=False, suffixes=(".html",), render=page_values))),
        Mount("/_bench", app=StaticFiles(PAGES, immutable=False, suffixes=(".html", ".js"),
                                         render=page_values)),
    ]


@contextmanager
def bench_server(data_dir: Path | None = None) -> Iterator[BenchServer]:
    """OwnFace + harnesses + face-api.js on a free loopback port, for the duration."""
    faceapi_assets.setup()
    settings = Settings(data_dir=data_dir or Path(tempfile.mkdtemp(prefix="ownface-bench-")))
    assets.setup(settings, quiet=True)
    app = create_app(settings)
    counter = ByteCounter(app)
    state = BenchServer("", counter)
    app.router.routes[0:0] = _routes(state, app.state.page_values)
    with harness.LiveServer(counter, harness.free_port()) as live:
        state.url = live.url
        yield state


def launch_args() -> dict[str, Any]:
    """Keyword arguments for Playwright's launch(): Debian's Chromium with the tests' flags."""
    return {"executable_path": harness.CHROMIUM, "headless": True,
            "args": harness.CHROMIUM_FLAGS}

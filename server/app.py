"""The application factory: ``create_app(settings) -> Starlette``.

Routes are explicit. The JSON API (``server.api``) is mounted under the protocol's prefix;
the web app and the hash-checked browser assets are served by ``server.static``; every
response passes through ``server.headers`` (isolation, CSP, permissions).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from pyapp.protocol import API_PREFIX
from server import api, assets, services
from server.headers import SecurityHeaders
from server.pages import AppPages
from server.settings import Settings
from server.static import StaticFiles


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    parts = api.build(settings)

    async def index(request: Request) -> Response:
        return RedirectResponse("/app/", status_code=307)

    page_values = _page_values(settings)
    routes: list[BaseRoute] = [
        Route("/", index),
        Mount(API_PREFIX, routes=parts.routes),
        *_app_pages(settings, parts, page_values),
        Mount("/assets", app=StaticFiles(settings.assets_dir, immutable=True), name="assets"),
        Mount("/", app=StaticFiles(settings.web_dir, immutable=False, exclude=("assets",),
                                   render=page_values), name="web"),
    ]
    middleware = [Middleware(SecurityHeaders, settings=settings), *parts.middleware]
    app = Starlette(routes=routes, middleware=middleware, lifespan=parts.lifespan,
                    exception_handlers={404: _not_found})
    app.state.settings = settings
    app.state.page_values = page_values
    return app


def _app_pages(settings: Settings, parts: api.ApiParts,
               page_values: Callable[[], dict[str, Any]]) -> list[BaseRoute]:
    if parts.store is None:
        return []
    return AppPages(settings.web_dir, services.build(parts.store), page_values,
                    settings.face_pipeline).routes()


def _page_values(settings: Settings) -> Callable[[], dict[str, Any]]:
    """Values for ``{{ name }}`` in HTML pages: the asset manifest, re-read when it changes."""
    cache: dict[str, Any] = {"mtime": None, "values": {}}

    def values() -> dict[str, Any]:
        path = settings.assets_dir / assets.MANIFEST
        mtime = path.stat().st_mtime_ns if path.is_file() else None
        if mtime != cache["mtime"]:
            manifest = assets.read_manifest(settings) if mtime else {}
            cache["values"] = {**manifest, "manifest": json.dumps(manifest)}
            cache["mtime"] = mtime
        return dict(cache["values"])

    return values


async def _not_found(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith(API_PREFIX):
        return JSONResponse({"error": "not_found", "message": "No such endpoint."}, 404)
    return Response("Not found", status_code=404, media_type="text/plain")

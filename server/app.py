"""The application factory: ``create_app(settings) -> Starlette``.

Routes are explicit. The JSON API (``server.api``) is mounted under the protocol's prefix;
the rendered pages (the home page, the app) come from ``server.pages``; the web app's files
and the hash-checked browser assets are served by ``server.static``; every response passes
through ``server.headers`` (isolation, CSP, permissions), and every request through
``server.clients`` (the real client address behind trusted proxies).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount

from pyapp.protocol import API_PREFIX
from server import api, assets, clients, services
from server.clients import ClientAddress
from server.headers import SecurityHeaders
from server.kiosk import KioskPages
from server.pages import AppPages
from server.settings import Settings
from server.static import StaticFiles


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    trusted = clients.parse_networks(settings.extra.get("trusted_proxies"))
    parts = api.build(settings)
    page_values = _page_values(settings)
    routes: list[BaseRoute] = [
        Mount(API_PREFIX, routes=parts.routes),
        *_app_pages(settings, parts, page_values),
        Mount("/assets", app=StaticFiles(settings.assets_dir, immutable=True), name="assets"),
        # (templates/ holds the Jinja sources of the rendered pages: not files to serve)
        Mount("/", app=StaticFiles(settings.web_dir, immutable=False,
                                   exclude=("assets", "templates"), render=page_values),
              name="web"),
    ]
    middleware = [Middleware(SecurityHeaders, settings=settings),
                  Middleware(ClientAddress, trusted=trusted), *parts.middleware]
    app = Starlette(routes=routes, middleware=middleware, lifespan=parts.lifespan,
                    exception_handlers={404: _not_found})
    app.state.settings = settings
    app.state.page_values = page_values
    return app


def _app_pages(settings: Settings, parts: api.ApiParts,
               page_values: Callable[[], dict[str, Any]]) -> list[BaseRoute]:
    if parts.store is None:
        return []
    return [*AppPages(settings.web_dir, services.build(parts.store), page_values,
                      settings.face_pipeline).routes(),
            *KioskPages(settings.web_dir, parts.store, page_values,
                        settings.face_pipeline).routes()]


def _page_values(settings: Settings) -> Callable[[], dict[str, Any]]:
    """Values for ``{{ name }}`` in HTML pages: the asset manifest, re-read when it changes."""
    cache: dict[str, Any] = {"mtime": None, "values": {}}

    def values() -> dict[str, Any]:
        path = settings.assets_dir / assets.MANIFEST
        mtime = path.stat().st_mtime_ns if path.is_file() else None
        if mtime != cache["mtime"]:
            manifest = assets.read_manifest(settings) if mtime else {}
            cache["values"] = {**manifest, "manifest": json.dumps(manifest),
                               "manifest_pad": json.dumps(assets.with_pad(manifest))}
            cache["mtime"] = mtime
        return dict(cache["values"])

    return values


async def _not_found(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith(API_PREFIX):
        return JSONResponse({"error": "not_found", "message": "No such endpoint."}, 404)
    return Response("Not found", status_code=404, media_type="text/plain")

"""The JSON API mounted at ``pyapp.protocol.API_PREFIX``.

``build(settings)`` returns the routes, middleware and lifespan the app factory wires in.
(Foundation stub: only ``/health``; the full API is built in the server issue.)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from server.settings import Settings


@dataclass
class ApiParts:
    routes: list[BaseRoute]
    middleware: list[Middleware] = field(default_factory=list)
    lifespan: Callable[[Any], contextlib.AbstractAsyncContextManager[None]] | None = None


def build(settings: Settings) -> ApiParts:
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield

    return ApiParts(routes=[Route("/health", health)], lifespan=lifespan)

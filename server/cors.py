"""The ASGI layer in front of the API paths: an early body-size cap, per-site CORS, and
direct dispatch of the POST endpoints.

CORS: a preflight carries no body, so no site name; it is answered for an origin that any
site allows (the set is re-read every few seconds), and the request itself is then checked
against the named site (``server.api.origin_for``; a challenge binds its origin into the
signed message). Responses to an allowed origin carry ``Access-Control-Allow-Origin`` with
that exact origin and ``Vary: Origin``; no credentials (cookies) are ever involved.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyapp.protocol import API_PREFIX, ERRORS, MAX_BODY_BYTES

if TYPE_CHECKING:
    from server.store import Store

_ORIGINS_SECONDS = 5.0


def _api(scope: Scope) -> bool:
    if scope["type"] != "http":
        return False
    path: str = scope.get("path", "")
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


async def _send_error(send: Send, code: str, extra: list[tuple[bytes, bytes]] | None = None
                      ) -> None:
    status, message = ERRORS[code]
    body = json.dumps({"v": 1, "error": code, "message": message}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store"),
               *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


Headers = list[tuple[bytes, bytes]]


class HotEndpoint(Protocol):
    async def handle(self, scope: Scope, receive: Receive, send: Send, extra: Headers
                     ) -> None: ...


class ApiGate:
    """Everything the API paths pass before their endpoint, in one ASGI layer.

    1. Body cap: 413 before reading a body whose declared length exceeds
       ``MAX_BODY_BYTES`` (400 for a declared length that is not a number).
    2. CORS: preflights answered (or refused with 403) for the origins any site allows;
       other responses to an allowed origin get ``Access-Control-Allow-Origin`` with that
       exact origin, and every response to a request with an ``Origin`` gets
       ``Vary: Origin``.
    3. Dispatch: a POST to one of ``posts`` (exact paths) goes straight to that endpoint,
       which adds the CORS headers itself; everything else goes on to the router.
    """

    def __init__(self, app: ASGIApp, store: Store,
                 posts: Mapping[str, HotEndpoint] | None = None) -> None:
        self.app = app
        self.store = store
        self.posts = dict(posts or {})
        self._origins: frozenset[str] = frozenset()
        self._read_at = -1e9

    def allowed(self, origin: str) -> bool:
        now = time.monotonic()
        if now - self._read_at > _ORIGINS_SECONDS:
            try:
                self._origins = self.store.all_origins()
            except Exception:  # tables not there yet (before migration): nothing allowed
                self._origins = frozenset()
            self._read_at = now
        return origin in self._origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _api(scope):
            await self.app(scope, receive, send)
            return
        origin_raw = None
        preflight = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    await _send_error(send, "bad_request")
                    return
                if size > MAX_BODY_BYTES:
                    await _send_error(send, "too_large", [(b"connection", b"close")])
                    return
            elif name == b"origin":
                origin_raw = value
            elif name == b"access-control-request-method":
                preflight = True
        extra: Headers = []
        if origin_raw is not None:
            ok = self.allowed(origin_raw.decode("latin-1"))
            vary = [(b"vary", b"Origin")]
            allow = [(b"access-control-allow-origin", origin_raw)] if ok else []
            if scope["method"] == "OPTIONS" and preflight:
                if not ok:
                    await _send_error(send, "origin_not_allowed", vary)
                    return
                await send({"type": "http.response.start", "status": 204, "headers": [
                    *allow, *vary, (b"access-control-allow-methods", b"GET, POST"),
                    (b"access-control-allow-headers", b"content-type, authorization"),
                    (b"access-control-max-age", b"600"), (b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
                return
            extra = [*allow, *vary]
        endpoint = self.posts.get(scope["path"]) if scope["method"] == "POST" else None
        if endpoint is not None:
            await endpoint.handle(scope, receive, send, extra)
            return
        if not extra:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_cors)

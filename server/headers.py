"""Security headers on every response: cross-origin isolation, a strict CSP, camera policy.

* ``Cross-Origin-Opener-Policy: same-origin`` + ``Cross-Origin-Embedder-Policy: require-corp``
  isolate the page, which gives Python's worker SharedArrayBuffer (synchronous DOM access)
  and onnxruntime-web its threads.
* The Content-Security-Policy names no origin but our own: every script, worker, model and
  wasm module is self-hosted. ``'wasm-unsafe-eval'`` lets the page compile WebAssembly;
  nothing allows ``eval`` of JavaScript strings.
* ``Permissions-Policy: camera=(self)``: only our own documents may ask for the camera.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.settings import Settings

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self' blob:",
    "connect-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    "style-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'self'",
])

BASE_HEADERS: Mapping[str, str] = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": CSP,
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=(), usb=()",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # (no-referrer would turn form posts' Origin into "null")
}


# Files other origins may load: the widget script, included by businesses' pages.
CROSS_ORIGIN_PATHS = ("/widget/",)


class SecurityHeaders:
    """Pure ASGI middleware: adds :data:`BASE_HEADERS` unless the app already set a header."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        shared = str(scope.get("path", "")).startswith(CROSS_ORIGIN_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if shared:  # the widget script is loaded by businesses' own pages
                    headers.setdefault("Cross-Origin-Resource-Policy", "cross-origin")
                for name, value in BASE_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)

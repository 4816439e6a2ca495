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
    """Pure ASGI middleware: adds :data:`BASE_HEADERS` unless the app already set a header.

    The raw header pairs are built once; per response only the names the app set itself are
    looked up (this runs on every request, the API's hot path included).
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.raw = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in BASE_HEADERS.items()]
        self.raw_shared = [(k, b"cross-origin" if k == b"cross-origin-resource-policy" else v)
                           for k, v in self.raw]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # the widget script is loaded by businesses' own pages
        extra = self.raw_shared if str(scope.get("path", "")).startswith(
            CROSS_ORIGIN_PATHS) else self.raw

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(pair for pair in extra if pair[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

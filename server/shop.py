"""The example business's page ("Example Shop"), served from its own origin.

It embeds the OwnFace widget and sends the assertion it gets to its own backend
(``server.demo.create_backend``), which checks it against the site's published keys. The
page is cross-origin isolated (COOP + COEP ``credentialless``) so that the OwnFace frame
inside it may be isolated too, which the app's Python worker needs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyapp import protocol
from pyapp.errors import ProtocolError

WEB = Path(__file__).resolve().parents[1] / "web" / "demo"
TICKET_TTL = 600  # seconds an enrolment ticket on the shop's page stays good


class ShopHeaders:
    def __init__(self, app: ASGIApp, ownface: str) -> None:
        self.app = app
        self.headers = {
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Embedder-Policy": "credentialless",
            "Content-Security-Policy": (
                f"default-src 'self'; script-src 'self' {ownface}; frame-src {ownface}; "
                "connect-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'"),
            "X-Content-Type-Options": "nosniff",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      *((k.lower().encode(), v.encode())
                                        for k, v in self.headers.items())]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


def create_shop(ownface: str, site: str, backend: Starlette, page_dir: Path = WEB,
                ticket_key: bytes | None = None,
                clock: Callable[[], float] = time.time) -> Callable[..., Any]:
    """The shop: its page at ``/``, its script and style, and the backend's ``/login``.

    With ``ticket_key`` (the site's, from ``ownface site ticket-key``) the page gives the
    widget an enrolment ticket for its user, so that a site requiring tickets lets that user
    set up a first face or password. A real shop does that only for its signed-in user; this
    demo trusts ``?user=``.
    """
    ownface = protocol.check_origin(ownface.rstrip("/"), "ownface")

    async def page(request: Request) -> Response:
        user = request.query_params.get("user", "alice")
        lang = request.query_params.get("lang")
        try:
            protocol.check_id(user, "user")
        except ProtocolError as exc:
            return HTMLResponse(escape(str(exc)), 400)
        lang_attr = f' lang="{escape(lang)}"' if lang in {"en", "zh"} else ""
        if ticket_key is not None:
            ticket = protocol.make_ticket(ticket_key, site, user, int(clock()) + TICKET_TTL)
            lang_attr += f' ticket="{ticket}"'  # base64url: nothing to escape
        html = (page_dir / "index.html").read_text(encoding="utf-8")
        for key, value in {"ownface": ownface, "site": escape(site), "user": escape(user),
                           "lang_attr": lang_attr}.items():
            html = html.replace("{{ " + key + " }}", value)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    def static(name: str, media_type: str) -> Route:
        async def serve(request: Request) -> Response:
            return FileResponse(page_dir / name, media_type=media_type)
        return Route(f"/{name}", serve)

    app = Starlette(routes=[Route("/", page), static("shop.js", "text/javascript"),
                            static("shop.css", "text/css"), Mount("/", app=backend)])
    return ShopHeaders(app, ownface)

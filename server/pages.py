"""The verification app's pages, rendered on the server so that they work at once.

``/app/?site=<site>&user=<user>`` shows the site's notice and the two equal choices (face or
password) immediately, in the person's language, with no JavaScript needed for the notice
or the password path: the password forms post here and are answered with a page. The face
path is Python in the browser (``pyapp.browser.app``), which takes over the same page once
it has loaded. ``embed=<origin>`` marks the page as the widget inside a business's page
(compact: the choice first, the notice one tap away); with ``popup=1`` it is that widget's
first-party pop-up instead (docs/widget.md), which hands its result to the frame through
``server.handoff``. ``/widget/widget.js`` is the business's script, with the widget's part
of the protocol (``protocol.widget_glue``) written into it.

An enrolment ticket never travels in a URL (query strings end up in access logs and
Referer headers): the widget puts it after the ``#``, which browsers do not send, the page's
glue moves it into the forms, and from there it travels in POST bodies only. A ticket in the
query is refused with a clear message.

``/`` says what this server is and links the demo, the check page and the docs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from pyapp import i18n, protocol
from pyapp.errors import ProtocolError, Refused
from server import theme
from server.settings import ROOT

DOCS_DIR = ROOT / "docs"

ACTIONS = ("auto", "enrol", "verify")
FORM = "application/x-www-form-urlencoded"
DEMO_SITE = "demo"
WIDGET_PLACEHOLDER = "/* protocol.widget_glue() */ {}"
DOCS = {"security.md": "what the protected templates protect, the threats, and the limits",
        "api.md": "the API, the storage, the limits and the keys",
        "widget.md": "embedding the widget in a business's page",
        "models.md": "the face models and their measured accuracy",
        "compliance.md": "each rule (CAC/MPS, PIPL, GDPR, BIPA), how OwnFace meets it, the test"}


@dataclass(frozen=True)
class Services:
    """What the pages need from the server's core (injected by the app factory)."""

    notice: Callable[[str, str | None], protocol.Notice]  # raises Refused
    origins: Callable[[str], list[str]]  # a site's allowed (embedding) origins
    has_site: Callable[[str], bool]
    password_verify: Callable[[protocol.PasswordVerify, str, str], protocol.Verified | None]
    password_set: Callable[[protocol.PasswordSet, str, str], protocol.PasswordSaved]


@dataclass(frozen=True)
class Context:
    site: str
    user: str
    lang: str
    action: str
    embed: str | None  # the embedding page's origin, when shown in the widget
    popup: bool = False  # the widget's first-party pop-up (the result goes to its frame)
    theme: tuple[tuple[str, str], ...] = ()  # checked theme values (none: the default look)
    ticket: str | None = None  # an enrolment ticket from the site's backend (new accounts)
    nonce: str | None = None  # the widget's nonce, carried through a form post (never a URL)

    @property
    def theme_query(self) -> str:
        return urlencode({f"theme-{k}": v for k, v in self.theme})

    @property
    def link_query(self) -> dict[str, str]:
        """The parameters that recreate this page in a link (never a ticket)."""
        values = {"site": self.site, "user": self.user, "lang": self.lang,
                  "action": self.action, **({"embed": self.embed} if self.embed else {}),
                  **({"popup": "1"} if self.popup else {})}
        return {**values, **{f"theme-{k}": v for k, v in self.theme}}

    @property
    def query(self) -> dict[str, str]:
        """The fields the page's forms post back (the ticket travels in their bodies)."""
        return {**self.link_query, **({"ticket": self.ticket} if self.ticket else {}),
                **({"nonce": self.nonce} if self.nonce else {})}

class AppPages:
    def __init__(self, web_dir: Path, services: Services,
                 page_values: Callable[[], dict[str, Any]], face_pipeline: str = "v2") -> None:
        self.services = services
        self.page_values = page_values
        self.face_pipeline = face_pipeline
        self.web_dir = web_dir
        self.env = Environment(loader=FileSystemLoader(web_dir / "templates"),
                               autoescape=select_autoescape(["html"]), trim_blocks=True,
                               lstrip_blocks=True)

    def routes(self) -> list[BaseRoute]:
        return [Route("/", self.home, methods=["GET"]),
                Route("/docs/{name}", self.doc, methods=["GET"]),
                Route("/app", self.redirect), Route("/app/", self.page, methods=["GET"]),
                Route("/app/password", self.password, methods=["POST"]),
                Route("/app/theme.css", self.theme_css, methods=["GET"]),
                Route("/widget/widget.js", self.widget_script, methods=["GET"])]

    async def widget_script(self, request: Request) -> Response:
        """The business's script, with the widget's part of the protocol written in."""
        text = (self.web_dir / "widget" / "widget.js").read_text(encoding="utf-8")
        text = text.replace(WIDGET_PLACEHOLDER, json.dumps(protocol.widget_glue()), 1)
        return Response(text, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})

    async def theme_css(self, request: Request) -> Response:
        return Response(theme.stylesheet(theme.parse(request.query_params)),
                        media_type="text/css; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=86400"})

    async def home(self, request: Request) -> Response:
        demo = await run_in_threadpool(self.services.has_site, DEMO_SITE)
        docs = [(name, what) for name, what in DOCS.items() if (DOCS_DIR / name).is_file()]
        html = self.env.get_template("index.html").render(demo=DEMO_SITE if demo else None,
                                                          docs=docs)
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    async def doc(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in DOCS or not (DOCS_DIR / name).is_file():
            return Response("Not found", status_code=404, media_type="text/plain")
        return Response((DOCS_DIR / name).read_text(encoding="utf-8"),
                        media_type="text/markdown; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})

    async def redirect(self, request: Request) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/app/{query}", status_code=307)

    # --- reading the request ------------------------------------------------------------------
    def context(self, values: Any, accept_language: str | None, form: bool = False
                ) -> Context:
        lang = i18n.choose(accept_language, values.get("lang"))
        site = protocol.check_id(values.get("site"), "site")
        user = protocol.check_id(values.get("user"), "user")
        action = values.get("action") or "auto"
        if action not in ACTIONS:
            raise ProtocolError("action", f"must be one of {', '.join(ACTIONS)}")
        embed = values.get("embed") or None
        if embed is not None:
            protocol.check_origin(embed, "embed")
            if embed not in self.services.origins(site):
                raise ProtocolError("embed", "this page may not be embedded there")
        popup = values.get("popup") or None
        if popup not in (None, "1") or (popup and embed is None):
            raise ProtocolError("popup", "must be 1, and only with embed")
        ticket = values.get("ticket") or None
        if ticket is not None and not form:
            raise ProtocolError("ticket", "belongs after the # of the address (...#ticket=...), "
                                          "never in its query, which servers log")
        if ticket is not None:
            protocol.b64decode(ticket, "ticket", protocol.TICKET_BYTES)
        nonce = values.get("nonce") or None if form and embed else None
        if nonce is not None and not protocol.WIDGET_NONCE.fullmatch(nonce):
            raise ProtocolError("nonce", "is not a widget nonce")
        return Context(site, user, lang, action, embed, bool(popup),
                       tuple(theme.parse(values).items()), ticket, nonce)

    # --- pages ---------------------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        try:
            ctx = self.context(request.query_params, request.headers.get("accept-language"))
            self.check_popup(request, ctx)
        except ProtocolError as exc:
            return self.problem(request, "bad_link", str(exc), 400)
        return await self.render(request, ctx, screen="choice")

    @staticmethod
    def check_popup(request: Request, ctx: Context) -> None:
        """A pop-up hands its result to whoever knows the secret after its ``#``: only an
        OwnFace page (the widget's frame) may open one, never another site's page, which
        would choose the secret itself and collect the person's assertion. Browsers say
        who started a navigation in ``Sec-Fetch-Site``, and scripts cannot change it."""
        if ctx.popup and request.headers.get("sec-fetch-site") != "same-origin":
            raise ProtocolError("popup", "opens only from the widget (use the business's page)")

    async def read_form(self, request: Request) -> dict[str, str]:
        """An HTML form post (urlencoded), size-capped like every other request body."""
        if request.headers.get("content-type", "").split(";")[0].strip() != FORM:
            raise ProtocolError("form", "must be an HTML form post")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > protocol.MAX_BODY_BYTES:
                raise ProtocolError("form", "is too large")
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                              max_num_fields=40, strict_parsing=False)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProtocolError("form", "is not a valid form") from exc
        return dict(pairs)

    async def password(self, request: Request) -> Response:
        try:
            form = await self.read_form(request)
        except ProtocolError as exc:
            return self.problem(request, "bad_link", str(exc), 400)
        try:
            ctx = self.context(form, request.headers.get("accept-language"), form=True)
            self.check_popup(request, ctx)
            kind = form.get("kind")
            if kind not in {"verify", "set"}:
                raise ProtocolError("kind", "must be verify or set")
        except ProtocolError as exc:
            return self.problem(request, "bad_link", str(exc), 400)
        password = str(form.get("password") or "")
        address = request.client.host if request.client else "unknown"
        origin = request.headers.get("origin") or ""
        sent = {"method": "POST", "path": "/app/password",
                "fields": ["site", "user", "password (hidden)"]}
        outcome: dict[str, Any] = {}
        try:
            if kind == "verify":
                req = protocol.PasswordVerify.parse(
                    {"v": protocol.VERSION, "site": ctx.site, "user": ctx.user,
                     "password": password})
                verified = await run_in_threadpool(self.services.password_verify, req,
                                                   address, origin)
                outcome = {"ok": verified is not None, "kind": "verify"}
                if verified is not None:
                    outcome["emit"] = {"type": "verified", "method": verified.method,
                                       "assertion": verified.assertion}
                    outcome["session"] = protocol.b64encode(verified.session)
            else:
                saved = protocol.PasswordSet.parse(
                    {"v": protocol.VERSION, "site": ctx.site, "user": ctx.user,
                     "password": password, **({"ticket": ctx.ticket} if ctx.ticket else {})})
                await run_in_threadpool(self.services.password_set, saved, address, origin)
                outcome = {"ok": True, "kind": "set"}
                # a new password signs its holder in: the business gets "verified" as well
                req = protocol.PasswordVerify.parse(
                    {"v": protocol.VERSION, "site": ctx.site, "user": ctx.user,
                     "password": password})
                verified = await run_in_threadpool(self.services.password_verify, req,
                                                   address, origin)
                if verified is not None:
                    outcome["emit"] = {"type": "verified", "method": verified.method,
                                       "assertion": verified.assertion}
                    outcome["session"] = protocol.b64encode(verified.session)
        except ProtocolError as exc:
            outcome = {"ok": False, "kind": kind, "problem": "weak", "why": str(exc),
                       "code": "bad_request"}
        except Refused as exc:
            problem = {"weak_password": "weak", "rate_limited": "too_many",
                       "ticket_required": "ticket"}.get(exc.code, "failed")
            outcome = {"ok": False, "kind": kind, "problem": problem, "why": str(exc),
                       "code": exc.code}
        return await self.render(request, ctx, screen="result", outcome=outcome, sent=[sent])

    def assets(self, liveness: str) -> dict[str, Any]:
        """The asset manifest for a page: the face path's early downloads include the
        presentation-attack models when the site checks liveness."""
        values = self.page_values()
        if liveness != "off" and "manifest_pad" in values:
            values["manifest"] = values["manifest_pad"]  # (made once per manifest: server/app)
        return values

    async def render(self, request: Request, ctx: Context, *, screen: str,
                     outcome: dict[str, Any] | None = None,
                     sent: list[dict[str, Any]] | None = None) -> Response:
        try:
            notice = await run_in_threadpool(self.services.notice, ctx.site, ctx.lang)
        except Refused as exc:
            if exc.code == "no_notice":  # no text in this language: the site's first one
                notice = await run_in_threadpool(self.services.notice, ctx.site, None)
            else:
                return self.problem(request, "unknown_site", "", 404)
        other = "zh" if ctx.lang == "en" else "en"
        switch = "?" + urlencode({**ctx.link_query, "lang": other})

        def t(key: str, **values: object) -> str:
            return i18n.text(ctx.lang, key, **values)

        html = self.env.get_template("app.html").render(
            t=t, ctx=ctx, notice=notice, screen=screen, outcome=outcome or {},
            sent=sent or [], switch=switch, assets=self.assets(notice.liveness),
            template_key=protocol.device_template_key(ctx.site, ctx.user),
            app_data=json.dumps({"site": ctx.site, "user": ctx.user, "lang": ctx.lang,
                                 "action": ctx.action, "embed": ctx.embed,
                                 "ticket": ctx.ticket,
                                 "notice_version": notice.version,
                                 "notice_sha256": notice.sha256,
                                 "notice_language": notice.language,
                                 "mode": notice.storage_mode,
                                 "pipeline": self.face_pipeline,
                                 "liveness": notice.liveness}),
            widget_data=json.dumps({**protocol.widget_glue(), "popup": ctx.popup,
                                    "given": ctx.nonce})
            if ctx.embed else None,
            other_language=i18n.text(other, "language_name"))
        return HTMLResponse(html, headers=self.frame_headers(ctx))

    def frame_headers(self, ctx: Context) -> dict[str, str]:
        """The widget may be framed only by the site's own origins (not by anyone else)."""
        headers = {"Cache-Control": "no-store"}
        if ctx.embed:
            from server.headers import CSP
            ancestors = " ".join(self.services.origins(ctx.site))
            headers["Content-Security-Policy"] = CSP.replace(
                "frame-ancestors 'self'", f"frame-ancestors 'self' {ancestors}")
            headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        return headers

    def problem(self, request: Request, key: str, what: str, status: int) -> Response:
        lang = i18n.choose(request.headers.get("accept-language"),
                           request.query_params.get("lang"))
        html = self.env.get_template("problem.html").render(
            lang=lang, title=i18n.text(lang, "title"), message=i18n.text(lang, key, what=what))
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

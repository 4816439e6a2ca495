"""The kiosk's pages: ``/kiosk/?site=NAME`` (the app for a shared device at a front desk or a
gate, ``pyapp.browser.kiosk``), ``/kiosk/notice?site=NAME`` (the notice and the alternative,
where a sign's QR code leads) and ``/kiosk/sign?site=NAME&size=a4|a3|card`` (a printable
sign, ``server.signage``).

The kiosk page is rendered on the server with the site's notice, its kiosk settings
(``server.desk``: how people say who they are, the alternative), its PAD policy and its
idle timeout in the page's context; Python in the browser does the rest. A kiosk is
provisioned once with ``#kiosk=<token>`` (``ownface site kiosk-token NAME``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from pyapp import i18n, protocol
from pyapp.errors import ProtocolError, Refused
from server import consent, desk, report, signage
from server.store import Store

IDLE_RANGE = (5, 600)  # seconds a kiosk may be configured to wait (?idle=)


class KioskPages:
    def __init__(self, web_dir: Path, store: Store, page_values: Callable[[], dict[str, Any]],
                 face_pipeline: str = "v2") -> None:
        self.store = store
        self.page_values = page_values
        self.face_pipeline = face_pipeline
        self.env = Environment(loader=FileSystemLoader(web_dir / "templates"),
                               autoescape=select_autoescape(["html"]), trim_blocks=True,
                               lstrip_blocks=True)

    def routes(self) -> list[BaseRoute]:
        return [Route("/kiosk", self.redirect), Route("/kiosk/", self.page, methods=["GET"]),
                Route("/kiosk/notice", self.notice, methods=["GET"]),
                Route("/kiosk/sign", self.sign, methods=["GET"])]

    async def redirect(self, request: Request) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/kiosk/{query}", status_code=307)

    def facts(self, name: str, lang: str) -> dict[str, Any]:
        """What the kiosk, its notice page and its signs say about a site (one read)."""
        site = self.store.site(name)
        try:
            notice = consent.notice(self.store, site.name, lang)
        except Refused:
            notice = consent.notice(self.store, site.name, None)
        settings = desk.settings(self.store.engine, site.id)
        with self.store.engine.connect() as conn:
            pad = report.pad_policy(conn, site)
            conn.rollback()
        return {"site": site, "notice": notice, "settings": settings, "liveness": pad}

    @staticmethod
    def language(request: Request) -> str:
        return i18n.choose(request.headers.get("accept-language"),
                           request.query_params.get("lang"))

    async def page(self, request: Request) -> Response:
        lang = self.language(request)
        try:
            name = protocol.check_id(request.query_params.get("site"), "site")
            idle = int(request.query_params.get("idle") or protocol.KIOSK_IDLE_SECONDS)
            if not IDLE_RANGE[0] <= idle <= IDLE_RANGE[1]:
                raise ProtocolError("idle", f"must be {IDLE_RANGE[0]} to {IDLE_RANGE[1]}")
            facts = await run_in_threadpool(self.facts, name, lang)
        except ValueError as exc:  # ProtocolError, or an idle that is not a number
            return self.problem(lang, "bad_link", str(exc), 400)
        except Refused:
            return self.problem(lang, "unknown_site", "", 404)
        notice, settings = facts["notice"], facts["settings"]
        if notice.storage_mode != "portable":  # a kiosk needs the helpers kept for it
            return self.problem(lang, "kiosk_not_portable", name, 409)
        context = {"site": name, "lang": lang, "notice_version": notice.version,
                   "notice_sha256": notice.sha256, "notice_language": notice.language,
                   "mode": notice.storage_mode, "pipeline": self.face_pipeline,
                   "identity": settings.identity, "alternative": settings.alternative,
                   "liveness": facts["liveness"], "idle_seconds": idle}
        other = "zh" if lang == "en" else "en"
        html = self.env.get_template("kiosk.html").render(
            t=lambda key, **v: i18n.text(lang, key, **v), lang=lang, site=name,
            notice=notice, settings=settings, assets=self.page_values(),
            kiosk_data=json.dumps(context), idle=idle,
            switch="?" + urlencode({"site": name, "lang": other}),
            other_language=i18n.text(other, "language_name"))
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def notice(self, request: Request) -> Response:
        return await self.printed(request, "notice")

    async def sign(self, request: Request) -> Response:
        return await self.printed(request, request.query_params.get("size", "a4"))

    async def printed(self, request: Request, size: str) -> Response:
        """A sign (``size`` in signage.SIZES) or the notice page its QR code leads to."""
        lang = self.language(request)
        try:
            name = protocol.check_id(request.query_params.get("site"), "site")
            if size not in (*signage.SIZES, "notice"):
                raise ProtocolError("size", f"must be one of {', '.join(signage.SIZES)}")
            facts = await run_in_threadpool(self.facts, name, lang)
        except ProtocolError as exc:
            return self.problem(lang, "bad_link", str(exc), 400)
        except Refused:
            return self.problem(lang, "unknown_site", "", 404)
        base = self.store.public_origin or f"{request.url.scheme}://{request.url.netloc}"
        url = "" if size == "notice" else signage.notice_url(base, name, lang)
        html = signage.render(self.env, facts, lang, size, url)
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    def problem(self, lang: str, key: str, what: str, status: int) -> Response:
        html = self.env.get_template("problem.html").render(
            lang=lang, title=i18n.text(lang, "kiosk_title"),
            message=i18n.text(lang, key, what=what))
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

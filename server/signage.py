"""Signs for the places a site uses facial recognition (``ownface site signage NAME``, and
``/kiosk/sign?site=NAME&size=a4|a3|card``): A4 and A3 portrait signs and a counter card, in
English and Simplified Chinese, made from the site's own facts: who runs it, what for, that
the face is processed on the kiosk or the person's device, what is kept and for how long
(the site's retention), and how to decline (the site's kiosk alternative), with a QR code to
the notice page (``/kiosk/notice``) where the full notice and the alternative are.

Each is one HTML page with print CSS (``@page`` size and margins): print it from any
browser, or render it to PDF (``bench/screenshots.py`` and the tests do, in Chromium). The QR
code is drawn by segno (a maintained QR library) as inline SVG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import segno
from jinja2 import Environment
from markupsafe import Markup

from pyapp import i18n

SIZES = ("a4", "a3", "card")


def notice_url(base: str, site: str, lang: str) -> str:
    """Where a sign's QR code leads: the site's notice and alternative, in the sign's
    language."""
    return f"{base.rstrip('/')}/kiosk/notice?{urlencode({'site': site, 'lang': lang})}"


def qr_svg(url: str) -> Markup:
    """The QR code of ``url`` as inline SVG (error correction M at least; segno raises it
    when the version allows), scaled by the page's CSS."""
    code = segno.make(url, error="m", micro=False)
    svg = code.svg_inline(scale=1, border=4, dark="#000", light="#fff", omitsize=True)
    return Markup(svg.replace("<svg ", '<svg role="img" aria-hidden="true" ', 1))  # noqa: S704


def render(env: Environment, facts: dict[str, Any], lang: str, size: str, url: str,
           inline_css: str = "") -> str:
    """One sign (``size`` in SIZES) or the notice page (``size="notice"``); a file written
    for printing carries its stylesheet inline (``inline_css``), a served page links it."""
    settings, notice = facts["settings"], facts["notice"]

    def t(key: str, **values: object) -> str:
        return i18n.text(lang, key, **values)

    alternative = t("sign_alt_code" if settings.alternative == "code" else "sign_alt_staff")
    return env.get_template("sign.html").render(
        t=t, lang=lang, size=size, site=facts["site"].name, notice=notice,
        days=settings.retention_days, alternative=alternative, url=url,
        qr=qr_svg(url) if url else "", liveness=facts["liveness"],
        inline_css=Markup(inline_css))  # noqa: S704 (our own stylesheet file)


def write_all(env: Environment, facts_of: Any, site: str, base: str, out: Path,
              css: Path) -> list[Path]:
    """Every sign of a site, both languages, into ``out`` (standalone files: the
    stylesheet inline); returns the files."""
    out.mkdir(parents=True, exist_ok=True)
    inline = css.read_text(encoding="utf-8")
    written = []
    for lang in i18n.LANGUAGES:
        facts = facts_of(site, lang)
        for size in SIZES:
            path = out / f"{site}-{size}-{lang}.html"
            path.write_text(render(env, facts, lang, size, notice_url(base, site, lang),
                                   inline), encoding="utf-8")
            written.append(path)
    return written


def main(name: str, out: Path, base: str | None) -> list[Path]:
    """``ownface site signage NAME [--out DIR] [--base URL]`` (called by server.sites)."""
    from server import db, keys
    from server.kiosk import KioskPages
    from server.settings import Settings
    from server.store import Store

    settings = Settings.from_env()
    base = base or settings.public_origin
    if not base:
        raise ValueError("give --base https://your.server (the address the QR code leads to)")
    engine = db.make_engine(settings.database)
    try:
        store = Store(engine=engine, keys=keys.load(settings), issuer="ownface")
        pages = KioskPages(settings.web_dir, store, dict)
        return write_all(pages.env, pages.facts, name, base, out,
                         settings.web_dir / "kiosk" / "sign.css")
    finally:
        engine.dispose()

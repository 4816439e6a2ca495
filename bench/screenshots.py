"""A picture of every screen of the app, in English and in Chinese, on a laptop (1280x900)
and a phone (390x844), plus the widget on the Example Shop page:
bench/out/screens/<lang>-<laptop|phone>-<screen>.png; the kiosk's screens on a 1080p
landscape display and a portrait tablet (<lang>-kiosk-<viewport>-<screen>.png), and the
printed signs (<lang>-sign-<size>.png and .pdf).

Runs its own server (a fresh data folder, the demo site) and the Example Shop on another
origin, drives headless Chromium with a fake camera (a frame with no face, then real LFW
photos of one person, then a phone screen showing one held up to the camera), and writes one
PNG per screen.

    .venv/bin/python bench/screenshots.py [--out bench/out/screens]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyapp import host  # noqa: E402
from pyapp.face.frame import photo_frame  # noqa: E402
from server import assets, db, defaults  # noqa: E402
from server.app import create_app  # noqa: E402
from server.demo import create_backend, fetch_jwks  # noqa: E402
from server.settings import Settings  # noqa: E402
from server.shop import create_shop  # noqa: E402
from server.signage import SIZES  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS, LiveServer, free_port  # noqa: E402
from tests.browser.screens import (  # noqa: E402
    WIDGET_SIZES,
    add_pad_site,
    attack_frame,
    walk_face,
    walk_pages,
    walk_refused,
    walk_widget,
)
from tests.browser.y4m import write_y4m  # noqa: E402
from tests.conftest import SHARED_DATA  # noqa: E402

VIEWPORTS = {"laptop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
from tests.browser.desk import DeskSite, desk_site  # noqa: E402

LFW = Path(os.environ.get("OWNFACE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "lfw-dev"
KIOSK_VIEWPORTS = {"landscape": (1920, 1080), "portrait": (800, 1280)}


def kiosk_screens(b: Any, origin: str, site: DeskSite, lang: str, at: Any, out: Path
                  ) -> None:
    """The kiosk's screens (no face needed) and the signs, in one language."""
    for name, (width, height) in KIOSK_VIEWPORTS.items():
        page = b.new_page(viewport={"width": width, "height": height})
        page.goto(f"{origin}/kiosk/?site={site.name}&lang={lang}#kiosk={site.kiosk}")
        page.wait_for_selector("#ownface-kiosk[data-ready='1']", state="attached",
                               timeout=240_000)

        def shot(screen: str, page: Any = page, name: str = name) -> None:
            page.wait_for_selector(f"#ownface-kiosk[data-screen='{screen}']", state="attached")
            at(f"kiosk-{name}-{screen}", page)

        shot("k-start")
        page.click("#k-face")
        page.fill("#k-room", "1203")
        page.fill("#k-name", "Li Wei")
        shot("k-who")
        page.click("#k-who-form button[type=submit]")
        shot("k-consent")
        page.click("#k-cancel-consent")
        page.click("#k-alt")
        page.fill("#k-room", "1203")
        page.fill("#k-name", "Li Wei")
        page.click("#k-who-form button[type=submit]")
        shot("k-code")
        page.fill("#k-code-input", "WRONGCODE")
        page.click("#k-code-form button[type=submit]")
        page.wait_for_selector("#face-result[data-outcome]", state="attached")
        shot("k-result")
        page.click("#k-done")
        page.click("#k-enrol")
        shot("k-staff")
        page.close()
    page = b.new_page()
    for size in SIZES:
        page.goto(f"{origin}/kiosk/sign?site={site.name}&size={size}&lang={lang}")
        at(f"sign-{size}", page)
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        (out / f"{lang}-sign-{size}.pdf").write_bytes(pdf)
    page.close()
LFW = SHARED_DATA / "lfw-dev"  # (OWNFACE_SHARED_DATA, as the tests read it)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "screens")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ownface-screens-"))
    port, shop_port = free_port(), free_port()
    origin, shop_origin = f"http://127.0.0.1:{port}", f"http://localhost:{shop_port}"
    settings = Settings(data_dir=work, port=port, public_origin=origin)
    assets.setup(settings, quiet=True)
    engine = db.make_engine(settings.database)
    db.migrate(engine)
    defaults.ensure_demo_site(engine, [origin, shop_origin])
    add_pad_site(engine, [origin])
    engine.dispose()
    front = desk_site(settings, "front")
    grey = write_y4m(work / "grey.y4m", [np.full((480, 640, 3), 128, np.uint8)])
    photos = sorted((LFW / "images" / "Tony_Blair").glob("*.jpg"))[:4]
    person = write_y4m(work / "person.y4m",
                       [photo_frame(host.read_photo(p)) for p in photos], repeat=3)
    attack = write_y4m(work / "attack.y4m", [attack_frame(LFW)]) if (LFW / "images").is_dir() \
        else None
    written: list[Path] = []

    def shoot(lang: str) -> Any:
        def at(name: str, page: Any) -> None:
            path = args.out / f"{lang}-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            written.append(path)
        return at

    backend = create_backend("demo", origin, lambda: fetch_jwks(origin, "demo"))
    with LiveServer(create_app(settings), port), \
            LiveServer(create_shop(origin, "demo", backend), shop_port), \
            sync_playwright() as pw:
        def browser(camera: Path, *extra: str) -> Any:
            return pw.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=[*CHROMIUM_FLAGS, "--use-fake-ui-for-media-stream",
                      "--use-fake-device-for-media-stream",
                      f"--use-file-for-fake-video-capture={camera}", *extra])

        for lang, (vp, viewport) in [(lang, vp) for lang in ("en", "zh")
                                     for vp in VIEWPORTS.items()]:
            at, who = shoot(f"{lang}-{vp}"), f"{lang}-{vp}"
            b = browser(grey)
            page = b.new_page(viewport=viewport)
            walk_pages(origin, lang, f"screens-{who}", page, at)
            walk_face(origin, lang, f"screens-face-{who}", page, at, faceless=True)
            b.close()
            if attack is not None:
                b = browser(person)
                page = b.new_page(viewport=viewport)
                walk_face(origin, lang, f"screens-face-{who}", page, at, faceless=False)
                b.close()
                b = browser(attack)
                walk_refused(origin, lang, f"screens-attack-{who}", b.new_page(viewport=viewport),
                             at)
                b.close()
            b = browser(grey)
            kiosk_screens(b, origin, front, lang, shoot(lang), args.out)
            b.close()
            b = browser(grey, "--disable-features=TrackingProtection3pcd")
            page = b.new_page(viewport={"width": 1000, "height": 1100})
            page.goto(f"{shop_origin}/?user=shop-{lang}&lang={lang}")
            page.frame_locator("ownface-verify iframe").locator("#choose-face").wait_for()
            page.wait_for_timeout(1500)
            shoot(lang)("widget-in-shop", page)
            b = browser(grey)  # Chromium's default settings: the frame offers the pop-up
            context = b.new_context()
            picture = shoot(lang)
            for size in WIDGET_SIZES:
                walk_widget(origin, shop_origin, lang, f"shop-{lang}-{size}", context, size,
                            lambda name, page, _document, at=picture: at(name, page))
            b.close()
    for path in written:
        print(path.relative_to(ROOT))
    print(f"{len(written)} screenshots in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

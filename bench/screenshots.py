"""A picture of every screen of the app, in English and in Chinese, plus the widget on the
Example Shop page: bench/out/screens/<lang>-<screen>.png.

Runs its own server (a fresh data folder, the demo site) and the Example Shop on another
origin, drives headless Chromium with a fake camera (a frame with no face, then real LFW
photos of one person), and writes one PNG per screen.

    .venv/bin/python bench/screenshots.py [--out bench/out/screens]
"""

from __future__ import annotations

import argparse
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
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS, LiveServer, free_port  # noqa: E402
from tests.browser.screens import (  # noqa: E402
    WIDGET_SIZES,
    walk_face,
    walk_pages,
    walk_widget,
)
from tests.browser.y4m import write_y4m  # noqa: E402
from tests.conftest import SHARED_DATA  # noqa: E402

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
    engine.dispose()
    grey = write_y4m(work / "grey.y4m", [np.full((480, 640, 3), 128, np.uint8)])
    photos = sorted((LFW / "images" / "Tony_Blair").glob("*.jpg"))[:4]
    person = write_y4m(work / "person.y4m",
                       [photo_frame(host.read_photo(p)) for p in photos], repeat=3)
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

        for lang in ("en", "zh"):
            b = browser(grey)
            page = b.new_page(viewport={"width": 800, "height": 900})
            walk_pages(origin, lang, f"screens-{lang}", page, shoot(lang))
            walk_face(origin, lang, f"screens-face-{lang}", page, shoot(lang), faceless=True)
            b.close()
            if (LFW / "images").is_dir():
                b = browser(person)
                page = b.new_page(viewport={"width": 800, "height": 900})
                walk_face(origin, lang, f"screens-face-{lang}", page, shoot(lang),
                          faceless=False)
                b.close()
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

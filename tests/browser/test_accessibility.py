"""axe-core (pinned, from npm) finds no serious or critical violation on any screen of the
app, in English and in Chinese (WCAG 2.0/2.1/2.2 A and AA rules)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pyapp import host
from pyapp.face.frame import photo_frame
from server import assets, db
from server.settings import Settings
from tests.browser.audit import NetworkAudit
from tests.browser.conftest import LiveServer
from tests.browser.screens import (
    WIDGET_SIZES,
    add_pad_site,
    attack_frame,
    walk_face,
    walk_pages,
    walk_refused,
    walk_widget,
)

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, { runOnly: { type: "tag", values: tags } });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ` +
      v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; "));
}"""


def axe_source(settings: Settings) -> str:
    source = next(s for s in assets.load_lock() if s.package == "axe-core")
    return (settings.assets_dir / source.dest / "axe.min.js").read_text(encoding="utf-8")


def checker(settings: Settings, found: dict[str, list[str]], lang: str
            ) -> Callable[[str, Any], None]:
    source = axe_source(settings)

    def at(name: str, page: Any) -> None:
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(source)  # through the debugger protocol: the page's CSP is untouched
        found[f"{lang}/{name}"] = page.evaluate(RUN_AXE, TAGS)

    return at


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_screens_without_camera(live_server: LiveServer, browser: Any, app_settings: Settings,
                                audit: NetworkAudit, lang: str) -> None:
    found: dict[str, list[str]] = {}
    context = browser.new_context()
    audit.attach(context)
    walk_pages(live_server.url, lang, f"axe-{lang}", context.new_page(),
               checker(app_settings, found, lang))
    context.close()
    assert len(found) == 11
    assert {k: v for k, v in found.items() if v} == {}
    audit.check()


@pytest.mark.browser
@pytest.mark.data
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_face_screens(live_server: LiveServer, launch_with_camera: Callable[..., Any],
                      camera_file: Callable[[list[np.ndarray]], Path], lfw_dir: Path,
                      app_settings: Settings, audit: NetworkAudit, lang: str) -> None:
    found: dict[str, list[str]] = {}
    grey = launch_with_camera(camera_file([np.full((480, 640, 3), 128, np.uint8)]))
    context = grey.new_context()
    audit.attach(context)
    walk_face(live_server.url, lang, f"axe-face-{lang}", context.new_page(),
              checker(app_settings, found, lang), faceless=True)
    photos = sorted((lfw_dir / "images" / "Tony_Blair").glob("*.jpg"))[:4]
    person = launch_with_camera(camera_file([photo_frame(host.read_photo(p)) for p in photos]))
    context = person.new_context()
    audit.attach(context)
    walk_face(live_server.url, lang, f"axe-face-{lang}", context.new_page(),
              checker(app_settings, found, lang), faceless=False)
    engine = db.make_engine(app_settings.database)
    add_pad_site(engine, [live_server.url])
    engine.dispose()
    attack = launch_with_camera(camera_file([attack_frame(lfw_dir)]))
    context = attack.new_context()
    audit.attach(context)
    walk_refused(live_server.url, lang, f"axe-attack-{lang}", context.new_page(),
                 checker(app_settings, found, lang))
    assert len(found) == 9
    assert {k: v for k, v in found.items() if v} == {}
    audit.check()


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_widget_screens(live_server: LiveServer, shop: str, browser: Any,
                        app_settings: Settings, audit: NetworkAudit, lang: str) -> None:
    """The widget in a business's page (the Example Shop) at 360 and 1280 px, and its
    pop-up: axe in the OwnFace documents, and nothing wider than the phone."""
    found: dict[str, list[str]] = {}
    axe = checker(app_settings, found, lang)
    too_wide: list[str] = []

    def at(name: str, page: Any, document: Any) -> None:
        axe(name, document)
        if document.evaluate("document.documentElement.scrollWidth > "
                             "document.documentElement.clientWidth"):
            too_wide.append(name)

    context = browser.new_context()
    audit.attach(context)
    for size in WIDGET_SIZES:
        walk_widget(live_server.url, shop, lang, f"axe-widget-{lang}-{size}", context,
                    size, at)
    context.close()
    assert len(found) == 5 * len(WIDGET_SIZES)
    assert {k: v for k, v in found.items() if v} == {}
    assert too_wide == []
    audit.check()

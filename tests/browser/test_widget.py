"""The widget on a business's own page (another origin): embed, verify, and the business's
backend checks the signed assertion. Where the browser denies storage to embedded frames,
the widget says so, emits ``fallback``, and the password path still works inside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pyapp import host
from pyapp.face.frame import photo_frame
from server import db, defaults, keys, sites
from server.demo import create_backend, fetch_jwks
from server.settings import Settings
from server.shop import create_shop
from tests.browser.audit import NetworkAudit
from tests.browser.conftest import LiveServer

# Chromium here ships "third-party cookie deprecation", which also denies storage to frames
# of other sites. Browsers that allow it (Chrome's default today) are what this flag gives.
ALLOW_FRAME_STORAGE = ("--disable-features=TrackingProtection3pcd",)
SHOP_SITE = "shop"


@pytest.fixture(scope="module")
def shop(live_server: LiveServer, demo_port: int, app_settings: Settings) -> Iterator[str]:
    """The Example Shop on its own origin, for a site that requires enrolment tickets: every
    first face or password below goes through the ticket its page gives the widget."""
    shop_origin = f"http://localhost:{demo_port}"
    engine = db.make_engine(app_settings.database)
    sites.add_site(engine, SHOP_SITE, [live_server.url, shop_origin], enrol_tickets=True,
                   liveness="off")  # (fake cameras: see conftest.app_settings)
    for language, text in defaults.NOTICES.items():
        sites.set_notice(engine, SHOP_SITE, language, text)
    engine.dispose()
    backend = create_backend(SHOP_SITE, live_server.url,
                             lambda: fetch_jwks(live_server.url, SHOP_SITE))
    ticket_key = keys.load(app_settings).ticket_key(SHOP_SITE)
    with LiveServer(create_shop(live_server.url, SHOP_SITE, backend, ticket_key=ticket_key),
                    demo_port):
        yield shop_origin


def widget_frame(page: Any) -> Any:
    return page.frame_locator("ownface-verify iframe")


@pytest.mark.browser
@pytest.mark.data
def test_the_widget_verifies_for_a_business_on_another_origin(
        shop: str, launch_with_camera: Callable[..., Any],
        camera_file: Callable[[list[np.ndarray]], Path], lfw_dir: Path,
        audit: NetworkAudit) -> None:
    photos = sorted((lfw_dir / "images" / "Tony_Blair").glob("*.jpg"))[:4]
    browser = launch_with_camera(camera_file([photo_frame(host.read_photo(p)) for p in photos]),
                                 ALLOW_FRAME_STORAGE)
    context = browser.new_context()
    audit.attach(context)
    page = context.new_page()
    page.goto(f"{shop}/?user=carol")
    src = page.evaluate("document.querySelector('ownface-verify').shadowRoot"
                        ".querySelector('iframe').src")
    # carol is new: the shop's backend vouches for her, with a ticket the frame gets after
    # the "#" (browsers never send it: it reaches no access log)
    assert "#ticket=" in src and "ticket=" not in src.split("#")[0]
    frame = widget_frame(page)
    frame.locator("#choose-face").click()
    frame.locator("#loading[data-ready]").wait_for(state="attached", timeout=180_000)
    frame.locator("#consent").check()
    frame.locator("#start").click()
    page.wait_for_selector("#signed-in[data-user]", state="attached", timeout=120_000)
    assert page.get_attribute("#signed-in", "data-user") == "carol"
    assert page.get_attribute("#signed-in", "data-method") == "face"
    assert "event: verified (face)" in (page.text_content("#events") or "")
    # the business's theme reached the frame (a checked custom property)
    accent = frame.locator(".choice").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert accent == "rgb(91, 42, 134)"
    height = page.evaluate("document.querySelector('ownface-verify').shadowRoot"
                           ".querySelector('iframe').getBoundingClientRect().height")
    assert 300 < height < 2000  # sized to its content by the frame's reports
    context.close()
    audit.check()


@pytest.mark.browser
def test_where_frames_get_no_storage_the_widget_falls_back_to_the_password(
        shop: str, browser: Any, audit: NetworkAudit) -> None:
    context = browser.new_context()
    audit.attach(context)
    page = context.new_page()
    page.goto(f"{shop}/?user=dora")
    frame = widget_frame(page)
    frame.locator("#loading[data-unavailable]").wait_for(state="attached", timeout=30_000)
    assert "event: fallback" in (page.text_content("#events") or "")
    frame.locator("#choose-password").click()
    frame.locator("#password-input").wait_for(state="visible")
    frame.locator("details.create summary").click()
    frame.locator("#new-password").wait_for(state="visible")
    frame.locator("#new-password").fill("quiet-orchard-lantern-7")
    frame.locator("details.create button[type=submit]").click()
    frame.locator("#result .success").wait_for(state="attached")  # saved (the answer page)
    page.goto(f"{shop}/?user=dora")
    frame = widget_frame(page)
    frame.locator("#choose-password").click()
    frame.locator("#password-input").fill("quiet-orchard-lantern-7")
    frame.locator("#password > form button[type=submit]").click()
    page.wait_for_selector("#signed-in[data-user]", state="attached", timeout=30_000)
    assert page.get_attribute("#signed-in", "data-method") == "pwd"
    events = page.text_content("#events") or ""
    assert "event: declined" in events and "event: verified (pwd)" in events
    context.close()
    audit.check()

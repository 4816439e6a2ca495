"""The returning person (issue 15), in Chromium with a fake camera from lfw-dev photos.

A person who enrolled on this device, coming back while the site's notice is unchanged, sees
on the first screen "Verify as <user> with your face" with the date they agreed, and one tap
verifies them (no consent box again). A new notice version asks again: the one-tap button is
gone and the consent box is back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from server import db, defaults, sites
from server.settings import Settings
from tests.browser.test_app import PERSON_A, Visit, frames_of, visit

__all__ = ["visit"]  # the fixture, shared with test_app
SITE = "again"


@pytest.fixture(scope="module")
def again_site(app_settings: Settings, live_server: Any) -> Iterator[str]:
    engine = db.make_engine(app_settings.database)
    try:
        sites.add_site(engine, SITE, [live_server.url], "device")
        for language, text in defaults.NOTICES.items():
            sites.set_notice(engine, SITE, language, text)
    finally:
        engine.dispose()
    yield SITE


def new_notice(settings: Settings) -> None:
    engine = db.make_engine(settings.database)
    try:
        sites.set_notice(engine, SITE, "en", defaults.NOTICE_EN + "\nWe changed this notice.")
    finally:
        engine.dispose()


@pytest.mark.browser
@pytest.mark.data
def test_a_returning_person_verifies_in_one_tap_until_the_notice_changes(
        visit: Callable[..., Visit], lfw_dir: Path, again_site: str,
        app_settings: Settings) -> None:
    v = visit("ruth", frames_of(lfw_dir, PERSON_A, [0, 1, 2, 3]), site=again_site)
    v.start_face()
    assert v.outcome() == "enrolled"
    device = v.context.storage_state()

    v = visit("ruth", frames_of(lfw_dir, PERSON_A, [6]), storage=device, site=again_site)
    v.page.wait_for_selector("#verify-now:not([disabled])", timeout=180_000)
    assert "Verify as ruth" in (v.page.text_content("#verify-now") or "")
    assert "You agreed on" in (v.page.text_content("#returning-agreed") or "")
    assert v.page.locator("#choose-password").is_visible()  # the other way stays as large
    v.page.click("#verify-now")  # the one tap
    assert v.outcome() == "verified"
    assert v.camera_requests() == 1
    assert v.page.locator("#consent-block").is_hidden()

    new_notice(app_settings)
    v = visit("ruth", frames_of(lfw_dir, PERSON_A, [6]), storage=device, site=again_site)
    v.page.wait_for_selector("#loading[data-ready]", state="attached", timeout=180_000)
    assert v.page.locator("#returning").is_hidden()
    v.page.click("#choose-face")
    assert v.page.locator("#consent-block").is_visible()
    assert v.page.is_checked("#consent") is False

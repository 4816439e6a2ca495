"""Walk the app through every screen a person can see, calling ``at(name, page)`` at each.

Used by the accessibility test (axe-core on every screen, in both languages) and by
bench/screenshots.py (a picture of every screen, in both languages). The face screens use a
fake camera: a frame with no face (hints, then "could not see your face") and real photos
of one person (enrolled), so the browser must be launched with that camera.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

At = Callable[[str, Any], None]
PASSWORD = "copper-meadow-violin-58"


def face_ready(page: Any) -> None:
    page.wait_for_selector("#loading[data-ready]", state="attached", timeout=180_000)


def walk_pages(url: str, lang: str, user: str, page: Any, at: At) -> None:
    """The screens that need no camera: choice, consent, password forms, results, problems."""
    base = f"{url}/app/?site=demo&user={user}&lang={lang}"
    page.goto(base)
    at("choice", page)
    page.click("#choose-face")
    at("face-consent", page)
    face_ready(page)
    page.click("#start")  # without the tick: the page asks for consent, starts nothing
    page.wait_for_selector("#consent-needed:not([hidden])")
    at("face-consent-needed", page)
    page.goto(base + "#password")
    at("password", page)
    page.click("details.create summary")
    at("password-create", page)
    page.fill("#new-password", "password")
    page.click("details.create button[type=submit]")
    at("result-weak-password", page)
    page.goto(base + "#password")
    page.click("details.create summary")
    page.fill("#new-password", PASSWORD)
    page.click("details.create button[type=submit]")
    at("result-password-saved", page)
    page.goto(base + "#password")
    page.fill("#password-input", PASSWORD + "x")
    page.click("#password > form button[type=submit]")
    at("result-password-failed", page)
    page.goto(base + "#password")
    page.fill("#password-input", PASSWORD)
    page.click("#password > form button[type=submit]")
    at("result-verified", page)
    page.goto(base + "#withdraw")
    at("withdraw-needs-verification", page)
    page.goto(f"{url}/app/?site=nowhere&user={user}&lang={lang}")
    at("problem-unknown-site", page)


def walk_face(url: str, lang: str, user: str, page: Any, at: At, *, faceless: bool) -> None:
    """With a camera that shows no face: live hint, then the failed capture. With a camera
    that shows a person: enrolled, then withdraw; then an account with a password, which
    gets a face only after the password."""
    page.goto(f"{url}/app/?site=demo&user={user}&lang={lang}#face")
    face_ready(page)
    page.check("#consent")
    page.click("#start")
    if faceless:
        page.wait_for_selector("#camera-area:not([hidden])", timeout=60_000)
        page.wait_for_selector("#hint:not(:empty)")
        at("face-camera-hint", page)
        page.wait_for_selector("#face-result[data-outcome]", state="attached", timeout=120_000)
        at("face-capture-failed", page)
        return
    page.wait_for_selector("#face-result[data-outcome]", state="attached", timeout=120_000)
    at("face-enrolled", page)
    page.click("#face a[href='#withdraw']")
    at("withdraw", page)
    page.click("#withdraw-confirm")
    page.wait_for_selector("#withdraw-result[data-done]", state="attached")
    at("withdrawn", page)
    # an account that has a password gets a face only after the password
    other = f"{url}/app/?site=demo&user={user}-pw&lang={lang}"
    page.goto(other + "#password")
    page.click("details.create summary")
    page.fill("#new-password", PASSWORD)
    page.click("details.create button[type=submit]")
    page.wait_for_selector("#result.is-current", state="attached")
    page.goto(other + "#face")
    face_ready(page)
    page.check("#consent")
    page.click("#start")
    page.wait_for_selector("#face-result[data-outcome]", state="attached", timeout=120_000)
    at("face-verify-first", page)

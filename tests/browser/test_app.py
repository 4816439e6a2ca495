"""The verification app end to end, in Chromium with a fake camera fed from real photos.

Enrol person A from several photos of A; verify with another photo of A (succeeds) and with
person B (fails); five failures lock the face path (the server refuses even A afterwards);
declining goes to the password path and the camera is never requested; withdrawing erases
the template on both sides. Every test also runs the network audit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from pyapp import host
from pyapp.face.frame import photo_frame
from server import db
from server.settings import Settings
from server.tables import consents, templates, users
from tests.browser.audit import NetworkAudit
from tests.browser.conftest import LiveServer
from tests.browser.screens import submit

PERSON_A, PERSON_B = "Tony_Blair", "Silvio_Berlusconi"
COUNT_CAMERA = """
window.__cameraRequests = 0;
if (navigator.mediaDevices) {
  const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => { window.__cameraRequests++; return original(c); };
}
"""


def frames_of(lfw: Path, person: str, indices: list[int]) -> list[np.ndarray]:
    photos = sorted((lfw / "images" / person).glob("*.jpg"))
    return [photo_frame(host.read_photo(photos[i])) for i in indices]


@dataclass
class Visit:
    """One page of the app in a browser context; the context keeps the device's storage."""

    page: Any
    context: Any
    console: list[str]

    def outcome(self) -> str:
        try:
            self.page.wait_for_selector("#face-result[data-outcome]", state="attached",
                                        timeout=120_000)
        except Exception as exc:  # say what the page said: a timeout alone explains nothing
            raise AssertionError("no outcome; the page's console:\n"
                                 + "\n".join(self.console[-40:])) from exc
        return str(self.page.get_attribute("#face-result", "data-outcome"))

    def start_face(self) -> None:
        self.page.click("#choose-face")
        self.page.wait_for_selector("#loading[data-ready]", state="attached", timeout=180_000)
        self.page.check("#consent")
        self.page.click("#start")

    def again(self) -> str:
        self.page.evaluate("document.getElementById('face-result').removeAttribute("
                           "'data-outcome')")
        self.page.click("#again")
        return self.outcome()

    def camera_requests(self) -> int:
        return int(self.page.evaluate("window.__cameraRequests"))


@pytest.fixture
def visit(live_server: LiveServer, launch_with_camera: Callable[[Path], Any],
          camera_file: Callable[[list[np.ndarray]], Path], audit: NetworkAudit
          ) -> Iterator[Callable[..., Visit]]:
    contexts: list[Any] = []

    def open_app(user: str, frames: list[np.ndarray] | None = None,
                 storage: dict[str, Any] | None = None, query: str = "",
                 site: str = "demo") -> Visit:
        grey = [np.full((480, 640, 3), 128, np.uint8)]
        browser = launch_with_camera(camera_file(frames or grey))
        context = browser.new_context(storage_state=storage)
        context.add_init_script(COUNT_CAMERA)
        audit.attach(context)
        contexts.append(context)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"page error: {e}"))
        page.goto(f"{live_server.url}/app/?site={site}&user={user}{query}")
        return Visit(page, context, console)

    yield open_app
    for context in contexts:
        context.close()
    audit.check()


def user_rows(settings: Settings, column: Any, user: str) -> list[Any]:
    """The values of ``column`` (of a table keyed by user_id) for one user id, from the DB."""
    engine = db.make_engine(settings.database)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(column).join(
                users, users.c.id == column.table.c.user_id).where(
                users.c.external_id == user)).scalars())
    finally:
        engine.dispose()


def stored_template(settings: Settings, user: str) -> bool:
    return bool(user_rows(settings, templates.c.public_key, user))


def withdrawn(settings: Settings, user: str) -> bool:
    rows = user_rows(settings, consents.c.withdrawn_at, user)
    return bool(rows) and all(at is not None for at in rows)


@pytest.mark.browser
def test_the_notice_and_both_choices_come_first_and_equally(live_server: LiveServer,
                                                           browser: Any,
                                                           audit: NetworkAudit) -> None:
    context = browser.new_context()
    context.add_init_script(COUNT_CAMERA)
    audit.attach(context)
    page = context.new_page()
    page.goto(f"{live_server.url}/app/?site=demo&user=nina")
    assert "facial recognition" in (page.text_content("#notice-text") or "")
    face, password = page.locator("#choose-face"), page.locator("#choose-password")
    assert face.is_visible() and password.is_visible()
    boxes = face.bounding_box(), password.bounding_box()
    assert boxes[0] and boxes[1]
    assert abs(boxes[0]["width"] - boxes[1]["width"]) < 1
    assert abs(boxes[0]["height"] - boxes[1]["height"]) < 1
    style = "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).fontSize]"
    assert face.evaluate(style) == password.evaluate(style)
    page.click("#choose-face")  # the consent box is not pre-ticked
    assert page.is_checked("#consent") is False
    page.goto(f"{live_server.url}/app/?site=demo&user=nina&lang=zh")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert "人脸识别" in (page.text_content("#choose-face") or "")
    assert page.evaluate("window.__cameraRequests") == 0
    context.close()
    audit.check()


@pytest.mark.browser
def test_declining_leads_to_the_password_and_never_to_the_camera(
        visit: Callable[..., Visit], live_server: LiveServer) -> None:

    v = visit("paula")
    v.page.click("#choose-password")
    # password managers see the account (a username field) and the person may show the text
    assert v.page.locator("#password form input[autocomplete=username]").first \
        .get_attribute("value") == "paula"
    v.page.fill("#password-input", "abc")
    v.page.check("label.show-password:visible input")
    assert v.page.get_attribute("#password-input", "type") == "text"
    v.page.uncheck("label.show-password:visible input")
    assert v.page.get_attribute("#password-input", "type") == "password"
    v.page.click("details.create summary")
    v.page.fill("#new-password", "password")  # common: refused with a reason
    submit(v.page, "details.create button[type=submit]")
    assert "stronger password" in (v.page.text_content("#result") or "")
    assert v.camera_requests() == 0
    v.page.goto(f"{live_server.url}/app/?site=demo&user=paula#password")
    v.page.click("details.create summary")
    v.page.fill("#new-password", "violet-harbour-sandwich-42")
    submit(v.page, "details.create button[type=submit]")
    assert "password is saved" in (v.page.text_content("#result") or "")
    assert v.camera_requests() == 0
    v.page.goto(f"{live_server.url}/app/?site=demo&user=paula#password")
    v.page.fill("#password-input", "violet-harbour-sandwich-41")
    submit(v.page, "#password > form button[type=submit]")
    assert "did not work" in (v.page.text_content("#result") or "")
    assert v.camera_requests() == 0
    v.page.goto(f"{live_server.url}/app/?site=demo&user=paula#password")
    v.page.fill("#password-input", "violet-harbour-sandwich-42")
    submit(v.page, "#password > form button[type=submit]")
    assert "Verified" in (v.page.text_content("#result") or "")
    assert "/app/password" in (v.page.text_content("#sent-list") or "")
    assert v.camera_requests() == 0


@pytest.mark.browser
@pytest.mark.data
@pytest.mark.slow
def test_enrol_verify_reject_and_lock(visit: Callable[..., Visit], lfw_dir: Path,
                                      app_settings: Settings) -> None:
    # enrol A from several photos of A
    v = visit("alice", frames_of(lfw_dir, PERSON_A, [0, 1, 2, 3]))
    v.start_face()
    assert v.outcome() == "enrolled"
    assert v.camera_requests() == 1 and v.page.evaluate("window.ownfaceGlue.camera.active") \
        is False
    sent = v.page.text_content("#sent-list") or ""
    assert "/api/v1/enrol" in sent and "public_key (32 bytes)" in sent
    device = v.context.storage_state()
    assert stored_template(app_settings, "alice")

    # a different photo of A verifies
    v = visit("alice", frames_of(lfw_dir, PERSON_A, [6]), storage=device)
    v.start_face()
    assert v.outcome() == "verified"

    # B does not, and five failures lock the face path
    v = visit("alice", frames_of(lfw_dir, PERSON_B, [0]), storage=device)
    v.start_face()
    outcomes = [v.outcome()] + [v.again() for _ in range(4)]
    assert outcomes[:4] == ["not_matched"] * 4
    assert outcomes[4] == "locked"
    assert v.page.locator("#start").is_hidden()

    # the lock is the server's: now even A is refused, exactly like a wrong face
    v = visit("alice", frames_of(lfw_dir, PERSON_A, [6]), storage=device)
    v.start_face()
    assert v.outcome() == "not_matched"


@pytest.mark.browser
@pytest.mark.data
def test_withdraw_erases_the_template_on_both_sides(visit: Callable[..., Visit],
                                                     lfw_dir: Path,
                                                     app_settings: Settings) -> None:
    v = visit("wendy", frames_of(lfw_dir, PERSON_A, [0, 1, 2, 3]))
    v.start_face()
    assert v.outcome() == "enrolled"
    assert stored_template(app_settings, "wendy")
    keys = "Object.keys(localStorage).filter(k => k.includes('/wendy'))"
    assert "ownface/1/template/demo/wendy" in v.page.evaluate(keys)  # and the consent noted
    v.page.click("#face a[href='#withdraw']")
    v.page.click("#withdraw-confirm")
    v.page.wait_for_selector("#withdraw-result[data-done]", state="attached")
    text = v.page.text_content("#withdraw-result") or ""
    assert "face template on the server" in text and "helper data on this device" in text
    assert v.page.evaluate(keys) == []
    # a final screen: no stale "verify first" note, nothing left to press
    assert v.page.locator("#withdraw-need").is_hidden()
    assert v.page.locator("#withdraw-confirm").is_hidden()
    assert not stored_template(app_settings, "wendy")
    assert withdrawn(app_settings, "wendy")


@pytest.mark.browser
@pytest.mark.data
def test_a_password_account_gets_a_face_only_after_its_password(
        visit: Callable[..., Visit], live_server: LiveServer, lfw_dir: Path,
        app_settings: Settings) -> None:
    url = f"{live_server.url}/app/?site=demo&user=pete"
    v = visit("pete", frames_of(lfw_dir, PERSON_A, [0, 1, 2, 3]), query="#password")
    v.page.click("details.create summary")
    v.page.fill("#new-password", "violet-harbour-sandwich-42")
    submit(v.page, "details.create button[type=submit]")
    assert "password is saved" in (v.page.text_content("#result") or "")
    # whoever opens the app for this account cannot add their face to it
    v.page.goto(url)
    v.start_face()
    assert v.outcome() == "enrol_verify_first"
    assert "password first" in (v.page.text_content("#face-result") or "")
    assert not stored_template(app_settings, "pete")
    # the holder verifies with the password, goes back, and adds the face
    v.page.goto(f"{url}#password")
    v.page.fill("#password-input", "violet-harbour-sandwich-42")
    submit(v.page, "#password > form button[type=submit]")
    assert "Verified" in (v.page.text_content("#result") or "")
    v.page.click("a[href='#choice']:visible")
    v.start_face()
    assert v.outcome() == "enrolled"
    assert stored_template(app_settings, "pete")


@pytest.mark.browser
def test_a_camera_that_cannot_start_gets_help_and_no_stale_hint(
        live_server: LiveServer, browser: Any, audit: NetworkAudit) -> None:
    """No camera (or permission denied): the person reads how to allow it, or the password;
    no "Starting the camera..." left above it; one button to try again."""
    context = browser.new_context()  # this browser has no camera at all
    audit.attach(context)
    page = context.new_page()
    page.goto(f"{live_server.url}/app/?site=demo&user=nocam#face")
    page.wait_for_selector("#loading[data-ready]", state="attached", timeout=180_000)
    page.check("#consent")
    page.click("#start")
    page.wait_for_selector("#face-result[data-outcome]", state="attached", timeout=120_000)
    assert page.get_attribute("#face-result", "data-outcome") == "camera_denied"
    text = page.text_content("#face-result") or ""
    assert "allow the camera" in text and "password" in text
    assert (page.text_content("#hint") or "") == ""
    assert page.locator("#again").is_visible()
    context.close()
    audit.check()

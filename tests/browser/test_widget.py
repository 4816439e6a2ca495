"""The widget on a business's own page (another origin): embed, verify, and the business's
backend checks the signed assertion.

Two browser settings, both Debian's Chromium:
* default: the frame gets no storage (third-party cookie deprecation), so "Use my face"
  opens OwnFace's first-party pop-up, which hands the result to the frame (server/handoff.py);
* third-party storage allowed (``ALLOW_FRAME_STORAGE``): the face path runs in the frame.
The password path works inside the frame in both. Only the frame's own messages, carrying the
nonce the business's page chose, become events.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pyapp import host, protocol
from pyapp.face.frame import photo_frame
from tests.browser.audit import NetworkAudit
from tests.browser.conftest import SHOP_SITE, LiveServer

# Chromium here ships "third-party cookie deprecation", which also denies storage to frames
# of other sites. This flag gives what browsers that allow it do (storage partitioned by the
# embedding site); docs/widget.md says so.
ALLOW_FRAME_STORAGE = ("--disable-features=TrackingProtection3pcd",)
SETTINGS = {"default": (), "frame-storage": ALLOW_FRAME_STORAGE}
WAIT = 180_000  # Python and the models load in the pop-up or frame (a busy machine: slow)


def widget_frame(page: Any) -> Any:
    return page.frame_locator("ownface-verify iframe")


def events(page: Any) -> str:
    return page.text_content("#events") or ""


def ready(page: Any, path: str) -> None:
    page.wait_for_function("(text) => document.getElementById('events').textContent"
                           ".includes(text)", arg=f"event: ready ({path})", timeout=30_000)


def signed_in(page: Any, user: str, method: str, timeout: int = WAIT) -> None:
    """The shop's backend checked the assertion the widget's event carried."""
    page.wait_for_selector("#signed-in[data-user]", state="attached", timeout=timeout)
    assert page.get_attribute("#signed-in", "data-user") == user
    assert page.get_attribute("#signed-in", "data-method") == method


def face_in(where: Any) -> None:
    """Consent (where still asked) and the camera, on a page or in the frame."""
    where.locator("#loading[data-ready]").wait_for(state="attached", timeout=WAIT)
    consent = where.locator("#consent")
    if consent.is_visible():
        consent.check()
    where.locator("#start").click()


def face_in_popup(context: Any, page: Any) -> Any:
    """Click "Use my face" in the frame: OwnFace's own window opens; verify there."""
    with context.expect_page(timeout=30_000) as opened:
        widget_frame(page).locator("#choose-face").click()
    popup = opened.value
    assert popup.url.startswith(page.evaluate(
        "document.querySelector('ownface-verify').shadowRoot.querySelector('iframe').src"
        ".split('?')[0]"))  # the OwnFace app, first-party
    assert "handoff=" not in popup.url.split("#")[0]  # the secret stays after the "#"
    widget_frame(page).locator("#popup-status[data-state=waiting]").wait_for(state="attached")
    face_in(popup)
    return popup


@pytest.mark.browser
@pytest.mark.data
def test_in_default_settings_the_face_path_runs_in_the_pop_up(
        shop: str, live_server: LiveServer, launch_with_camera: Callable[..., Any],
        camera_file: Callable[[list[np.ndarray]], Path], lfw_dir: Path,
        audit: NetworkAudit) -> None:
    """Enrol through the pop-up, verify through it again, and verify on the OwnFace page
    itself: one template store per person and site on the OwnFace origin."""
    photos = sorted((lfw_dir / "images" / "Tony_Blair").glob("*.jpg"))[:4]
    browser = launch_with_camera(camera_file([photo_frame(host.read_photo(p)) for p in photos]))
    context = browser.new_context()
    audit.attach(context)
    page = context.new_page()
    page.goto(f"{shop}/?user=erin")
    ready(page, "popup")  # storage blocked in the frame: the face path is the pop-up
    assert "fallback" not in events(page)
    frame = widget_frame(page)
    assert "window" in (frame.locator("#choose-face .choice-note").text_content() or "")
    face_in_popup(context, page)
    signed_in(page, "erin", "face")  # enrolled in the pop-up; the shop's backend accepted
    assert "event: verified (face)" in events(page)
    # the template is in the OwnFace origin's own storage, not the frame's
    key = protocol.device_template_key(SHOP_SITE, "erin")
    app = context.new_page()
    app.goto(f"{live_server.url}/app/?site={SHOP_SITE}&user=erin&lang=en")
    assert app.evaluate("(key) => localStorage.getItem(key) !== null", key)

    page.goto(f"{shop}/?user=erin")  # later: the same person signs in again
    ready(page, "popup")
    face_in_popup(context, page)
    signed_in(page, "erin", "face")
    # and on the OwnFace page itself (first-party): the same template verifies
    app.click("#choose-face")
    face_in(app)
    app.wait_for_selector("#face-result[data-outcome]", state="attached", timeout=WAIT)
    assert app.get_attribute("#face-result", "data-outcome") == "verified"
    context.close()
    audit.check()


@pytest.mark.browser
@pytest.mark.data
def test_with_frame_storage_allowed_the_face_path_runs_in_the_frame(
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
    # the "#" (browsers never send it: it reaches no access log), beside the page's nonce
    assert "ticket=" in src.split("#")[1] and "ticket=" not in src.split("#")[0]
    assert "nonce=" in src.split("#")[1]
    ready(page, "frame")
    frame = widget_frame(page)
    frame.locator("#choose-face").click()
    face_in(frame)
    signed_in(page, "carol", "face")
    assert "event: verified (face)" in events(page)
    # the business's theme reached the frame (a checked custom property)
    accent = frame.locator(".choice").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert accent == "rgb(91, 42, 134)"
    page.goto(f"{shop}/?user=carol")  # later: verify in the frame
    ready(page, "frame")
    widget_frame(page).locator("#choose-face").click()
    face_in(widget_frame(page))
    signed_in(page, "carol", "face")
    context.close()
    audit.check()


@pytest.mark.browser
@pytest.mark.parametrize("setting", SETTINGS)
def test_a_new_password_and_a_password_sign_in_reach_the_business_backend(
        shop: str, browser_type: Any, browser_type_launch_args: dict[str, Any],
        audit: NetworkAudit, setting: str) -> None:
    args = [*browser_type_launch_args["args"], *SETTINGS[setting]]
    browser = browser_type.launch(**{**browser_type_launch_args, "args": args})
    context = browser.new_context()
    audit.attach(context)
    page = context.new_page()
    user = f"dora-{setting}"
    page.goto(f"{shop}/?user={user}")
    ready(page, "popup" if setting == "default" else "frame")
    frame = widget_frame(page)
    frame.locator("#choose-password").click()
    frame.locator("#password-input").wait_for(state="visible")
    frame.locator("details.create summary").click()
    frame.locator("#new-password").fill("quiet-orchard-lantern-7")
    frame.locator("details.create button[type=submit]").click()
    signed_in(page, user, "pwd", 30_000)  # creating a password signs the person in
    page.goto(f"{shop}/?user={user}")
    frame = widget_frame(page)
    frame.locator("#choose-password").click()
    frame.locator("#password-input").fill("quiet-orchard-lantern-7")
    frame.locator("#password > form button[type=submit]").click()
    signed_in(page, user, "pwd", 30_000)
    assert "event: declined" in events(page) and "event: verified (pwd)" in events(page)
    # compact: sized to its content, which fits a phone
    height = page.evaluate("document.querySelector('ownface-verify').shadowRoot"
                           ".querySelector('iframe').getBoundingClientRect().height")
    assert 150 < height < 900
    browser.close()
    audit.check()


@pytest.mark.browser
def test_a_business_can_keep_the_face_path_in_the_pop_up(
        shop: str, browser_type: Any, browser_type_launch_args: dict[str, Any],
        audit: NetworkAudit) -> None:
    """face="popup": even where the frame could run it (one template store per person)."""
    args = [*browser_type_launch_args["args"], *ALLOW_FRAME_STORAGE]
    browser = browser_type.launch(**{**browser_type_launch_args, "args": args})
    context = browser.new_context()
    audit.attach(context)
    page = context.new_page()
    page.goto(f"{shop}/?user=gina")
    ready(page, "frame")
    page.evaluate("document.querySelector('ownface-verify').setAttribute('face', 'popup')")
    ready(page, "popup")
    with context.expect_page(timeout=30_000) as opened:
        widget_frame(page).locator("#choose-face").click()
    popup = opened.value
    assert "popup=1" in popup.url
    popup.wait_for_selector("#popup-cancel:not([hidden])")  # opened by the frame: accepted
    popup.click("#popup-cancel")
    page.wait_for_function("() => document.getElementById('events').textContent"
                           ".includes('event: cancelled')", timeout=30_000)
    # the same address opened by another site's page is refused (it would choose the secret)
    other = context.new_page()
    other.goto(f"{shop}/shop.css")
    with context.expect_page(timeout=30_000) as opened:
        other.evaluate("(url) => window.open(url + '#handoff=' + 'A'.repeat(43))",
                       popup.url.split("#")[0])
    opened.value.wait_for_load_state()
    assert opened.value.locator("#ownface-app").count() == 0
    browser.close()
    audit.check()


FORGER = """<!doctype html><script>
const forged = {source: "ownface", type: "verified",
                detail: {method: "face", assertion: "eyJhbGciOiJFZDI1NTE5In0.e30.c2ln"}};
for (const nonce of [undefined, "AAAAAAAAAAAAAAAAAAAAAAAA"]) {
  parent.postMessage({...forged, nonce}, "*");
  parent.postMessage({...forged, type: "resize", nonce, detail: {height: 5}}, "*");
}
window.sent = true;
</script>"""


@pytest.mark.browser
def test_forged_messages_are_ignored(shop: str, live_server: LiveServer, demo_port: int,
                                     browser: Any, audit: NetworkAudit) -> None:
    """A frame of another origin on the business's page, the page's own script, and the
    OwnFace frame without the page's nonce: none of their messages becomes an event."""
    evil = f"http://127.0.0.1:{demo_port}"  # another origin (host name) than the shop's

    context = browser.new_context(bypass_csp=True)  # (the shop's CSP allows no such frame)
    audit.attach(context)
    context.route(f"{evil}/forge", lambda route: route.fulfill(
        body=FORGER, content_type="text/html", headers={
            "Cross-Origin-Embedder-Policy": "credentialless",
            "Cross-Origin-Resource-Policy": "cross-origin"}))
    page = context.new_page()
    page.goto(f"{shop}/?user=fred")
    ready(page, "popup")
    page.evaluate("""(src) => document.querySelector('main').append(
        Object.assign(document.createElement('iframe'), {src}))""", f"{evil}/forge")
    page.wait_for_function("(evil) => [...document.querySelectorAll('iframe')]"
                           ".some((f) => f.src.startsWith(evil))", arg=evil)
    page.wait_for_timeout(500)
    forger = next(f for f in page.frames if f.url.startswith(evil))
    forger.wait_for_function("window.sent === true")  # its messages are on their way
    # the page's own script, claiming to be OwnFace
    page.evaluate("""(origin) => window.dispatchEvent(new MessageEvent('message', {origin,
        data: {source: 'ownface', type: 'verified', detail: {method: 'face', assertion: 'x'}}}))
        """, live_server.url)
    # the OwnFace frame itself, without the nonce
    ownface = next(f for f in page.frames if f.url.startswith(live_server.url))
    ownface.evaluate("""() => parent.postMessage({source: 'ownface', type: 'verified',
        nonce: 'BBBBBBBBBBBBBBBBBBBBBBBB', detail: {method: 'face', assertion: 'x'}}, '*')""")
    page.wait_for_timeout(1000)
    assert "verified" not in events(page)
    assert page.get_attribute("#signed-in", "data-user") is None
    height = page.evaluate("document.querySelector('ownface-verify').shadowRoot"
                           ".querySelector('iframe').getBoundingClientRect().height")
    assert height > 100  # no forged resize either
    context.close()
    audit.check()

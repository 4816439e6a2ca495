"""Walk the app through every screen a person can see, calling ``at(name, page)`` at each.

Used by the accessibility test (axe-core on every screen, in both languages) and by
bench/screenshots.py (a picture of every screen, in both languages). The face screens use a
fake camera: a frame with no face (hints, then "could not see your face") and real photos
of one person (enrolled), so the browser must be launched with that camera.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench import attacks
from pyapp import host

At = Callable[[str, Any], None]
PASSWORD = "copper-meadow-violin-58"
# Holds the live camera screen still while a test looks at it. Python (in a worker) changes
# the page through synchronous calls that the page answers on a MessagePort; once the camera
# shows and the first hint appears, the page keeps its answers back (the worker then waits
# in its next call, so the screen stays exactly as a person sees it between two frames)
# until the test releases them. No timing: the hold starts in the same microtask checkpoint
# as the hint, before the worker's next change can be handled.
HOLD = """(() => {
  const queue = [];
  const hold = window.__ownfaceHold = { armed: false, held: false, holding: false,
    release() { hold.holding = hold.held = false; queue.splice(0).forEach((f) => f()); } };
  const add = MessagePort.prototype.addEventListener;
  MessagePort.prototype.addEventListener = function (type, listener, options) {
    if (type !== "message" || typeof listener !== "function") {
      return add.call(this, type, listener, options);
    }
    const port = this;
    return add.call(this, type, (event) => hold.holding
      ? queue.push(() => listener.call(port, event)) : listener.call(port, event), options);
  };
  document.addEventListener("DOMContentLoaded", () => {
    const camera = document.getElementById("camera-area");
    const hint = document.getElementById("hint");
    if (!camera || !hint) return;
    new MutationObserver(() => {
      if (hold.armed && !camera.hidden && hint.textContent) {
        hold.armed = false;
        hold.holding = hold.held = true;
      }
    }).observe(hint, { childList: true, characterData: true, subtree: true });
  });
})();"""


def face_ready(page: Any) -> None:
    page.wait_for_selector("#loading[data-ready]", state="attached", timeout=180_000)


def submit(page: Any, button: str) -> None:
    """Press a form's submit button and wait until the answer page has loaded.

    Clicking returns once the new page has started to arrive; until its ``load`` event its
    stylesheet may not apply yet (every screen shows, unstyled: axe then saw tiny links).
    """
    with page.expect_navigation(wait_until="load"):
        page.click(button)


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
    submit(page, "details.create button[type=submit]")
    at("result-weak-password", page)
    page.goto(base + "#password")
    page.click("details.create summary")
    page.fill("#new-password", PASSWORD)
    submit(page, "details.create button[type=submit]")
    at("result-password-saved", page)
    page.goto(base + "#password")
    page.fill("#password-input", PASSWORD + "x")
    submit(page, "#password > form button[type=submit]")
    at("result-password-failed", page)
    page.goto(base + "#password")
    page.fill("#password-input", PASSWORD)
    submit(page, "#password > form button[type=submit]")
    at("result-verified", page)
    page.goto(base + "#withdraw")
    at("withdraw-needs-verification", page)
    page.goto(f"{url}/app/?site=nowhere&user={user}&lang={lang}")
    at("problem-unknown-site", page)


def outcome(page: Any) -> str:
    page.wait_for_selector("#face-result[data-outcome]", state="attached", timeout=120_000)
    return str(page.get_attribute("#face-result", "data-outcome"))


def walk_face(url: str, lang: str, user: str, page: Any, at: At, *, faceless: bool) -> None:
    """With a camera that shows no face: the live camera with its first hint (held still),
    then the failed capture. With a camera that shows a person: enrolled, then withdraw;
    then an account with a password, which gets a face only after the password."""
    if faceless:
        page.add_init_script(HOLD)
    page.goto(f"{url}/app/?site=demo&user={user}&lang={lang}#face")
    face_ready(page)
    page.check("#consent")
    if faceless:
        page.evaluate("window.__ownfaceHold.armed = true")
        page.click("#start")
        page.wait_for_function("() => window.__ownfaceHold.held || "
                               "document.querySelector('#face-result[data-outcome]') !== null",
                               timeout=120_000)
        assert page.evaluate("window.__ownfaceHold.held"), \
            f"the camera never showed a hint: {page.text_content('#face-result')}"
        at("face-camera-hint", page)
        page.evaluate("window.__ownfaceHold.release()")
        assert outcome(page) == "capture_failed", page.text_content("#face-result")
        at("face-capture-failed", page)
        return
    page.click("#start")
    assert outcome(page) == "enrolled", page.text_content("#face-result")
    at("face-enrolled", page)
    # coming back: one tap on the first screen verifies
    page.goto(f"{url}/app/?site=demo&user={user}&lang={lang}")
    page.wait_for_selector("#verify-now:not([disabled])", timeout=180_000)
    at("choice-returning", page)
    page.click("#verify-now")
    assert outcome(page) == "verified", page.text_content("#face-result")
    at("face-verified-returning", page)
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
    submit(page, "details.create button[type=submit]")
    page.goto(other + "#face")
    face_ready(page)
    page.check("#consent")
    page.click("#start")
    assert outcome(page) == "enrol_verify_first", page.text_content("#face-result")
    at("face-verify-first", page)


def attack_frame(lfw: Path) -> np.ndarray:
    """A still frame of a phone screen showing a photo of a person, held up to the camera
    (bench/attacks.py, seed chosen so that the passive check refuses it: fused score ~0)."""
    photos = sorted((lfw / "images" / "Tony_Blair").glob("*.jpg"))
    rng = np.random.default_rng(114)
    frames = attacks.render("screen", host.read_photo(photos[0]), host.read_photo(photos[5]),
                            rng, attacks.plane_motion(rng, 6, 0.3))
    return np.asarray(frames[3][..., :3])


PAD_SITE = "padcheck"  # a site with the passive check (the tests' demo site has it off)


def add_pad_site(engine: Any, origins: list[str]) -> None:
    """The site walk_refused uses (once per database)."""
    from server import defaults, sites

    try:
        sites.add_site(engine, PAD_SITE, origins, "device", liveness="passive")
    except sites.SiteError:  # made already (the other language's walk)
        return
    for language, text in defaults.NOTICES.items():
        sites.set_notice(engine, PAD_SITE, language, text)


def walk_refused(url: str, lang: str, user: str, page: Any, at: At) -> None:
    """With a camera that shows a photo on a phone screen, on a site with the passive check:
    it refuses it, and the person reads what to do (never "spoof")."""
    page.goto(f"{url}/app/?site={PAD_SITE}&user={user}&lang={lang}#face")
    face_ready(page)
    page.check("#consent")
    page.click("#start")
    assert outcome(page) == "liveness_passive", page.text_content("#face-result")
    at("face-liveness-refused", page)
WIDGET_SIZES = {"phone": (360, 740), "laptop": (1280, 900)}
WidgetAt = Callable[[str, Any, Any], None]  # (screen, the page to picture, the OwnFace document)


def widget_frame(page: Any, ownface: str) -> Any:
    """The OwnFace frame inside the business's page."""
    page.wait_for_function("(origin) => document.querySelector('ownface-verify')?.shadowRoot"
                           "?.querySelector('iframe')?.src.startsWith(origin)", arg=ownface)
    return next(f for f in page.frames if f.url.startswith(ownface))


def walk_widget(ownface: str, shop: str, lang: str, user: str, context: Any, size: str,
                at: WidgetAt) -> None:
    """The widget in the Example Shop, in Chromium's default settings (no frame storage):
    the compact choice, the notice opened, the password form, the frame waiting for the
    pop-up, and the pop-up itself. ``at(name, page, frame)`` gets the shop's page and the
    OwnFace document shown (the frame's, or the pop-up's)."""
    page = context.new_page()
    width, height = WIDGET_SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{shop}/?user={user}&lang={lang}")
    page.wait_for_function("() => document.getElementById('events').textContent"
                           ".includes('ready')")
    frame = widget_frame(page, ownface)
    frame.wait_for_function("() => document.getElementById('ownface-app').dataset.facePath")
    page.wait_for_timeout(300)  # the frame's height follows its content
    at(f"widget-{size}-choice", page, frame)
    frame.click("details.notice summary")
    page.wait_for_timeout(300)
    at(f"widget-{size}-notice", page, frame)
    frame.click("#choose-password")
    page.wait_for_timeout(300)
    at(f"widget-{size}-password", page, frame)
    frame.click("#password a[href='#choice']")
    with context.expect_page() as opened:
        frame.click("#choose-face")
    popup = opened.value
    popup.set_viewport_size({"width": min(width, 520), "height": 760})
    popup.wait_for_load_state("load")
    frame.wait_for_selector("#popup-status[data-state=waiting]", state="attached")
    page.wait_for_timeout(300)
    at(f"widget-{size}-waiting", page, frame)
    at(f"widget-{size}-popup", popup, popup.main_frame)
    popup.click("#popup-cancel")
    page.wait_for_function("() => document.getElementById('events').textContent"
                           ".includes('cancelled')", timeout=30_000)
    page.close()

"""The kiosk end to end in Chromium (pyapp.browser.kiosk): staff-only enrolment, two
different people in a row at one kiosk (fake cameras from their LFW photos; the camera file
is swapped between them, as a new person steps up), nothing of the first left for the
second, the one-time code alternative, the idle reset; every screen axe-checked on a 1080p
landscape display and a portrait tablet, in English and Chinese. Every test runs the
network audit."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from server.settings import Settings
from tests.browser.audit import NetworkAudit
from tests.browser.conftest import LiveServer
from tests.browser.desk import DeskSite, desk_site
from tests.browser.test_accessibility import RUN_AXE, TAGS, axe_source
from tests.browser.test_app import frames_of

# photos whose burst passes the site's PAD policy (passive, and the active check: their
# yaw proxies differ by more than a small head turn), chosen on the CPython pipeline
PERSON_A, FRAMES_A = "Tony_Blair", [0, 10, 4, 9]
PERSON_B, FRAMES_B = "Silvio_Berlusconi", [1, 2, 5, 8]
ROOM_A, NAME_A, ROOM_B, NAME_B = "1203", "Tony Blair", "1507", "Silvio Berlusconi"
VIEWPORTS = {"landscape-1080p": (1920, 1080), "portrait-tablet": (800, 1280)}
SCREEN = "#ownface-kiosk"


@pytest.fixture(scope="module")
def front(app_settings: Settings) -> DeskSite:
    return desk_site(app_settings, "front", alternative="code")


class KioskPage:
    def __init__(self, page: Any, console: list[str]) -> None:
        self.page = page
        self.console = console

    def screen(self) -> str:
        return str(self.page.get_attribute(SCREEN, "data-screen"))

    def wait_screen(self, name: str, timeout: float = 30_000) -> None:
        self.page.wait_for_selector(f"{SCREEN}[data-screen='{name}']", state="attached",
                                    timeout=timeout)

    def outcome(self) -> str:
        try:
            self.page.wait_for_selector("#face-result[data-outcome]", state="attached",
                                        timeout=180_000)
        except Exception as exc:
            raise AssertionError("no outcome; the page's console:\n"
                                 + "\n".join(self.console[-40:])) from exc
        return str(self.page.get_attribute("#face-result", "data-outcome"))

    def who(self, room: str, name: str) -> None:
        self.wait_screen("k-who")
        self.page.fill("#k-room", room)
        self.page.fill("#k-name", name)
        self.page.click("#k-who-form button[type=submit]")

    def face(self, room: str, name: str, enrol_with: str | None = None) -> str:
        if enrol_with is not None:
            self.page.click("#k-enrol")
            self.wait_screen("k-staff")
            self.page.fill("#k-staff-code", enrol_with)
            self.page.click("#k-staff-form button[type=submit]")
        else:
            self.page.click("#k-face")
        self.who(room, name)
        self.wait_screen("k-consent")
        self.page.check("#consent")
        self.page.click("#start")
        return self.outcome()

    def next_person(self) -> None:
        self.page.click("#k-done")
        self.wait_screen("k-start")

    def traces(self) -> dict[str, Any]:
        """What a newcomer could find of the one before: text, fields, storage."""
        return self.page.evaluate("""() => ({
          text: document.body.innerText,
          fields: [...document.querySelectorAll('input')].map(i => i.type === 'checkbox'
                     ? String(i.checked) : i.value).filter(v => v && v !== 'false'),
          local: Object.keys(localStorage), session: Object.keys(sessionStorage),
          camera: window.ownfaceGlue.camera.active })""")


def open_kiosk(live_server: LiveServer, browser: Any, site: DeskSite, audit: NetworkAudit,
               query: str = "", viewport: tuple[int, int] = (1920, 1080)) -> KioskPage:
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    audit.attach(context)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"page error: {e}"))
    page.goto(f"{live_server.url}/kiosk/?site={site.name}{query}#kiosk={site.kiosk}")
    page.wait_for_selector(f"{SCREEN}[data-ready='1']", state="attached", timeout=240_000)
    assert "#kiosk" not in page.url  # the token left the address bar for the kiosk's storage
    return KioskPage(page, console)


@pytest.mark.browser
@pytest.mark.data
@pytest.mark.slow
def test_two_people_in_a_row_the_code_and_the_idle_reset(
        live_server: LiveServer, launch_with_camera: Callable[..., Any],
        camera_file: Callable[[list[np.ndarray]], Path], lfw_dir: Path, front: DeskSite,
        audit: NetworkAudit) -> None:
    face_a = camera_file(frames_of(lfw_dir, PERSON_A, FRAMES_A))
    face_b = camera_file(frames_of(lfw_dir, PERSON_B, FRAMES_B))
    camera = face_a.with_name("kiosk-camera.y4m")  # what the kiosk's camera shows right now
    shutil.copy(face_a, camera)
    k = open_kiosk(live_server, launch_with_camera(camera), front, audit, "&idle=5")

    # enrolment only with staff present: a stranger's staff code is refused
    k.page.click("#k-enrol")
    k.page.fill("#k-staff-code", "ABCD-EFGH-JKMN")
    k.page.click("#k-staff-form button[type=submit]")
    k.who(ROOM_A, NAME_A)
    assert k.outcome() == "kiosk_staff_wrong"
    k.next_person()
    assert k.face(ROOM_A, NAME_A, enrol_with=front.staff) == "kiosk_enrolled"
    k.next_person()
    shutil.copy(face_b, camera)  # the next person steps up
    assert k.face(ROOM_B, NAME_B, enrol_with=front.staff) == "kiosk_enrolled"
    k.next_person()

    # person A, then person B, at the same kiosk
    shutil.copy(face_a, camera)
    assert k.face(ROOM_A, NAME_A) == "kiosk_confirmed_who"
    assert ROOM_A in (k.page.text_content("#face-result") or "")
    k.next_person()
    left = k.traces()
    assert ROOM_A not in left["text"] and "Tony" not in left["text"]
    assert left["fields"] == [] and left["session"] == [] and left["camera"] is False
    assert left["local"] == [f"ownface/1/kiosk/{front.name}"]  # the kiosk's own token only
    shutil.copy(face_b, camera)
    # B cannot pass as A: nothing of A's visit opens A's template for B
    assert k.face(ROOM_A, NAME_A) == "kiosk_not_matched"
    k.page.wait_for_selector("#k-other:not([hidden])")  # the alternative, offered at once
    k.next_person()
    assert k.face(ROOM_B, NAME_B) == "kiosk_confirmed_who"
    k.next_person()

    # the alternative: a one-time code the business issued, used once
    issued = k.page.request.post(
        f"{live_server.url}/api/v1/sites/{front.name}/codes",
        data={"user": _room_user(ROOM_A, NAME_A)},
        headers={"Authorization": f"Bearer {front.admin}"}).json()
    for expected in ("kiosk_confirmed_who", "kiosk_code_wrong"):  # the second time: used
        k.page.click("#k-alt")
        k.who(ROOM_A, NAME_A)
        k.wait_screen("k-code")
        k.page.fill("#k-code-input", issued["code"])
        k.page.click("#k-code-form button[type=submit]")
        assert k.outcome() == expected
        k.next_person()

    # the idle reset: a half-finished visit is gone after idle seconds
    k.page.click("#k-face")
    k.wait_screen("k-who")
    k.page.fill("#k-room", ROOM_B)
    k.wait_screen("k-start", timeout=20_000)
    assert k.traces()["fields"] == []
    assert "Traceback" not in "\n".join(k.console)
    audit.check()


def _room_user(room: str, name: str) -> str:
    from pyapp.protocol import room_user

    return room_user(room, name)


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_kiosk_screens_fit_and_pass_axe(live_server: LiveServer, browser: Any,
                                        front: DeskSite, app_settings: Settings,
                                        audit: NetworkAudit, lang: str, viewport: str) -> None:
    k = open_kiosk(live_server, browser, front, audit, f"&lang={lang}", VIEWPORTS[viewport])
    axe = axe_source(app_settings)
    found: dict[str, list[str]] = {}
    width = VIEWPORTS[viewport][0]

    def check(name: str) -> None:
        k.wait_screen(name)
        if not k.page.evaluate("typeof window.axe !== 'undefined'"):
            k.page.evaluate(axe)
        found[name] = k.page.evaluate(RUN_AXE, TAGS)
        # nothing wider than the screen (no sideways scrolling on a kiosk)
        assert k.page.evaluate("document.documentElement.scrollWidth") <= width

    check("k-start")
    face, alt = k.page.locator("#k-face"), k.page.locator("#k-alt")
    boxes = face.bounding_box(), alt.bounding_box()
    assert boxes[0] and boxes[1]  # both ways equally prominent
    assert abs(boxes[0]["width"] - boxes[1]["width"]) < 1
    assert abs(boxes[0]["height"] - boxes[1]["height"]) < 1
    k.page.click("#k-face")
    check("k-who")
    k.page.fill("#k-room", "12 03")  # not a room number: said in words
    k.page.fill("#k-name", "Li Wei")
    k.page.click("#k-who-form button[type=submit]")
    k.page.wait_for_selector("#k-who-problem:not([hidden])")
    found["k-who-problem"] = k.page.evaluate(RUN_AXE, TAGS)
    k.page.fill("#k-room", "1203")
    k.page.click("#k-who-form button[type=submit]")
    check("k-consent")
    k.page.click("#start")  # not ticked: asked to agree, or to go back for the other way
    k.page.wait_for_selector("#consent-needed:not([hidden])")
    k.page.click("#k-cancel-consent")
    k.page.click("#k-alt")
    k.who("1203", "Li Wei")
    check("k-code")
    k.page.fill("#k-code-input", "WRONGCODE")
    k.page.click("#k-code-form button[type=submit]")
    assert k.outcome() == "kiosk_code_wrong"
    check("k-result")
    k.page.click("#k-done")
    k.page.click("#k-enrol")
    check("k-staff")
    assert {name: v for name, v in found.items() if v} == {}
    audit.check()

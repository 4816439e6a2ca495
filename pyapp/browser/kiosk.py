"""The kiosk: face verification on a shared device at a front desk or a gate.

A stream of strangers uses one screen, so every visit starts from nothing: the person
chooses the face or the site's alternative (equally prominent), says who they are (a room
or flat number and a name, or a code the business gave them: ``KioskContext.identity``),
gives consent for this visit (every time: this is not their device), and the camera runs
one burst with a prompt to turn the head a little. Before anything is answered the site's
PAD policy is run (``liveness``: passive MiniFASNet scores, then the active head-turn check);
a refusal says what to do and offers the alternative. The alternative is a one-time code
the business issued or a staff confirmation (``server.desk``); enrolment happens here only
with a staff code, which buys a single-use enrolment ticket for that account.

The site is in portable mode: the helper data arrives with the challenge, which only this
kiosk's token can ask for (``#kiosk=<token>`` once, kept in storage). Between two people
nothing survives (:meth:`Kiosk.reset`): camera off, frames, identity, ticket, staff code,
result and the sent-request log dropped, every field emptied; nothing about a person is
ever written to storage. A kiosk left alone returns to the start screen after
``idle_seconds``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from pyapp import protocol
from pyapp.browser import dom, models
from pyapp.browser.api import HttpApi
from pyapp.browser.burst import Burst
from pyapp.browser.camera import Camera
from pyapp.browser.screen import Page, Screen
from pyapp.browser.storage import TemplateStore, take_kiosk_token
from pyapp.enrol import enrol
from pyapp.errors import (
    CaptureError,
    LivenessRefused,
    NotMatched,
    OwnFaceError,
    ProtocolError,
    Refused,
)
from pyapp.face import liveness
from pyapp.face.capture import Capture, CaptureConfig
from pyapp.verify import begin, finish

# the whole burst spans the head turn (no early stop): the active check needs the turn
VERIFY_BURST = CaptureConfig(frames=12, needed=4)
ENROL_BURST = CaptureConfig(frames=14, needed=5)
SCREENS = ("k-start", "k-staff", "k-who", "k-consent", "k-camera", "k-code", "k-result")
FIELDS = ("k-room", "k-name", "k-member", "k-code-input", "k-staff-code")
_keep: list[Any] = []  # event-handler proxies live as long as the page


@dataclass(frozen=True)
class KioskContext:
    """What the server rendered into the kiosk page (``#ownface-kiosk-context``)."""

    site: str
    lang: str
    notice_version: int
    notice_sha256: str
    notice_language: str
    mode: str
    pipeline: str
    identity: str  # protocol.KIOSK_IDENTITIES
    alternative: str  # protocol.KIOSK_ALTERNATIVES
    liveness: str = "passive+active"  # the site's PAD policy (protocol: off, passive, ...)
    idle_seconds: int = protocol.KIOSK_IDLE_SECONDS

    @classmethod
    def read(cls) -> KioskContext:
        return cls(**json.loads(str(dom.element("ownface-kiosk-context").textContent)))

    def person(self, user: str, action: str) -> Page:
        """The app's page context for one person's visit (the pieces the kiosk reuses)."""
        return Page(self.site, user, self.lang, action, None, self.notice_version,
                    self.notice_sha256, self.notice_language, self.mode, self.pipeline)


class Kiosk:
    def __init__(self, ctx: KioskContext, pipelines: models.Pipelines, token: str) -> None:
        self.ctx = ctx
        self.pipelines = pipelines
        self.api = HttpApi(kiosk=token)
        self.camera = Camera("camera")
        self.screen = Screen(ctx.person("kiosk", "verify"))
        self.burst = Burst(self.camera, self.screen)
        self.path = "face"  # face | alt | enrol
        self.user: str | None = None
        self.label = ""  # what the result shows about who it was (room or code)
        self.staff: str | None = None
        self.ticket: bytes | None = None
        self.failures = 0
        self.busy = False
        self.touched = time.monotonic()
        self.resets = 0
        self.origin = str(dom.window.location.origin)
        other = "sign_alt_code" if ctx.alternative == "code" else "sign_alt_staff"
        self.alternative = self.screen.page.t(other)

    # --- screens -------------------------------------------------------------------------------
    def go(self, name: str) -> None:
        for screen in SCREENS:
            dom.show(screen, screen == name)
        dom.element("ownface-kiosk").dataset.screen = name
        dom.element(name).focus()

    def touch(self, event: Any = None) -> None:
        self.touched = time.monotonic()

    def reset(self, event: Any = None) -> None:
        """The next person starts from nothing: nothing of this one survives."""
        self.camera.stop()
        self.burst.frames.clear()
        self.user, self.label, self.staff, self.ticket = None, "", None, None
        self.failures = 0
        self.api.log.entries.clear()
        self.screen.page = self.ctx.person("kiosk", "verify")
        for field in FIELDS:
            found = dom.document.getElementById(field)
            if found is not None:
                found.value = ""
        dom.element("consent").checked = False
        box = dom.element("face-result")
        box.textContent = ""
        box.removeAttribute("data-outcome")
        dom.set_text("hint", "")
        for element_id, visible in (("consent-block", True), ("start", True), ("again", False),
                                    ("k-other", False), ("consent-needed", False),
                                    ("k-who-problem", False), ("face-result", False),
                                    ("camera-area", False)):
            dom.show(element_id, visible)
        self.resets += 1
        dom.element("ownface-kiosk").dataset.resets = str(self.resets)
        self.go("k-start")

    async def watch_idle(self) -> None:
        while True:
            await asyncio.sleep(1)
            idle = time.monotonic() - self.touched
            screen = str(dom.element("ownface-kiosk").dataset.screen)
            if not self.busy and screen != "k-start" and idle > self.ctx.idle_seconds:
                self.reset()

    def show(self, key: str, ok: bool, other: bool = False, **values: object) -> None:
        self.screen.result(key, ok, alternative=self.alternative, **values)
        dom.show("k-other", other and self.path != "enrol")
        self.go("k-result")
        dom.element("face-result").focus()

    # --- choices and who -----------------------------------------------------------------------
    def choose(self, path: str) -> Any:
        def handler(event: Any) -> None:
            self.path = path
            self.go("k-staff" if path == "enrol" else "k-who")
        return handler

    def staff_given(self, event: Any) -> None:
        self.staff = str(dom.element("k-staff-code").value)
        dom.element("k-staff-code").value = ""
        self.go("k-who")

    async def who_given(self, event: Any) -> None:
        try:
            if self.ctx.identity == "room":
                room = str(dom.element("k-room").value).strip()
                self.user = protocol.room_user(room, str(dom.element("k-name").value))
                self.label = room.upper()
            else:
                self.user = protocol.check_id(str(dom.element("k-member").value).strip(),
                                              "code")
                self.label = self.user
        except ProtocolError as exc:
            problem = dom.element("k-who-problem")
            problem.textContent = self.screen.page.t("kiosk_who_invalid", what=str(exc))
            problem.hidden = False
            return
        self.screen.page = self.ctx.person(self.user, "enrol" if self.path == "enrol"
                                           else "verify")
        if self.path == "alt":
            self.go("k-code")
        elif self.path == "enrol":
            await self.guarded(self.staff_ticket)
        else:
            self.go("k-consent")

    async def staff_ticket(self) -> None:
        assert self.user is not None
        try:
            got = await self.api.post(protocol.StaffTicket(self.ctx.site, self.user,
                                                           protocol.desk_code(self.staff)),
                                      protocol.DeskTicket)
        except (Refused, ProtocolError):
            self.show("kiosk_staff_wrong", False)
            return
        finally:
            self.staff = None
        self.ticket = got.ticket
        self.go("k-consent")

    # --- the alternative -----------------------------------------------------------------------
    async def code_given(self, event: Any) -> None:
        async def flow() -> None:
            assert self.user is not None
            typed = str(dom.element("k-code-input").value)
            dom.element("k-code-input").value = ""
            kind = protocol.DeskCode if self.ctx.alternative == "code" else (
                protocol.StaffConfirm)
            try:
                await self.api.post(kind(self.ctx.site, self.user, protocol.desk_code(typed)),
                                    protocol.Verified)
            except (Refused, ProtocolError):
                self.show("kiosk_code_wrong", False)
                return
            self.show("kiosk_confirmed_who", True, who=self.label)
            self.screen.emit("verified", method=self.ctx.alternative)

        await self.guarded(flow)

    def other_way(self, event: Any) -> None:
        self.path = "alt"
        self.go("k-code")

    # --- the face ------------------------------------------------------------------------------
    async def start(self, event: Any) -> None:
        if not dom.element("consent").checked:
            dom.show("consent-needed")
            dom.element("consent").focus()
            return
        dom.show("consent-needed", False)
        await self.guarded(self.face)

    async def guarded(self, flow: Any) -> None:
        """One flow at a time; whatever happens, the camera is off and the frames gone."""
        if self.busy:
            return
        self.busy = True
        try:
            await flow()
        except OwnFaceError as exc:  # the server refused, or the network is down: say so
            self.show("kiosk_error", False, other=True, what=str(exc))
        finally:
            self.camera.stop()
            self.burst.frames.clear()
            self.busy = False
            self.touch()

    def live(self, captured: Capture) -> str | None:
        """The site's PAD policy on this burst: None when it passed, else what to say."""
        if self.ctx.liveness == "off":
            return None
        if captured.pad is None or not captured.pad.passed:
            return "kiosk_passive"
        if self.ctx.liveness == "passive+active" and not liveness.check(
                captured.landmarks).passed:
            return "kiosk_active"
        return None

    async def face(self) -> None:
        assert self.user is not None
        enrolling = self.path == "enrol"
        consent_id = b""
        if enrolling:  # the record of this person's consent, on the staff's ticket
            receipt = await self.api.post(protocol.ConsentGrant(
                self.ctx.site, self.user, protocol.CONSENT_PURPOSE, self.ctx.notice_version,
                self.ctx.notice_sha256, self.ctx.notice_language, ticket=self.ticket),
                protocol.ConsentReceipt)
            consent_id = receipt.consent_id
        self.go("k-camera")
        face_models, scheme = await self.pipelines.get(self.ctx.pipeline)
        captured = await self.burst.take(face_models, ENROL_BURST if enrolling
                                         else VERIFY_BURST)
        if captured is None:  # the burst said why (no face, too dark...)
            self.go("k-result")
            return
        refused = self.live(captured)
        if enrolling and refused is not None:  # no template from a refused burst
            self.show(refused, False, other=True)
            dom.show("again")
            return
        if enrolling:
            await enrol(captured.embedding, scheme=scheme, site=self.ctx.site, user=self.user,
                        origin=self.origin, consent_id=consent_id, api=self.api,
                        mode=self.ctx.mode, ticket=self.ticket, liveness=self.ctx.liveness)
            self.ticket = None
            self.show("kiosk_enrolled", True, who=self.label)
            return
        await self.verify(captured, scheme, refused)

    async def verify(self, captured: Capture, scheme: Any, refused: str | None = None
                     ) -> None:
        """A burst the liveness check refused goes through the server like a mismatch (it
        counts toward the same limits and looks the same on the wire); the person reads
        what to do."""
        assert self.user is not None
        try:
            pending = await begin(site=self.ctx.site, user=self.user, api=self.api)
            if pending.pipeline != self.ctx.pipeline:  # an old template: not at a kiosk
                self.show("kiosk_not_enrolled", False, other=True)
                return
            await finish(pending, captured.embedding, scheme=scheme, origin=self.origin,
                         api=self.api, liveness=self.ctx.liveness,
                         refused=None if refused is None else LivenessRefused(
                             "passive" if refused == "kiosk_passive" else "active"))
        except (NotMatched, Refused, CaptureError, LivenessRefused) as exc:
            if isinstance(exc, Refused) and exc.code not in {"not_verified", "challenge_invalid"}:
                raise
            self.failures += 1
            locked = self.failures >= protocol.FACE_ATTEMPT_LIMIT
            said = refused if isinstance(exc, LivenessRefused) and refused else \
                "kiosk_not_matched"
            self.show("kiosk_locked" if locked else said, False, other=True)
            dom.show("again", not locked)
            return
        self.show("kiosk_confirmed_who", True, who=self.label)
        self.screen.emit("verified", method="face")


async def main() -> None:
    ctx = KioskContext.read()
    take_kiosk_token(ctx.site)
    token = TemplateStore().kiosk_token(ctx.site)
    status = dom.element("k-status")
    if token is None:
        status.textContent = ctx.person("kiosk", "verify").t("kiosk_not_provisioned")
        return
    pipelines = models.Pipelines(await models.read_manifest(), ctx.pipeline,
                                 pad=ctx.liveness != "off")
    kiosk = Kiosk(ctx, pipelines, token)
    try:
        await pipelines.get(ctx.pipeline)
    except OwnFaceError:
        status.textContent = kiosk.screen.page.t("loading_failed")
        return
    handlers = [("k-face", "click", kiosk.choose("face")), ("k-alt", "click", kiosk.choose("alt")),
                ("k-enrol", "click", kiosk.choose("enrol")),
                ("k-staff-form", "submit", kiosk.staff_given),
                ("k-who-form", "submit", kiosk.who_given),
                ("k-code-form", "submit", kiosk.code_given), ("start", "click", kiosk.start),
                ("again", "click", kiosk.start), ("k-other", "click", kiosk.other_way),
                ("k-done", "click", kiosk.reset)]
    handlers += [(f"k-cancel-{name}", "click", kiosk.reset)
                 for name in ("staff", "who", "consent", "code")]
    handlers += [("ownface-kiosk", event, kiosk.touch)
                 for event in ("pointerdown", "keydown", "input")]
    _keep.extend(dom.on(element_id, event, handler) for element_id, event, handler in handlers)
    _keep.append(asyncio.ensure_future(kiosk.watch_idle()))
    for element_id in ("k-face", "k-alt", "k-enrol"):
        dom.element(element_id).disabled = False
    status.textContent = kiosk.screen.page.t("kiosk_ready")
    dom.element("ownface-kiosk").dataset.ready = "1"

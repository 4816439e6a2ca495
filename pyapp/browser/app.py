"""The verification app's face path, in Python in the browser.

The server has already rendered the notice and both choices; this module takes over the
"Use my face" screen once Python and the models have loaded: it records consent, starts the
camera only after it, gives live hints from the quality gates, captures a short burst,
stops the camera, and runs the protected-template protocol (pyapp.enrol / pyapp.verify).
It also serves "Withdraw consent" and keeps the "What left this device" panel up to date.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from pyapp import i18n, protocol
from pyapp.browser import dom, models
from pyapp.browser.api import HttpApi, show_sent
from pyapp.browser.camera import Camera
from pyapp.browser.storage import TemplateStore, take_kiosk_token
from pyapp.enrol import enrol
from pyapp.errors import CaptureError, NotMatched, OwnFaceError, QualityError, Reason, Refused
from pyapp.face.capture import CaptureConfig, capture
from pyapp.face.pipeline import FaceModels, FaceResult
from pyapp.template import keys
from pyapp.template.binarise import Scheme, scheme_from_params
from pyapp.verify import verify

ENROL_BURST = CaptureConfig(frames=10, needed=5)
VERIFY_BURST = CaptureConfig(frames=8, needed=3, enough=4)
_keep: list[Any] = []  # event-handler proxies live as long as the page


@dataclass(frozen=True)
class Page:
    site: str
    user: str
    lang: str
    action: str
    embed: str | None
    notice_version: int
    notice_sha256: str
    notice_language: str
    mode: str
    ticket: str | None = None  # an enrolment ticket the site's backend made (new accounts)

    @classmethod
    def read(cls) -> Page:
        data = json.loads(str(dom.element("ownface-context").textContent))
        return cls(**data)

    def t(self, key: str, **values: object) -> str:
        return i18n.text(self.lang, key, **values)


class FaceApp:
    def __init__(self, page: Page, face_models: FaceModels, scheme: Scheme) -> None:
        self.page = page
        self.models = face_models
        self.scheme = scheme
        self.templates = TemplateStore()
        self.api = HttpApi(kiosk=self.templates.kiosk_token(page.site))
        self.api.log.listeners.append(show_sent)
        self.camera = Camera("camera")
        self.session: bytes | None = None
        self.failures = 0
        self.busy = False
        self.origin = str(dom.window.location.origin)

    # --- which flow ---------------------------------------------------------------------------
    @property
    def template(self) -> bytes | None:
        return self.templates.load(self.page.site, self.page.user)

    @property
    def enrolling(self) -> bool:
        if self.page.action != "auto":
            return self.page.action == "enrol"
        return self.page.mode == "device" and self.template is None

    # --- screen pieces ------------------------------------------------------------------------
    def say(self, element_id: str, key: str, **values: object) -> None:
        dom.set_text(element_id, self.page.t(key, **values))

    def result(self, key: str, ok: bool, **values: object) -> None:
        if ok:  # done: the consent and start controls have served their purpose
            for element_id in ("consent-block", "loading", "start"):
                dom.show(element_id, False)
        box = dom.element("face-result")
        box.hidden = False
        box.className = "result success" if ok else "result problem"
        box.textContent = self.page.t(key, **values)
        box.dataset.outcome = key
        dom.mark("result")
        box.focus()

    def draw_box(self, result: FaceResult | None, frame_width: int, frame_height: int) -> None:
        box = dom.element("face-box")
        if result is None:
            box.hidden = True
            return
        x1, y1, x2, y2 = result.face.box
        # the preview is mirrored: mirror the box too, in percent of the frame
        box.style.left = f"{100 * (1 - x2 / frame_width):.1f}%"
        box.style.top = f"{100 * y1 / frame_height:.1f}%"
        box.style.width = f"{100 * (x2 - x1) / frame_width:.1f}%"
        box.style.height = f"{100 * (y2 - y1) / frame_height:.1f}%"
        box.hidden = False

    # --- the face path -------------------------------------------------------------------------
    async def start(self, event: Any) -> None:
        if self.busy:
            return
        consent = dom.element("consent")
        if not consent.checked:
            dom.show("consent-needed")
            consent.focus()
            return
        dom.show("consent-needed", False)
        dom.mark("start")
        self.busy = True
        dom.element("start").disabled = True
        dom.show("again", False)
        dom.show("face-result", False)
        try:
            await self.run()
        except OwnFaceError as exc:  # the server refused, or the network is down: say so
            self.result("error", False, what=str(exc))
            dom.show("again")
            self.emit("error", reason=getattr(exc, "code", type(exc).__name__))
        finally:
            self.camera.stop()  # whatever happened, the camera is off now
            dom.show("camera-area", False)
            self.busy = False
            dom.element("start").disabled = False

    async def run(self) -> None:
        consent_id = None
        if self.enrolling:
            receipt = await self.api.post(protocol.ConsentGrant(
                site=self.page.site, user=self.page.user, purpose=protocol.CONSENT_PURPOSE,
                notice_version=self.page.notice_version, notice_sha256=self.page.notice_sha256,
                language=self.page.notice_language), protocol.ConsentReceipt)
            consent_id = receipt.consent_id
        self.say("hint", "camera_starting")
        try:
            width, height = await self.camera.start()
        except Exception as exc:  # permission denied, no camera: a JS error
            self.result("camera_denied", False, why=str(exc).split(":")[-1].strip())
            self.emit("fallback", reason="camera")
            return
        dom.show("camera-area")
        dom.mark("camera")
        burst = ENROL_BURST if self.enrolling else VERIFY_BURST
        good = 0

        def on_frame(index: int, outcome: FaceResult | QualityError) -> None:
            nonlocal good
            if isinstance(outcome, QualityError):
                dom.set_text("hint", i18n.hint(self.page.lang, outcome.reason))
                self.draw_box(None, width, height)
            else:
                good += 1
                total = burst.enough or burst.frames
                self.say("hint", "hold_still", done=min(good, total), total=total)
                self.draw_box(outcome, width, height)

        async def next_frame() -> object:
            return self.camera.grab()

        try:
            captured = await capture(next_frame, self.models, burst, on_frame=on_frame)
        except CaptureError as exc:
            counts = sorted(exc.reasons.items(), key=lambda item: -item[1])
            reason = counts[0][0] if counts else Reason.NO_FACE
            self.camera.stop()
            self.result("capture_failed", False, hint=i18n.hint(self.page.lang, reason))
            dom.show("again")
            return
        self.camera.stop()  # stopped as soon as the burst is taken
        dom.mark("captured")
        dom.show("camera-area", False)
        self.say("hint", "checking")
        if self.enrolling:
            await self.do_enrol(captured.embedding, consent_id)
        else:
            await self.do_verify(captured.embedding)

    async def do_enrol(self, embedding: object, consent_id: bytes | None) -> None:
        assert consent_id is not None
        try:
            enrolment = await enrol(embedding, scheme=self.scheme, site=self.page.site,
                                    user=self.page.user, origin=self.origin,
                                    consent_id=consent_id, api=self.api, mode=self.page.mode,
                                    session=self.session, ticket=self.ticket)
        except Refused as exc:
            outcome = {"session_invalid": "enrol_verify_first",  # an account with credentials
                       "already_enrolled": "enrol_verify_first",  # gets a face from its holder
                       "ticket_required": "ticket_needed"}.get(exc.code)  # a new one: a ticket
            if outcome is None:
                raise
            dom.set_text("hint", self.page.t("camera_off"))
            self.result(outcome, False)
            self.emit("fallback", reason=exc.code)
            return
        self.templates.save(self.page.site, self.page.user, enrolment.template)
        self.session = enrolment.enrolled.session
        dom.set_text("hint", self.page.t("camera_off"))
        self.result("enrolled", True, site=self.page.site)
        self.enable_withdraw()
        self.emit("verified", method="face", assertion=enrolment.enrolled.assertion)

    async def do_verify(self, embedding: object) -> None:
        template = self.template if self.page.mode == "device" else None
        try:
            verified = await verify(embedding, scheme=self.scheme, site=self.page.site,
                                    user=self.page.user, origin=self.origin, api=self.api,
                                    template=template)
        except (NotMatched, Refused) as exc:
            if isinstance(exc, Refused) and exc.code not in {"not_verified", "challenge_invalid"}:
                raise
            self.failures += 1
            dom.set_text("hint", self.page.t("camera_off"))
            if self.failures >= protocol.FACE_ATTEMPT_LIMIT:
                self.result("locked", False)
                dom.element("start").hidden = True
                self.emit("fallback", reason="locked")
            else:
                self.result("not_matched", False)
                dom.show("again")
            return
        self.failures = 0
        self.session = verified.session
        dom.set_text("hint", self.page.t("camera_off"))
        self.result("verified", True)
        self.enable_withdraw()
        self.emit("verified", method="face", assertion=verified.assertion)

    # --- withdraw -----------------------------------------------------------------------------
    @property
    def ticket(self) -> bytes | None:
        if not self.page.ticket:
            return None
        return protocol.b64decode(self.page.ticket, "ticket", protocol.TICKET_BYTES)

    def enable_withdraw(self) -> None:
        dom.element("withdraw-confirm").disabled = self.session is None
        dom.show("withdraw-need", self.session is None)

    async def withdraw(self, event: Any) -> None:
        erased_local = self.templates.erase(self.page.site, self.page.user)
        parts = [self.page.t("erased_device") if erased_local
                 else self.page.t("erased_nothing_local")]
        if self.session is not None:
            done = await self.api.post(protocol.Withdraw(self.page.site, self.page.user,
                                                         self.session), protocol.Withdrawn)
            if "public_key" in done.erased:
                parts.insert(0, self.page.t("erased_template"))
            self.session = None
        out = dom.element("withdraw-result")
        out.textContent = self.page.t("withdraw_done", what="; ".join(parts))
        out.dataset.done = "1"
        out.focus()
        self.enable_withdraw()
        self.emit("withdrawn")

    def emit(self, kind: str, **detail: object) -> None:
        """Tell the embedding page (through the glue) what happened; no-op when not embedded."""
        dom.window.ownfaceGlue.emit(kind, dom.js_object(dict(detail)))


async def main() -> None:
    dom.mark("python")
    page = Page.read()
    take_kiosk_token(page.site)
    loading_text = dom.element("loading-text")
    bar = dom.element("loading-bar")

    def progress(role: str, done: int, total: int) -> None:  # the glue's bytes come first
        dom.element("loading").dataset.models = "1"
        bar.value = 80 + int(20 * done / total)
        loading_text.textContent = page.t("loading", what=page.t("loading_models", done=done,
                                                                 total=total))

    try:
        face_models = await models.load_models(progress=progress)
        params = await models.fetch_bytes(dom.manifest()["models"]["binarise-v1.json"])
        scheme = scheme_from_params(json.loads(params))
    except OwnFaceError:
        loading_text.textContent = page.t("loading_failed")
        return
    dom.mark("models")
    app = FaceApp(page, face_models, scheme)
    if not app.enrolling:
        dom.set_text("start", page.t("start_verify"))
    session = dom.element("ownface-app").getAttribute("data-session")
    if session:  # the password path just verified this person on the server-rendered page
        app.session = protocol.b64decode(str(session), "session")
    app.enable_withdraw()
    _keep.extend([dom.on("start", "click", app.start), dom.on("again", "click", app.start),
                  dom.on("withdraw-confirm", "click", app.withdraw)])
    dom.element("start").disabled = False
    # ready only once the screen is final (tests and people act on this flag)
    bar.value = 100
    loading_text.textContent = page.t("loading_ready")
    dom.element("loading").dataset.ready = "1"
    dom.element("ownface-app").dataset.faceReady = str(int(time.time()))
    keys.warm_up()  # the first signing key's curve tables, before anyone waits on them

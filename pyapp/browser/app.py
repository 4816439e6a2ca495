"""The verification app's face path, in Python in the browser.

The server has already rendered the notice and both choices; this module takes over the
"Use my face" screen once Python and the models have loaded: it records consent, starts the
camera only after it, gives live hints from the quality gates, captures a short burst,
stops the camera, and runs the protected-template protocol (pyapp.enrol / pyapp.verify).
It also serves "Withdraw consent" and keeps the "What left this device" panel up to date.

Templates name the face pipeline that made them. New ones use the server's current pipeline
(``Page.pipeline``); an older template is verified with its own pipeline (whose models load
only then) and, after a successful verification, the app offers to renew it to the current
one under the session that verification opened (ISO/IEC 24745 renewability).
"""

from __future__ import annotations

import time
from typing import Any

from pyapp import protocol
from pyapp.browser import dom, models
from pyapp.browser.api import HttpApi, show_sent
from pyapp.browser.burst import Burst, head_turned
from pyapp.browser.camera import Camera
from pyapp.browser.screen import Page, Screen
from pyapp.browser.storage import TemplateStore, take_kiosk_token
from pyapp.enrol import enrol
from pyapp.errors import (
    CaptureError,
    InputError,
    LivenessRefused,
    NotMatched,
    OwnFaceError,
    Refused,
)
from pyapp.face.capture import Capture, CaptureConfig, capture
from pyapp.face.pipeline import PipelineConfig
from pyapp.template import keys
from pyapp.template.blob import Template
from pyapp.verify import begin, finish

GUIDE_SECONDS = 30.0  # the guided camera stays on this long at most
GUIDE_FRAMES = 1000  # more than a camera gives the pipeline in that time
ENROL_BURST = CaptureConfig(frames=GUIDE_FRAMES, needed=5, enough=6, seconds=GUIDE_SECONDS)
VERIFY_BURST = CaptureConfig(frames=GUIDE_FRAMES, needed=3, enough=4, seconds=GUIDE_SECONDS)
_keep: list[Any] = []  # event-handler proxies live as long as the page


class FaceApp:
    def __init__(self, page: Page, pipelines: models.Pipelines) -> None:
        self.page = page
        self.screen = Screen(page)
        self.pipelines = pipelines
        self.templates = TemplateStore()
        self.api = HttpApi(kiosk=self.templates.kiosk_token(page.site))
        self.api.log.listeners.append(show_sent)
        self.camera = Camera("camera")
        self.burst = Burst(self.camera, self.screen)
        self.session: bytes | None = None
        self.failures = 0
        self.busy = False
        self.origin = str(dom.window.location.origin)

    # --- which flow ---------------------------------------------------------------------------
    @property
    def template(self) -> bytes | None:
        return self.templates.load(self.page.site, self.page.user)

    def consent_on_record(self) -> str | None:
        """The date this person agreed, on this device, to the notice the site shows now
        (None: no template here, no consent noted, or a newer notice that asks again)."""
        noted = self.templates.consent(self.page.site, self.page.user)
        if noted is None or self.template is None:
            return None
        version, sha256, date = noted
        if (version, sha256) != (self.page.notice_version, self.page.notice_sha256):
            return None
        return date

    def greet_returning(self) -> None:
        """A returning person who agreed to the current notice: one tap on the first screen
        verifies ("Verify as ... with your face"), with the date they agreed and the links to
        the notice and to withdraw; no consent box again."""
        date = self.consent_on_record()
        if date is None:
            return
        dom.element("consent").checked = True
        dom.show("consent-block", False)
        agreed = self.page.t("consent_recorded", date=date)
        for element_id in ("consent-on-record", "returning-agreed"):
            dom.set_text(element_id, agreed)
            dom.show(element_id)
        label = self.page.t("start_returning", user=self.page.user)
        dom.set_text("start", label)
        dom.set_text("verify-now", label)
        dom.show("returning")
        dom.element("verify-now").disabled = False

    async def verify_now(self, event: Any) -> None:
        dom.window.location.hash = "#face"
        await self.start(event)

    @property
    def active(self) -> bool:
        """Whether this site's policy asks for the active check (a head turn)."""
        return self.page.liveness == "passive+active"

    @property
    def enrolling(self) -> bool:
        if self.page.action != "auto":
            return self.page.action == "enrol"
        return self.page.mode == "device" and self.template is None

    def stored_pipeline(self) -> str:
        """The pipeline of this device's template (portable sites: the current one; the
        helper that arrives with the challenge may still name another)."""
        blob = self.template if self.page.mode == "device" else None
        try:
            return Template.decode(blob).pipeline if blob else self.page.pipeline
        except InputError:
            return self.page.pipeline

    # --- the face path -------------------------------------------------------------------------
    async def start(self, event: Any) -> None:
        consent = dom.element("consent")
        if not consent.checked:
            dom.show("consent-needed")
            consent.focus()
            return
        dom.show("consent-needed", False)
        await self.guarded(self.run)

    async def guarded(self, flow: Any) -> None:
        """Run one flow at a time; whatever happens, the camera is off afterwards."""
        if self.busy:
            return
        dom.mark("start")
        self.busy = True
        for element_id in ("start", "renew-start"):
            dom.element(element_id).disabled = True
        dom.show("again", False)
        dom.show("face-result", False)
        try:
            await flow()
        except OwnFaceError as exc:  # the server refused, or the network is down: say so
            self.screen.result("error", False, what=str(exc))
            dom.show("again")
            self.screen.emit("error", reason=getattr(exc, "code", type(exc).__name__))
        finally:
            self.camera.stop()
            self.burst.frames.clear()
            dom.show("camera-area", False)
            self.busy = False
            for element_id in ("start", "renew-start"):
                dom.element(element_id).disabled = False

    def consent(self) -> protocol.ConsentGrant:
        return protocol.ConsentGrant(
            site=self.page.site, user=self.page.user, purpose=protocol.CONSENT_PURPOSE,
            notice_version=self.page.notice_version, notice_sha256=self.page.notice_sha256,
            language=self.page.notice_language, session=self.session, ticket=self.ticket)

    async def run(self) -> None:
        consent_id = None
        if self.enrolling:
            try:  # the record needs the holder's session, or for a new account the ticket
                receipt = await self.api.post(self.consent(), protocol.ConsentReceipt)
            except Refused as exc:
                self.refused(exc)
                return
            consent_id = receipt.consent_id
        pipeline = self.page.pipeline if self.enrolling else self.stored_pipeline()
        face_models, _ = await self.pipelines.get(pipeline)
        burst = ENROL_BURST if self.enrolling else VERIFY_BURST
        captured = await self.burst.take(face_models, burst, self.active)
        if captured is None:
            return
        if self.enrolling:
            assert consent_id is not None
            await self.do_enrol(captured, consent_id, "enrolled")
        else:
            await self.do_verify(captured, pipeline)

    def liveness(self, captured: Capture) -> tuple[str, LivenessRefused | None]:
        """The liveness checks that ran on the capture (what the server is told: the site's
        policy, once its models ran) and the first refusal, if any: the passive one
        (MiniFASNet over every usable frame), then the head turn (``passive+active``)."""
        if captured.pad is None:
            return "off", None
        ran = self.page.liveness
        if not captured.pad.passed:
            return ran, LivenessRefused("passive")
        if self.active and not head_turned(captured.landmarks):
            return ran, LivenessRefused("active")
        return ran, None

    def liveness_refused(self, exc: LivenessRefused) -> None:
        """What to do next (closer to a real camera, turn the head, or the password), never
        what was suspected; the same retry as a mismatch."""
        self.screen.say("hint", "camera_off")
        self.screen.result(f"liveness_{exc.check}", False)
        dom.show("again")

    async def do_enrol(self, captured: Capture, consent_id: bytes, outcome: str) -> None:
        _, scheme = await self.pipelines.get(self.page.pipeline)
        ran, refused = self.liveness(captured)
        if refused is not None:  # no template from a burst the check refused
            self.liveness_refused(refused)
            return
        try:
            enrolment = await enrol(captured.embedding, scheme=scheme, site=self.page.site,
                                    user=self.page.user, origin=self.origin,
                                    consent_id=consent_id, api=self.api, mode=self.page.mode,
                                    session=self.session, ticket=self.ticket, liveness=ran)
        except Refused as exc:
            self.refused(exc)
            return
        self.templates.save(self.page.site, self.page.user, enrolment.template)
        self.templates.save_consent(self.page.site, self.page.user, self.page.notice_version,
                                    self.page.notice_sha256, time.strftime("%Y-%m-%d"))
        self.session = enrolment.enrolled.session
        self.screen.say("hint", "camera_off")
        self.enable_withdraw()
        self.screen.result(outcome, True, site=self.page.site)
        self.screen.emit("verified", method="face", assertion=enrolment.enrolled.assertion)

    def refused(self, exc: Refused) -> None:
        """Enrolment refused for who is asking: an account with credentials gets a face only
        from its holder, a new one (or one closed before) only with the site's ticket."""
        outcome = {"session_invalid": "enrol_verify_first",
                   "already_enrolled": "enrol_verify_first",
                   "ticket_required": "ticket_needed"}.get(exc.code)
        if outcome is None:
            raise exc
        self.screen.say("hint", "camera_off")
        self.screen.result(outcome, False)
        self.screen.emit("fallback", reason=exc.code)

    async def embedding_for(self, captured: Capture, used: str, needed: str) -> object:
        """The burst's embedding by the pipeline the template needs (the kept frames run
        again through that pipeline when the template arrived with the challenge)."""
        if needed == used:
            return captured.embedding
        face_models, _ = await self.pipelines.get(needed)
        replay = list(self.burst.frames)

        async def next_frame() -> object:
            return replay.pop(0)

        again = await capture(next_frame, face_models,  # PAD has judged these frames
                              CaptureConfig(frames=len(replay), needed=1,
                                            pipeline=PipelineConfig(pad=False)))
        return again.embedding

    async def do_verify(self, captured: Capture, used: str) -> None:
        template = self.template if self.page.mode == "device" else None
        ran, refused = self.liveness(captured)
        try:
            pending = await begin(site=self.page.site, user=self.page.user, api=self.api,
                                  template=template)
            embedding = (captured.embedding if refused else
                         await self.embedding_for(captured, used, pending.pipeline))
            _, scheme = await self.pipelines.get(pending.pipeline)
            # a refused capture still goes through the server (a random key), so that it
            # counts against the same attempt limit as a mismatch
            verified = await finish(pending, embedding, scheme=scheme, origin=self.origin,
                                    api=self.api, liveness=ran, refused=refused)
        except (NotMatched, Refused, CaptureError, LivenessRefused) as exc:
            if isinstance(exc, Refused) and exc.code not in {"not_verified", "challenge_invalid"}:
                raise
            self.failures += 1  # a liveness refusal counts like a mismatch (here and there)
            self.screen.say("hint", "camera_off")
            if self.failures >= protocol.FACE_ATTEMPT_LIMIT:
                self.screen.result("locked", False)
                dom.element("start").hidden = True
                self.screen.emit("fallback", reason="locked")
            elif isinstance(exc, LivenessRefused):
                self.liveness_refused(exc)
            else:
                self.screen.result("not_matched", False)
                dom.show("again")
            return
        self.failures = 0
        self.session = verified.session
        self.screen.say("hint", "camera_off")
        self.enable_withdraw()
        # the screen is final before the result marks it (people and tests act on the result)
        dom.show("renew", pending.pipeline != self.page.pipeline)
        self.screen.result("verified", True)
        self.screen.emit("verified", method="face", assertion=verified.assertion)

    async def renew(self, event: Any) -> None:
        """Replace an older pipeline's template with one of the current pipeline, under the
        session the successful verification opened (a new consent record names it)."""

        async def flow() -> None:
            if self.session is None:
                return
            dom.show("renew", False)
            receipt = await self.api.post(self.consent(), protocol.ConsentReceipt)
            face_models, _ = await self.pipelines.get(self.page.pipeline)
            captured = await self.burst.take(face_models, ENROL_BURST, self.active)
            if captured is None:
                dom.show("renew")
                return
            await self.do_enrol(captured, receipt.consent_id, "renewed")

        await self.guarded(flow)

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
        dom.show("renew", False)
        out = dom.element("withdraw-result")
        out.textContent = self.page.t("withdraw_done", what="; ".join(parts))
        out.dataset.done = "1"
        # done: nothing left to withdraw here, so no button and no "verify first" note
        dom.element("withdraw-confirm").hidden = True
        dom.show("withdraw-need", False)
        out.focus()
        self.screen.emit("withdrawn")


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
        pipelines = models.Pipelines(await models.read_manifest(), page.pipeline, progress,
                                     pad=page.liveness != "off")
        app = FaceApp(page, pipelines)
        await pipelines.get(page.pipeline if app.enrolling else app.stored_pipeline())
    except OwnFaceError:
        loading_text.textContent = page.t("loading_failed")
        return
    dom.mark("models")
    if not app.enrolling:
        dom.set_text("start", page.t("start_verify"))
        app.greet_returning()
    session = dom.element("ownface-app").getAttribute("data-session")
    if session:  # the password path just verified this person on the server-rendered page
        app.session = protocol.b64decode(str(session), "session")
    app.enable_withdraw()
    _keep.extend([dom.on("start", "click", app.start), dom.on("again", "click", app.start),
                  dom.on("renew-start", "click", app.renew),
                  dom.on("verify-now", "click", app.verify_now),
                  dom.on("withdraw-confirm", "click", app.withdraw)])
    dom.element("start").disabled = False
    # ready only once the screen is final (tests and people act on this flag)
    bar.value = 100
    loading_text.textContent = page.t("loading_ready")
    dom.element("loading").dataset.ready = "1"
    dom.element("ownface-app").dataset.faceReady = str(int(time.time()))
    keys.warm_up()  # the first signing key's curve tables, before anyone waits on them

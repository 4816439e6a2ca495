"""The face screen's pieces the app writes to: hints, the result box, the face frame on the
preview, and the events the embedding page hears. No flow logic here (pyapp.browser.app)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pyapp import i18n
from pyapp.browser import dom
from pyapp.face.pipeline import FaceResult


@dataclass(frozen=True)
class Page:
    """What the server rendered into the page for this visit (``#ownface-context``)."""

    site: str
    user: str
    lang: str
    action: str
    embed: str | None
    notice_version: int
    notice_sha256: str
    notice_language: str
    mode: str
    pipeline: str = "v2"  # the face pipeline new templates are made with
    ticket: str | None = None  # an enrolment ticket the site's backend made (new accounts)
    liveness: str = "passive"  # the site's presentation-attack policy (LIVENESS_POLICIES)

    @classmethod
    def read(cls) -> Page:
        data = json.loads(str(dom.element("ownface-context").textContent))
        return cls(**data)

    def t(self, key: str, **values: object) -> str:
        return i18n.text(self.lang, key, **values)


class Screen:
    def __init__(self, page: Page) -> None:
        self.page = page

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

    def emit(self, kind: str, **detail: Any) -> None:
        """Tell the embedding page (through the glue) what happened; no-op when not embedded."""
        dom.window.ownfaceGlue.emit(kind, dom.js_object(dict(detail)))

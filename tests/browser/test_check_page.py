"""End to end in Chromium: the system-check page boots Python, loads the models, reads one frame
from a (fake) camera only after the button press, runs the face pipeline, and sends nothing
anywhere but the local server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.browser.audit import NetworkAudit
from tests.browser.conftest import LiveServer, photo_frame
from tests.conftest import lfw_image

# Count getUserMedia calls made by the page (a test-only init script, not app code).
COUNT_CAMERA = """
window.__cameraRequests = 0;
const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (c) => { window.__cameraRequests++; return original(c); };
"""


def run_check(browser: Any, url: str, audit: NetworkAudit) -> tuple[dict[str, Any], Any]:
    context = browser.new_context()
    context.add_init_script(COUNT_CAMERA)
    audit.attach(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/check/")
    page.wait_for_selector("#check[data-ready=models]", state="attached", timeout=180_000)
    page.wait_for_selector("#grab:not([disabled])")
    assert page.evaluate("window.__cameraRequests") == 0, "camera requested before the press"
    page.click("#grab")
    page.wait_for_selector("#result[data-outcome]", state="attached", timeout=60_000)
    outcome = json.loads(page.get_attribute("#result", "data-outcome") or "{}")
    state = {"requests": page.evaluate("window.__cameraRequests"),
             "active": page.evaluate("window.ownfaceGlue.camera.active"),
             "errors": errors, "texts": page.locator("li").all_text_contents()}
    context.close()
    return outcome, state


@pytest.mark.browser
@pytest.mark.data
def test_check_page_finds_the_face_in_a_camera_frame(
        live_server: LiveServer, launch_with_camera: Callable[[Path], Any],
        camera_file: Callable[[list[np.ndarray]], Path], lfw_dir: Path,
        audit: NetworkAudit) -> None:
    frame = photo_frame(lfw_image(lfw_dir, "Abel_Pacheco", 1))
    browser = launch_with_camera(camera_file([frame]))
    outcome, state = run_check(browser, live_server.url, audit)
    assert state["errors"] == []
    assert outcome.get("faces") == 1, outcome
    assert outcome["frame"] == [640, 480]
    assert outcome["dim"] == 128 and abs(outcome["norm"] - 1) < 1e-3
    x1, y1, x2, y2 = outcome["box"]
    assert 170 < (x1 + x2) / 2 < 470 and 120 < (y1 + y2) / 2 < 360  # the face is mid-frame
    assert state["requests"] == 1 and state["active"] is False  # one request, stopped after
    assert any("cross-origin isolated: yes" in t for t in state["texts"])
    audit.check()
    urls = [r.url for r in audit.requests]
    # the audit sees the worker's own requests too (the runtime, the model files)
    assert any(u.endswith("pyodide.asm.wasm") for u in urls)
    assert any("/assets/models/" in u and u.endswith("sface.weights.npz") for u in urls)
    assert not any(u.endswith("dlib_resnet.weights.npz") for u in urls)  # v1: not needed


@pytest.mark.browser
def test_check_page_reports_no_face_in_an_empty_frame(
        live_server: LiveServer, launch_with_camera: Callable[[Path], Any],
        camera_file: Callable[[list[np.ndarray]], Path], audit: NetworkAudit) -> None:
    grey = np.full((480, 640, 3), 128, np.uint8)
    browser = launch_with_camera(camera_file([grey]))
    outcome, state = run_check(browser, live_server.url, audit)
    assert outcome == {"faces": 0, "reason": "no_face"}
    assert state["errors"] == [] and state["active"] is False
    audit.check()

"""Interop of the protected templates: a template made by CPython (pyapp.enrol against the
real server) opens in the browser and verifies; the browser's own templates verify on the
server (tests/browser/test_app.py). Same code, two interpreters, one server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest

from pyapp import host, protocol
from pyapp.enrol import enrol
from pyapp.errors import Refused
from pyapp.face.capture import CaptureConfig, capture
from pyapp.face.frame import photo_frame
from tests.browser.audit import NetworkAudit
from tests.browser.conftest import LiveServer

M = TypeVar("M", bound=protocol.Message)


class HttpApi:
    """pyapp's Api port over HTTP from CPython (what a native client would do)."""

    def __init__(self, url: str) -> None:
        self.url, self.origin = url, url

    async def post(self, request: protocol.Message, expect: type[M]) -> M:
        path, _ = protocol.ENDPOINTS[type(request)]
        async with httpx.AsyncClient() as client:
            r = await client.post(f"{self.url}{protocol.API_PREFIX}/{path}",
                                  json=request.to_json(), headers={"Origin": self.origin})
        if r.status_code != 200:
            err = protocol.ErrorBody.parse(r.json())
            raise Refused(err.error, err.message)
        return expect.parse(r.json())

    async def challenge(self, r: protocol.ChallengeRequest) -> protocol.Challenge:
        return await self.post(r, protocol.Challenge)

    async def evaluate(self, r: protocol.EvaluateRequest) -> protocol.Evaluation:
        return await self.post(r, protocol.Evaluation)

    async def enrol(self, r: protocol.EnrolRequest) -> protocol.Enrolled:
        return await self.post(r, protocol.Enrolled)

    async def verify(self, r: protocol.VerifyRequest) -> protocol.Verified:
        return await self.post(r, protocol.Verified)


def cpython_enrolment(url: str, user: str, frames: list[np.ndarray]) -> bytes:
    models = host.load_models()
    scheme = host.load_scheme()
    api = HttpApi(url)

    async def run() -> bytes:
        queue = list(frames)

        async def next_frame() -> object:
            return queue.pop(0)

        captured = await capture(next_frame, models, CaptureConfig(len(frames), 3))
        notice = httpx.get(f"{url}{protocol.API_PREFIX}/sites/demo/notice?lang=en").json()
        receipt = await api.post(protocol.ConsentGrant(
            site="demo", user=user, purpose=protocol.CONSENT_PURPOSE,
            notice_version=notice["version"], notice_sha256=notice["sha256"], language="en"),
            protocol.ConsentReceipt)
        done = await enrol(captured.embedding, scheme=scheme, site="demo", user=user,
                           origin=url, consent_id=receipt.consent_id, api=api)
        return done.template

    # Playwright's sync API owns this thread's event loop
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()



@pytest.mark.browser
@pytest.mark.data
def test_a_template_made_in_cpython_verifies_in_the_browser(
        live_server: LiveServer, launch_with_camera: Callable[..., Any],
        camera_file: Callable[[list[np.ndarray]], Path], lfw_dir: Path,
        audit: NetworkAudit) -> None:
    photos = sorted((lfw_dir / "images" / "Tony_Blair").glob("*.jpg"))
    frames = [photo_frame(host.read_photo(p)) for p in photos[:5]]  # photo 6 is not among them
    template = cpython_enrolment(live_server.url, "ivan", frames)
    storage = {"cookies": [], "origins": [{"origin": live_server.url, "localStorage": [
        {"name": "ownface/1/template/demo/ivan", "value": protocol.b64encode(template)}]}]}
    browser = launch_with_camera(camera_file([photo_frame(host.read_photo(photos[6]))]))
    context = browser.new_context(storage_state=json.loads(json.dumps(storage)))
    audit.attach(context)
    page = context.new_page()
    page.goto(f"{live_server.url}/app/?site=demo&user=ivan")
    page.click("#choose-face")
    page.wait_for_selector("#loading[data-ready]", state="attached", timeout=180_000)
    assert page.text_content("#start") == "Start the camera"  # it found the template
    page.check("#consent")
    page.click("#start")
    page.wait_for_selector("#face-result[data-outcome]", state="attached", timeout=120_000)
    assert page.get_attribute("#face-result", "data-outcome") == "verified"
    context.close()
    audit.check()

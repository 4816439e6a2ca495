"""Renewable templates (ISO/IEC 24745), end to end in Chromium: a person enrols while the server
makes v1 templates (MTCNN + dlib); the server is upgraded to v2 (YuNet + SFace); the old
template still verifies (the app loads the v1 models only because this template needs them),
the app offers to renew, the renewal replaces the public key under the verified session, and
the next verification runs on v2 alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from pyapp import host, protocol
from pyapp.face.frame import photo_frame
from pyapp.template.blob import Template
from server import assets, db, defaults
from server.app import create_app
from server.settings import Settings
from server.tables import audit, templates, users
from tests.browser.audit import NetworkAudit
from tests.browser.conftest import LiveServer, free_port

PERSON = "Tony_Blair"
KEY = "ownface/1/template/demo/renata"


def stored(settings: Settings) -> tuple[str, bytes]:
    """(pipeline, public key) of renata's template on the server."""
    engine = db.make_engine(settings.database)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(templates.c.pipeline, templates.c.public_key).join(
                users, users.c.id == templates.c.user_id).where(
                users.c.external_id == "renata")).one()
            events = [e for (e,) in conn.execute(select(audit.c.event))]
    finally:
        engine.dispose()
    assert events.count("enrolled") == 1
    return str(row[0]), bytes(row[1])


def events(settings: Settings) -> list[str]:
    engine = db.make_engine(settings.database)
    try:
        with engine.connect() as conn:
            return [str(e) for (e,) in conn.execute(select(audit.c.event))]
    finally:
        engine.dispose()


def device_pipeline(context: Any, origin: str) -> str:
    state = context.storage_state()
    entries = {item["name"]: item["value"] for o in state["origins"] if o["origin"] == origin
               for item in o["localStorage"]}
    return Template.decode(protocol.b64decode(entries[KEY], "template")).pipeline


def face(page: Any, expected: str, button: str = "#start") -> None:
    page.evaluate("document.getElementById('face-result').removeAttribute('data-outcome')")
    page.click(button)
    page.wait_for_selector("#face-result[data-outcome]", state="attached", timeout=180_000)
    assert page.get_attribute("#face-result", "data-outcome") == expected


def open_face_screen(context: Any, url: str) -> Any:
    page = context.new_page()
    page.goto(f"{url}/app/?site=demo&user=renata")
    page.click("#choose-face")
    page.wait_for_selector("#loading[data-ready]", state="attached", timeout=180_000)
    page.check("#consent")
    return page


@pytest.mark.browser
@pytest.mark.data
@pytest.mark.slow
def test_enrol_v1_upgrade_verify_renew_verify_v2(
        tmp_path: Path, lfw_dir: Path, launch_with_camera: Callable[..., Any],
        camera_file: Callable[[list[np.ndarray]], Path], audit: NetworkAudit) -> None:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    v1 = Settings(data_dir=tmp_path / "data", port=port, public_origin=origin,
                  face_pipeline="v1")
    v2 = Settings(data_dir=v1.data_dir, port=port, public_origin=origin, face_pipeline="v2")
    assets.setup(v1, with_test=True, quiet=True)
    engine = db.make_engine(v1.database)
    db.migrate(engine)
    defaults.ensure_demo_site(engine, [origin])
    engine.dispose()
    photos = sorted((lfw_dir / "images" / PERSON).glob("*.jpg"))
    frames = [photo_frame(host.read_photo(p))[:, :, :3] for p in photos[:4]]
    browser = launch_with_camera(camera_file(frames))
    context = browser.new_context()
    audit.attach(context)
    models_fetched: list[str] = []
    context.on("request", lambda r: models_fetched.append(r.url.rsplit("/", 1)[-1])
               if "/assets/models/" in r.url else None)

    with LiveServer(create_app(v1), port):  # the server as it was: v1 templates
        page = open_face_screen(context, origin)
        face(page, "enrolled")
        assert page.locator("#renew").is_hidden()
    pipeline, old_key = stored(v1)
    assert pipeline == "v1" and device_pipeline(context, origin) == "v1"
    assert "sface.weights.npz" not in models_fetched  # a v1 page loads no v2 model

    with LiveServer(create_app(v2), port):  # upgraded: new templates are v2
        models_fetched.clear()
        page = open_face_screen(context, origin)
        # this device's template is v1: its models load (and v2's, the server's default)
        assert {"dlib_resnet.weights.npz", "mtcnn_pnet.weights.npz"} <= set(models_fetched)
        face(page, "verified")
        assert page.locator("#renew").is_visible()
        face(page, "renewed", "#renew-start")
        assert page.locator("#renew").is_hidden()
        pipeline, new_key = stored(v2)
        assert pipeline == "v2" and new_key != old_key
        assert device_pipeline(context, origin) == "v2"
        assert "renewed" in events(v2)

        models_fetched.clear()
        page = open_face_screen(context, origin)  # a new visit: v2 only
        assert "dlib_resnet.weights.npz" not in models_fetched
        assert "sface.weights.npz" in models_fetched
        face(page, "verified")
        assert page.locator("#renew").is_hidden()
    context.close()
    audit.check()

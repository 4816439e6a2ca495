"""The kiosk's server-rendered pages (server.kiosk): the page context, bad links, a device-
mode site has no kiosk, the notice page and the signs."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.testclient import TestClient

from tests.server.conftest import FakeClock, add_site, make_app, make_settings


def test_kiosk_pages(tmp_path: Path, clock: FakeClock) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    add_site(url, "front", mode="portable", liveness="passive+active")
    add_site(url, "shop", mode="device")
    (tmp_path / "web" / "templates").mkdir(parents=True)
    root = Path(__file__).resolve().parents[2] / "web" / "templates"
    for name in ("kiosk.html", "sign.html", "problem.html"):
        (tmp_path / "web" / "templates" / name).write_text((root / name).read_text())
    with TestClient(make_app(make_settings(tmp_path, url, clock))) as client:
        page = client.get("/kiosk/?site=front&lang=zh&idle=30")
        assert page.status_code == 200
        context = json.loads(page.text.split('id="ownface-kiosk-context">')[1]
                             .split("</script>")[0])
        assert context["liveness"] == "passive+active" and context["idle_seconds"] == 30
        assert context["identity"] == "room" and context["alternative"] == "code"
        assert "使用人脸识别" in page.text
        assert client.get("/kiosk/?site=front&idle=2").status_code == 400
        assert client.get("/kiosk/?site=front&idle=x").status_code == 400
        assert client.get("/kiosk/?site=nope").status_code == 404
        assert client.get("/kiosk/?site=bad%20id").status_code == 400
        device = client.get("/kiosk/?site=shop")
        assert device.status_code == 409 and "portable mode" in device.text
        notice = client.get("/kiosk/notice?site=front&lang=en")
        assert notice.status_code == 200 and "We turn your face" in notice.text
        assert client.get("/kiosk/sign?site=front&size=a5").status_code == 400
        sign = client.get("/kiosk/sign?site=front&size=card&lang=en")
        assert sign.status_code == 200 and "<svg" in sign.text and "365 days" in sign.text
        assert client.get("/kiosk?site=front", follow_redirects=False).status_code == 307

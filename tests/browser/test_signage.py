"""Signs (server.signage): A4 and A3 signs and the counter card, in English and Chinese,
rendered by Chromium to PDF and to pixels; the QR code read back by a real decoder
(zxing-cpp) leads to the site's notice page, which shows the notice and the alternative;
no serious or critical axe-core violation."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from server import signage
from server.settings import Settings
from tests.browser.audit import NetworkAudit
from tests.browser.conftest import LiveServer
from tests.browser.desk import DeskSite, desk_site
from tests.browser.test_accessibility import RUN_AXE, TAGS, axe_source

# PDF page sizes in points (1/72 inch): A4 210x297 mm, A3 297x420 mm, the card 105x148 mm
POINTS = {"a4": (595, 842), "a3": (842, 1191), "card": (298, 420)}


@pytest.fixture(scope="module")
def gate(app_settings: Settings) -> DeskSite:
    return desk_site(app_settings, "gate", alternative="staff")


def decode_qr(png: bytes) -> list[str]:
    import zxingcpp
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return [r.text for r in zxingcpp.read_barcodes(image)]


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    return [(float(w), float(h)) for w, h in boxes]


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_signs_print_and_their_qr_codes_lead_to_the_notice(
        live_server: LiveServer, browser: Any, gate: DeskSite, app_settings: Settings,
        audit: NetworkAudit, lang: str) -> None:
    context = browser.new_context()
    audit.attach(context)
    page = context.new_page()
    axe = axe_source(app_settings)
    expected = signage.notice_url(live_server.url, gate.name, lang)
    for size in signage.SIZES:
        page.goto(f"{live_server.url}/kiosk/sign?site={gate.name}&size={size}&lang={lang}")
        text = page.text_content("main") or ""
        assert gate.name in text and "365" in text
        assert ("staff" in text) if lang == "en" else ("工作人员" in text)
        assert decode_qr(page.locator(".qr svg").screenshot()) == [expected]
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        pages = pdf_pages(pdf)
        assert len(pages) == 1, f"{size} {lang} prints on {len(pages)} pages"
        width, height = pages[0]
        assert abs(width - POINTS[size][0]) < 2 and abs(height - POINTS[size][1]) < 2
        page.evaluate(axe)
        assert page.evaluate(RUN_AXE, TAGS) == []
    # where the code leads: the notice itself and how to decline
    page.goto(expected)
    body = page.text_content("main") or ""
    assert ("facial recognition" in body.lower()) if lang == "en" else ("人脸识别" in body)
    page.evaluate(axe)
    assert page.evaluate(RUN_AXE, TAGS) == []
    context.close()
    audit.check()


@pytest.mark.browser
def test_ownface_site_signage_writes_standalone_signs(
        app_settings: Settings, gate: DeskSite, browser: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, audit: NetworkAudit) -> None:
    from server import sites

    monkeypatch.delenv("OWNFACE_CONFIG", raising=False)
    monkeypatch.setenv("OWNFACE_DATA_DIR", str(app_settings.data_dir))
    monkeypatch.setenv("OWNFACE_PUBLIC_ORIGIN", "https://desk.example")
    assert sites.main(["signage", gate.name, "--out", str(tmp_path)]) == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == sorted(f"gate-{s}-{lang}.html" for s in signage.SIZES
                           for lang in ("en", "zh"))
    context = browser.new_context()
    audit.attach(context)
    page = context.new_page()
    # a standalone file: no server behind it, its styles inline, and it asks for nothing
    page.set_content((tmp_path / "gate-a3-zh.html").read_text(encoding="utf-8"))
    assert decode_qr(page.locator(".qr svg").screenshot()) == [
        "https://desk.example/kiosk/notice?site=gate&lang=zh"]
    [(width, height)] = pdf_pages(page.pdf(prefer_css_page_size=True))
    assert (round(width), round(height)) == POINTS["a3"]
    context.close()
    assert audit.requests == [] and audit.problems() == []

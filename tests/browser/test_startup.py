"""When and how the face runtime loads (web/glue/boot.js): nothing heavy for a person who takes
the password, loading as soon as the face path becomes likely, progress told in megabytes.

Each test uses a fresh browser context (an empty HTTP cache), so everything is downloaded."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest

from pyapp import i18n, protocol
from pyapp.host import read_manifest
from server import assets
from server.settings import Settings
from tests.browser.audit import NetworkAudit
from tests.browser.conftest import LiveServer
from tests.browser.screens import PASSWORD, face_ready, submit
from tests.conftest import ROOT

HEAVY = re.compile(r"/assets/(pyodide@|onnxruntime-web@|models/|wheels/)")
# every text the loading line shows, in order (the page's own words, both languages)
RECORD_TEXTS = """window.__loadingTexts = [];
document.addEventListener("DOMContentLoaded", () => {
  const text = document.getElementById("loading-text");
  if (!text) return;
  window.__loadingTexts.push(text.textContent);
  new MutationObserver(() => window.__loadingTexts.push(text.textContent))
    .observe(text, { childList: true, characterData: true, subtree: true });
});"""


def heavy(audit: NetworkAudit) -> list[str]:
    return [seen.url for seen in audit.requests if HEAVY.search(seen.url)]


def open_app(browser: Any, audit: NetworkAudit, url: str,
             storage: dict[str, Any] | None = None) -> tuple[Any, Any]:
    context = browser.new_context(storage_state=storage)
    context.add_init_script(RECORD_TEXTS)
    audit.attach(context)
    page = context.new_page()
    page.goto(url)
    return context, page


@pytest.mark.browser
def test_the_password_path_downloads_nothing_heavy(live_server: LiveServer, browser: Any,
                                                   audit: NetworkAudit) -> None:
    url = f"{live_server.url}/app/?site=demo&user=startup-pw"
    context, page = open_app(browser, audit, url)
    page.click("#choose-password")
    page.click("details.create summary")
    page.fill("#new-password", PASSWORD)
    submit(page, "details.create button[type=submit]")
    assert "password is saved" in (page.text_content("#result") or "")
    page.goto(url + "#password")
    page.fill("#password-input", PASSWORD)
    submit(page, "#password > form button[type=submit]")
    assert "Verified" in (page.text_content("#result") or "")
    page.wait_for_timeout(500)  # a worker started by mistake would be fetching by now
    assert heavy(audit) == []
    # pointing at "Use my face" is enough to start: the face path has become likely
    page.goto(url)
    page.hover("#choose-face")
    page.wait_for_function("() => document.documentElement.dataset.pythonMs !== undefined",
                           timeout=180_000)
    assert any("pyodide.asm.wasm" in u for u in heavy(audit))
    context.close()
    audit.check()


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_loading_is_told_in_megabytes_then_ready(live_server: LiveServer, browser: Any,
                                                 app_settings: Settings, audit: NetworkAudit,
                                                 lang: str) -> None:
    manifest = assets.read_manifest(app_settings)
    total = sum(sent for group in manifest["downloads"] for _, sent, _ in group) / 1e6
    context, page = open_app(browser, audit,
                             f"{live_server.url}/app/?site=demo&user=startup-{lang}&lang={lang}"
                             "#face")  # opened on the face screen: it loads at once
    face_ready(page)
    texts: list[str] = page.evaluate("window.__loadingTexts")
    download = i18n.text(lang, "loading", what=i18n.text(lang, "loading_download",
                                                          done="{done}", total="{total}"))
    pattern = re.escape(download).replace(r"\{done\}", r"([0-9.]+)") \
        .replace(r"\{total\}", r"([0-9.]+)")
    counted = [tuple(map(float, m.groups())) for t in texts if (m := re.fullmatch(pattern, t))]
    assert counted, texts
    assert counted[0][0] == 0.0 and counted[-1][0] == counted[-1][1]  # from nothing to all
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(counted))
    assert counted[-1][1] == pytest.approx(total, abs=0.1)  # what the server sends, brotli
    assert texts[-1] == i18n.text(lang, "loading_ready")
    # the default pipeline's models (the demo site here checks no liveness: no PAD models)
    roles = len(read_manifest(ROOT / "models").roles(Settings().face_pipeline))
    assert i18n.text(lang, "loading", what=i18n.text(lang, "loading_models", done=roles,
                                                     total=roles)) in texts
    context.close()
    audit.check()


@pytest.mark.browser
def test_a_returning_person_gets_the_face_path_loaded_without_asking(
        live_server: LiveServer, browser: Any, audit: NetworkAudit) -> None:
    key = protocol.device_template_key("demo", "startup-back")
    storage = {"cookies": [], "origins": [{"origin": live_server.url, "localStorage": [
        {"name": key, "value": protocol.b64encode(b"\x01" * 64)}]}]}
    context, page = open_app(browser, audit, f"{live_server.url}/app/?site=demo&user=startup-back",
                             storage=json.loads(json.dumps(storage)))
    face_ready(page)  # no pointer, no click: this device holds the person's template
    assert page.text_content("#start") == "Start the camera"
    context.close()
    audit.check()

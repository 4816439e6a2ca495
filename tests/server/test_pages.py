"""The server-rendered app page: it works at once, refuses bad links clearly, frames only for
the site's origins, keeps themes readable, and its password forms follow the API's rules."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pyapp import i18n, protocol
from server import assets, db, defaults, keys, sites, theme
from server.app import create_app
from server.notices import PARAGRAPHS
from server.pages import AppPages
from server.settings import Settings

ORIGIN = "http://testserver"
SHOP = "http://shop.example"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, public_origin=ORIGIN,
                        extra={"argon2_memory_kib": 1024, "argon2_time_cost": 1})
    engine = db.make_engine(settings.database)
    db.migrate(engine)
    defaults.ensure_demo_site(engine, [ORIGIN, SHOP])
    engine.dispose()
    with TestClient(create_app(settings)) as c:
        yield c


def test_the_page_shows_the_notice_and_both_choices(client: TestClient) -> None:
    r = client.get("/app/?site=demo&user=alice")
    assert r.status_code == 200
    assert "Use my face" in r.text and "Use a password instead" in r.text
    assert defaults.NOTICE_EN.splitlines()[0].split('"')[1] in r.text  # the site's own text
    assert r.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'self'" in r.headers["content-security-policy"]


def test_the_page_tells_the_liveness_check_and_gives_the_app_the_policy(
        client: TestClient) -> None:
    """The demo site checks liveness passively: its notice says so (and that nothing of it
    leaves the device), and the app learns the policy from the page."""
    r = client.get("/app/?site=demo&user=alice")
    assert PARAGRAPHS["en"]["passive"] in r.text
    assert '"liveness": "passive"' in r.text
    zh = client.get("/app/?site=demo&user=alice&lang=zh")
    assert PARAGRAPHS["zh"]["passive"] in zh.text


def test_language_follows_the_browser_and_can_be_switched(client: TestClient) -> None:
    zh = client.get("/app/?site=demo&user=alice", headers={"Accept-Language": "zh-CN,zh"})
    assert '<html lang="zh-CN">' in zh.text and "使用人脸识别" in zh.text
    assert "lang=en" in zh.text  # the switch link
    en = client.get("/app/?site=demo&user=alice&lang=en", headers={"Accept-Language": "zh"})
    assert '<html lang="en">' in en.text


@pytest.mark.parametrize(("query", "status"), [
    ("site=demo", 400), ("user=alice", 400), ("site=demo&user=a%20b", 400),
    ("site=demo&user=alice&action=delete", 400), ("site=nope&user=alice", 404),
    ("site=demo&user=alice&embed=https://evil.example", 400),
    ("site=demo&user=alice&embed=javascript:alert(1)", 400),
    ("site=demo&user=alice&ticket=bm90LWEtdGlja2V0", 400),
    ("site=demo&user=alice&popup=1", 400),  # a pop-up belongs to a widget
    (f"site=demo&user=alice&embed={SHOP}&popup=yes", 400),
])
def test_bad_links_get_a_clear_page(client: TestClient, query: str, status: int) -> None:
    r = client.get(f"/app/?{query}")
    assert r.status_code == status
    assert 'role="alert"' in r.text and "Traceback" not in r.text


def test_only_the_sites_origins_may_frame_the_widget(client: TestClient) -> None:
    r = client.get(f"/app/?site=demo&user=alice&embed={SHOP}")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    ancestors = csp.split("frame-ancestors")[1].split(";")[0].split()
    assert sorted(ancestors) == sorted(["'self'", ORIGIN, SHOP])
    assert r.headers["cross-origin-resource-policy"] == "cross-origin"


def test_the_widget_is_compact_and_knows_the_widget_protocol(client: TestClient) -> None:
    framed = client.get(f"/app/?site=demo&user=alice&embed={SHOP}").text
    assert 'class="app embedded compact"' in framed
    assert '<details class="notice" lang="en">' in framed  # the notice: one tap away
    assert f"<summary>{i18n.text('en', 'privacy_details')}</summary>" in framed  # the log too
    assert 'id="popup"' in framed and "data-popup-note=" in framed
    glue = json.loads(framed.split('id="ownface-widget">')[1].split("</script>")[0])
    assert glue == {**protocol.widget_glue(), "popup": False, "given": None}
    popup = client.get(f"/app/?site=demo&user=alice&embed={SHOP}&popup=1",
                       headers={"Sec-Fetch-Site": "same-origin"}).text
    assert 'class="app popup"' in popup and 'id="popup-cancel"' in popup
    assert '<article class="notice"' in popup  # a whole page: the notice in full
    assert 'id="popup"' not in popup
    page = client.get("/app/?site=demo&user=alice").text
    assert 'id="ownface-widget"' not in page and "compact" not in page


@pytest.mark.parametrize("started_by", [None, "cross-site", "same-site", "none"])
def test_only_an_ownface_page_opens_the_pop_up(client: TestClient, started_by: str | None
                                               ) -> None:
    """Another site's page opening the pop-up would choose its hand-off secret itself."""
    headers = {"Sec-Fetch-Site": started_by} if started_by else {}
    r = client.get(f"/app/?site=demo&user=alice&embed={SHOP}&popup=1", headers=headers)
    assert r.status_code == 400 and "popup" in r.text
    r = client.post("/app/password", data=form(kind="verify", password="x" * 10,
                                               embed=SHOP, popup="1"),
                    headers={"Origin": ORIGIN, **headers})
    assert r.status_code == 400 and "data-emit" not in r.text


def test_the_widget_script_carries_the_widget_protocol(client: TestClient) -> None:
    r = client.get("/widget/widget.js", headers={"Origin": SHOP})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cross-origin-resource-policy"] == "cross-origin"
    assert f"const PROTOCOL = {json.dumps(protocol.widget_glue())};" in r.text


def test_theme_values_are_checked_and_unreadable_pairs_dropped() -> None:
    assert theme.parse({"theme-accent": "#5b2a86", "theme-radius": "12px"}) == \
        {"accent": "#5b2a86", "radius": "12px"}
    assert theme.parse({"theme-accent": "#ffff00"}) == {}  # white on yellow: 1.07:1
    assert theme.parse({"theme-accent": "red;} body{display:none"}) == {}
    assert theme.parse({"theme-text": "#777777"}) == {}  # 4.48:1 on white: just below AA
    assert round(theme.contrast("#1f4e99", "#ffffff"), 1) >= 4.5


def form(**fields: str) -> dict[str, str]:
    return {"site": "demo", "user": "paula", "lang": "en", "action": "auto", **fields}


def test_password_forms_set_and_verify(client: TestClient) -> None:
    weak = client.post("/app/password", data=form(kind="set", password="password"),
                       headers={"Origin": ORIGIN})
    assert "stronger password" in weak.text
    saved = client.post("/app/password", data=form(kind="set", password="amber-tiger-lake-93"),
                        headers={"Origin": ORIGIN})
    assert "password is saved" in saved.text
    assert '&#34;type&#34;: &#34;verified&#34;' in saved.text  # a new password signs in
    assert "data-session" in saved.text
    wrong = client.post("/app/password", data=form(kind="verify", password="amber-tiger-lake"),
                        headers={"Origin": ORIGIN})
    assert "did not work" in wrong.text and "data-emit" not in wrong.text
    right = client.post("/app/password", data=form(kind="verify",
                                                   password="amber-tiger-lake-93"),
                        headers={"Origin": ORIGIN})
    assert "Verified" in right.text and "data-emit" in right.text and "data-session" in right.text
    stranger = client.post("/app/password", data=form(user="nobody", kind="verify",
                                                      password="amber-tiger-lake-93"),
                           headers={"Origin": ORIGIN})
    assert "did not work" in stranger.text  # same answer as a wrong password


def test_password_form_from_another_origin_is_refused(client: TestClient) -> None:
    r = client.post("/app/password", data=form(kind="verify", password="x" * 10),
                    headers={"Origin": "https://evil.example"})
    assert 'data-problem="origin_not_allowed"' in r.text


@pytest.mark.parametrize("body", [b"site=demo&user=alice&" + b"x" * 20_000, b"\xff\xfe"])
def test_oversized_or_broken_forms_are_refused(client: TestClient, body: bytes) -> None:
    r = client.post("/app/password", content=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded",
                             "Origin": ORIGIN})
    assert r.status_code == 400


def test_json_is_not_a_form(client: TestClient) -> None:
    r = client.post("/app/password", json={"site": "demo"}, headers={"Origin": ORIGIN})
    assert r.status_code == 400


def test_a_ticket_site_sets_up_a_new_password_only_with_the_ticket(tmp_path: Path) -> None:
    """The ticket never travels in a URL: a link with one in its query is refused (it would
    land in access logs); the widget puts it after the # and the page's glue into the forms,
    whose POST bodies carry it, and pages answered to a form keep it out of their links."""
    settings = Settings(data_dir=tmp_path, public_origin=ORIGIN,
                        extra={"argon2_memory_kib": 1024, "argon2_time_cost": 1})
    engine = db.make_engine(settings.database)
    db.migrate(engine)
    defaults.ensure_demo_site(engine, [ORIGIN])
    sites.set_tickets(engine, "demo", True)
    engine.dispose()
    key = keys.load(settings).ticket_key("demo")
    ticket = protocol.make_ticket(key, "demo", "paula", 1 << 40)  # far future: refused too
    good = protocol.make_ticket(key, "demo", "paula", int(time.time()) + 300)
    with TestClient(create_app(settings)) as client:
        page = client.get(f"/app/?site=demo&user=paula&ticket={good}")
        assert page.status_code == 400 and "never in its query" in page.text
        assert good not in page.text
        page = client.get("/app/?site=demo&user=paula")
        assert page.status_code == 200 and 'name="ticket"' not in page.text
        for given in ({}, {"ticket": ticket}):
            r = client.post("/app/password", data=form(kind="set", password="amber-tiger-lake-93",
                                                       **given), headers={"Origin": ORIGIN})
            assert "only from its own pages" in r.text and 'data-problem="ticket_required"' \
                in r.text
        weak = client.post("/app/password", data=form(kind="set", password="password",
                                                      ticket=good), headers={"Origin": ORIGIN})
        assert f'name="ticket" value="{good}"' in weak.text  # the forms keep it...
        assert f"ticket={good}" not in weak.text  # ...no link carries it
        r = client.post("/app/password", data=form(kind="set", password="amber-tiger-lake-93",
                                                   ticket=good), headers={"Origin": ORIGIN})
        assert "password is saved" in r.text
        again = client.post("/app/password", data=form(user="paula", kind="set",
                                                       password="lantern-marmalade-7",
                                                       ticket=good), headers={"Origin": ORIGIN})
        assert 'data-problem="ticket_required"' in again.text  # spent: a ticket works once


def test_a_page_of_a_site_that_checks_liveness_fetches_the_pad_models_early(
        tmp_path: Path) -> None:
    """The glue's early downloads (and the bytes it shows) include the PAD models only when
    the site's policy runs them; the manifest itself is not changed for the next page."""
    manifest = {"downloads": [[["py", 1, 1]], [["model", 2, 2]]], "pad_downloads": [["pad", 3, 3]]}
    values = {"manifest": json.dumps(manifest),
              "manifest_pad": json.dumps(assets.with_pad(manifest))}
    pages = AppPages(tmp_path, None, lambda: dict(values))  # type: ignore[arg-type]

    def early(liveness: str) -> list[str]:
        shown = json.loads(pages.assets(liveness)["manifest"])
        return [url for group in shown["downloads"] for url, _, _ in group]

    assert early("passive") == early("passive+active") == ["py", "model", "pad"]
    assert early("off") == ["py", "model"]
    assert json.loads(values["manifest"]) == manifest

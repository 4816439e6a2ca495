"""Every response carries isolation, CSP and permission headers; the CSP names no other origin."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.headers import CSP
from server.settings import Settings


@pytest.fixture
def client(tmp_path: object) -> TestClient:
    from pathlib import Path

    data = Path(str(tmp_path))
    with TestClient(create_app(Settings(data_dir=data))) as c:
        yield c


@pytest.mark.parametrize("path", ["/favicon.svg", "/check/", "/api/v1/health", "/nope"])
def test_isolation_csp_and_camera_policy_on_every_response(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["cross-origin-opener-policy"] == "same-origin"
    assert r.headers["cross-origin-embedder-policy"] == "require-corp"
    assert r.headers["content-security-policy"]
    assert "camera=(self)" in r.headers["permissions-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_csp_allows_no_third_party_origin_and_no_eval() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert "'unsafe-eval'" not in directives["script-src"]
    assert "'unsafe-inline'" not in directives["script-src"]
    for value in directives.values():
        assert not re.search(r"https?://|\*|data:.*script", value), value


def test_the_root_says_what_this_server_is(client: TestClient) -> None:
    """A newcomer's first address: what OwnFace is, the app, the check page, the docs (not
    a redirect to an app page that says the link is not valid)."""
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "OwnFace" in r.text and 'href="/check/"' in r.text
    assert 'href="/docs/security.md"' in r.text and 'href="/api/v1/openapi.json"' in r.text
    doc = client.get("/docs/security.md")
    assert doc.status_code == 200 and "# Security" in doc.text
    assert client.get("/docs/../README.md").status_code == 404
    assert client.get("/docs/nope.md").status_code == 404


def test_no_protocol_relative_redirect_and_no_template_sources(client: TestClient) -> None:
    r = client.get("http://testserver//check", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/check/"
    r = client.get("/check", follow_redirects=False)
    assert r.headers["location"] == "/check/"
    for path in ("/templates/app.html", "/templates/index.html", "//templates/app.html"):
        path = f"http://testserver{path}"
        assert client.get(path).status_code == 404, path


def test_the_widget_script_may_be_loaded_by_other_origins(client: TestClient) -> None:
    r = client.get("/widget/widget.js")
    assert r.status_code == 200
    assert r.headers["cross-origin-resource-policy"] == "cross-origin"
    assert r.headers["content-type"].startswith("text/javascript")
    assert client.get("/app/app.css").headers["cross-origin-resource-policy"] == "same-origin"

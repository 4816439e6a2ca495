"""Static serving: MIME types, precompressed bodies, cache policy, templates, path safety."""

from __future__ import annotations

import gzip
from pathlib import Path

import brotli
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from server.compress import precompress_tree
from server.static import IMMUTABLE, REVALIDATE, StaticFiles


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pkg@1.0").mkdir()
    (tmp_path / "pkg@1.0" / "runtime.wasm").write_bytes(b"\0asm" + b"\1" * 5000)
    (tmp_path / "pkg@1.0" / "mod.mjs").write_text("export const x = 1;\n" * 200)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "index.html").write_text("<p>{{ greeting }} {{ missing }}</p>")
    (tmp_path / ".secret").write_text("no")
    precompress_tree(tmp_path)
    return tmp_path


def client(root: Path, immutable: bool) -> TestClient:
    app = Starlette(routes=[Mount("/s", app=StaticFiles(root, immutable=immutable,
                                                        render=lambda: {"greeting": "hello"}))])
    return TestClient(app)


def test_wasm_gets_its_mime_type_and_brotli_when_accepted(tree: Path) -> None:
    c = client(tree, immutable=True)
    r = c.get("/s/pkg@1.0/runtime.wasm", headers={"Accept-Encoding": "gzip, br"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/wasm"
    assert r.headers["content-encoding"] == "br"
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["cache-control"] == IMMUTABLE
    assert r.content == (tree / "pkg@1.0" / "runtime.wasm").read_bytes()  # httpx decodes br


def test_gzip_when_brotli_is_not_accepted_and_identity_otherwise(tree: Path) -> None:
    c = client(tree, immutable=True)
    raw = (tree / "pkg@1.0" / "mod.mjs").read_bytes()
    r = c.get("/s/pkg@1.0/mod.mjs", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.content == raw
    r = c.get("/s/pkg@1.0/mod.mjs", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in r.headers
    assert r.content == raw
    r = c.get("/s/pkg@1.0/mod.mjs", headers={"Accept-Encoding": "br;q=0, gzip"})
    assert r.headers["content-encoding"] == "gzip"


def test_precompressed_files_decode_to_the_original(tree: Path) -> None:
    raw = (tree / "pkg@1.0" / "runtime.wasm").read_bytes()
    assert brotli.decompress((tree / "pkg@1.0" / "runtime.wasm.br").read_bytes()) == raw
    assert gzip.decompress((tree / "pkg@1.0" / "runtime.wasm.gz").read_bytes()) == raw
    assert precompress_tree(tree) == 0  # up to date: nothing rewritten


def test_etag_revalidation_answers_304(tree: Path) -> None:
    c = client(tree, immutable=False)
    r = c.get("/s/pkg@1.0/mod.mjs", headers={"Accept-Encoding": "br"})
    assert r.headers["cache-control"] == REVALIDATE
    again = c.get("/s/pkg@1.0/mod.mjs",
                  headers={"Accept-Encoding": "br", "If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_html_is_a_template_filled_from_the_manifest(tree: Path) -> None:
    c = client(tree, immutable=False)
    r = c.get("/s/app/")
    assert r.status_code == 200
    assert r.text == "<p>hello {{ missing }}</p>"
    assert r.headers["cache-control"] == REVALIDATE
    assert c.get("/s/app", follow_redirects=False).headers["location"] == "/s/app/"


@pytest.mark.parametrize("path", ["/s/.secret", "/s/../etc/passwd", "/s/pkg@1.0/runtime.wasm.br",
                                  "/s/nope.js", "/s/%2e%2e/x"])
def test_hidden_precompressed_missing_and_escaping_paths_are_404(tree: Path, path: str) -> None:
    assert client(tree, immutable=True).get(path).status_code == 404


def test_only_get_and_head(tree: Path) -> None:
    c = client(tree, immutable=True)
    assert c.post("/s/pkg@1.0/mod.mjs").status_code == 405
    head = c.head("/s/pkg@1.0/mod.mjs")
    assert head.status_code == 200 and head.content == b""

"""Static files: the right MIME types, precompressed bodies, and honest cache lifetimes.

* ``file.br`` / ``file.gz`` written at setup are sent when the browser accepts them
  (``Content-Encoding``, ``Vary: Accept-Encoding``).
* Content-addressed or versioned paths (``/assets/...``) are immutable for a year; everything
  else is revalidated on each use (``no-cache`` + ETag, answered with 304 when unchanged).
* HTML pages are templates: ``{{ name }}`` is replaced by the asset manifest's URL for
  ``name`` (e.g. ``{{ pyscript }}``), so pages never hard-code a version.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".zip": "application/zip",
    ".whl": "application/zip",
    ".onnx": "application/octet-stream",
    ".bin": "application/octet-stream",
    ".npz": "application/octet-stream",
    ".py": "text/plain; charset=utf-8",
    ".toml": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def accepted_encodings(headers: Headers) -> set[str]:
    accepted = set()
    for part in headers.get("accept-encoding", "").split(","):
        name, _, params = part.strip().partition(";")
        if params.strip().replace(" ", "") in {"q=0", "q=0.0", "q=0.00", "q=0.000"}:
            continue
        accepted.add(name.strip().lower())
    return accepted


class StaticFiles:
    """Serve files under ``root``; ``exclude`` names top-level folders it must not serve."""

    def __init__(self, root: Path, *, immutable: bool, suffixes: tuple[str, ...] | None = None,
                 exclude: tuple[str, ...] = (),
                 render: Callable[[], Mapping[str, Any]] | None = None) -> None:
        self.root = root.resolve()
        self.immutable = immutable
        self.suffixes = suffixes
        self.exclude = set(exclude)
        self.render = render

    def resolve(self, path: str) -> Path | None:
        parts = [p for p in path.split("/") if p]
        if any(p.startswith(".") or p in {"", ".."} for p in parts):
            return None
        if parts and parts[0] in self.exclude:
            return None
        target = self.root.joinpath(*parts)
        if target.is_dir():
            target = target / "index.html"
        try:
            target.resolve().relative_to(self.root)
        except ValueError:
            return None
        if not target.is_file() or target.suffix in {".br", ".gz"}:
            return None
        if self.suffixes is not None and target.suffix not in self.suffixes:
            return None
        return target

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.respond(scope)
        await response(scope, receive, send)

    def respond(self, scope: Scope) -> Response:
        if scope["method"] not in {"GET", "HEAD"}:
            return PlainTextResponse("Method not allowed", 405, headers={"Allow": "GET, HEAD"})
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path):]
        if (target := self.resolve(path)) is None:
            return PlainTextResponse("Not found", 404)
        if target.name == "index.html" and not path.endswith(("/", "index.html")):
            # /app -> /app/ so that relative URLs in the page resolve inside the folder. The
            # target is rebuilt from the path's segments: "//check" must not become the
            # protocol-relative "//check/" (another host), it is "/check/".
            canonical = "/".join(p for p in f"{root_path}/{path}".split("/") if p)
            return Response(status_code=307, headers={"Location": f"/{canonical}/"})
        headers = Headers(scope=scope)
        media_type = MEDIA_TYPES.get(target.suffix, "application/octet-stream")
        if target.suffix == ".html" and self.render is not None:
            return self.page(target, media_type)
        encoding, body = None, target
        accepted = accepted_encodings(headers)
        for name, suffix in (("br", ".br"), ("gzip", ".gz")):
            candidate = target.with_name(target.name + suffix)
            if name in accepted and candidate.is_file():
                encoding, body = name, candidate
                break
        stat = os.stat(body)
        etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
        extra = {"Cache-Control": IMMUTABLE if self.immutable else REVALIDATE,
                 "Vary": "Accept-Encoding", "ETag": etag}
        if encoding:
            extra["Content-Encoding"] = encoding
        if etag in [t.strip() for t in headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=extra)
        return FileResponse(body, media_type=media_type, headers=extra, stat_result=stat)

    def page(self, target: Path, media_type: str) -> Response:
        assert self.render is not None
        values = self.render()
        text = target.read_text(encoding="utf-8")
        for key, value in values.items():
            shown = value if isinstance(value, str) else json.dumps(value)
            text = text.replace("{{ " + key + " }}", shown)
        return Response(text, media_type=media_type, headers={"Cache-Control": REVALIDATE})

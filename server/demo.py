"""The example business: a tiny Starlette app on another origin that trusts OwnFace's word.

Backend part: ``POST /login`` takes ``{"assertion": "<JWS>"}`` (what the widget got from a
successful verify), checks it against the site's JWK set fetched from the OwnFace server
(cached), refuses a replayed ``jti``, and answers who logged in and how. (The page the lead
adds calls this route.)

    ownface demo --site shop --ownface http://127.0.0.1:8000 [--port 8001]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pyapp.protocol import API_PREFIX, MAX_ASSERTION_CHARS
from server.assertions import AssertionInvalid, verify_assertion

JWKS_SECONDS = 300


def fetch_jwks(ownface_url: str, site: str) -> dict[str, Any]:
    url = f"{ownface_url.rstrip('/')}{API_PREFIX}/sites/{site}/jwks.json"
    if not url.startswith(("http://", "https://")):
        raise ValueError("the OwnFace URL must be http(s)")
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (scheme checked above)
        data: dict[str, Any] = json.load(resp)
    return data


def create_backend(site: str, issuer: str, jwks: Callable[[], dict[str, Any]],
                   clock: Callable[[], float] = time.time) -> Starlette:
    seen: dict[str, float] = {}  # jti -> exp: an assertion logs in once
    cache: dict[str, Any] = {"at": -1e18, "keys": None}

    def key_set() -> dict[str, Any]:
        if clock() - cache["at"] > JWKS_SECONDS:
            cache["keys"], cache["at"] = jwks(), clock()
        keys: dict[str, Any] = cache["keys"]
        return keys

    async def login(request: Request) -> Response:
        try:
            body = await request.json()
            token = body["assertion"]
            if not isinstance(token, str) or len(token) > MAX_ASSERTION_CHARS:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "bad_request"}, 400)
        try:
            claims = verify_assertion(token, key_set(), site, issuer, clock())
        except AssertionInvalid:
            return JSONResponse({"error": "not_verified"}, 401)
        now = clock()
        for jti in [j for j, exp in seen.items() if exp < now]:
            del seen[jti]
        if claims["jti"] in seen:
            return JSONResponse({"error": "replayed"}, 401)
        seen[claims["jti"]] = float(claims["exp"])
        return JSONResponse({"user": claims["sub"], "method": claims["amr"][0],
                             "at": claims["iat"]})

    return Starlette(routes=[Route("/login", login, methods=["POST"])])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ownface demo", description=__doc__.split("\n")[0])
    parser.add_argument("--site", default="demo")
    parser.add_argument("--ownface", default="http://127.0.0.1:8000")
    parser.add_argument("--issuer", default="",
                        help="the assertions' issuer (default: the OwnFace URL)")
    parser.add_argument("--port", type=int, default=8001,
                        help="the shop's port (the demo site allows http://localhost:8001)")
    args = parser.parse_args(argv)
    import uvicorn

    from server.shop import create_shop

    backend = create_backend(args.site, args.issuer or args.ownface.rstrip("/"),
                             lambda: fetch_jwks(args.ownface, args.site))
    print(f"Example Shop on http://localhost:{args.port}/ (embeds {args.ownface})",
          file=sys.stderr)
    # the demo runs beside the server, so it can derive the site's ticket key itself; a real
    # backend keeps the one `ownface site ticket-key NAME` printed
    from server import keys
    from server.settings import Settings

    ticket_key = keys.load(Settings.from_env()).ticket_key(args.site)
    uvicorn.run(create_shop(args.ownface, args.site, backend, ticket_key=ticket_key),
                host="127.0.0.1", port=args.port)
    return 0

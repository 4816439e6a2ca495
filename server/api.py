"""The JSON API mounted at ``pyapp.protocol.API_PREFIX``.

``build(settings)`` returns the routes, middleware and lifespan the app factory wires in.
Every POST body is read with a cap of ``MAX_BODY_BYTES`` (413 before reading when the
declared length is larger), must be JSON, and is parsed by the strict protocol classes, so
nothing but the listed fields (and nothing shaped like an image or an embedding) gets in.
Refusals are ``ErrorBody`` JSON with a stable code. See docs/api.md.

POST endpoints are plain ASGI callables (``server.endpoints.Post``): no Request or Response, and
``server.cors.ApiGate`` hands them their exact path from a dict instead of routing. Steps
that take long (argon2, the SQLAlchemy flows) run in the thread pool. The face steps
(challenge, evaluate, verify) run on the event loop: each is one or two short statements
(SQLite behind the writer lock, PostgreSQL one function call), and the thread hop cost more
CPU than the work (measured: about 0.3 ms per request). With a PostgreSQL server far away
(milliseconds per round trip) set ``OWNFACE_DB_INLINE=0`` to run them in the thread pool.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

from pyapp.errors import Refused
from pyapp.protocol import (
    API_PREFIX,
    ChallengeRequest,
    ConsentGrant,
    Enrolled,
    EnrolRequest,
    Erase,
    EvaluateRequest,
    Message,
    PasswordChange,
    PasswordSet,
    PasswordVerify,
    Verified,
    VerifyRequest,
    Withdraw,
)
from server import audit_export, consent, db, keys, limits, openapi, passwords
from server.assertions import issue, jwks, mint_session
from server.cors import ApiGate
from server.endpoints import Caller, Post, refusal
from server.settings import Settings
from server.store import Site, Store

M = TypeVar("M", bound=Message)


@dataclass
class ApiParts:
    routes: list[BaseRoute]
    middleware: list[Middleware] = field(default_factory=list)
    lifespan: Callable[[Any], contextlib.AbstractAsyncContextManager[None]] | None = None
    store: Store | None = None


def error(code: str, message: str = "", field_name: str | None = None) -> JSONResponse:
    status, body, headers = refusal(code, message, field_name)
    return JSONResponse(body, status, headers=headers)


def kiosk_token(authorization: str | None) -> str | None:
    """``Authorization: Kiosk <token>``: a portable site's kiosk asking for helper data."""
    if authorization and authorization[:6].lower() == "kiosk ":
        return authorization[6:].strip()
    return None


def build(settings: Settings) -> ApiParts:
    engine = db.make_engine(settings.database)
    extra = settings.extra
    clock: Callable[[], float] = extra.get("clock") or time.time
    params = passwords.Argon2Params(
        time_cost=int(extra.get("argon2_time_cost", passwords.OWASP.time_cost)),
        memory_kib=int(extra.get("argon2_memory_kib", passwords.OWASP.memory_kib)),
        parallelism=int(extra.get("argon2_parallelism", passwords.OWASP.parallelism)))
    store = Store(engine=engine, keys=keys.load(settings),
                  issuer=settings.public_origin or "ownface",
                  policy=limits.Policy.from_extra(extra), hasher=passwords.Hasher(params),
                  clock=clock, public_origin=settings.public_origin)

    def assertion(site: Site, user: str, method: str) -> tuple[str, int]:
        return issue(store.keys.signing_key(site.name, site.key_generation), store.issuer,
                     site.name, user, method, store.clock())

    def verified(site: Site, user: str, method: str) -> Verified:
        token, exp = assertion(site, user, method)
        session = mint_session(store.keys.session_mac_key(), site.name, user, method,
                               store.clock())
        return Verified(method=method, assertion=token, session=session, expires_at=exp)

    def origin_for(caller: Caller, site_name: str) -> str | None:
        """A request's Origin; a present one must be allowed for the named site."""
        if caller.origin is not None:
            store.check_origin(store.site(site_name), caller.origin)
        return caller.origin

    # --- POST handlers ----------------------------------------------------------------------
    def h_consent(caller: Caller, req: ConsentGrant) -> Message:
        origin_for(caller, req.site)
        return consent.grant(store, req)

    def h_withdraw(caller: Caller, req: Withdraw) -> Message:
        origin_for(caller, req.site)
        return consent.withdraw(store, req)

    def h_erase(caller: Caller, req: Erase) -> Message:
        origin_for(caller, req.site)
        auth = caller.authorization
        bearer = auth[7:] if auth and auth[:7].lower() == "bearer " else None
        if bearer is None and req.session is None:
            raise Refused("session_invalid")
        return consent.erase(store, req, bearer)

    def h_challenge(caller: Caller, req: ChallengeRequest) -> Message:
        return store.challenge(req, caller.origin, kiosk_token(caller.authorization))

    def h_evaluate(caller: Caller, req: EvaluateRequest) -> Message:
        return store.evaluate(req, origin_for(caller, req.site), caller.address)

    def h_enrol(caller: Caller, req: EnrolRequest) -> Message:
        site = store.enrol(req, origin_for(caller, req.site), caller.address)
        token, _ = assertion(site, req.user, "face")
        session = mint_session(store.keys.session_mac_key(), site.name, req.user, "face",
                               store.clock())
        return Enrolled(storage_mode=site.storage_mode, assertion=token, session=session)

    def h_verify(caller: Caller, req: VerifyRequest) -> Message:
        if store.verify(req, origin_for(caller, req.site), caller.address):
            return verified(store.site(req.site), req.user, "face")
        raise Refused("not_verified")

    def h_password_set(caller: Caller, req: PasswordSet) -> Message:
        origin_for(caller, req.site)
        return passwords.set_password(store, req)

    def h_password_verify(caller: Caller, req: PasswordVerify) -> Message:
        origin_for(caller, req.site)
        if passwords.verify_password(store, req, caller.address):
            return verified(store.site(req.site), req.user, "pwd")
        raise Refused("not_verified")

    def h_password_change(caller: Caller, req: PasswordChange) -> Message:
        origin_for(caller, req.site)
        return passwords.change_password(store, req)

    choice = str(extra.get("db_inline", "")).strip().lower()
    inline = choice not in ("0", "false", "no")
    posts: dict[str, Post[Any]] = {
        "/challenge": Post(ChallengeRequest, h_challenge, inline),
        "/evaluate": Post(EvaluateRequest, h_evaluate, inline),
        "/verify": Post(VerifyRequest, h_verify, inline),
        "/consent": Post(ConsentGrant, h_consent),
        "/consent/withdraw": Post(Withdraw, h_withdraw),
        "/erase": Post(Erase, h_erase),
        "/enrol": Post(EnrolRequest, h_enrol),
        "/password/set": Post(PasswordSet, h_password_set),
        "/password/verify": Post(PasswordVerify, h_password_verify),
        "/password/change": Post(PasswordChange, h_password_change),
    }

    # --- GET endpoints ----------------------------------------------------------------------
    async def notice(request: Request) -> Response:
        lang = request.query_params.get("lang")
        try:
            found = await run_in_threadpool(consent.notice, store, request.path_params["site"],
                                            lang)
        except Refused as exc:
            return error(exc.code)
        return JSONResponse(found.to_json(), headers={"Cache-Control": "no-cache"})

    async def key_set(request: Request) -> Response:
        try:
            site = await run_in_threadpool(store.site, request.path_params["site"])
        except Refused as exc:
            return error(exc.code)
        gens = [g for g in (site.key_generation, site.key_generation - 1) if g >= 1]
        body = jwks([store.keys.signing_key(site.name, g) for g in gens])
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})

    async def audit(request: Request) -> Response:
        fmt = request.query_params.get("format", "json")
        if fmt not in ("json", "csv"):
            return error("bad_request", "format must be json or csv", "format")
        auth = request.headers.get("authorization", "")
        try:
            result = await run_in_threadpool(audit_export.export, store,
                                             request.path_params["site"], auth, fmt)
        except Refused as exc:
            return error(exc.code)
        return result

    async def health(request: Request) -> Response:
        ok = await run_in_threadpool(_db_ok, store)
        return JSONResponse({"status": "ok" if ok else "degraded"}, 200 if ok else 503)

    async def not_found(request: Request) -> Response:
        """Unknown paths under the prefix, and known paths with a method they do not take."""
        scope = dict(request.scope)
        scope["path"] = "/" + request.path_params["rest"]
        for route in routes[:-1]:
            if route.matches(scope)[0] == Match.PARTIAL:
                methods = sorted(getattr(route, "methods", None) or [])
                response = error("method_not_allowed")
                response.headers["Allow"] = ", ".join(methods)
                return response
        return error("not_found")

    async def schema(request: Request) -> Response:
        return JSONResponse(openapi.document())

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await run_in_threadpool(db.migrate, engine)
        app.state.ownface_store = store
        yield
        store.raw.dispose()
        engine.dispose()

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", schema, methods=["GET"]),
        Route("/sites/{site}/notice", notice, methods=["GET"]),
        Route("/sites/{site}/jwks.json", key_set, methods=["GET"]),
        Route("/sites/{site}/audit", audit, methods=["GET"]),
        *(Route(path, endpoint, methods=["POST"]) for path, endpoint in posts.items()),
        Route("/{rest:path}", not_found,
              methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    ]
    gate = {API_PREFIX + path: endpoint for path, endpoint in posts.items()}
    middleware = [Middleware(ApiGate, store=store, posts=gate)]
    return ApiParts(routes=routes, middleware=middleware, lifespan=lifespan, store=store)


def _db_ok(store: Store) -> bool:
    from sqlalchemy import text

    try:
        with store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            conn.rollback()
    except Exception:  # health reports any database failure as degraded
        return False
    return True

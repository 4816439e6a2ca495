"""The JSON API mounted at ``pyapp.protocol.API_PREFIX``.

``build(settings)`` returns the routes, middleware and lifespan the app factory wires in.
Every POST body is read with a cap of ``MAX_BODY_BYTES`` (413 before reading when the
declared length is larger), must be JSON, and is parsed by the strict protocol classes, so
nothing but the listed fields (and nothing shaped like an image or an embedding) gets in.
Database work runs in the thread pool; refusals are ``ErrorBody`` JSON with a stable code.
See docs/api.md.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

from pyapp.errors import ProtocolError, Refused
from pyapp.protocol import (
    ERRORS,
    MAX_BODY_BYTES,
    ChallengeRequest,
    ConsentGrant,
    Enrolled,
    EnrolRequest,
    Erase,
    ErrorBody,
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
from server.cors import BodyLimit, Cors
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
    status, default = ERRORS[code]
    body = ErrorBody(error=code, message=message or default, field=field_name)
    headers = {"Cache-Control": "no-store"}
    if code == "rate_limited":
        headers["Retry-After"] = "60"
    return JSONResponse(body.to_json(), status, headers=headers)


def reply(message: Message, status: int = 200) -> JSONResponse:
    return JSONResponse(message.to_json(), status, headers={"Cache-Control": "no-store"})


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ProtocolError(key, "duplicate field")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ProtocolError("body", f"{name} is not JSON")


async def read_message(request: Request, cls: type[M]) -> M:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise Refused("unsupported_media_type")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise Refused("too_large")
    try:
        data = json.loads(bytes(body), object_pairs_hook=_no_duplicates,
                          parse_constant=_no_constants)
    except ProtocolError:
        raise
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("body", "is not valid UTF-8 JSON") from exc
    return cls.parse(data)


def address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


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

    def origin_for(request: Request, site_name: str) -> str | None:
        """A request's Origin; a present one must be allowed for the named site."""
        origin = request.headers.get("origin")
        if origin is not None:
            store.check_origin(store.site(site_name), origin)
        return origin

    def post(cls: type[M], handler: Callable[[Request, M], Any]
             ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                msg = await read_message(request, cls)
                result = await run_in_threadpool(handler, request, msg)
            except ProtocolError as exc:
                return error("bad_request", str(exc), exc.field)
            except Refused as exc:
                return error(exc.code, "" if str(exc) == exc.code else str(exc), exc.field)
            return result if isinstance(result, Response) else reply(result)
        return endpoint

    # --- POST handlers (run in the thread pool) ---------------------------------------------
    def h_consent(request: Request, req: ConsentGrant) -> Message:
        origin_for(request, req.site)
        return consent.grant(store, req)

    def h_withdraw(request: Request, req: Withdraw) -> Message:
        origin_for(request, req.site)
        return consent.withdraw(store, req)

    def h_erase(request: Request, req: Erase) -> Message:
        origin_for(request, req.site)
        auth = request.headers.get("authorization")
        bearer = auth[7:] if auth and auth[:7].lower() == "bearer " else None
        if bearer is None and req.session is None:
            raise Refused("session_invalid")
        return consent.erase(store, req, bearer)

    def h_challenge(request: Request, req: ChallengeRequest) -> Message:
        return store.challenge(req, request.headers.get("origin"))

    def h_evaluate(request: Request, req: EvaluateRequest) -> Message:
        return store.evaluate(req, origin_for(request, req.site), address(request))

    def h_enrol(request: Request, req: EnrolRequest) -> Message:
        site = store.enrol(req, origin_for(request, req.site), address(request))
        token, _ = assertion(site, req.user, "face")
        session = mint_session(store.keys.session_mac_key(), site.name, req.user, "face",
                               store.clock())
        return Enrolled(storage_mode=site.storage_mode, assertion=token, session=session)

    def h_verify(request: Request, req: VerifyRequest) -> Message | Response:
        if store.verify(req, origin_for(request, req.site), address(request)):
            return verified(store.site(req.site), req.user, "face")
        return error("not_verified")

    def h_password_set(request: Request, req: PasswordSet) -> Message:
        origin_for(request, req.site)
        return passwords.set_password(store, req)

    def h_password_verify(request: Request, req: PasswordVerify) -> Message | Response:
        origin_for(request, req.site)
        if passwords.verify_password(store, req, address(request)):
            return verified(store.site(req.site), req.user, "pwd")
        return error("not_verified")

    def h_password_change(request: Request, req: PasswordChange) -> Message:
        origin_for(request, req.site)
        return passwords.change_password(store, req)

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
        engine.dispose()

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", schema, methods=["GET"]),
        Route("/sites/{site}/notice", notice, methods=["GET"]),
        Route("/sites/{site}/jwks.json", key_set, methods=["GET"]),
        Route("/sites/{site}/audit", audit, methods=["GET"]),
        Route("/consent", post(ConsentGrant, h_consent), methods=["POST"]),
        Route("/consent/withdraw", post(Withdraw, h_withdraw), methods=["POST"]),
        Route("/erase", post(Erase, h_erase), methods=["POST"]),
        Route("/challenge", post(ChallengeRequest, h_challenge), methods=["POST"]),
        Route("/evaluate", post(EvaluateRequest, h_evaluate), methods=["POST"]),
        Route("/enrol", post(EnrolRequest, h_enrol), methods=["POST"]),
        Route("/verify", post(VerifyRequest, h_verify), methods=["POST"]),
        Route("/password/set", post(PasswordSet, h_password_set), methods=["POST"]),
        Route("/password/verify", post(PasswordVerify, h_password_verify), methods=["POST"]),
        Route("/password/change", post(PasswordChange, h_password_change), methods=["POST"]),
        Route("/{rest:path}", not_found,
              methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    ]
    middleware = [Middleware(BodyLimit), Middleware(Cors, store=store)]
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

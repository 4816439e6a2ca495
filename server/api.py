"""The JSON API mounted at ``pyapp.protocol.API_PREFIX``.

``build(settings)`` returns the routes, middleware and lifespan the app factory wires in.
Every POST body is read with a cap of ``MAX_BODY_BYTES`` (413 before reading when the
declared length is larger), must be JSON, and is parsed by the strict protocol classes, so
nothing but the listed fields (and nothing shaped like an image or an embedding) gets in.
Refusals are ``ErrorBody`` JSON with a stable code. See docs/api.md.

POST endpoints are plain ASGI callables (``server.endpoints.Post``): no Request or Response, and
``server.cors.ApiGate`` hands them their exact path from a dict instead of routing. Steps
that take long (argon2, the SQLAlchemy flows) run in the thread pool. The face steps
(challenge, evaluate, verify) run on the event loop: each is a few short statements
(SQLite behind the writer lock, PostgreSQL one statement or one function call), and the
thread hop cost more CPU than the work (measured: about 0.3 ms per request). With a
PostgreSQL server far away
(milliseconds per round trip) set ``OWNFACE_DB_INLINE=0`` to run them in the thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

from pyapp.errors import ProtocolError, Refused
from pyapp.protocol import (
    API_PREFIX,
    DESK_CODE_TTL_SECONDS,
    ChallengeRequest,
    ConsentGrant,
    DeskCode,
    Enrolled,
    EnrolRequest,
    Erase,
    EvaluateRequest,
    HandoffPut,
    HandoffTake,
    Message,
    PasswordChange,
    PasswordSet,
    PasswordVerify,
    StaffConfirm,
    StaffTicket,
    VerifyRequest,
    Withdraw,
    check_id,
)
from server import (
    accounts,
    audit_export,
    consent,
    db,
    desk,
    faces,
    handoff,
    hashing,
    keys,
    limits,
    openapi,
    passwords,
    report,
    retention,
)
from server.cors import ApiGate
from server.endpoints import Caller, Post, refusal
from server.settings import Settings
from server.store import Store, scheme_file

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


def _scheme_token(authorization: str | None, scheme: str) -> str | None:
    """``Authorization: <scheme> <token>`` (case-insensitive scheme), else None."""
    prefix = scheme + " "
    if authorization and authorization[:len(prefix)].lower() == prefix:
        return authorization[len(prefix):].strip()
    return None


def build(settings: Settings) -> ApiParts:
    engine = db.make_engine(settings.database)
    extra = settings.extra
    clock: Callable[[], float] = extra.get("clock") or time.time
    params = hashing.Argon2Params(
        time_cost=int(extra.get("argon2_time_cost", hashing.OWASP.time_cost)),
        memory_kib=int(extra.get("argon2_memory_kib", hashing.OWASP.memory_kib)),
        parallelism=int(extra.get("argon2_parallelism", hashing.OWASP.parallelism)))
    store = Store(engine=engine, keys=keys.load(settings),
                  issuer=settings.public_origin or "ownface",
                  policy=limits.Policy.from_extra(extra), hasher=hashing.Hasher(params),
                  clock=clock, public_origin=settings.public_origin,
                  face_pipeline=settings.face_pipeline,
                  scheme_file=scheme_file(settings.models_dir, settings.face_pipeline))

    def origin_for(caller: Caller, site_name: str) -> str | None:
        """A request's Origin; a present one must be allowed for the named site."""
        if caller.origin is not None:
            store.check_origin(store.site(site_name), caller.origin)
        return caller.origin

    # --- POST handlers ----------------------------------------------------------------------
    def h_consent(caller: Caller, req: ConsentGrant) -> Message:
        origin_for(caller, req.site)
        return consent.grant(store, req, caller.address)

    def h_withdraw(caller: Caller, req: Withdraw) -> Message:
        origin_for(caller, req.site)
        bearer = _scheme_token(caller.authorization, "bearer")
        if bearer is None and req.session is None:
            raise Refused("session_invalid")
        return consent.withdraw(store, req, bearer)

    def h_erase(caller: Caller, req: Erase) -> Message:
        origin_for(caller, req.site)
        bearer = _scheme_token(caller.authorization, "bearer")
        if bearer is None and req.session is None:
            raise Refused("session_invalid")
        return consent.erase(store, req, bearer)

    def h_challenge(caller: Caller, req: ChallengeRequest) -> Message:
        return faces.challenge(store, req, caller.origin,
                               _scheme_token(caller.authorization, "kiosk"), caller.address)

    def h_evaluate(caller: Caller, req: EvaluateRequest) -> Message:
        return faces.evaluate(store, req, origin_for(caller, req.site))

    def h_enrol(caller: Caller, req: EnrolRequest) -> Message:
        site, generation = faces.enrol(store, req, origin_for(caller, req.site),
                                       caller.address)
        done = accounts.login(store, site, req.user, "face", generation,
                              liveness=req.liveness)
        assert done.assertion is not None
        return Enrolled(storage_mode=site.storage_mode, assertion=done.assertion,
                        session=done.session)

    def h_verify(caller: Caller, req: VerifyRequest) -> Message:
        login = faces.verify(store, req, origin_for(caller, req.site), caller.address)
        if login.purpose == "verify":
            retention.touch(store, store.site(req.site), req.user)
        return accounts.login(store, store.site(req.site), req.user, "face", login.generation,
                              login.purpose, liveness=req.liveness)

    def h_password_set(caller: Caller, req: PasswordSet) -> Message:
        origin_for(caller, req.site)
        return passwords.set_password(store, req, caller.address)

    def h_password_verify(caller: Caller, req: PasswordVerify) -> Message:
        origin_for(caller, req.site)
        generation = passwords.verify_password(store, req, caller.address)
        if generation is None:
            raise Refused("not_verified")
        return accounts.login(store, store.site(req.site), req.user, "pwd", generation)

    def h_password_change(caller: Caller, req: PasswordChange) -> Message:
        origin_for(caller, req.site)
        return passwords.change_password(store, req, caller.address)

    def h_desk_code(caller: Caller, req: DeskCode) -> Message:
        origin_for(caller, req.site)
        return desk.redeem(store, req, _scheme_token(caller.authorization, "kiosk"),
                           caller.address)

    def h_staff_confirm(caller: Caller, req: StaffConfirm) -> Message:
        origin_for(caller, req.site)
        return desk.confirm(store, req, _scheme_token(caller.authorization, "kiosk"),
                            caller.address)

    def h_staff_ticket(caller: Caller, req: StaffTicket) -> Message:
        origin_for(caller, req.site)
        return desk.enrol_ticket(store, req, _scheme_token(caller.authorization, "kiosk"),
                                 caller.address)
    def h_handoff(caller: Caller, req: HandoffPut) -> Message:
        origin_for(caller, req.site)
        return handoff.put(store, req, caller.address)

    def h_handoff_take(caller: Caller, req: HandoffTake) -> Message:
        origin_for(caller, req.site)
        return handoff.take(store, req)

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
        "/kiosk/code": Post(DeskCode, h_desk_code),
        "/kiosk/staff": Post(StaffConfirm, h_staff_confirm),
        "/kiosk/enrol-ticket": Post(StaffTicket, h_staff_ticket),
        "/handoff": Post(HandoffPut, h_handoff),
        "/handoff/take": Post(HandoffTake, h_handoff_take),
    }

    # --- GET endpoints ----------------------------------------------------------------------
    # The site in the path is checked like the one in a POST body (400 naming ``site``), and
    # a site that does not exist is looked up, never remembered (``Store.site``).
    async def site_get(request: Request, work: Callable[[str], Response]) -> Response:
        try:
            name = check_id(request.path_params["site"], "site")
            return await run_in_threadpool(work, name)
        except ProtocolError as exc:
            return error("bad_request", str(exc), exc.field)
        except Refused as exc:
            return error(exc.code)

    async def notice(request: Request) -> Response:
        def work(name: str) -> Response:
            found = consent.notice(store, name, request.query_params.get("lang"))
            return JSONResponse(found.to_json(), headers={"Cache-Control": "no-cache"})
        return await site_get(request, work)

    async def key_set(request: Request) -> Response:
        def work(name: str) -> Response:
            body = handoff.site_keys(store, store.site(name))
            return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})
        return await site_get(request, work)

    async def audit(request: Request) -> Response:
        fmt = request.query_params.get("format", "json")
        if fmt not in ("json", "csv"):
            return error("bad_request", "format must be json or csv", "format")
        auth = request.headers.get("authorization", "")
        return await site_get(request, lambda name: audit_export.export(store, name, auth, fmt))

    async def site_report(request: Request) -> Response:
        auth = request.headers.get("authorization", "")

        def work(name: str) -> Response:
            site = audit_export.admin_site(store, name, auth)
            return JSONResponse(report.site_report(store, site),
                                headers={"Cache-Control": "no-store"})
        return await site_get(request, work)

    async def issue_code(request: Request) -> Response:
        """The site's backend issues a person's one-time code for its kiosks (admin token):
        ``{"user": ..., "ttl_seconds": ...}`` -> ``{"code": ..., "expires_at": ...}``."""
        auth = request.headers.get("authorization", "")
        try:
            body = json.loads(await request.body() or b"null")
            if not isinstance(body, dict) or set(body) - {"user", "ttl_seconds"}:
                raise ProtocolError("body", "must be {\"user\": ..., \"ttl_seconds\": ...}")
            user = check_id(body.get("user"), "user")
            ttl = body.get("ttl_seconds", DESK_CODE_TTL_SECONDS)
            if not isinstance(ttl, int) or isinstance(ttl, bool) or not 60 <= ttl <= 30 * 86400:
                raise ProtocolError("ttl_seconds", "must be 60 to 2592000 seconds")
        except ProtocolError as exc:
            return error("bad_request", str(exc), exc.field)
        except ValueError:
            return error("bad_request", "the body must be JSON", "body")

        def work(name: str) -> Response:
            site = audit_export.admin_site(store, name, auth)
            code, expires = desk.issue(store, site, "otp", user=user, ttl=ttl)
            return JSONResponse({"code": desk.shown(code), "expires_at": int(expires)},
                                headers={"Cache-Control": "no-store"})
        return await site_get(request, work)

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
        every = float(extra.get("purge_every_seconds", retention.PURGE_EVERY_SECONDS))
        purging = asyncio.ensure_future(retention.run_periodically(store, every))
        yield
        purging.cancel()
        store.raw.dispose()
        engine.dispose()

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", schema, methods=["GET"]),
        Route("/sites/{site}/notice", notice, methods=["GET"]),
        Route("/sites/{site}/jwks.json", key_set, methods=["GET"]),
        Route("/sites/{site}/audit", audit, methods=["GET"]),
        Route("/sites/{site}/report", site_report, methods=["GET"]),
        Route("/sites/{site}/codes", issue_code, methods=["POST"]),
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

"""The OpenAPI 3.1 document of the API, generated from the protocol's message classes.

Each message's properties come from its dataclass fields; each field name has one schema
(sizes and patterns from ``pyapp.protocol``), so the document cannot drift from the parser.
``additionalProperties: false`` everywhere: the server rejects unknown fields.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

from pyapp import protocol as p

_VERSION_INFO = {"title": "OwnFace API", "version": f"{p.VERSION}.0.0"}


_A = "[A-Za-z0-9_-]"
_TAIL = {1: f"{_A}[AQgw]", 2: f"{_A}{{2}}[AEIMQUYcgkosw048]"}  # canonical final characters


def _b64(size: int | None = None, max_size: int | None = None) -> dict[str, Any]:
    """Canonical unpadded base64url: the unused low bits of the last character are zero."""
    if size is not None:
        full, rest = divmod(size, 3)
        tail = _TAIL.get(rest, "")
        return {"type": "string", "pattern": f"^(?:{_A}{{4}}){{{full}}}{tail}$",
                "description": f"{size} bytes, unpadded base64url"}
    limit = (4 * (max_size or 0) + 2) // 3
    return {"type": "string", "maxLength": limit,
            "pattern": f"^(?:{_A}{{4}})*(?:{_TAIL[1]}|{_TAIL[2]})?$",
            "description": f"at most {max_size} bytes, unpadded base64url"}


def _pattern(regex: Any, max_len: int) -> dict[str, Any]:
    return {"type": "string", "pattern": f"^{regex.pattern}$", "maxLength": max_len}


_TIME = {"type": "integer", "minimum": 0, "maximum": 2**40 - 1}
_CODES = {"type": "array", "maxItems": 64, "items": {"type": "string", "pattern": "^[a-z_]+$"}}
FIELDS: dict[str, dict[str, Any]] = {
    "site": _pattern(p._ID, 64),
    "user": _pattern(p._ID, 64),
    "purpose": {"type": "string", "enum": list(p.PURPOSES)},
    "challenge_id": _b64(p.CHALLENGE_ID_BYTES),
    "nonce": _b64(p.NONCE_BYTES),
    "expires_at": _TIME,
    "granted_at": _TIME,
    "withdrawn_at": _TIME,
    "helper": _b64(max_size=p.MAX_HELPER_BYTES),
    "blinded": _b64(p.ELEMENT_BYTES),
    "evaluated": _b64(p.ELEMENT_BYTES),
    "consent_id": _b64(p.CONSENT_ID_BYTES),
    "public_key": _b64(p.PUBLIC_KEY_BYTES),
    "signature": _b64(p.SIGNATURE_BYTES),
    "session": _b64(p.SESSION_BYTES),
    "ticket": _b64(p.TICKET_BYTES),
    "notice_version": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    "version": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    "notice_sha256": _pattern(p._HEX64, 64),
    "sha256": _pattern(p._HEX64, 64),
    "language": _pattern(p._LANGUAGE, 35),
    "languages": {"type": "array", "items": _pattern(p._LANGUAGE, 35)},
    "text": {"type": "string", "minLength": 1, "maxLength": p.MAX_NOTICE_CHARS},
    "storage_mode": {"type": "string", "enum": list(p.STORAGE_MODES)},
    "pipeline": {"type": "string", "enum": list(p.PIPELINES)},
    "liveness": {"type": "string", "enum": list(p.LIVENESS_POLICIES)},
    "method": {"type": "string", "enum": list(p.METHODS)},
    "assertion": {"type": "string", "maxLength": p.MAX_ASSERTION_CHARS,
                  "pattern": f"^{p._JWS.pattern}$", "description": "compact JWS (JWT)"},
    "password": {"type": "string", "minLength": p.MIN_PASSWORD_CHARS,
                 "maxLength": p.MAX_PASSWORD_CHARS},
    "new_password": {"type": "string", "minLength": p.MIN_PASSWORD_CHARS,
                     "maxLength": p.MAX_PASSWORD_CHARS},
    "current_password": {"type": "string", "maxLength": p.MAX_PASSWORD_CHARS},
    "erased": _CODES,
    "error": {"type": "string", "enum": sorted(p.ERRORS)},
    "message": {"type": "string", "maxLength": 500},
    "field": {"type": "string", "maxLength": p.MAX_FIELD_CHARS},
    "code": {"type": "string", "maxLength": 40,
             "description": "a desk code: letters and digits, spaces and dashes ignored"},
    "handoff": _b64(p.HANDOFF_BYTES),
    "outcome": {"type": "string", "enum": list(p.HANDOFF_OUTCOMES)},
    "state": {"type": "string", "enum": list(p.HANDOFF_STATES)},
}
# PasswordVerify accepts any length up to the maximum (a wrong one fails like a wrong password)
_OVERRIDES = {("PasswordVerify", "password"): {"type": "string",
                                               "maxLength": p.MAX_PASSWORD_CHARS},
              ("ConsentGrant", "purpose"): {"type": "string", "enum": [p.CONSENT_PURPOSE]}}


def message_schema(cls: type[p.Message]) -> dict[str, Any]:
    props: dict[str, Any] = {"v": {"type": "integer", "enum": [p.VERSION]}}
    required = ["v"]
    for f in dataclasses.fields(cls):
        props[f.name] = _OVERRIDES.get((cls.__name__, f.name), FIELDS[f.name])
        if f.default is dataclasses.MISSING:
            required.append(f.name)
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False, "description": (cls.__doc__ or cls.KIND).strip()}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    # A 404 may come from the app's router (a path that cannot match any API route, e.g. a
    # site name with a newline), whose body has no "v": hence its looser schema.
    return {str(c): _json(_ref("NotFound" if c == 404 else "ErrorBody"), "refused")
            for c in codes}


# path -> (request message, success message or None, extra error statuses, summary)
POSTS: dict[str, tuple[str, str, tuple[int, ...], str]] = {
    "/consent": ("ConsentGrant", "ConsentReceipt", (401, 403, 404, 409, 429),
                 "Record consent (the holder's session, or a ticket where one is needed)"),
    "/consent/withdraw": ("Withdraw", "Withdrawn", (401, 403, 404),
                          "Withdraw consent; erases the template at once (session or admin "
                          "token)"),
    "/erase": ("Erase", "Erased", (401, 403, 404),
               "Erase everything about one user (session or admin token)"),
    "/challenge": ("ChallengeRequest", "Challenge", (403, 404, 429), "A single-use challenge"),
    "/evaluate": ("EvaluateRequest", "Evaluation", (403, 404),
                  "OPRF BlindEvaluate (one per challenge)"),
    "/enrol": ("EnrolRequest", "Enrolled", (401, 403, 404, 409), "Store a protected template"),
    "/verify": ("VerifyRequest", "Verified", (401, 403, 404, 429),
                "Verify a face signature (counts a failure)"),
    "/password/set": ("PasswordSet", "PasswordSaved", (401, 403, 404, 422, 429),
                      "Set the password alternative"),
    "/password/verify": ("PasswordVerify", "Verified", (401, 403, 404, 429),
                         "Verify a password"),
    "/password/change": ("PasswordChange", "PasswordSaved", (401, 403, 404, 422, 429),
                         "Change the password (session, and the current password or a "
                         "fresh face session)"),
    "/kiosk/code": ("DeskCode", "Verified", (401, 403, 404, 429),
                    "A one-time code the business issued, typed at a kiosk (kiosk token)"),
    "/kiosk/staff": ("StaffConfirm", "Verified", (401, 403, 404, 429),
                     "A staff member confirms the person at a kiosk (kiosk token)"),
    "/kiosk/enrol-ticket": ("StaffTicket", "DeskTicket", (401, 403, 404, 429),
                            "An enrolment ticket for a kiosk, for a staff code (kiosk token)"),
    "/handoff": ("HandoffPut", "Handoff", (401, 403, 404, 409, 429),
                 "The widget pop-up's result (an assertion, or cancelled) for its frame"),
    "/handoff/take": ("HandoffTake", "Handoff", (403, 404),
                      "The widget frame takes its pop-up's result (once)"),
}


@cache
def _document() -> dict[str, Any]:
    schemas = {cls.__name__: message_schema(cls) for cls in p.MESSAGES}
    loose = dict(schemas["ErrorBody"])
    loose["required"] = ["error", "message"]
    schemas["NotFound"] = loose
    paths: dict[str, Any] = {}
    for path, (req, ok, codes, summary) in POSTS.items():
        paths[path] = {"post": {
            "summary": summary, "operationId": path.strip("/").replace("/", "_"),
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _ref(req)}}},
            "responses": {"200": _json(_ref(ok), "success"),
                          **_errors(400, 413, 415, *codes)}}}
    site_param = {"name": "site", "in": "path", "required": True, "schema": FIELDS["site"]}
    paths["/sites/{site}/notice"] = {"get": {
        "summary": "The notice text a site shows before consent", "operationId": "notice",
        "parameters": [site_param, {"name": "lang", "in": "query", "required": False,
                                    "schema": FIELDS["language"]}],
        "responses": {"200": _json(_ref("Notice"), "the newest notice"),
                      **_errors(400, 404)}}}
    paths["/sites/{site}/jwks.json"] = {"get": {
        "summary": "The site's assertion-verification keys (JWK set)", "operationId": "jwks",
        "parameters": [site_param],
        "responses": {"200": _json({"type": "object", "required": ["keys"], "properties": {
            "keys": {"type": "array", "items": {"type": "object"}}}}, "JWK set"),
            **_errors(400, 404)}}}
    paths["/sites/{site}/audit"] = {"get": {
        "summary": "Audit export (admin token)", "operationId": "audit",
        "security": [{"admin": []}],
        "parameters": [site_param, {"name": "format", "in": "query", "required": False,
                                    "schema": {"type": "string", "enum": ["json", "csv"]}}],
        "responses": {"200": {"description": "events and summary", "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}}}}, **_errors(400, 401, 403, 404)}}}
    paths["/health"] = {"get": {"summary": "Liveness and database reachability",
                                "operationId": "health", "responses": {
        "200": _json({"type": "object"}, "ok"), "503": _json({"type": "object"}, "degraded")}}}
    return {"openapi": "3.1.0", "info": _VERSION_INFO, "paths": paths,
            "components": {"schemas": schemas, "securitySchemes": {
                "admin": {"type": "http", "scheme": "bearer"}}}}


def document(root_path: str = "") -> dict[str, Any]:
    doc = dict(_document())
    doc["servers"] = [{"url": p.API_PREFIX}]
    return doc

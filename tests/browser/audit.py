"""The network audit every browser test runs: where did the page send what?

Records every request of a browser context (pages and their workers) and fails if any went
to a host other than the local test server, or if any request body is not a strictly valid
OwnFace protocol request. Protocol requests consist of fixed-size fields (32-byte group
elements, 64-byte signatures, ids) and the size-capped helper blob, so a body that passes
cannot carry an image, an embedding or its bits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pyapp import protocol
from pyapp.errors import ProtocolError

LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
REQUEST_MESSAGES: tuple[type[protocol.Message], ...] = tuple(
    cls for cls in vars(protocol).values()
    if isinstance(cls, type) and issubclass(cls, protocol.Message) and cls is not protocol.Message
    and cls.__name__ in {"ConsentGrant", "ChallengeRequest", "EvaluateRequest", "EnrolRequest",
                         "VerifyRequest", "Withdraw", "Erase", "PasswordSet", "PasswordVerify",
                         "PasswordChange", "DeskCode", "StaffConfirm", "StaffTicket",
                         "HandoffPut", "HandoffTake"}
)


@dataclass
class Seen:
    method: str
    url: str
    resource_type: str
    body: bytes | None


FORM_PATH = "/app/password"  # the password path's plain HTML form (works without script)
FORM_FIELDS = {"site", "user", "lang", "action", "embed", "kind", "password", "ticket",
               "nonce", "popup",
               *(f"theme-{n}" for n in ("accent", "accent-text", "text", "muted", "background",
                                        "surface", "radius"))}


def form_problem(body: bytes) -> str | None:
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return "a password form that is not a plain urlencoded form"
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)) or not set(names) <= FORM_FIELDS:
        return f"a password form with unexpected fields {sorted(set(names) - FORM_FIELDS)}"
    if any(len(value) > protocol.MAX_PASSWORD_CHARS for _, value in pairs):
        return "a password form with an over-long field"
    for name, value in pairs:
        if name == "ticket":  # the business's enrolment ticket: exactly 40 bytes
            try:
                protocol.b64decode(value, "ticket", protocol.TICKET_BYTES)
            except ProtocolError:
                return "a password form with a malformed ticket"
    return None


def is_assertion_handoff(data: object) -> bool:
    """The business page passing OwnFace's signed assertion (a compact JWS) to its backend."""
    if not isinstance(data, dict) or set(data) != {"assertion"}:
        return False
    token = data["assertion"]
    return (isinstance(token, str) and len(token) <= protocol.MAX_ASSERTION_CHARS
            and re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token)
            is not None)


def body_problem(body: bytes | None, path: str = "") -> str | None:
    """Why this request body is not allowed to leave the device, or None if it may."""
    if not body:
        return None
    if len(body) > protocol.MAX_BODY_BYTES:
        return f"{len(body)}-byte body, larger than any protocol message"
    if path == FORM_PATH:
        return form_problem(body)
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "a body that is not JSON (binary data such as an image?)"
    if is_assertion_handoff(data):
        return None
    for message in REQUEST_MESSAGES:
        try:
            message.parse(data)
        except ProtocolError:
            continue
        return None
    return "a JSON body that is not a valid OwnFace protocol request"


@dataclass
class NetworkAudit:
    requests: list[Seen] = field(default_factory=list)

    def attach(self, context: Any) -> NetworkAudit:
        context.on("request", self._record)
        return self

    def _record(self, request: Any) -> None:
        try:
            body = request.post_data_buffer
        except Exception:  # a body Playwright cannot read is still a body: keep a marker
            body = b"\x00<unreadable>"
        self.requests.append(Seen(request.method, request.url, request.resource_type, body))

    def problems(self) -> list[str]:
        found = []
        for seen in self.requests:
            parts = urlsplit(seen.url)
            if parts.scheme in {"data", "blob"}:
                continue
            if parts.hostname not in LOCAL_HOSTS:
                found.append(f"{seen.method} {seen.url}: request to a non-local host")
            if "ticket" in dict(parse_qsl(parts.query)):  # it would land in access logs
                found.append(f"{seen.method} {seen.url}: an enrolment ticket in a URL")
            if (why := body_problem(seen.body, parts.path)) is not None:
                found.append(f"{seen.method} {seen.url}: {why}")
        return found

    def check(self) -> None:
        assert self.requests, "the audit recorded no request at all: is it attached?"
        problems = self.problems()
        assert not problems, "requests that must not happen:\n" + "\n".join(problems)

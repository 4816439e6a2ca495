"""POST endpoints as plain ASGI apps: read the capped body, parse the strict message, run the
handler, answer JSON. No Request or Response objects on this path: it carries every face
verification, and those objects cost more than the work behind them.

A handler gets a :class:`Caller` (the request's Origin, Authorization and client address)
and the parsed message, and returns a message or raises ``Refused``; malformed bodies are
400 ``bad_request`` naming the field, the wrong media type 415, a body over
``MAX_BODY_BYTES`` 413 while reading (``server.cors.ApiGate`` refuses a declared one before).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from pyapp.errors import ProtocolError, Refused
from pyapp.protocol import ERRORS, MAX_BODY_BYTES, ErrorBody, Message, shown_field
from server.cors import Headers

M = TypeVar("M", bound=Message)


def refusal(code: str, message: str = "", field_name: str | None = None
            ) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) of a refusal with one of the protocol's error codes."""
    status, default = ERRORS[code]
    body = ErrorBody(error=code, message=message or default, field=field_name)
    headers = {"Cache-Control": "no-store"}
    if code == "rate_limited":
        headers["Retry-After"] = "60"
    return status, body.to_json(), headers


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ProtocolError(key, "duplicate field")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ProtocolError("body", f"{name} is not JSON")


def _no_lone_surrogates(data: Any) -> None:
    """A ``\\udXXX`` escape without its pair decodes to a string that is no Unicode text (it
    cannot be encoded, stored or echoed): refused anywhere in the document."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= c <= "\udfff" for c in item):
                raise ProtocolError("body", "contains a lone UTF-16 surrogate")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse_body(body: bytes, cls: type[M]) -> M:
    try:
        data = json.loads(body, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except ProtocolError:
        raise
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("body", "is not valid UTF-8 JSON") from exc
    if b"\\u" in body:  # surrogates can only come from escapes: most bodies skip the walk
        _no_lone_surrogates(data)
    return cls.parse(data)


@dataclass(frozen=True)
class Caller:
    """What a POST handler knows about the request besides its body."""

    origin: str | None
    authorization: str | None
    address: str


_NO_STORE = (b"cache-control", b"no-store")
_JSON = (b"content-type", b"application/json")


class Post(Generic[M]):
    """One POST endpoint as a plain ASGI app: read the capped body, parse the message, run
    ``handler(caller, message)`` (inline, or in the thread pool), answer JSON."""

    def __init__(self, cls: type[M], handler: Callable[[Caller, M], Message],
                 inline: bool = False) -> None:
        self.cls = cls
        self.handler = handler
        self.inline = inline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope, receive, send, [])

    async def handle(self, scope: Scope, receive: Receive, send: Send, extra: Headers) -> None:
        origin = authorization = None
        ctype = b""
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"content-type":
                ctype = value
            elif name == b"authorization":
                authorization = value.decode("latin-1")
        client = scope.get("client")
        caller = Caller(origin, authorization, client[0] if client else "unknown")
        headers = [_NO_STORE]
        try:
            if ctype.split(b";", 1)[0].strip().lower() != b"application/json":
                raise Refused("unsupported_media_type")
            body = b""
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > MAX_BODY_BYTES:
                    raise Refused("too_large")
            msg = parse_body(body, self.cls)
            if self.inline:
                result = self.handler(caller, msg)
            else:
                result = await run_in_threadpool(self.handler, caller, msg)
            status, out = 200, result.to_json()
        except ProtocolError as exc:
            status, out, _ = refusal("bad_request", str(exc), shown_field(exc.field))
        except Refused as exc:
            status, out, more_headers = refusal(
                exc.code, "" if str(exc) == exc.code else str(exc), exc.field)
            if "Retry-After" in more_headers:
                headers.append((b"retry-after", more_headers["Retry-After"].encode()))
        data = json.dumps(out, ensure_ascii=False, allow_nan=False,
                          separators=(",", ":")).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-length", str(len(data)).encode()), _JSON, *headers, *extra]})
        await send({"type": "http.response.body", "body": data})

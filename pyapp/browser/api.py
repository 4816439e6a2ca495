"""The OwnFace server, from the browser: protocol messages over fetch, each one on the record.

Implements pyapp's ``Api`` port. Paths and response types come from
``pyapp.protocol.ENDPOINTS``; nothing here repeats a wire constant. Every request is also
written to a :class:`SentLog` that the "What left this device" panel shows: for each field
its name and the size of what it carried, never the value.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from pyodide.http import pyfetch  # type: ignore[import-not-found]

from pyapp import protocol
from pyapp.browser import dom
from pyapp.errors import ProtocolError, Refused

M = TypeVar("M", bound=protocol.Message)


@dataclass(frozen=True)
class Sent:
    """One request as the panel lists it: where it went and what each field was."""

    at: float
    method: str
    path: str
    fields: tuple[tuple[str, str], ...]  # (name, description such as "32 bytes")
    status: int | None = None


def describe(message: protocol.Message) -> tuple[tuple[str, str], ...]:
    out = []
    for f in fields(message):
        value = getattr(message, f.name)
        if value is None:
            continue
        if isinstance(value, bytes):
            what = f"{len(value)} bytes"
        elif f.name == "password":
            what = "your password (sent once over this connection, stored only as a hash)"
        elif isinstance(value, str):
            what = f"“{value}”" if len(value) <= 64 else f"{len(value)} characters"
        else:
            what = str(value)
        out.append((f.name, what))
    return tuple(out)


@dataclass
class SentLog:
    entries: list[Sent] = field(default_factory=list)
    listeners: list[Callable[[Sent], None]] = field(default_factory=list)

    def add(self, entry: Sent) -> None:
        self.entries.append(entry)
        for listener in self.listeners:
            listener(entry)


class HttpApi:
    """POST protocol messages to ``<origin><API_PREFIX>/<path>``; refusals raise Refused."""

    def __init__(self, log: SentLog | None = None, kiosk: str | None = None) -> None:
        self.base = str(dom.window.location.origin) + protocol.API_PREFIX
        self.log = log or SentLog()
        self.kiosk = kiosk  # a portable site's kiosk token: sent with challenges and codes

    async def post(self, request: protocol.Message, expect: type[M]) -> M:
        path, _ = protocol.ENDPOINTS[type(request)]
        body = json.dumps(request.to_json())
        headers = {"Content-Type": "application/json"}
        if self.kiosk and isinstance(request, protocol.KIOSK_REQUESTS):
            headers["Authorization"] = f"Kiosk {self.kiosk}"
        status: int | None = None
        try:
            response = await pyfetch(f"{self.base}/{path}", method="POST", body=body,
                                     headers=headers)
            status = int(response.status)
            data: Any = await response.json()
        except Exception as exc:  # network down, server gone, not JSON
            raise Refused("unreachable", f"The server could not be reached ({exc}).") from exc
        finally:
            self.log.add(Sent(time.time(), "POST", protocol.API_PREFIX + "/" + path,
                              describe(request), status))
        if not response.ok:
            try:
                err = protocol.ErrorBody.parse(data)
            except ProtocolError:
                raise Refused("bad_request", f"HTTP {status}") from None
            raise Refused(err.error, err.message, err.field)
        return expect.parse(data)

    async def get_notice(self, site: str, language: str) -> protocol.Notice:
        path = protocol.NOTICE_PATH.format(site=site)
        response = await pyfetch(f"{self.base}/{path}?lang={language}")
        self.log.add(Sent(time.time(), "GET", f"{protocol.API_PREFIX}/{path}",
                          (("lang", language),), int(response.status)))
        data = await response.json()
        if not response.ok:
            err = protocol.ErrorBody.parse(data)
            raise Refused(err.error, err.message, err.field)
        return protocol.Notice.parse(data)

    # --- the Api port ---------------------------------------------------------------------
    async def challenge(self, request: protocol.ChallengeRequest) -> protocol.Challenge:
        return await self.post(request, protocol.Challenge)

    async def evaluate(self, request: protocol.EvaluateRequest) -> protocol.Evaluation:
        return await self.post(request, protocol.Evaluation)

    async def enrol(self, request: protocol.EnrolRequest) -> protocol.Enrolled:
        return await self.post(request, protocol.Enrolled)

    async def verify(self, request: protocol.VerifyRequest) -> protocol.Verified:
        return await self.post(request, protocol.Verified)


def show_sent(entry: Sent) -> None:
    """Add one request to the page's "What left this device" list."""
    listing = dom.element("sent-list")
    empty = listing.querySelector(".empty")
    if empty is not None:
        empty.remove()
    item = dom.document.createElement("li")
    code = dom.document.createElement("code")
    code.textContent = f"{entry.method} {entry.path}"
    item.append(code)
    item.append(": " + ", ".join(f"{name} ({what})" for name, what in entry.fields))
    listing.append(item)

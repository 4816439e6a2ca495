"""Who the client is: its address behind trusted reverse proxies, and the unit limits count.

Behind a reverse proxy (the normal production layout, TLS in front) every request comes from
the proxy's address, so per-address limits would be one budget for everyone. The setting
``trusted_proxies`` (``OWNFACE_TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8"``, or a TOML list)
names the proxies whose ``X-Forwarded-For`` is believed: :class:`ClientAddress` walks that
header from the right, skipping trusted hops, and the first untrusted hop is the client (the
address the outermost trusted proxy saw). From any other peer the header is ignored, so a
client cannot choose its own address. Nothing is trusted by default.

Limits count an IPv4 client per address and an IPv6 client per /64 (:func:`bucket`): one
subscriber usually holds a whole /64, and counting single addresses there would give anyone
2^64 budgets.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from server.settings import SettingsError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: Any) -> tuple[Network, ...]:
    """The ``trusted_proxies`` setting: a comma-separated string or a list of addresses and
    networks (CIDR)."""
    if value is None or value == "":
        return ()
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else value
    try:
        return tuple(ipaddress.ip_network(str(item).strip(), strict=False) for item in items
                     if str(item).strip())
    except ValueError as exc:
        raise SettingsError(f"trusted_proxies: {exc}") from exc


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def bucket(host: str) -> str:
    """The unit per-address limits count: the IPv4 address, or the IPv6 /64."""
    address = _ip(host)
    if address is None:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class ClientAddress:
    """ASGI middleware: ``scope["client"]`` becomes the real client behind trusted proxies."""

    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    def is_trusted(self, host: str) -> bool:
        address = _ip(host)
        return address is not None and any(address in net for net in self.trusted)

    def client(self, peer: str, forwarded: list[str]) -> str:
        if not forwarded or not self.is_trusted(peer):
            return peer
        hops = [h.strip() for h in ",".join(forwarded).split(",") if h.strip()]
        for hop in reversed(hops):
            if not self.is_trusted(hop):
                address = _ip(hop)
                return str(address) if address is not None else peer
        return str(_ip(hops[0]) or peer) if hops else peer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.trusted and scope["type"] == "http" and scope.get("client"):
            forwarded = [v.decode("latin-1") for k, v in scope["headers"]
                         if k == b"x-forwarded-for"]
            peer, port = scope["client"]
            real = self.client(peer, forwarded)
            if real != peer:
                scope = {**scope, "client": (real, port)}
        await self.app(scope, receive, send)

"""Behind a reverse proxy each client keeps its own budget: X-Forwarded-For is believed only
from the trusted proxies, walked from the right; IPv6 clients count per /64."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server import clients, limits
from server.settings import SettingsError
from tests.server.conftest import (
    ALICE,
    PROXY,
    Api,
    FakeClock,
    add_site,
    make_app,
    make_settings,
)

PASSWORD = "correct horse battery staple"
PROXIES = clients.parse_networks("127.0.0.1, 10.0.0.0/8, 2001:db8:ffff::/48")


@pytest.mark.parametrize(("peer", "forwarded", "client"), [
    ("127.0.0.1", ["203.0.113.9"], "203.0.113.9"),
    ("127.0.0.1", ["1.2.3.4, 203.0.113.9"], "203.0.113.9"),  # the client's own claim: ignored
    ("127.0.0.1", ["203.0.113.9, 10.1.2.3"], "203.0.113.9"),  # a chain of trusted proxies
    ("127.0.0.1", ["1.2.3.4", "203.0.113.9"], "203.0.113.9"),  # two headers
    ("127.0.0.1", [], "127.0.0.1"),
    ("198.51.100.1", ["203.0.113.9"], "198.51.100.1"),  # not a proxy: the header is ignored
    ("127.0.0.1", ["[2001:db8::1]:4711"], "2001:db8::1"),
    ("127.0.0.1", ["10.0.0.2, 10.0.0.3"], "10.0.0.2"),  # all trusted: the leftmost
    ("127.0.0.1", ["::ffff:203.0.113.9"], "203.0.113.9"),
])
def test_the_client_behind_trusted_proxies(peer: str, forwarded: list[str], client: str
                                           ) -> None:
    middleware = clients.ClientAddress(lambda *a: None, PROXIES)  # type: ignore[arg-type]
    assert middleware.client(peer, forwarded) == client


def test_ipv6_counts_per_64_and_ipv4_per_address() -> None:
    assert clients.bucket("2001:db8:1:2::1") == clients.bucket("2001:db8:1:2:ffff::9")
    assert clients.bucket("2001:db8:1:2::1") != clients.bucket("2001:db8:1:3::1")
    assert clients.bucket("203.0.113.9") != clients.bucket("203.0.113.10")
    assert clients.bucket("::ffff:203.0.113.9") == clients.bucket("203.0.113.9")
    assert clients.bucket("testclient") == "testclient"


def test_a_bad_setting_is_refused() -> None:
    with pytest.raises(SettingsError, match="trusted_proxies"):
        clients.parse_networks("127.0.0.1, not-an-address")
    assert clients.parse_networks(["127.0.0.1", "10.0.0.0/8"]) == PROXIES[:2]
    assert clients.parse_networks("") == ()


def _pw(api: Api, user: str, password: str) -> int:
    return int(api.post("/password/verify", {"site": "shop", "user": user,
                                             "password": password}).status_code)


def test_junk_through_the_proxy_does_not_lock_out_everyone(proxied: Api) -> None:
    """The review's attack: 202 junk requests through the proxy. The attacker's own address
    runs out of budget; every other user's right password and face still work."""
    session = proxied.enrol("alice", ALICE).json()["session"]
    assert proxied.post("/password/set", {"site": "shop", "user": "alice", "password": PASSWORD,
                                          "session": session}).status_code == 200
    attacker = proxied.at("203.0.113.66")
    answers = [_pw(attacker, f"victim{i}", "junk junk junk") for i in range(202)]
    assert answers[:limits.Policy().ip_limit] == [401] * limits.Policy().ip_limit
    assert set(answers[limits.Policy().ip_limit:]) == {429}
    for where in ("198.51.100.7", "192.0.2.1", "2001:db8:5::1"):
        assert _pw(proxied.at(where), "alice", PASSWORD) == 200, where
        assert proxied.at(where).verify("alice", ALICE).status_code == 200, where


def test_forwarded_headers_are_ignored_unless_the_peer_is_trusted(
        tmp_path: Path, database_url: str, clock: FakeClock) -> None:
    """Without trusted proxies (the default) a client cannot pick its own address: every
    request from one peer shares its budget, whatever X-Forwarded-For says."""
    add_site(database_url)
    settings = make_settings(tmp_path, database_url, clock, ip_limit=5, argon2_memory_kib=8,
                             argon2_time_cost=1)
    with TestClient(make_app(settings), client=(PROXY, 50000)) as client:
        api = Api(client)
        answers = [_pw(api.at(f"203.0.113.{i}"), f"u{i}", "junk junk junk") for i in range(7)]
    assert answers == [401] * 5 + [429] * 2


def test_ipv6_clients_share_a_budget_per_64(proxied: Api) -> None:
    store = proxied.client.app.state.ownface_store  # type: ignore[attr-defined]
    store.policy = limits.Policy(ip_limit=5)
    answers = [_pw(proxied.at(f"2001:db8:1:2::{i:x}"), f"u{i}", "junk junk junk")
               for i in range(1, 8)]
    assert answers == [401] * 5 + [429] * 2  # one /64: one budget, whatever the host part
    assert _pw(proxied.at("2001:db8:1:3::1"), "u9", "junk junk junk") == 401  # another /64

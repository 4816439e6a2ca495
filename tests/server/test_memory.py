"""Requests naming sites that do not exist cannot grow the server: nothing about a miss is
remembered, and the cache of sites that do exist is bounded (server.store)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from pyapp.protocol import API_PREFIX
from server import store as store_module
from tests.server.conftest import ORIGIN, add_site
from tests.server.processes import ROOT, RawHttp, UvicornServer


def _name(rng: random.Random, size: int) -> str:
    return format(rng.getrandbits(4 * size), f"0{size}x")  # (hex digits: valid id characters)


async def _flood(port: int, count: int, seed: int, lanes: int = 16) -> dict[int, int]:
    """The review's requests: unknown sites (8,000-character names and valid 64-character
    ones) on every route that takes a site, spread over keep-alive connections."""
    rng = random.Random(seed)
    statuses: dict[int, int] = {}

    def one(i: int) -> tuple[str, str, object]:
        long, valid = _name(rng, 8000), _name(rng, 64)
        return [("GET", f"{API_PREFIX}/sites/{long}/notice", None),
                ("GET", f"{API_PREFIX}/sites/{long}/jwks.json", None),
                ("GET", f"{API_PREFIX}/sites/{long}/audit", None),
                ("GET", f"{API_PREFIX}/sites/{valid}/jwks.json", None),
                ("POST", f"{API_PREFIX}/challenge",
                 {"v": 1, "site": valid, "user": "alice", "purpose": "verify"}),
                ("GET", f"/app/?site={valid}&user=alice", None)][i % 6]

    async def lane(k: int) -> None:
        conn = RawHttp(port)
        for i in range(k, count, lanes):
            method, path, body = one(i)
            status, _ = await conn.request(method, path, body, {"Origin": ORIGIN})
            statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    await asyncio.gather(*(lane(k) for k in range(lanes)))
    return statuses


@pytest.mark.slow
def test_twenty_thousand_unknown_sites_do_not_grow_the_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ownface.db'}"
    add_site(url)
    server = UvicornServer(tmp_path, url, workers=1,
                           extra_env={"OWNFACE_WEB_DIR": str(ROOT / "web")})  # (app pages)
    try:
        server.wait_ready(workers=1)
        asyncio.run(_flood(server.port, 3000, seed=1))  # allocator and caches warm
        before = sum(server.rss_kib().values())
        statuses = asyncio.run(_flood(server.port, 20_000, seed=2))
        after = sum(server.rss_kib().values())
    finally:
        server.stop()
    assert set(statuses) <= {400, 404}, statuses  # every one refused, none a 5xx
    growth_mib = (after - before) / 1024
    print(f"RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB after 20,000 unknown sites")
    assert growth_mib < 4, f"the server grew by {growth_mib:.1f} MiB"


def test_the_site_cache_is_bounded_and_keeps_no_misses(api: object) -> None:
    from pyapp.errors import Refused
    from tests.server.conftest import Api

    assert isinstance(api, Api)
    store = api.client.app.state.ownface_store  # type: ignore[attr-defined]
    for name in ("nope", "x" * 8000, "bad name"):
        with pytest.raises(Refused):
            store.site(name)
    assert list(store._sites) == []
    store.site("shop")
    assert list(store._sites) == ["shop"]
    assert store_module.SITE_CACHE_SIZE <= 4096

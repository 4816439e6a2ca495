"""A hostile client: the attacks of issue 13's outside review, replayed, one line each.

memory (20,000 requests naming unknown sites, 8,000-character names), proxy lockout (junk
through a reverse proxy), targeted lockout (a stranger who knows a user id, 48 simulated
hours), write flood (consent/challenge/verify on a ticket site), re-claim (a withdrawn
face-only user id), weak key (the identity and the other small-order Ed25519 points),
surrogate (lone UTF-16 surrogates in field names and a password).

The memory, proxy and flood attacks go to a real server (uvicorn, like ``ownface serve``:
the app's trusted_proxies setting decides, uvicorn's own proxy headers are off) over
loopback; the others run the same app in-process with a simulated clock, as the review
simulated its 48 hours. Each line ends "refused" when the server held, else "NOT REFUSED";
the exit status is the number of attacks that were not refused.

    .venv/bin/python bench/hostile.py [--db sqlite|postgres] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from pyapp.protocol import API_PREFIX, CONSENT_PURPOSE, b64encode  # noqa: E402
from server import db, sites  # noqa: E402
from server.tables import audit, consents, users  # noqa: E402
from tests.server.client import Face  # noqa: E402
from tests.server.conftest import (  # noqa: E402
    ALICE,
    MALLORY,
    ORIGIN,
    Api,
    FakeClock,
    PostgresCluster,
    add_site,
    make_app,
    make_settings,
)
from tests.server.processes import RawHttp, UvicornServer  # noqa: E402
from tests.server.test_ed25519 import NON_CANONICAL, SMALL_ORDER  # noqa: E402

PASSWORD = "correct horse battery staple"



def line(name: str, what: str, held: bool) -> bool:
    print(f"{name:<18} {what} -- {'refused' if held else 'NOT REFUSED'}", flush=True)
    return held


class Target:
    """A database (a fresh one per attack) and, when asked, a real server on it."""

    def __init__(self, db_kind: str, workers: int) -> None:
        self.db_kind = db_kind
        self.workers = workers
        self.cluster = PostgresCluster() if db_kind == "postgres" else None
        if self.cluster:
            self.cluster.start()
        self.dirs: list[Path] = []

    def fresh(self) -> tuple[Path, str]:
        work = Path(tempfile.mkdtemp(prefix="ownface-hostile-"))
        self.dirs.append(work)
        url = self.cluster.new_database() if self.cluster else f"sqlite:///{work / 'o.db'}"
        return work, url

    def serve(self, work: Path, url: str, **env: str) -> UvicornServer:
        server = UvicornServer(work, url, workers=self.workers, extra_env={
            "OWNFACE_WEB_DIR": str(ROOT / "web"), **env})
        server.wait_ready(workers=self.workers)
        return server

    def close(self) -> None:
        if self.cluster:
            self.cluster.stop()
        for work in self.dirs:
            shutil.rmtree(work, ignore_errors=True)


async def _lanes(port: int, count: int, job: Callable[[int], tuple[str, str, Any, dict[str, str]]],
                 lanes: int = 16) -> dict[int, int]:
    statuses: dict[int, int] = {}

    async def lane(k: int) -> None:
        conn = RawHttp(port)
        for i in range(k, count, lanes):
            method, path, body, headers = job(i)
            status, _ = await conn.request(method, path, body, {"Origin": ORIGIN, **headers})
            statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    await asyncio.gather(*(lane(k) for k in range(lanes)))
    return statuses


def memory(target: Target) -> bool:
    work, url = target.fresh()
    add_site(url)
    server = target.serve(work, url)
    rng = random.Random(13)

    def job(i: int) -> tuple[str, str, Any, dict[str, str]]:
        name = format(rng.getrandbits(32000), "08000x")
        path = [f"{API_PREFIX}/sites/{name}/notice", f"{API_PREFIX}/sites/{name}/jwks.json",
                f"{API_PREFIX}/sites/{name}/audit", f"/app/?site={name[:64]}&user=alice"][i % 4]
        if i % 5 == 4:
            return ("POST", f"{API_PREFIX}/challenge",
                    {"v": 1, "site": name[:64], "user": "alice", "purpose": "verify"}, {})
        return "GET", path, None, {}

    try:
        asyncio.run(_lanes(server.port, 3000, job))
        before = sum(server.rss_kib().values()) / 1024
        t0 = time.perf_counter()
        statuses = asyncio.run(_lanes(server.port, 20_000, job))
        seconds = time.perf_counter() - t0
        after = sum(server.rss_kib().values()) / 1024
    finally:
        server.stop()
    return line("memory", f"20,000 unknown-site requests in {seconds:.0f} s, statuses "
                          f"{dict(sorted(statuses.items()))}: RSS {before:.1f} -> {after:.1f} "
                          f"MiB ({after - before:+.1f})",
                after - before < 4 and set(statuses) <= {400, 404})


def proxy_lockout(target: Target) -> bool:
    work, url = target.fresh()
    add_site(url)
    server = target.serve(work, url, OWNFACE_TRUSTED_PROXIES="127.0.0.1")
    try:  # this script plays the reverse proxy (127.0.0.1), naming each client it forwards
        api = Api(_HttpClient(server.url), address="198.51.100.7")  # type: ignore[arg-type]
        session = api.enrol("alice", ALICE).json()["session"]
        api.post("/password/set", {"site": "shop", "user": "alice", "password": PASSWORD,
                                   "session": session})
        attacker = api.at("203.0.113.66")
        junk = [attacker.post("/password/verify", {"site": "shop", "user": f"v{i}",
                                                   "password": "junk junk junk"}).status_code
                for i in range(202)]
        victims = []
        for where in ("198.51.100.7", "192.0.2.44", "2001:db8:9::1"):
            victims.append(api.at(where).post("/password/verify", {
                "site": "shop", "user": "alice", "password": PASSWORD}).status_code)
            victims.append(api.at(where).verify("alice", ALICE).status_code)
    finally:
        server.stop()
    return line("proxy lockout", f"202 junk requests through the proxy: attacker "
                                 f"{junk.count(401)}x401 then {junk.count(429)}x429; alice's "
                                 f"password and face from 3 clients: {victims}",
                set(victims) == {200} and junk.count(429) > 0)


class _HttpClient:
    """The little of httpx.Client that tests.server.conftest.Api uses, on a real server."""

    def __init__(self, url: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=url, timeout=30)

    def post(self, path: str, **kw: Any) -> Any:
        return self.http.post(path, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.http.get(path, **kw)


def targeted_lockout(target: Target) -> bool:
    work, url = target.fresh()
    add_site(url)
    clock = FakeClock()
    settings = make_settings(work, url, clock, trusted_proxies="127.0.0.1",
                             argon2_memory_kib=8, argon2_time_cost=1)
    with TestClient(make_app(settings), client=("127.0.0.1", 50000)) as client:
        api = Api(client, address="198.51.100.7")
        session = api.enrol("alice", ALICE).json()["session"]
        api.post("/password/set", {"site": "shop", "user": "alice", "password": PASSWORD,
                                   "session": session})
        stranger = api.at("203.0.113.66")
        face = pwd = 0
        for step in range(48 * 12 + 1):  # every 5 minutes for 48 hours
            stranger.verify("alice", MALLORY)
            stranger.post("/password/verify", {"site": "shop", "user": "alice",
                                               "password": "not her password"})
            # plus the refused enrolments that used to lock the face
            stranger.enrol("alice", MALLORY)
            if step % 12 == 0:
                face += api.verify("alice", ALICE).status_code == 200
                pwd += api.post("/password/verify", {"site": "shop", "user": "alice",
                                                     "password": PASSWORD}).status_code == 200
            clock.advance(300)
    return line("targeted lockout", f"48 simulated hours, a stranger every 5 minutes (face, "
                                    f"password, enrolment): alice signed in hourly by face "
                                    f"{face}/49, by password {pwd}/49", face == pwd == 49)


def write_flood(target: Target) -> bool:
    work, url = target.fresh()
    add_site(url)
    engine = db.make_engine(url)
    sites.set_tickets(engine, "shop", True)
    server = target.serve(work, url)
    notice = json.loads(_HttpClient(server.url).get(f"{API_PREFIX}/sites/shop/notice").text)

    def job(i: int) -> tuple[str, str, Any, dict[str, str]]:
        user = f"flood{i // 3}"
        body = [{"site": "shop", "user": user, "purpose": CONSENT_PURPOSE,
                 "notice_version": notice["version"], "notice_sha256": notice["sha256"],
                 "language": "en"},
                {"site": "shop", "user": user, "purpose": "verify"},
                {"site": "shop", "user": user, "challenge_id": b64encode(os.urandom(16)),
                 "signature": b64encode(bytes(64))}][i % 3]
        path = ["/consent", "/challenge", "/verify"][i % 3]
        return "POST", API_PREFIX + path, {"v": 1, **body}, {}

    try:
        t0 = time.perf_counter()
        statuses = asyncio.run(_lanes(server.port, 9000, job))
        seconds = time.perf_counter() - t0
    finally:
        server.stop()
    with engine.connect() as conn:
        made = [conn.execute(select(func.count()).select_from(t)).scalar() for t in
                (users, consents, audit)]
    engine.dispose()
    return line("write flood", f"9,000 consent/challenge/verify requests in {seconds:.0f} s on "
                               f"a ticket site, statuses {dict(sorted(statuses.items()))}: "
                               f"{made[0]} users, {made[1]} consent records, {made[2]} audit "
                               f"rows made", made == [0, 0, 0] and 429 in statuses)


def reclaim(target: Target) -> bool:
    work, url = target.fresh()
    add_site(url)  # open enrolment, like the demo site
    with TestClient(make_app(make_settings(work, url, FakeClock()))) as client:
        api = Api(client)
        session = api.enrol("alice", ALICE).json()["session"]
        api.post("/consent/withdraw", {"site": "shop", "user": "alice", "session": session})
        face = api.enrol("alice", MALLORY)
        pwd = api.post("/password/set", {"site": "shop", "user": "alice", "password": PASSWORD})
        login = api.verify("alice", MALLORY).status_code
    codes = [face.json().get("error"), pwd.json().get("error")]
    return line("re-claim", f"a stranger enrolling / setting a password for withdrawn alice on "
                            f"an open site: {codes}; their face login: {login}",
                codes == ["ticket_required", "ticket_required"] and login == 401)


def weak_key(target: Target) -> bool:
    work, url = target.fresh()
    add_site(url)
    universal = bytes.fromhex(SMALL_ORDER[0]) + bytes(32)  # R = identity, s = 0
    codes = []
    with TestClient(make_app(make_settings(work, url, FakeClock()))) as client:
        api = Api(client)
        for i, key in enumerate(SMALL_ORDER + NON_CANONICAL):
            user = f"m{i}"
            consent_id = api.consent(user)
            ch = api.challenge(user, "enrol").json()
            Face(bytes(32)).answer(api.evaluator(user, ch["challenge_id"]), "enrol", "shop",
                                   user, ORIGIN, ch)
            r = api.post("/enrol", {"site": "shop", "user": user, "consent_id": consent_id,
                                    "challenge_id": ch["challenge_id"],
                                    "public_key": b64encode(bytes.fromhex(key)),
                                    "signature": b64encode(universal)})
            codes.append(r.json().get("error") or f"{r.status_code}: enrolled")
    return line("weak key", f"enrolments with {len(codes)} small-order/non-canonical "
                            f"keys and the universal signature: {sorted(set(codes))}",
                set(codes) == {"invalid_key"})


def surrogate(target: Target) -> bool:
    work, url = target.fresh()
    add_site(url)
    paths = ["/consent", "/consent/withdraw", "/erase", "/challenge", "/evaluate", "/enrol",
             "/verify", "/password/set", "/password/verify", "/password/change"]
    statuses = []
    with TestClient(make_app(make_settings(work, url, FakeClock()))) as client:
        for path in paths:
            statuses.append(client.post(API_PREFIX + path, content=b'{"\\ud800": 1, "v": 1}',
                                        headers={"Content-Type": "application/json",
                                                 "Origin": ORIGIN}).status_code)
        statuses.append(client.post(
            API_PREFIX + "/password/verify", headers={"Content-Type": "application/json",
                                                      "Origin": ORIGIN},
            content=b'{"v": 1, "site": "shop", "user": "a", "password": "ab\\udc00cdefgh"}'
        ).status_code)
    return line("surrogate", f"{len(statuses)} bodies with lone surrogates (a field name on "
                             f"every POST endpoint, a password): {sorted(set(statuses))}",
                set(statuses) == {400})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    target = Target(args.db, args.workers)
    load = os.getloadavg()[0]
    print(f"hostile client against {args.db}, {args.workers} worker(s) (load average "
          f"{load:.1f})")
    held = []
    try:
        for attack in (memory, proxy_lockout, targeted_lockout, write_flood, reclaim, weak_key,
                       surrogate):
            try:
                held.append(attack(target))
            except Exception as exc:  # an attack that breaks the server (or this script)
                held.append(line(attack.__name__.replace("_", " "), f"failed: {exc!r}", False))
    finally:
        target.close()
    return held.count(False)


if __name__ == "__main__":
    raise SystemExit(main())

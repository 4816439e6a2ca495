"""Load on loopback: challenge+evaluate+verify round trips, password verifies, memory.

Runs the real server (uvicorn, 1 and 2 workers; SQLite and PostgreSQL) and a bounded asyncio
client speaking raw HTTP/1.1 keep-alive (cheap, so the client steals little CPU from the
server on a small machine; it still shares the cores, say so when reading the numbers).

    .venv/bin/python bench/server_load.py [--seconds 10] [--workers 1 2] [--db sqlite postgres]

Prints a table and writes bench/results/server_load.json. Every loop is bounded in count and
time and only talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyapp.protocol import API_PREFIX, b64decode, b64encode  # noqa: E402
from tests.server.client import Face, blind, finalize, signing_key  # noqa: E402
from tests.server.conftest import ORIGIN, PostgresCluster, add_site  # noqa: E402
from tests.server.processes import UvicornServer  # noqa: E402

USERS = 64
PASSWORD = "correct horse battery staple"


_NEXT_ADDRESS = [0]


class Conn:
    """One keep-alive HTTP/1.1 connection, from its own loopback address (127.0.1.x), so
    the per-address counters see many clients as in real traffic, not one hot row."""

    def __init__(self, port: int) -> None:
        self.port = port
        _NEXT_ADDRESS[0] += 1
        self.local = f"127.0.1.{1 + _NEXT_ADDRESS[0] % 250}"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None
                      ) -> tuple[int, dict[str, Any]]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                "127.0.0.1", self.port, local_addr=(self.local, 0))
        assert self.reader is not None
        data = b"" if body is None else json.dumps(body).encode()
        head = (f"{method} {API_PREFIX}{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Origin: {ORIGIN}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        self.writer.write(head + data)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        payload = await self.reader.readexactly(length)
        return status, json.loads(payload) if payload.startswith(b"{") else {}

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def round_trip(conn: Conn, user: str, face: Face) -> bool:
    status, ch = await conn.request("POST", "/challenge", {"v": 1, "site": "shop", "user": user,
                                                          "purpose": "verify"})
    if status != 200:
        return False
    r, blinded = blind(face.secret)
    status, ev = await conn.request("POST", "/evaluate", {
        "v": 1, "site": "shop", "user": user, "challenge_id": ch["challenge_id"],
        "blinded": b64encode(blinded)})
    if status != 200:
        return False
    key = signing_key(finalize(face.secret, r, b64decode(ev["evaluated"], "evaluated", 32)))
    from pyapp.protocol import signed_message

    msg = signed_message("verify", "shop", user, ORIGIN,
                         b64decode(ch["challenge_id"], "c"), b64decode(ch["nonce"], "n"))
    status, _ = await conn.request("POST", "/verify", {
        "v": 1, "site": "shop", "user": user, "challenge_id": ch["challenge_id"],
        "signature": b64encode(key.sign(msg))})
    return status == 200


def _face(i: int) -> Face:
    return Face(f"bench-user-{i}".encode().ljust(32, b"."))


async def enrol_all(port: int) -> None:
    conn = Conn(port)
    _, notice = await conn.request("GET", "/sites/shop/notice?lang=en")
    for i in range(USERS):
        user, face = f"u{i}", _face(i)
        _, receipt = await conn.request("POST", "/consent", {
            "v": 1, "site": "shop", "user": user, "purpose": "face_verification",
            "notice_version": notice["version"], "notice_sha256": notice["sha256"],
            "language": "en"})
        _, ch = await conn.request("POST", "/challenge", {"v": 1, "site": "shop", "user": user,
                                                         "purpose": "enrol"})
        r, blinded = blind(face.secret)
        _, ev = await conn.request("POST", "/evaluate", {
            "v": 1, "site": "shop", "user": user, "challenge_id": ch["challenge_id"],
            "blinded": b64encode(blinded)})
        key = signing_key(finalize(face.secret, r, b64decode(ev["evaluated"], "e", 32)))
        from pyapp.protocol import signed_message
        from tests.server.client import public_bytes

        msg = signed_message("enrol", "shop", user, ORIGIN, b64decode(ch["challenge_id"], "c"),
                             b64decode(ch["nonce"], "n"))
        status, body = await conn.request("POST", "/enrol", {
            "v": 1, "site": "shop", "user": user, "challenge_id": ch["challenge_id"],
            "consent_id": receipt["consent_id"], "public_key": b64encode(public_bytes(key)),
            "signature": b64encode(key.sign(msg))})
        if status != 200:
            raise RuntimeError(f"enrol failed: {status} {body}")
        if i < 8:
            await conn.request("POST", "/password/set", {"v": 1, "site": "shop",
                                                         "user": f"p{i}", "password": PASSWORD})
    conn.close()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def closed_loop(port: int, seconds: float, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        nonlocal failures
        conn = Conn(port)
        i = k
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                ok = await round_trip(conn, f"u{i % USERS}", _face(i % USERS))
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                ok = False
                conn.close()
                conn = Conn(port)
            latencies.append(time.perf_counter() - t0)
            failures += not ok
            i += concurrency
        conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - t0
    return {"round_trips_per_s": len(latencies) / elapsed, "failures": failures,
            "p50_ms": 1000 * _pct(latencies, 0.5), "p99_ms": 1000 * _pct(latencies, 0.99),
            "concurrency": concurrency}


async def open_loop(port: int, seconds: float, rate: float, max_in_flight: int = 64
                    ) -> dict[str, Any]:
    """Start round trips at a fixed rate; latency includes any queueing in the server."""
    latencies: list[float] = []
    failures = dropped = 0
    pool = [Conn(port) for _ in range(max_in_flight)]
    free = list(range(max_in_flight))
    tasks: set[asyncio.Task[None]] = set()

    async def one(slot: int, i: int, start: float) -> None:
        nonlocal failures
        try:
            ok = await round_trip(pool[slot], f"u{i % USERS}", _face(i % USERS))
            latencies.append(time.perf_counter() - start)
            failures += not ok
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            failures += 1
            pool[slot].close()
            pool[slot] = Conn(port)
        finally:
            free.append(slot)

    n = int(seconds * rate)
    t0 = time.perf_counter()
    for i in range(n):
        start = t0 + i / rate
        delay = start - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if not free:
            dropped += 1
            continue
        task = asyncio.create_task(one(free.pop(), i, start))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    for c in pool:
        c.close()
    return {"rate": rate, "p50_ms": 1000 * _pct(latencies, 0.5),
            "p99_ms": 1000 * _pct(latencies, 0.99), "failures": failures, "dropped": dropped,
            "completed": len(latencies)}


async def passwords(port: int, seconds: float, concurrency: int) -> dict[str, Any]:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        nonlocal done
        conn = Conn(port)
        while time.perf_counter() < deadline:
            status, _ = await conn.request("POST", "/password/verify", {
                "v": 1, "site": "shop", "user": f"p{k % 8}", "password": PASSWORD})
            done += status == 200
        conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return {"verifies_per_s": done / (time.perf_counter() - t0), "concurrency": concurrency}


async def failure_timing(port: int, n: int = 40) -> dict[str, float]:
    """Median server time of the three password failures that must look alike."""
    conn = Conn(port)
    out: dict[str, list[float]] = {"wrong_password": [], "unknown_user": []}
    for i in range(n):
        for kind, user in (("wrong_password", f"p{i % 8}"), ("unknown_user", f"nobody{i}")):
            t0 = time.perf_counter()
            await conn.request("POST", "/password/verify", {"v": 1, "site": "shop",
                                                            "user": user, "password": "wrong1234"})
            out[kind].append(time.perf_counter() - t0)
    # reset the accounts the wrong passwords counted against
    for i in range(8):
        await conn.request("POST", "/password/verify", {"v": 1, "site": "shop", "user": f"p{i}",
                                                        "password": PASSWORD})
    conn.close()
    return {k + "_median_ms": 1000 * statistics.median(v) for k, v in out.items()}


def run_case(db: str, workers: int, seconds: float, cluster: PostgresCluster | None
             ) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="ownface-bench-"))
    url = f"sqlite:///{data / 'ownface.db'}" if db == "sqlite" else (
        cluster.new_database() if cluster else "")
    add_site(url)
    # Clients come from 250 loopback addresses; the limits are lifted so the bench measures
    # throughput, not the brute-force protection (every bench user succeeds anyway).
    env = {"OWNFACE_IP_LIMIT": "1000000000", "OWNFACE_PASSWORD_FREE": "1000000"}
    server = UvicornServer(data, url, workers=workers,
                           extra_env=env)
    try:
        server.wait_ready(workers=workers)
        asyncio.run(enrol_all(server.port))
        result: dict[str, Any] = {"db": db, "workers": workers}
        cpu0 = server.cpu_seconds()
        result["max"] = asyncio.run(closed_loop(server.port, seconds, 32))
        done = result["max"]["round_trips_per_s"] * seconds
        # Server CPU per round trip: what the server costs, whatever else shares the machine.
        result["server_cpu_ms_per_round_trip"] = 1000 * (server.cpu_seconds() - cpu0) / done
        result["at_500"] = asyncio.run(open_loop(server.port, seconds, 500.0))
        result["password"] = asyncio.run(passwords(server.port, min(seconds, 5), 4))
        result["failure_timing"] = asyncio.run(failure_timing(server.port))
        result["rss_mib_per_worker"] = [round(v / 1024, 1) for v in server.rss_kib().values()]
        return result
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" /
                        "server_load.json")
    args = parser.parse_args(argv)
    cluster = None
    if "postgres" in args.db:
        cluster = PostgresCluster()
        cluster.start()
    results = []
    try:
        for db in args.db:
            for workers in args.workers:
                print(f"running {db} with {workers} worker(s)...", file=sys.stderr, flush=True)
                results.append(run_case(db, workers, args.seconds, cluster))
    finally:
        if cluster:
            cluster.stop()
    print(f"\n{'db':<9}{'wrk':>4}{'rt/s max':>10}{'p50':>8}{'p99':>8}{'| @500/s p50':>13}"
          f"{'p99':>8}{'drop':>6}{'| pwd/s':>9}{'| fail ms wrong/unknown':>25}{'| RSS MiB':>12}"
          f"{'| CPU ms/rt':>12}")
    for r in results:
        m, o, f = r["max"], r["at_500"], r["failure_timing"]
        print(f"{r['db']:<9}{r['workers']:>4}{m['round_trips_per_s']:>10.0f}{m['p50_ms']:>8.1f}"
              f"{m['p99_ms']:>8.1f}{o['p50_ms']:>13.1f}{o['p99_ms']:>8.1f}{o['dropped']:>6}"
              f"{r['password']['verifies_per_s']:>9.1f}"
              f"{f['wrong_password_median_ms']:>14.1f} / {f['unknown_user_median_ms']:<8.1f}"
              f"{r['rss_mib_per_worker']!s:>12}{r['server_cpu_ms_per_round_trip']:>12.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    args.out.write_text(json.dumps({"machine_cpus": os.cpu_count(), "load_average_1min": load,
                                    "results": results}, indent=2))
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} CPUs")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

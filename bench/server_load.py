"""Load on loopback: what a face verification costs the server, and what 2 workers carry.

Runs the real server (uvicorn, 1 and 2 workers; SQLite and PostgreSQL) and a bounded asyncio
client (uvloop when installed) speaking raw HTTP/1.1 keep-alive from 250 loopback addresses.
The client precomputes what it can: each bench user's signing key is derived once at
enrolment, and one valid blinded element per user is reused for every evaluation (the server
cannot tell), so per round trip the client only formats requests and makes one Ed25519
signature.

A face verification in this protocol is three requests: ``challenge`` (a fresh single-use
nonce), ``evaluate`` (the OPRF step, counted as a face attempt) and ``verify`` (the signature
over the challenge; answers the assertion). The issue's "challenge+verify round trip" is the
first and last of these; a verify cannot succeed without the evaluate in between, so

* ``phases`` sends N challenges, then N evaluations of them, then N verifies, and measures
  each endpoint's server CPU time (uvicorn workers, plus the PostgreSQL server's processes
  when the database is PostgreSQL) and wall-clock rate on its own;
* ``2-req`` and ``3-req`` CPU per round trip are sums of those (challenge+verify, and
  challenge+evaluate+verify), and "2 cores carry" is 2 s of CPU divided by that;
* ``closed`` runs whole 3-request round trips (32 in flight) and ``@500/s`` starts 500
  round trips per second (1,500 requests/s; at most 64 in flight, the rest counted as not
  started) and reports their latency.

Server CPU is read from /proc (utime + stime) before and after, so it does not depend on what
else runs on the machine; wall-clock numbers do (the client and other jobs share the cores):
the load average is printed with them. Attempt limits are lifted so the bench measures the
work of a verification, not the brute-force protection (the statements run are the same).

    .venv/bin/python bench/server_load.py [--seconds 6] [--workers 1 2] [--db sqlite postgres]

Prints a table and writes bench/results/server_load.json. Every loop is bounded in count and
time and only talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from pyapp.protocol import API_PREFIX, b64decode, b64encode, signed_message  # noqa: E402
from tests.server.client import Face, blind, finalize, public_bytes, signing_key  # noqa: E402
from tests.server.conftest import ORIGIN, PostgresCluster, add_site  # noqa: E402
from tests.server.processes import UvicornServer  # noqa: E402

USERS = 64
PASSWORD = "correct horse battery staple"
LIFTED = "1000000000"
_NEXT_ADDRESS = [0]


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


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
        head_bytes = await self.reader.readuntil(b"\r\n\r\n")
        lines = head_bytes.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        payload = await self.reader.readexactly(length)
        return status, json.loads(payload) if payload.startswith(b"{") else {}

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class User:
    """A bench account: its id, the key its face opens, and a blinded element to send."""

    def __init__(self, name: str, key: Ed25519PrivateKey, blinded: str) -> None:
        self.name = name
        self.key = key
        self.blinded = blinded


def _face(i: int) -> Face:
    return Face(f"bench-user-{i}".encode().ljust(32, b"."))


async def enrol_all(port: int) -> list[User]:
    conn = Conn(port)
    users = []
    _, notice = await conn.request("GET", "/sites/shop/notice?lang=en")
    for i in range(USERS):
        name, face = f"u{i}", _face(i)
        _, receipt = await conn.request("POST", "/consent", {
            "v": 1, "site": "shop", "user": name, "purpose": "face_verification",
            "notice_version": notice["version"], "notice_sha256": notice["sha256"],
            "language": "en"})
        _, ch = await conn.request("POST", "/challenge", {"v": 1, "site": "shop", "user": name,
                                                         "purpose": "enrol"})
        r, blinded = blind(face.secret)
        _, ev = await conn.request("POST", "/evaluate", {
            "v": 1, "site": "shop", "user": name, "challenge_id": ch["challenge_id"],
            "blinded": b64encode(blinded)})
        key = signing_key(finalize(face.secret, r, b64decode(ev["evaluated"], "e", 32)))
        msg = signed_message("enrol", "shop", name, ORIGIN, b64decode(ch["challenge_id"], "c"),
                             b64decode(ch["nonce"], "n"))
        status, body = await conn.request("POST", "/enrol", {
            "v": 1, "site": "shop", "user": name, "challenge_id": ch["challenge_id"],
            "consent_id": receipt["consent_id"], "public_key": b64encode(public_bytes(key)),
            "signature": b64encode(key.sign(msg))})
        if status != 200:
            raise RuntimeError(f"enrol failed: {status} {body}")
        users.append(User(name, key, b64encode(blind(face.secret)[1])))
        if i < 8:
            await conn.request("POST", "/password/set", {"v": 1, "site": "shop",
                                                         "user": f"p{i}", "password": PASSWORD})
    conn.close()
    return users


def _signature(user: User, ch: dict[str, Any]) -> str:
    msg = signed_message("verify", "shop", user.name, ORIGIN,
                         b64decode(ch["challenge_id"], "c"), b64decode(ch["nonce"], "n"))
    return b64encode(user.key.sign(msg))


async def round_trip(conn: Conn, user: User) -> bool:
    status, ch = await conn.request("POST", "/challenge", {
        "v": 1, "site": "shop", "user": user.name, "purpose": "verify"})
    if status != 200:
        return False
    status, _ = await conn.request("POST", "/evaluate", {
        "v": 1, "site": "shop", "user": user.name, "challenge_id": ch["challenge_id"],
        "blinded": user.blinded})
    if status != 200:
        return False
    status, _ = await conn.request("POST", "/verify", {
        "v": 1, "site": "shop", "user": user.name, "challenge_id": ch["challenge_id"],
        "signature": _signature(user, ch)})
    return status == 200


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Meter:
    """Server CPU seconds (workers, plus the PostgreSQL cluster's processes) and the
    client's own, between start() and stop()."""

    def __init__(self, server: UvicornServer, cluster: PostgresCluster | None) -> None:
        self.server = server
        self.cluster = cluster

    def _db_cpu(self) -> float:
        if self.cluster is None:
            return 0.0
        try:
            master = int((self.cluster.dir / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0.0
        ticks = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry.name) == master or int(fields[1]) == master:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def sample(self) -> tuple[float, float, float, float]:
        return (self.server.cpu_seconds(), self._db_cpu(), time.process_time(),
                time.perf_counter())

    @staticmethod
    def delta(a: tuple[float, ...], b: tuple[float, ...], n: int) -> dict[str, float]:
        workers, db, client, wall = (y - x for x, y in zip(a, b, strict=True))
        return {"n": n, "per_s": n / wall, "workers_cpu_ms": 1000 * workers / n,
                "db_cpu_ms": 1000 * db / n, "server_cpu_ms": 1000 * (workers + db) / n,
                "client_cpu_ms": 1000 * client / n}


async def _spread(count: int, concurrency: int, port: int,
                  job: Callable[[Conn, int], Coroutine[Any, Any, Any]]) -> list[Any]:
    """Run job(conn, i) for i < count on `concurrency` connections; results in order."""
    results: list[Any] = [None] * count
    conns = [Conn(port) for _ in range(concurrency)]

    async def lane(k: int) -> None:
        for i in range(k, count, concurrency):
            results[i] = await job(conns[k], i)

    await asyncio.gather(*(lane(k) for k in range(concurrency)))
    for c in conns:
        c.close()
    return results


def phases(port: int, users: list[User], meter: Meter, count: int,
           concurrency: int = 32) -> dict[str, Any]:
    """Each endpoint alone: N challenges, then N evaluations, then N verifies."""
    out: dict[str, Any] = {}

    async def challenge(conn: Conn, i: int) -> dict[str, Any]:
        status, ch = await conn.request("POST", "/challenge", {
            "v": 1, "site": "shop", "user": users[i % USERS].name, "purpose": "verify"})
        assert status == 200, ch
        return ch

    a = meter.sample()
    chs = _run(_spread(count, concurrency, port, challenge))
    b = meter.sample()
    out["challenge"] = Meter.delta(a, b, count)

    async def evaluate(conn: Conn, i: int) -> None:
        user = users[i % USERS]
        status, body = await conn.request("POST", "/evaluate", {
            "v": 1, "site": "shop", "user": user.name, "challenge_id": chs[i]["challenge_id"],
            "blinded": user.blinded})
        assert status == 200, body

    a = meter.sample()
    _run(_spread(count, concurrency, port, evaluate))
    b = meter.sample()
    out["evaluate"] = Meter.delta(a, b, count)
    bodies = [{"v": 1, "site": "shop", "user": users[i % USERS].name,
               "challenge_id": ch["challenge_id"], "signature": _signature(users[i % USERS], ch)}
              for i, ch in enumerate(chs)]  # signed before the clock starts

    async def verify(conn: Conn, i: int) -> None:
        status, body = await conn.request("POST", "/verify", bodies[i])
        assert status == 200, body

    a = meter.sample()
    _run(_spread(count, concurrency, port, verify))
    b = meter.sample()
    out["verify"] = Meter.delta(a, b, count)
    for name, parts in (("rt2", ("challenge", "verify")),
                        ("rt3", ("challenge", "evaluate", "verify"))):
        cpu = sum(out[p]["server_cpu_ms"] for p in parts)
        out[name] = {"server_cpu_ms": cpu, "two_cores_per_s": 2000 / cpu,
                     "wall_per_s": 1 / sum(1 / out[p]["per_s"] for p in parts)}
    return out


async def closed_loop(port: int, users: list[User], seconds: float, concurrency: int
                      ) -> dict[str, Any]:
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
                ok = await round_trip(conn, users[i % USERS])
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
    return {"n": len(latencies), "per_s": len(latencies) / elapsed, "failures": failures,
            "p50_ms": 1000 * _pct(latencies, 0.5), "p99_ms": 1000 * _pct(latencies, 0.99),
            "concurrency": concurrency}


async def open_loop(port: int, users: list[User], seconds: float, rate: float,
                    max_in_flight: int = 64) -> dict[str, Any]:
    """Start round trips at a fixed rate; latency includes any queueing in the server."""
    latencies: list[float] = []
    failures = dropped = 0
    pool = [Conn(port) for _ in range(max_in_flight)]
    free = list(range(max_in_flight))
    tasks: set[asyncio.Task[None]] = set()

    async def one(slot: int, i: int, start: float) -> None:
        nonlocal failures
        try:
            ok = await round_trip(pool[slot], users[i % USERS])
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
    return {"rate": rate, "n": n, "p50_ms": 1000 * _pct(latencies, 0.5),
            "p99_ms": 1000 * _pct(latencies, 0.99), "max_ms": 1000 * max(latencies or [0]),
            "failures": failures, "dropped": dropped, "completed": len(latencies)}


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
    return {"n": done, "per_s": done / (time.perf_counter() - t0), "concurrency": concurrency}


async def failure_timing(port: int, n: int = 40) -> dict[str, float]:
    """Median time of the two password failures that must look alike."""
    conn = Conn(port)
    out: dict[str, list[float]] = {"wrong_password": [], "unknown_user": []}
    for i in range(n):
        for kind, user in (("wrong_password", f"p{i % 8}"), ("unknown_user", f"nobody{i}")):
            t0 = time.perf_counter()
            await conn.request("POST", "/password/verify", {"v": 1, "site": "shop",
                                                            "user": user, "password": "wrong1234"})
            out[kind].append(time.perf_counter() - t0)
    for i in range(8):  # reset the accounts the wrong passwords counted against
        await conn.request("POST", "/password/verify", {"v": 1, "site": "shop", "user": f"p{i}",
                                                        "password": PASSWORD})
    conn.close()
    return {k + "_median_ms": 1000 * statistics.median(v) for k, v in out.items()}


def run_case(db: str, workers: int, seconds: float, cluster: PostgresCluster | None,
             phase_count: int, server_root: Path | None, uvicorn_args: tuple[str, ...] = (),
             more_env: dict[str, str] | None = None) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="ownface-bench-"))
    url = f"sqlite:///{data / 'ownface.db'}" if db == "sqlite" else (
        cluster.new_database() if cluster else "")
    add_site(url)
    env = {"OWNFACE_IP_LIMIT": LIFTED, "OWNFACE_PASSWORD_FREE": LIFTED,
           "OWNFACE_FACE_LIMIT": LIFTED, "OWNFACE_ACCOUNT_LIMIT": LIFTED, **(more_env or {})}
    server = UvicornServer(data, url, workers=workers, extra_env=env, cwd=server_root,
                           args=uvicorn_args)
    meter = Meter(server, cluster if db == "postgres" else None)
    try:
        server.wait_ready(workers=workers)
        users = _run(enrol_all(server.port))
        result: dict[str, Any] = {"db": db, "workers": workers,
                                  "load_before": os.getloadavg()[0]}
        result["phases"] = phases(server.port, users, meter, phase_count)
        a = meter.sample()
        result["closed"] = _run(closed_loop(server.port, users, seconds, 32))
        result["closed"].update(Meter.delta(a, meter.sample(), result["closed"]["n"]))
        result["at_500"] = _run(open_loop(server.port, users, seconds, 500.0))
        a = meter.sample()
        result["password"] = _run(passwords(server.port, min(seconds, 5), 4))
        cpu = Meter.delta(a, meter.sample(), max(1, result["password"]["n"]))
        result["password"]["server_cpu_ms"] = cpu["server_cpu_ms"]
        result["failure_timing"] = _run(failure_timing(server.port))
        result["rss_mib_per_worker"] = [round(v / 1024, 1) for v in server.rss_kib().values()]
        result["load_after"] = os.getloadavg()[0]
        return result
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


def _print(results: list[dict[str, Any]]) -> None:
    print("\nper endpoint (phases of N requests, 32 in flight): server CPU ms per request "
          "[workers + database], wall-clock requests/s")
    print(f"{'db':<9}{'wrk':>4} | {'challenge':>22} | {'evaluate':>22} | {'verify':>22} |"
          f" {'client CPU ms c/e/v':>20}")
    for r in results:
        p = r["phases"]
        cells = [f"{p[k]['server_cpu_ms']:.2f} [{p[k]['workers_cpu_ms']:.2f}+"
                 f"{p[k]['db_cpu_ms']:.2f}] {p[k]['per_s']:>5.0f}/s"
                 for k in ("challenge", "evaluate", "verify")]
        client = "/".join(f"{p[k]['client_cpu_ms']:.2f}" for k in ("challenge", "evaluate",
                                                                   "verify"))
        print(f"{r['db']:<9}{r['workers']:>4} | " + " | ".join(f"{c:>22}" for c in cells)
              + f" | {client:>20}")
    print("\nround trips: 2-req = challenge+verify, 3-req = challenge+evaluate+verify "
          "(server CPU ms; what 2 fully free cores carry; wall-clock from the phases)")
    print(f"{'db':<9}{'wrk':>4} | {'2-req CPU':>9}{'2 cores':>9}{'wall':>7} | {'3-req CPU':>9}"
          f"{'2 cores':>9}{'wall':>7} | {'closed 3-req/s':>14}{'p50':>7}{'p99':>7}{'CPU':>6} |"
          f" {'@500/s p50':>10}{'p99':>7}{'drop':>5} | {'pwd/s':>6}{'CPU ms':>7} |"
          f" {'fail ms wrong/unknown':>21} | {'RSS MiB':>12} | load")
    for r in results:
        p, c, o, f = r["phases"], r["closed"], r["at_500"], r["failure_timing"]
        print(f"{r['db']:<9}{r['workers']:>4} | {p['rt2']['server_cpu_ms']:>9.2f}"
              f"{p['rt2']['two_cores_per_s']:>9.0f}{p['rt2']['wall_per_s']:>7.0f} | "
              f"{p['rt3']['server_cpu_ms']:>9.2f}{p['rt3']['two_cores_per_s']:>9.0f}"
              f"{p['rt3']['wall_per_s']:>7.0f} | {c['per_s']:>14.0f}{c['p50_ms']:>7.1f}"
              f"{c['p99_ms']:>7.1f}{c['server_cpu_ms']:>6.2f} | {o['p50_ms']:>10.1f}"
              f"{o['p99_ms']:>7.1f}{o['dropped']:>5} | {r['password']['per_s']:>6.1f}"
              f"{r['password']['server_cpu_ms']:>7.1f} | {f['wrong_password_median_ms']:>9.1f} / "
              f"{f['unknown_user_median_ms']:<9.1f} | {r['rss_mib_per_worker']!s:>12} | "
              f"{r['load_before']:.1f}-{r['load_after']:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0,
                        help="length of the closed-loop and the 500/s runs")
    parser.add_argument("--phase-requests", type=int, default=3000,
                        help="requests per endpoint in the per-endpoint phases")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--server-root", type=Path, default=None,
                        help="run the server from another checkout (before/after runs)")
    parser.add_argument("--env", action="append", default=[], metavar="OWNFACE_NAME=VALUE",
                        help="extra server setting, e.g. OWNFACE_DB_INLINE=1")
    parser.add_argument("--pure-python-stack", action="store_true",
                        help="uvicorn with h11 and asyncio instead of httptools and uvloop")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" /
                        "server_load.json")
    args = parser.parse_args(argv)
    cluster = None
    if "postgres" in args.db:
        cluster = PostgresCluster()
        cluster.start()
    results = []
    stack = ("--loop", "asyncio", "--http", "h11") if args.pure_python_stack else ()
    try:
        for db in args.db:
            for workers in args.workers:
                print(f"running {db} with {workers} worker(s)...", file=sys.stderr, flush=True)
                results.append(run_case(db, workers, args.seconds, cluster,
                                        args.phase_requests, args.server_root, stack,
                                        dict(e.split("=", 1) for e in args.env)))
    finally:
        if cluster:
            cluster.stop()
    _print(results)
    from server.hashing import OWASP

    print(f"\npasswords: argon2id m={OWASP.memory_kib} KiB, t={OWASP.time_cost}, "
          f"p={OWASP.parallelism}; 4 in flight")
    load = os.getloadavg()
    print(f"load average now: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} "
          "CPUs (wall-clock numbers share those with the client and other jobs)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    root = "." if args.server_root is None else os.path.relpath(args.server_root, ROOT)
    args.out.write_text(json.dumps({"machine_cpus": os.cpu_count(), "load_average": load,
                                    "server_root": root,
                                    "uvicorn_args": list(stack), "env": args.env,
                                    "results": results}, indent=2))
    print(f"wrote {os.path.relpath(args.out, ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

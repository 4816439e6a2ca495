"""Run the real server as a uvicorn subprocess (several workers) for crash, memory and load
tests, and talk to it with a raw HTTP/1.1 keep-alive client."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pyapp.protocol import API_PREFIX
from tests.server.conftest import SERVER_KEY, free_port

ROOT = Path(__file__).resolve().parents[2]


class UvicornServer:
    def __init__(self, data_dir: Path, database_url: str = "", workers: int = 2,
                 extra_env: dict[str, str] | None = None, cwd: Path | None = None,
                 args: tuple[str, ...] = ()) -> None:
        self.n_workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OWNFACE_")}
        env.update({"OWNFACE_DATA_DIR": str(data_dir), "OWNFACE_SERVER_KEY": SERVER_KEY,
                    "OWNFACE_WEB_DIR": str(data_dir / "web"),
                    "OWNFACE_ASSETS_DIR": str(data_dir / "assets"),
                    "OWNFACE_MODELS_DIR": str(data_dir / "models"), **(extra_env or {})})
        if database_url:
            env["OWNFACE_DATABASE_URL"] = database_url
        self.log = (data_dir / "uvicorn.log").open("wb")
        # (as `ownface serve` does: uvicorn's own proxy-header handling is off, the app's
        # trusted_proxies setting decides; server.clients)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "server.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
             "--log-level", "warning", "--no-access-log", "--no-proxy-headers", *args],
            cwd=cwd or ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, workers: int = 2, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited early, see {self.log.name}")
            try:
                if httpx.get(self.url + API_PREFIX + "/health", timeout=1).status_code == 200 \
                        and len(self.workers()) >= workers:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("uvicorn did not become ready")

    def workers(self) -> list[int]:
        """PIDs of the worker processes (children of the uvicorn supervisor)."""
        if self.n_workers == 1:  # uvicorn serves in its own process
            return [self.proc.pid]
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.proc.pid:
                cmdline = (entry / "cmdline").read_bytes()
                if b"spawn_main" in cmdline:  # not the resource tracker
                    found.append(int(entry.name))
        return sorted(found)

    def cpu_seconds(self) -> float:
        """User + system CPU time the workers have used so far."""
        total = 0
        for pid in self.workers():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        return total / os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> dict[int, int]:
        out = {}
        for pid in self.workers():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[pid] = int(line.split()[1])
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class RawHttp:
    """One keep-alive HTTP/1.1 connection (asyncio), optionally from a given local address:
    cheap enough to send tens of thousands of requests in a test."""

    def __init__(self, port: int, local: str | None = None) -> None:
        self.port = port
        self.local = local
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: object = None,
                      headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                "127.0.0.1", self.port, local_addr=(self.local, 0) if self.local else None)
        assert self.reader is not None
        data = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1",
                 f"Content-Length: {len(data)}",
                 *(f"{k}: {v}" for k, v in {"Content-Type": "application/json",
                                            **(headers or {})}.items())]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

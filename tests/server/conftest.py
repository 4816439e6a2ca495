"""Server fixtures: a throwaway PostgreSQL cluster (whatever version is installed), a fake
clock, and an API client that speaks the protocol with a test-only OPRF client
(tests/server/client.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from pyapp.protocol import API_PREFIX, CONSENT_PURPOSE, VERSION, b64encode
from server import db, sites
from server.settings import Settings
from tests.server.client import Face, public_bytes


def find_pg_bin(environ: Mapping[str, str] = os.environ,
                root: Path = Path("/usr/lib/postgresql")) -> Path | None:
    """The PostgreSQL server binaries: ``OWNFACE_PG_BIN``, else the newest Debian/Ubuntu
    version installed under ``root`` (whatever .ci/setup's ``apt-get install postgresql``
    brought), else an ``initdb`` on the PATH."""
    if environ.get("OWNFACE_PG_BIN"):
        return Path(environ["OWNFACE_PG_BIN"])
    versions = [p.parent for p in root.glob("*/bin/initdb") if p.parent.parent.name.isdigit()]
    if versions:
        return max(versions, key=lambda p: int(p.parent.name))
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


PG_BIN = find_pg_bin()
ORIGIN = "https://shop.example"
NOTICE = "We turn your face into a protected key on your device. You may withdraw any time."
SERVER_KEY = b64encode(bytes(range(32)))


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """initdb + pg_ctl in a temp dir, run as the ``postgres`` user when we are root."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ownface-pg-"))
        self.port = free_port()
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.dir, "postgres", "postgres")

    def run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        if PG_BIN is None:
            raise RuntimeError("no PostgreSQL server binaries (set OWNFACE_PG_BIN)")
        data = self.dir / "data"
        self.run(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                 "--no-sync", "-E", "UTF8")
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c max_connections=200 -c shared_buffers=64MB")
        self.run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-l",
                 str(self.dir / "log"), "start")

    def stop(self) -> None:
        assert PG_BIN is not None
        try:
            self.run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate",
                     "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    if PG_BIN is None or not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL server binaries not found (install postgresql, or set "
                    "OWNFACE_PG_BIN); the PostgreSQL half of the server tests is skipped")
    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ownface.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.new_database()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_settings(tmp_path: Path, database_url: str, clock: Any = None, **extra: Any
                  ) -> Settings:
    values: dict[str, Any] = {"server_key": SERVER_KEY, **extra}
    if clock is not None:
        values["clock"] = clock
    return Settings(data_dir=tmp_path, database_url=database_url, web_dir=tmp_path / "web",
                    assets_dir=tmp_path / "assets", models_dir=tmp_path / "models",
                    extra=values)


def make_app(settings: Settings) -> Any:
    from server.app import create_app

    return create_app(settings)


def add_site(url: str, name: str = "shop", mode: str = "device",
             origins: tuple[str, ...] = (ORIGIN,), liveness: str = "off") -> str:
    """A site for protocol tests: no liveness check unless asked (the test clients run none;
    tests/server/test_liveness.py tests the policies)."""
    engine = db.make_engine(url)
    db.migrate(engine)
    token = sites.add_site(engine, name, list(origins), mode, liveness=liveness)
    sites.set_notice(engine, name, "en", NOTICE)
    engine.dispose()
    return token


class Api:
    """Speaks the protocol to an in-process app; every call returns the httpx response.

    With ``address`` set, requests say they come from that client through a proxy (an
    ``X-Forwarded-For`` header, believed by an app that trusts the test client's peer
    address, see :func:`proxied`)."""

    def __init__(self, client: TestClient, site: str = "shop", origin: str = ORIGIN,
                 address: str | None = None) -> None:
        self.client = client
        self.site = site
        self.origin = origin
        self.address = address

    def at(self, address: str) -> Api:
        """The same client, as seen from another address."""
        other = Api(self.client, self.site, self.origin, address)
        other.kiosk = self.kiosk
        return other

    def post(self, path: str, body: dict[str, Any], origin: str | None = "default",
             **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        if self.address is not None:
            headers["X-Forwarded-For"] = self.address
        if origin is not None:
            headers["Origin"] = self.origin if origin == "default" else origin
        return self.client.post(API_PREFIX + path, json={"v": VERSION, **body},
                                headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        if self.address is not None:
            kw["headers"] = {"X-Forwarded-For": self.address, **kw.get("headers", {})}
        return self.client.get(API_PREFIX + path, **kw)

    def grant(self, user: str, session: str | None = None, ticket: str | None = None) -> Any:
        notice = self.get(f"/sites/{self.site}/notice", params={"lang": "en"}).json()
        body = {"site": self.site, "user": user, "purpose": CONSENT_PURPOSE,
                "notice_version": notice["version"], "notice_sha256": notice["sha256"],
                "language": "en", **({"session": session} if session else {}),
                **({"ticket": ticket} if ticket else {})}
        return self.post("/consent", body)

    def consent(self, user: str, session: str | None = None, ticket: str | None = None) -> str:
        r = self.grant(user, session, ticket)
        assert r.status_code == 200, r.text
        return str(r.json()["consent_id"])

    kiosk: str | None = None  # a portable site's kiosk token, sent with challenges when set
    liveness: str | None = None  # the liveness check this client reports (absent: none)

    def challenge(self, user: str, purpose: str = "verify", origin: str | None = "default"
                  ) -> Any:
        headers = {"Authorization": f"Kiosk {self.kiosk}"} if self.kiosk else {}
        return self.post("/challenge", {"site": self.site, "user": user, "purpose": purpose},
                         origin=origin, headers=headers)

    def evaluator(self, user: str, cid: str) -> Any:
        def evaluate(blinded: bytes) -> bytes:
            r = self.post("/evaluate", {"site": self.site, "user": user, "challenge_id": cid,
                                        "blinded": b64encode(blinded)})
            assert r.status_code == 200, r.text
            from pyapp.protocol import b64decode

            return b64decode(r.json()["evaluated"], "evaluated", 32)
        return evaluate

    def enrol(self, user: str, face: Face, helper: bytes | None = None,
              session: str | None = None, consent_id: str | None = None,
              ticket: str | None = None) -> Any:
        if consent_id is None:
            r = self.grant(user, session, ticket)
            if r.status_code != 200:  # refused before the face: the consent's answer
                return r
            consent_id = str(r.json()["consent_id"])
        ch = self.challenge(user, "enrol").json()
        key, sig = face.answer(self.evaluator(user, ch["challenge_id"]), "enrol", self.site,
                               user, self.origin, ch)
        body = {"site": self.site, "user": user, "challenge_id": ch["challenge_id"],
                "consent_id": consent_id, "public_key": b64encode(public_bytes(key)),
                "signature": b64encode(sig)}
        if helper is not None:
            body["helper"] = b64encode(helper)
        if session is not None:
            body["session"] = session
        if ticket is not None:
            body["ticket"] = ticket
        if self.liveness is not None:
            body["liveness"] = self.liveness
        return self.post("/enrol", body)

    def verify(self, user: str, face: Face, purpose: str = "verify") -> Any:
        ch = self.challenge(user, purpose).json()
        _, sig = face.answer(self.evaluator(user, ch["challenge_id"]), purpose, self.site,
                             user, self.origin, ch)
        body = {"site": self.site, "user": user, "challenge_id": ch["challenge_id"],
                "signature": b64encode(sig)}
        if self.liveness is not None:
            body["liveness"] = self.liveness
        return self.post("/verify", body)


@pytest.fixture
def server(tmp_path: Path, database_url: str, clock: FakeClock) -> Iterator[tuple[Api, str]]:
    """(Api for the device-mode site "shop", its admin token)."""
    token = add_site(database_url)
    settings = make_settings(tmp_path, database_url, clock)
    with TestClient(make_app(settings), base_url="http://testserver") as client:
        yield Api(client), token


@pytest.fixture
def api(server: tuple[Api, str]) -> Api:
    return server[0]


PROXY = "127.0.0.1"  # the test client's peer address when it plays a reverse proxy


@pytest.fixture
def proxied(tmp_path: Path, database_url: str, clock: FakeClock) -> Iterator[Api]:
    """An app behind a trusted reverse proxy (the test client), with cheap argon2: each
    ``api.at(address)`` is another client."""
    add_site(database_url)
    settings = make_settings(tmp_path, database_url, clock, trusted_proxies=PROXY,
                             argon2_memory_kib=8, argon2_time_cost=1)
    with TestClient(make_app(settings), base_url="http://testserver",
                    client=(PROXY, 50000)) as client:
        yield Api(client, address="198.51.100.7")


ALICE = Face(b"alice's face key" + bytes(16))
MALLORY = Face(b"mallory's face key" + bytes(14))

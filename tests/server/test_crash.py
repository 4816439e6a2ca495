"""kill -9 a worker mid-request: every acknowledged enrolment is there, the database is
intact, and no enrolment exists without its template (one transaction per step)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select, text

from server.tables import audit, consents, templates, users
from tests.server.client import Face
from tests.server.conftest import Api, add_site
from tests.server.processes import UvicornServer


@pytest.mark.slow
def test_kill_worker_mid_request(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ownface.db'}"
    add_site(url)
    server = UvicornServer(tmp_path, workers=2, extra_env={"OWNFACE_IP_LIMIT": "1000000"})
    acknowledged: list[str] = []
    errors: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def hammer(worker: int) -> None:
        n = 0
        with httpx.Client(base_url=server.url, timeout=10) as client:
            api = Api(client)  # type: ignore[arg-type]
            while not stop.is_set():
                user = f"w{worker}-{n}"
                n += 1
                try:
                    r = api.enrol(user, Face(user.encode().ljust(32, b".")))
                    if r.status_code == 200:
                        with lock:
                            acknowledged.append(user)
                    api.verify(user, Face(user.encode().ljust(32, b".")))
                except (httpx.HTTPError, AssertionError, KeyError, ValueError) as exc:
                    with lock:
                        errors.append(type(exc).__name__)

    def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, f"{what}: not within {seconds} s ({errors[-3:]})"
            time.sleep(0.05)

    try:
        server.wait_ready(workers=2)
        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        wait_for(lambda: len(acknowledged) >= 30, "enrolments flowing on both workers")
        victims = server.workers()
        assert len(victims) == 2
        before = len(acknowledged)
        os.kill(victims[0], signal.SIGKILL)  # requests are in flight on both workers
        # traffic goes on: the other worker serves it, and uvicorn starts a replacement
        wait_for(lambda: len(acknowledged) >= before + 30, "enrolments after the kill")
        wait_for(lambda: len(server.workers()) == 2 and victims[0] not in server.workers(),
                 "a replacement worker")
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert server.proc.poll() is None, "the supervisor must survive a worker's death"
        assert len(acknowledged) > before, f"enrolments must go on after the kill: {errors[-3:]}"
    finally:
        stop.set()
        server.stop()
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
        stored = set(conn.execute(select(users.c.external_id).join(
            templates, templates.c.user_id == users.c.id)).scalars())
        missing = set(acknowledged) - stored
        assert not missing, f"{len(missing)} acknowledged enrolments lost"
        # every enrolment event has its template and its consent (nothing half-written)
        enrolled_events = conn.execute(select(audit).where(audit.c.event == "enrolled")).all()
        assert len(enrolled_events) == len(stored)
        orphans = conn.execute(select(templates.c.user_id).outerjoin(
            consents, consents.c.id == templates.c.consent_id).where(consents.c.id.is_(None))
        ).all()
        assert orphans == []
    engine.dispose()
    print(f"acknowledged {len(acknowledged)} enrolments, {len(errors)} client errors "
          f"around the kill")

"""A site's liveness policy (issue 12): stored with the site, told in its notice, required of
every face enrolment and verification, and signed into the assertion as what the client
reported (``client_liveness``), on both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from starlette.testclient import TestClient

from pyapp import protocol
from pyapp.errors import ProtocolError
from server import db, sites
from server.assertions import AssertionInvalid, verify_assertion
from server.notices import PARAGRAPHS
from server.tables import attempts, audit
from tests.server.conftest import ALICE, NOTICE, Api, FakeClock, add_site, make_app, make_settings


def _app(tmp_path: Path, url: str, clock: FakeClock, liveness: str) -> TestClient:
    add_site(url, liveness=liveness)
    return TestClient(make_app(make_settings(tmp_path, url, clock)),
                      base_url="http://testserver")


def _forget_sites(client: TestClient) -> None:
    client.app.state.ownface_store._sites.clear()  # type: ignore[attr-defined]


def _rows(api: Api, table: Any) -> list[Any]:
    engine = api.client.app.state.ownface_store.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return list(conn.execute(select(table)).all())


def test_new_sites_default_to_passive_and_kiosk_sites_to_the_active_check_too(
        database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    sites.add_site(engine, "web", ["https://w.example"], "device")
    sites.add_site(engine, "gate", ["https://g.example"], "portable")
    sites.add_site(engine, "lab", ["https://l.example"], "device", liveness="off")
    with pytest.raises(sites.SiteError, match="liveness must be one of"):
        sites.add_site(engine, "bad", ["https://b.example"], liveness="strict")
    found = {s["name"]: s["liveness"] for s in sites.describe(engine)}
    engine.dispose()
    assert found == {"web": "passive", "gate": "passive+active", "lab": "off"}


def test_the_notice_tells_the_policy_and_a_new_policy_is_a_new_notice_version(
        tmp_path: Path, database_url: str, clock: FakeClock) -> None:
    """set-notice adds the paragraph for the site's policy; set-liveness stores a new version
    per language (consent is asked again); 'off' removes the paragraph; the notice and the
    app page carry the policy."""
    with _app(tmp_path, database_url, clock, "passive") as client:
        api = Api(client)
        engine = client.app.state.ownface_store.engine  # type: ignore[attr-defined]
        sites.set_notice(engine, "shop", "zh", "谁在使用：测试。")
        first = api.get("/sites/shop/notice", params={"lang": "en"}).json()
        assert first["liveness"] == "passive"
        assert first["text"].startswith(NOTICE.strip())
        assert first["text"].endswith(PARAGRAPHS["en"]["passive"])
        done = sites.set_liveness(engine, "shop", "passive+active")
        assert done == ["en: notice version 2 stored", "zh: notice version 2 stored"]
        _forget_sites(client)  # (workers notice within seconds)
        second = api.get("/sites/shop/notice", params={"lang": "en"}).json()
        assert (second["version"], second["liveness"]) == (2, "passive+active")
        assert second["text"].count("Liveness check:") == 1
        assert second["text"].endswith(PARAGRAPHS["en"]["passive+active"])
        zh = api.get("/sites/shop/notice", params={"lang": "zh"}).json()["text"]
        assert zh.endswith(PARAGRAPHS["zh"]["passive+active"])
        assert sites.set_liveness(engine, "shop", "passive+active") == [
            "en: notice version 2 already says so", "zh: notice version 2 already says so"]
        sites.set_liveness(engine, "shop", "off")
        _forget_sites(client)
        third = api.get("/sites/shop/notice", params={"lang": "en"}).json()
        assert third["version"] == 3 and "Liveness check:" not in third["text"]


@pytest.mark.parametrize("policy", ["passive", "passive+active"])
def test_a_weaker_check_is_refused_and_changes_nothing(
        tmp_path: Path, database_url: str, clock: FakeClock, policy: str) -> None:
    """A client that reports less than the site asks gets 'liveness_required' (enrolment and
    verification): no template, no count against the account, the challenge still usable."""
    with _app(tmp_path, database_url, clock, policy) as client:
        api = Api(client)
        weaker = protocol.LIVENESS_POLICIES[protocol.LIVENESS_POLICIES.index(policy) - 1]
        api.liveness = weaker
        r = api.enrol("alice", ALICE)
        assert r.status_code == 403 and r.json()["error"] == "liveness_required", r.text
        api.liveness = policy
        assert api.enrol("alice", ALICE).status_code == 200
        ch = api.challenge("alice").json()
        _, sig = ALICE.answer(api.evaluator("alice", ch["challenge_id"]), "verify", "shop",
                              "alice", api.origin, ch)
        before = (_rows(api, attempts), len(_rows(api, audit)))
        body = {"site": "shop", "user": "alice", "challenge_id": ch["challenge_id"],
                "signature": protocol.b64encode(sig)}
        for reported in (None, weaker):  # absent means none
            sent = body if reported is None else {**body, "liveness": reported}
            r = api.post("/verify", sent)
            assert r.status_code == 403 and r.json()["error"] == "liveness_required"
        assert (_rows(api, attempts), len(_rows(api, audit))) == before
        r = api.post("/verify", {**body, "liveness": policy})  # the same challenge still works
        assert r.status_code == 200, r.text


def test_the_assertion_carries_what_the_client_reported(
        tmp_path: Path, database_url: str, clock: FakeClock) -> None:
    """client_liveness is signed into face assertions (at least the site's policy; a client
    may report more), recorded in the audit trail, and absent from password assertions;
    a business can require a minimum when it checks the assertion."""
    with _app(tmp_path, database_url, clock, "passive") as client:
        api = Api(client)
        api.liveness = "passive"
        enrolled = api.enrol("alice", ALICE).json()
        api.liveness = "passive+active"
        verified = api.verify("alice", ALICE).json()
        key_set = api.get("/sites/shop/jwks.json").json()

        def claims(token: str, **kw: Any) -> dict[str, Any]:
            return verify_assertion(token, key_set, "shop", "ownface", clock.now, **kw)

        assert claims(enrolled["assertion"])[protocol.LIVENESS_CLAIM] == "passive"
        assert claims(verified["assertion"])[protocol.LIVENESS_CLAIM] == "passive+active"
        assert claims(verified["assertion"], min_liveness="passive+active")["sub"] == "alice"
        with pytest.raises(AssertionInvalid, match="client_liveness weaker"):
            claims(enrolled["assertion"], min_liveness="passive+active")
        r = api.post("/password/set", {"site": "shop", "user": "alice",
                                       "password": "correct horse battery staple",
                                       "session": verified["session"]})
        assert r.status_code == 200, r.text
        details = [(row.event, row.detail) for row in _rows(api, audit)]
        assert ("enrolled", "device v1 passive") in details
        assert ("verified", "face passive+active") in details


def test_the_wire_field_is_optional_and_checked() -> None:
    base = {"v": protocol.VERSION, "site": "shop", "user": "alice",
            "challenge_id": protocol.b64encode(bytes(16)),
            "signature": protocol.b64encode(bytes(64))}
    assert protocol.VerifyRequest.parse(base).liveness == "off"
    assert protocol.VerifyRequest.parse({**base, "liveness": "passive"}).liveness == \
        "passive"
    with pytest.raises(ProtocolError, match="liveness"):
        protocol.VerifyRequest.parse({**base, "liveness": "spoof-proof"})
    assert protocol.liveness_covers("passive+active", "passive")
    assert not protocol.liveness_covers("off", "passive")


def test_the_upgrade_gives_existing_kiosk_sites_the_active_check(database_url: str) -> None:
    from alembic import command

    engine = db.make_engine(database_url)
    with engine.connect() as conn:
        cfg = db.alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
        for sid, mode in ((1, "device"), (2, "portable")):
            conn.execute(text("INSERT INTO sites (id, name, origins, storage_mode, "
                              "admin_token_sha256, key_generation, created_at) VALUES "
                              "(:i, :n, '[]', :m, '00', 1, 0)"),
                         {"i": sid, "n": f"s{sid}", "m": mode})
        conn.commit()
    db.migrate(engine)
    with engine.connect() as conn:
        found = dict(conn.execute(text("SELECT name, liveness FROM sites")).all())
    engine.dispose()
    assert found == {"s1": "passive", "s2": "passive+active"}

"""Server keys: a key file made once (even by racing workers), never in the database;
portable helper data sealed at rest and bound to its account."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from pyapp.errors import CryptoError
from server import keys
from server.settings import Settings, SettingsError
from server.tables import templates
from tests.server.conftest import ALICE, Api, FakeClock, add_site, make_app, make_settings


def _load(data_dir: str) -> bytes:
    return keys.load(Settings(data_dir=Path(data_dir))).master


def test_key_file_created_once_with_private_mode(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        masters = pool.map(_load, [str(tmp_path)] * 8)
    assert len(set(masters)) == 1
    path = tmp_path / keys.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [keys.KEY_FILE]


def test_key_from_environment_and_bad_key(tmp_path: Path) -> None:
    given = keys.load(Settings(data_dir=tmp_path, extra={"server_key": "A" * 43}))
    assert given.master == bytes(32)
    assert not (tmp_path / keys.KEY_FILE).exists()
    with pytest.raises(SettingsError, match="OWNFACE_SERVER_KEY"):
        keys.load(Settings(data_dir=tmp_path, extra={"server_key": "short"}))


def test_helper_sealed_and_bound_to_account() -> None:
    k = keys.ServerKeys(bytes(range(32)))
    sealed = k.seal_helper("shop", "alice", b"helper bytes")
    assert b"helper bytes" not in sealed
    assert k.open_helper("shop", "alice", sealed) == b"helper bytes"
    with pytest.raises(CryptoError):
        k.open_helper("shop", "bob", sealed)  # AAD = site + user
    assert "ServerKeys(<secret>)" == repr(k)


def test_portable_mode_round_trip_and_decoys(tmp_path: Path, clock: FakeClock) -> None:
    from starlette.testclient import TestClient

    url = f"sqlite:///{tmp_path / 'o.db'}"
    add_site(url, mode="portable")
    with TestClient(make_app(make_settings(tmp_path, url, clock))) as client:
        api = Api(client)
        helper = bytes(range(256)) * 2
        assert api.enrol("alice", ALICE).json()["error"] == "wrong_mode"
        assert api.enrol("alice", ALICE, helper=helper).status_code == 200
        # helper data is released only to the site's kiosks (docs/security.md)
        refused = api.challenge("alice")
        assert refused.status_code == 403 and refused.json()["error"] == "kiosk_required"
        store = client.app.state.ownface_store  # type: ignore[attr-defined]
        api.kiosk = store.keys.kiosk_token(api.site) + "x"
        assert api.challenge("alice").json()["error"] == "kiosk_required"
        api.kiosk = store.keys.kiosk_token(api.site)
        ch = api.challenge("alice").json()
        assert ch["helper"] and len(ch["helper"]) == len(api.challenge("zed").json()["helper"])
        from pyapp.protocol import b64decode

        assert b64decode(ch["helper"], "helper") == helper
        decoy1 = api.challenge("zed").json()["helper"]
        assert decoy1 == api.challenge("zed").json()["helper"]  # stable per account
        assert decoy1 != api.challenge("yan").json()["helper"]
        assert api.verify("alice", ALICE).status_code == 200
        with store.engine.connect() as conn:
            sealed = conn.execute(select(templates.c.helper_sealed)).scalar_one()
        assert helper[:64] not in sealed
    raw = (tmp_path / "o.db").read_bytes()
    assert helper[:64] not in raw
    master = keys.load(make_settings(tmp_path, url)).master
    assert master not in raw


def test_device_mode_refuses_helper(api: Api) -> None:
    r = api.enrol("alice", ALICE, helper=b"x" * 100)
    assert r.status_code == 400 and r.json()["error"] == "wrong_mode"

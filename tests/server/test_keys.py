"""Server keys: a key file made once (even by racing workers), never in the database nor in
the data directory, refused when others may read it; portable helper data sealed at rest and
bound to its account, and a decoy in the same format for accounts without one."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from pyapp.errors import CryptoError
from pyapp.protocol import b64decode
from pyapp.template.binarise import load_scheme
from pyapp.template.blob import HEADER_BYTES, Template
from pyapp.template.commitment import Helper
from server import keys
from server.settings import Settings, SettingsError
from server.store import scheme_file
from server.tables import templates
from tests.server.conftest import ALICE, Api, FakeClock, add_site, make_app, make_settings

SCHEME_FILE = scheme_file(Path("/nonexistent"), "v2")  # the scheme new templates use (default)


def _load(data_dir: str) -> bytes:
    return keys.load(Settings(data_dir=Path(data_dir))).master


def test_key_file_created_once_apart_from_the_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        masters = pool.map(_load, [str(data)] * 8)
    assert len(set(masters)) == 1
    path = tmp_path / "data-keys" / keys.KEY_FILE  # its own directory beside the data
    assert keys.key_path(Settings(data_dir=data)) == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [keys.KEY_FILE]
    assert list(data.iterdir()) == []  # nothing of the key in the data directory


def test_key_material_others_may_read_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    path = keys.key_path(settings)
    keys.load(settings)
    path.chmod(0o644)
    with pytest.raises(SettingsError, match="chmod 600"):
        keys.load(settings)
    path.chmod(0o600)
    path.parent.chmod(0o777)
    with pytest.raises(SettingsError, match="chmod 700"):
        keys.load(settings)
    path.parent.chmod(0o700)
    keys.load(settings)
    inside = Settings(data_dir=tmp_path / "data", extra={"key_file": str(tmp_path / "data" /
                                                                          "k.json")})
    with pytest.raises(SettingsError, match="inside the data directory"):
        keys.load(inside)


def test_a_key_left_in_the_data_directory_moves_out(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    legacy = data / keys.KEY_FILE
    legacy.write_text('{"version": 1, "master": "' + "A" * 43 + '"}')
    legacy.chmod(0o600)
    assert keys.load(Settings(data_dir=data)).master == bytes(32)
    assert not legacy.exists()
    assert keys.load(Settings(data_dir=data)).master == bytes(32)
    assert "moved the server key out of the data directory" in capsys.readouterr().err


def test_key_from_environment_and_bad_key(tmp_path: Path) -> None:
    given = keys.load(Settings(data_dir=tmp_path, extra={"server_key": "A" * 43}))
    assert given.master == bytes(32)
    assert not keys.key_path(Settings(data_dir=tmp_path)).exists()
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


def test_portable_mode_round_trip(tmp_path: Path, database_url: str, clock: FakeClock) -> None:
    from starlette.testclient import TestClient

    url = database_url
    add_site(url, mode="portable")
    with TestClient(make_app(make_settings(tmp_path, url, clock))) as client:
        api = Api(client)
        helper = _template(1)
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
        assert b64decode(ch["helper"], "helper") == helper
        assert api.verify("alice", ALICE).status_code == 200
        with store.engine.connect() as conn:
            sealed = conn.execute(select(templates.c.helper_sealed)).scalar_one()
        assert helper[HEADER_BYTES:HEADER_BYTES + 64] not in sealed
    if url.startswith("sqlite"):  # the whole database file
        raw = Path(url.removeprefix("sqlite:///")).read_bytes()
        assert helper[HEADER_BYTES:HEADER_BYTES + 64] not in raw
        assert keys.load(make_settings(tmp_path, url)).master not in raw


def _template(seed: int) -> bytes:
    """A real template blob, as the app makes one (random helper bits)."""
    rng = np.random.default_rng(seed)
    scheme = load_scheme(SCHEME_FILE)
    code = scheme.code
    return Template(scheme.scheme_id, rng.bytes(16),
                    Helper(code.m, code.t, code.length,
                           rng.integers(0, 2, code.length, dtype=np.uint8))).encode()


def test_a_kiosk_cannot_tell_who_is_enrolled(tmp_path: Path, database_url: str,
                                             clock: FakeClock) -> None:
    """What a kiosk gets for a user id without a template is a template too: it parses with
    the app's own decoder, has the header of the site's real templates (or, before anyone
    enrolled, of the scheme the app ships), the same size, and is the same every time."""
    from starlette.testclient import TestClient

    url = database_url
    add_site(url, mode="portable")
    with TestClient(make_app(make_settings(tmp_path, url, clock))) as client:
        api = Api(client)
        api.kiosk = client.app.state.ownface_store.keys.kiosk_token(api.site)  # type: ignore[attr-defined]

        def helper(user: str) -> bytes:
            return b64decode(api.challenge(user).json()["helper"], "helper")

        before = Template.decode(helper("zed"))  # nobody enrolled yet: the shipped scheme
        assert before.scheme_id == load_scheme(SCHEME_FILE).scheme_id
        real = _template(7)
        assert api.enrol("alice", ALICE, helper=real).status_code == 200
        decoys = [helper(user) for user in ("zed", "zed", "yan")]
        assert decoys[0] == decoys[1] != decoys[2]  # stable per user id, like a real one
        for blob in decoys:
            decoded = Template.decode(blob, expected_scheme=Template.decode(real).scheme_id)
            assert len(blob) == len(real) == len(helper("alice"))
            assert blob[:HEADER_BYTES - 16] == real[:HEADER_BYTES - 16]  # all but the seed
            assert 0.4 < decoded.helper.bits.mean() < 0.6  # random-looking bits


def test_device_mode_refuses_helper(api: Api) -> None:
    r = api.enrol("alice", ALICE, helper=b"x" * 100)
    assert r.status_code == 400 and r.json()["error"] == "wrong_mode"

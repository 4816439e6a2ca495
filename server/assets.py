"""``ownface setup``: fetch every pinned browser asset from the package registries, check it,
lay it out under ``web/assets/``, build the pyapp wheel, precompress, write the manifest.

Pins live in ``server/assets.lock.json``: per source the registry package and version, the
sha256 of the download, and the sha256 of each file laid out. Downloads go through the
registries' own clients (``npm pack``, ``pip download``) into ``.cache/downloads/``. Running
it again is a no-op when every file is in place with the right hash.

The browser loads Pyodide from a folder made from the checked files (``serve_pyodide``,
``server.pyodide_folder``): the zips a source lists under ``repack`` stored instead of deflated
and the modules imported while the app starts compiled, ``pyodide-lock.json`` carrying their
new sha256 (docs/startup.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from server import compress, pyodide_folder, wheel
from server.settings import ROOT, Settings

LOCK = Path(__file__).with_name("assets.lock.json")
CACHE = ROOT / ".cache" / "downloads"
MANIFEST = "manifest.json"


class AssetError(Exception):
    """An asset cannot be fetched or fails its check; the message says what to do."""


@dataclass(frozen=True)
class Source:
    kind: str  # "npm" or "pypi"
    package: str
    version: str
    sha256: str
    dest: str
    group: str
    download: str  # file name of the registry download
    strip: str  # prefix removed from archive members ("" = the download itself is the file)
    files: dict[str, str]
    verify_with_lock: str
    repack: tuple[str, ...] = ()  # zips served repacked and compiled (serve_pyodide)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Source:
        download = d.get("tarball") or d["filename"]
        files = d.get("files") or {download: d["sha256"]}
        return cls(d["kind"], d["package"], d["version"], d["sha256"], d["dest"],
                   d.get("group", "app"), download, d.get("strip", ""), dict(files),
                   d.get("verify_with_lock", ""), tuple(d.get("repack", ())))

    @property
    def label(self) -> str:
        return f"{self.package}@{self.version}" if self.kind == "npm" else \
            f"{self.package}=={self.version}"


def load_lock(path: Path = LOCK) -> list[Source]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Source.from_json(d) for d in data["sources"]]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check(path: Path, expected: str, what: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise AssetError(
            f"sha256 mismatch for {what} ({path}):\n  expected {expected}\n  got      {actual}\n"
            f"Delete {path} and run 'ownface setup' again. If it fails again, the registry "
            "served different bytes than the ones pinned in server/assets.lock.json: do not "
            "use them; check your registry mirror or proxy.")


@contextmanager
def progress(text: str) -> Iterator[None]:
    """A one-line live status with elapsed seconds for downloads whose client is silent."""
    done = threading.Event()

    def tick() -> None:
        start = time.monotonic()
        while not done.wait(0.5):
            if sys.stderr.isatty():
                print(f"\r  {text} ... {time.monotonic() - start:4.0f} s", end="",
                      file=sys.stderr, flush=True)

    thread = threading.Thread(target=tick, daemon=True)
    print(f"  {text} ...", file=sys.stderr, flush=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        if sys.stderr.isatty():
            print("\r", end="", file=sys.stderr)


def _run(cmd: list[str], what: str, hint: str) -> None:
    tool = cmd[0]
    if shutil.which(tool) is None:
        raise AssetError(f"'{tool}' is not installed, but it is needed to fetch {what}. {hint}")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if proc.returncode != 0:
        tail = "\n    ".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
        raise AssetError(
            f"could not fetch {what} with '{' '.join(cmd[:3])} ...' (exit {proc.returncode}):\n"
            f"    {tail}\nCheck that the package registry is reachable from this machine "
            "(proxy, mirror settings) and run 'ownface setup' again.")


def fetch(source: Source, cache: Path | None = None) -> Path:
    """The registry download of ``source`` in the cache, fetched if needed and checked."""
    cache = cache or CACHE
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / source.download
    if target.is_file() and sha256_file(target) == source.sha256:
        return target
    target.unlink(missing_ok=True)
    with progress(f"fetching {source.label}"):
        if source.kind == "npm":
            _run(["npm", "pack", source.label, "--pack-destination", str(cache),
                  "--silent"], source.label,
                 "Install Node.js with npm (Debian: apt-get install nodejs npm).")
        else:
            _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary",
                  ":all:", "--progress-bar", "off", "-d", str(cache), source.label],
                 source.label, "Install pip for this Python (python -m ensurepip).")
    if not target.is_file():
        raise AssetError(f"{source.label} was fetched but {target.name} is not in {cache}")
    _check(target, source.sha256, f"the download of {source.label}")
    return target


def _members(archive: Path, strip: str, names: set[str]) -> Iterator[tuple[str, bytes]]:
    if archive.suffix == ".tgz":
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                name = member.name.removeprefix(strip)
                if member.name.startswith(strip) and name in names and member.isfile():
                    fh = tar.extractfile(member)
                    if fh is not None:
                        yield name, fh.read()
    else:
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                short = name.removeprefix(strip)
                if name.startswith(strip) and short in names:
                    yield short, zf.read(name)


def install(source: Source, assets: Path) -> bool:
    """Lay ``source``'s files out under ``assets/<dest>``; True if anything was written."""
    dest = assets / source.dest
    missing = {name for name, digest in source.files.items()
               if not (dest / name).is_file() or sha256_file(dest / name) != digest}
    if not missing:
        return False
    archive = fetch(source)
    dest.mkdir(parents=True, exist_ok=True)
    if not source.strip:
        shutil.copyfile(archive, dest / source.download)
    else:
        found = set()
        for name, data in _members(archive, source.strip, missing):
            if hashlib.sha256(data).hexdigest() != source.files[name]:
                raise AssetError(f"sha256 mismatch for {name} inside {source.label}; "
                                 "the pinned download is not what it was. Re-run setup.")
            (dest / name).write_bytes(data)
            found.add(name)
        if missing - found:
            raise AssetError(f"{source.label} does not contain {sorted(missing - found)}")
    for name in missing:
        _check(dest / name, source.files[name], f"{name} of {source.label}")
    return True


def verify_against_pyodide_lock(source: Source, assets: Path) -> None:
    """Pyodide's own lock must list exactly these bytes, or loadPackage() fails later."""
    lock = json.loads((assets / source.verify_with_lock).read_text(encoding="utf-8"))
    by_file = {p["file_name"]: p["sha256"] for p in lock["packages"].values()}
    for name, digest in source.files.items():
        if by_file.get(name) != digest:
            raise AssetError(f"{name} from {source.label} is not the build pyodide-lock.json "
                             f"pins ({by_file.get(name)}); Pyodide would refuse to load it.")


def compile_wheel(origin: Path, data: bytes) -> bytes:
    try:
        return pyodide_folder.compile_wheel(origin, data)
    except pyodide_folder.FolderError as exc:
        raise AssetError(str(exc)) from exc


def serve_pyodide(assets: Path, sources: list[Source]) -> Path:
    """The folder the browser loads Pyodide from (``pyodide_folder.make``), made from the
    files ``install`` checked: Pyodide's, and the wheels sources list under ``repack``."""
    pyodide = next(s for s in sources if s.package == "pyodide")
    wheels = {name: assets / s.dest / name for s in sources for name in s.repack
              if name.endswith(".whl")}
    runtime = {name: digest for s in sources if s.dest == pyodide.dest
               for name, digest in s.files.items() if name not in wheels}
    try:
        return pyodide_folder.make(assets / pyodide.dest, runtime, wheels,
                                   pyodide_folder.startup_imports(ROOT / "pyapp"))
    except pyodide_folder.FolderError as exc:
        raise AssetError(str(exc)) from exc


def setup(settings: Settings, *, with_test: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Make ``settings.assets_dir`` complete; return the manifest. Idempotent."""
    assets = settings.assets_dir
    assets.mkdir(parents=True, exist_ok=True)
    sources = [s for s in load_lock() if s.group == "app" or with_test]
    changed = False
    for source in sources:
        changed |= install(source, assets)
        if source.verify_with_lock:
            verify_against_pyodide_lock(source, assets)
    pyodide = next(s for s in sources if s.package == "pyodide")
    built = wheel.build_pyapp(ROOT / "pyapp", assets / "wheels", (  # its modules compiled
        pyodide.sha256.encode(), partial(compile_wheel, assets / pyodide.dest)))
    models = _install_models(settings.models_dir, assets / "models")
    written = compress.precompress_tree(assets)  # first, so the served folder links them
    served = serve_pyodide(assets, sources)
    written += compress.precompress_tree(assets)  # its repacked zips and lock
    manifest = _manifest(assets, sources, served, built, models,
                         face_files(settings.models_dir, settings.face_pipeline))
    path = assets / MANIFEST
    text = json.dumps(manifest, indent=1, sort_keys=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
        changed = True
    written += compress.precompress(path)
    if not quiet:
        state = "updated" if changed or written else "already complete"
        print(f"ownface setup: assets in {assets} {state} "
              f"({len(sources)} sources, pyapp wheel {built.name}, {len(models)} models)",
              file=sys.stderr)
    return manifest


def _install_models(models_dir: Path, out: Path) -> dict[str, str]:
    """Copy each model file (and the manifest) to a content-addressed, immutable URL."""
    if not (models_dir / "manifest.json").is_file():
        return {}
    urls: dict[str, str] = {}
    for path in sorted(models_dir.iterdir()):
        if path.suffix not in {".onnx", ".bin", ".json", ".npz"}:
            continue
        digest = sha256_file(path)
        target = out / digest[:16] / path.name
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        urls[path.name] = f"/assets/models/{digest[:16]}/{path.name}"
    return urls


def face_files(models_dir: Path, pipeline: str) -> tuple[list[str], list[str]]:
    """The model files the face path of ``pipeline`` loads (the model manifest, its scheme,
    each model's graph and weights), and those the presentation-attack check adds."""
    manifest = json.loads((models_dir / "manifest.json").read_text(encoding="utf-8"))
    spec = manifest["pipelines"][pipeline]

    def files(names: list[str]) -> list[str]:
        entries = [manifest["models"][name] for name in names]
        return [entry[part]["file"] for entry in entries for part in ("graph", "weights")]

    return (["manifest.json", spec["scheme"]["file"],
             *files(sorted(set(spec["models"].values())))],
            files(list(manifest.get("pad", {}).get("models", []))))


def _manifest(assets: Path, sources: list[Source], served: Path, built: Path,
              models: dict[str, str], face: tuple[list[str], list[str]]) -> dict[str, Any]:
    by_package = {s.package: s for s in sources}
    pyscript, ort = by_package["@pyscript/core"], by_package["onnxruntime-web"]
    pyodide = served.relative_to(assets).as_posix()
    app_wheels = [f"/assets/{pyodide if s.repack else s.dest}/{s.download}" for s in sources
                  if s.kind == "pypi" and s.group == "app" and not s.strip]
    test_wheels = [f"/assets/{s.dest}/{s.download}" for s in sources
                   if s.group == "test" and s.kind == "pypi" and not s.strip]
    wheels = [*app_wheels, f"/assets/wheels/{built.parent.name}/{built.name}"]
    runtime = [f"/assets/{pyodide}/{name}" for name in (
        "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip",
        pyodide_folder.LOCK, *(n for s in sources if s.dest == by_package["pyodide"].dest
                               for n in s.repack if n.endswith(".whl")))]
    ort_files = [f"/assets/{ort.dest}/{name}" for name in ("ort.wasm.min.mjs", *sorted(ort.files))]
    return {
        "pyodide": f"/assets/{pyodide}/pyodide.mjs",
        "pyodide_dir": f"/assets/{pyodide}/",
        "pyscript": f"/assets/{pyscript.dest}/core.js",
        "pyscript_css": f"/assets/{pyscript.dest}/core.css",
        "ort": f"/assets/{ort.dest}/ort.wasm.min.mjs",
        "ort_dir": f"/assets/{ort.dest}/",
        "wheels": wheels,
        "test_wheels": test_wheels,
        "models": models,
        # what the face path downloads, in the order it needs it, in two groups (Python, then
        # onnxruntime-web and the default pipeline's models): [url, bytes sent with brotli,
        # bytes] (web/glue/boot.js fetches these early and counts them); a page whose site
        # checks liveness adds "pad_downloads" to the second group (server/pages.py)
        "downloads": [[_sizes(assets, url) for url in dict.fromkeys(group)]
                      for group in ([*runtime, *wheels],
                                    [*ort_files, *(models[name] for name in face[0])])],
        "pad_downloads": [_sizes(assets, models[name]) for name in face[1]],
    }


def _sizes(assets: Path, url: str) -> tuple[str, int, int]:
    path = assets / url.removeprefix("/assets/")
    brotli = path.with_name(path.name + ".br")
    size = path.stat().st_size
    return url, brotli.stat().st_size if brotli.is_file() else size, size


def with_pad(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest for pages of sites that check liveness: PAD's models join the face
    path's early downloads."""
    if not manifest.get("downloads"):
        return manifest
    *first, models = manifest["downloads"]
    return {**manifest, "downloads": [*first, [*models, *manifest.get("pad_downloads", [])]]}


def read_manifest(settings: Settings) -> dict[str, Any]:
    path = settings.assets_dir / MANIFEST
    if not path.is_file():
        raise AssetError(f"{path} is missing: run 'ownface setup' first")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ownface setup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--with-test", action="store_true",
                        help="also fetch the wheels the in-browser test run needs")
    args = parser.parse_args(argv)
    try:
        setup(Settings.from_env(), with_test=args.with_test)
    except AssetError as exc:
        print(f"ownface setup: {exc}", file=sys.stderr)
        return 1
    return 0

"""The folder the browser loads Pyodide and its packages from, made at setup from pinned files.

Measured on this project's machine (docs/startup.md), two things made Pyodide start slowly and
download more than it needs:

* zips of members deflated one by one (``python_stdlib.zip``, the wheels) do not compress
  further; stored members and one brotli stream over the whole file are a third smaller;
* most of Pyodide's start was CPython compiling source, on every visit: the standard library
  modules it imports while starting (tarfile, email, importlib.metadata, asyncio...), then
  numpy's and ecdsa's.

So ``ownface setup`` makes one folder from the files it checked against their pins: every zip
repacked with stored members (``wheel.repack``), and in it the source of each module imported
while the app starts replaced by that module's bytecode. Only Pyodide's own CPython writes
bytecode its runtime accepts, so setup runs Pyodide once under Node.js (``pyodide_run.mjs``;
Node is there anyway, npm comes with it), imports there what the app imports, and repacks
inside it. The other modules stay source: bytecode compresses worse, and most are never
imported. ``pyodide-lock.json`` carries the repacked wheels' sha256 (Pyodide refuses a package
whose bytes differ from its lock); the runtime itself is linked unchanged.

The folder is content-addressed, ``<origin>/<sha256[:16] of its inputs>/`` (the pins, the
imports, and the code that makes it): its URL changes whenever a byte in it can, so browsers
cache it forever. It is rebuilt when a file in it differs from what it recorded
(``sha256.json``); older folders are removed. The pyapp wheel is compiled whole the same way
(``compile_wheel``), each time pyapp changes (~2.5 s).
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

from server import wheel

LOCK = "pyodide-lock.json"
STDLIB = "python_stdlib.zip"
SUMS = "sha256.json"
COMPRESSED = (".br", ".gz")  # server.compress's files beside each one
GLUE = Path(__file__).with_name("pyodide_run.mjs")
HERE = Path(__file__).parent
# Imported while the app starts besides the standard library modules pyapp imports (which
# ``startup_imports`` reads from its source): its packages, PyScript's bridge, Pyodide's fetch.
STARTUP = ("numpy", "ecdsa", "asyncio", "pyodide.ffi", "pyodide.http", "pyodide.code",
           "pyodide.webloop", "base64", "inspect", "json", "ast")


class FolderError(Exception):
    """Pyodide's folder cannot be made; the message says what to do."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _link(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` (a copy where the file system has none)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _intact(folder: Path) -> bool:
    try:
        sums: dict[str, str] = json.loads((folder / SUMS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return all((folder / name).is_file() and _sha256(folder / name) == digest
               for name, digest in sums.items())


def make(origin: Path, runtime: dict[str, str], wheels: dict[str, Path],
         imports: list[str]) -> Path:
    """The served folder for Pyodide in ``origin`` (``runtime``: its checked files, name ->
    sha256), holding besides it the ``wheels`` (name -> checked file; numpy's lies in
    ``origin``) repacked, with the source of every module ``imports`` pulls in as bytecode."""
    recipe = [_sha256(p) for p in (Path(__file__), Path(wheel.__file__), GLUE)]
    key = json.dumps([recipe, sorted(runtime.items()), sorted(wheels),
                      [_sha256(p) for _, p in sorted(wheels.items())], sorted(imports)])
    served = origin / hashlib.sha256(key.encode()).hexdigest()[:16]
    if not _intact(served):
        tmp = origin / f".{served.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        zips = {STDLIB: origin / STDLIB, **wheels}
        compile_in_pyodide(origin, zips, imports, tmp)
        for name in sorted(runtime):
            if name not in zips and name != LOCK:
                for suffix in ("", *COMPRESSED):
                    if (origin / (name + suffix)).is_file():
                        _link(origin / (name + suffix), tmp / (name + suffix))
        lock = json.loads((origin / LOCK).read_text(encoding="utf-8"))
        for package in lock["packages"].values():
            if package["file_name"] in zips:
                package["sha256"] = _sha256(tmp / package["file_name"])
        (tmp / LOCK).write_text(json.dumps(lock, separators=(",", ":")), encoding="utf-8")
        sums = {p.name: _sha256(p) for p in sorted(tmp.iterdir())
                if p.is_file() and p.suffix not in COMPRESSED}
        (tmp / SUMS).write_text(json.dumps(sums, indent=1), encoding="utf-8")
        shutil.rmtree(served, ignore_errors=True)
        tmp.rename(served)
    for stale in origin.iterdir():
        if stale.is_dir() and stale != served and len(stale.name) == 16:
            shutil.rmtree(stale)
    return served


def compile_in_pyodide(origin: Path, zips: dict[str, Path], imports: list[str],
                       out: Path, whole: frozenset[str] = frozenset()) -> None:
    """Start Pyodide from ``origin`` under Node, load the wheels among ``zips``, import
    ``imports`` there, and write each of ``zips`` to ``out`` repacked (``wheel.repack``)
    with every module then imported as bytecode; in the zips named in ``whole``, every
    module (those are not loaded)."""
    node = shutil.which("node")
    if node is None:
        raise FolderError("'node' is not installed, but setup runs Pyodide once to compile "
                          "its Python modules. Install Node.js (it comes with npm; Debian: "
                          "apt-get install nodejs npm).")
    packages = [name.split("-")[0] if path.parent == origin else str(path)
                for name, path in zips.items() if name.endswith(".whl") and name not in whole]
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {f"/setup/server/{name}": str(HERE / name)
                  for name in ("__init__.py", "wheel.py", "pyodide_folder.py")}
        inputs |= {f"/setup/in/{name}": str(path) for name, path in zips.items()}
        call = f"in_pyodide({sorted(zips)!r}, {imports!r}, {sorted(whole)!r})"
        job = {"packages": packages, "inputs": inputs,
               "outputs": {f"/setup/out/{name}": str(out / name) for name in zips},
               "run": "import sys; sys.path.insert(0, '/setup'); "
                      f"from server import pyodide_folder; pyodide_folder.{call}"}
        (Path(tmp) / "job.json").write_text(json.dumps(job), encoding="utf-8")
        proc = subprocess.run([node, str(GLUE), str(origin), str(Path(tmp) / "job.json")],  # noqa: S603
                              capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        tail = "\n    ".join(proc.stderr.strip().splitlines()[-8:])
        raise FolderError(f"compiling Python modules inside Pyodide failed "
                          f"(node exit {proc.returncode}):\n    {tail}")


def compile_wheel(origin: Path, data: bytes) -> bytes:
    """A pure-Python wheel (``data``) with every module compiled by Pyodide's CPython."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "in.whl").write_bytes(data)
        compile_in_pyodide(origin, {"in.whl": Path(tmp) / "in.whl"}, [], Path(tmp),
                           frozenset({"in.whl"}))
        return (Path(tmp) / "in.whl").read_bytes()


def startup_imports(package: Path) -> list[str]:
    """What the app imports while it starts: STARTUP and every standard library module the
    browser's ``package`` (pyapp) imports anywhere in its source."""
    found = set(STARTUP)
    for path in sorted(package.rglob("*.py")):
        if path.name in wheel.CPYTHON_ONLY:
            continue
        for node in ast.walk(ast.parse(path.read_bytes())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module \
                and not node.level else []
            found |= {n for n in names if n.split(".")[0] in sys.stdlib_module_names}
    return sorted(found - {"__future__"})


def in_pyodide(names: list[str], imports: list[str], whole: list[str]) -> None:
    """Inside Pyodide: import ``imports``, then repack each zip in /setup/in to /setup/out
    with the source of every module now imported (every module, in ``whole``) replaced by
    its bytecode."""
    for module in imports:
        try:
            __import__(module)
        except ImportError:  # not in Pyodide's standard library: nothing to compile
            continue
    origins = {spec.origin for module in list(sys.modules.values())
               if (spec := getattr(module, "__spec__", None)) is not None
               and spec.origin and spec.origin.endswith(".py")}
    stdlib_root = next(p for p in sys.path if p.endswith(".zip")) + "/"
    packages_root = "/" + sysconfig.get_path("purelib").lstrip("/") + "/"  # it says //lib/...
    for name in names:
        data = Path("/setup/in", name).read_bytes()
        root = stdlib_root if name == STDLIB else packages_root
        if name in whole:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                modules = {root + n for n in zf.namelist() if n.endswith(".py")}
        else:
            modules = origins
        Path("/setup/out", name).write_bytes(wheel.repack(data, root, modules))

"""The zips the browser loads: the ``pyapp`` wheel built, Pyodide's own zips repacked stored.

* The pyapp wheel is a plain zip (PEP 427) with fixed timestamps, so the same sources always
  give the same bytes; it is written to
  ``<out>/<sha256[:16] of the sources>/pyapp-<version>-py3-none-any.whl`` so its URL changes
  exactly when its content does, and browsers may cache it forever.
* ``repack``: a zip whose members are deflated one by one compresses no further, while the
  same members *stored* and the whole file brotli-compressed (``server.compress``) is a third
  smaller on the wire (docs/startup.md), and reading a member needs no inflate. Deterministic.
"""

from __future__ import annotations

import base64
import hashlib
import io
import py_compile
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

# Modules that only make sense in CPython (onnxruntime, PIL, matplotlib): not shipped.
CPYTHON_ONLY = {"host.py", "evaluate.py"}
REQUIRES = ["numpy", "ecdsa"]
DateTime = tuple[int, int, int, int, int, int]
_EPOCH: DateTime = (2020, 1, 1, 0, 0, 0)
_UNIX = 3  # ZipInfo.create_system: the same on every build machine


def _version(package: Path) -> str:
    text = (package / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if not match:
        raise ValueError(f"{package}/__init__.py has no __version__")
    return match.group(1)


def _sources(package: Path) -> list[tuple[str, bytes]]:
    files = []
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".json", ".typed"} \
                and "__pycache__" not in path.parts and path.name not in CPYTHON_ONLY:
            arcname = f"{package.name}/{path.relative_to(package).as_posix()}"
            files.append((arcname, path.read_bytes()))
    return files


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest},{len(data)}"


def build_pyapp(package: Path, out: Path,
                finish: tuple[bytes, Callable[[bytes], bytes]] | None = None) -> Path:
    """Build (or reuse) the wheel of ``package``; return its path. Stale builds are removed.

    ``finish``: (what it depends on, a last step over the wheel's bytes): setup compiles the
    modules there (server.pyodide_folder), for the Pyodide version it names.
    """
    version = _version(package)
    files = _sources(package)
    tag = hashlib.sha256(b"stored\0" + (finish[0] if finish else b"") + b"\0" + b"".join(
        name.encode() + b"\0" + data for name, data in files))
    target = out / tag.hexdigest()[:16] / f"{package.name}-{version}-py3-none-any.whl"
    if not target.is_file():
        dist_info = f"{package.name}-{version}.dist-info"
        metadata = "\n".join([
            "Metadata-Version: 2.1", f"Name: {package.name}", f"Version: {version}",
            "Summary: OwnFace client core (pure Python + numpy)",
            *(f"Requires-Dist: {req}" for req in REQUIRES), "",
        ]).encode()
        wheel_meta = (b"Wheel-Version: 1.0\nGenerator: ownface\nRoot-Is-Purelib: true\n"
                      b"Tag: py3-none-any\n")
        entries = [*files, (f"{dist_info}/METADATA", metadata),
                   (f"{dist_info}/WHEEL", wheel_meta)]
        record = "".join(f"{name},{_record_hash(data)}\n" for name, data in entries)
        record += f"{dist_info}/RECORD,,\n"
        entries.append((f"{dist_info}/RECORD", record.encode()))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        built = _stored_zip((name, _EPOCH, 0o644 << 16, data) for name, data in entries)
        tmp.write_bytes(finish[1](built) if finish else built)
        tmp.replace(target)
    for stale in out.iterdir():
        if stale.is_dir() and stale != target.parent and len(stale.name) == 16:
            shutil.rmtree(stale)
    return target


def _stored_zip(members: Iterable[tuple[str, DateTime, int, bytes]]) -> bytes:
    """A zip of (name, date_time, external_attr, data) members, all stored, no extra fields."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, date_time, attr, data in members:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.create_system = _UNIX
            info.external_attr = attr
            zf.writestr(info, data)
    return out.getvalue()


def repack(data: bytes, root: str = "", modules: Collection[str] = ()) -> bytes:
    """The zip ``data`` with every member stored: same names, order, times and permissions,
    contents checked against their CRC-32, so the result is a function of the input alone.

    A ``.py`` member whose path once installed (``root`` + its name) is in ``modules``
    becomes its bytecode instead: ``<name>.pyc``, unchecked-hash based (valid without the
    source and without timestamps). Bytecode is only valid for the CPython that writes it,
    so that part runs inside Pyodide (server/pyodide_folder.py).
    """
    members = []
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        for info in src.infolist():
            name, body = info.filename, src.read(info)
            if name.endswith(".py") and root + name in modules:
                name, body = name + "c", _bytecode(body, root + name)
            members.append((name, info.date_time, info.external_attr, body))
    return _stored_zip(members)


def _bytecode(source: bytes, path: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        src, pyc = Path(tmp, "module.py"), Path(tmp, "module.pyc")
        src.write_bytes(source)
        py_compile.compile(str(src), cfile=str(pyc), dfile=path, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        return pyc.read_bytes()


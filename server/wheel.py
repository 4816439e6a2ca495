"""Build the browser's ``pyapp`` wheel: deterministic, content-addressed, CPython-only parts out.

The wheel is a plain zip (PEP 427) with fixed timestamps, so the same sources always give the
same bytes; it is written to ``<out>/<sha256[:16] of the sources>/pyapp-<version>-py3-none-any.whl``
so its URL changes exactly when its content does, and browsers may cache it forever.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import zipfile
from pathlib import Path

# Modules that only make sense in CPython (onnxruntime, PIL, matplotlib): not shipped.
CPYTHON_ONLY = {"host.py", "evaluate.py"}
REQUIRES = ["numpy", "ecdsa"]
_EPOCH = (2020, 1, 1, 0, 0, 0)


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


def build_pyapp(package: Path, out: Path) -> Path:
    """Build (or reuse) the wheel of ``package``; return its path. Stale builds are removed."""
    version = _version(package)
    files = _sources(package)
    tag = hashlib.sha256(b"".join(name.encode() + b"\0" + data for name, data in files))
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
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in entries:
                info = zipfile.ZipInfo(name, date_time=_EPOCH)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, data)
        tmp.replace(target)
    for stale in out.iterdir():
        if stale.is_dir() and stale != target.parent and len(stale.name) == 16:
            shutil.rmtree(stale)
    return target

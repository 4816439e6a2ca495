"""face-api.js and TF.js's wasm binaries for the benchmarks: pinned, fetched, checked, laid out.

The pins live in ``bench/faceapi/assets.lock.json`` (same format as ``server/assets.lock.json``)
and go through ``server.assets``: ``npm pack`` of the exact version into ``.cache/downloads/``,
the tarball's sha256 checked, then every file laid out under ``.cache/bench-faceapi/<dest>/``
with its own sha256 checked (a mismatch stops with ``AssetError`` naming the file). Files are
precompressed (brotli, gzip) like the app's own assets, so transfer sizes compare fairly.
None of this is ever served by the OwnFace app: only the bench server mounts it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from server import assets as app_assets
from server import compress
from server.settings import ROOT

LOCK = Path(__file__).with_name("assets.lock.json")
VENDOR = ROOT / ".cache" / "bench-faceapi"


def sources() -> list[app_assets.Source]:
    return app_assets.load_lock(LOCK)


def setup(vendor: Path = VENDOR, *, quiet: bool = True) -> Path:
    """Make ``vendor`` hold every pinned face-api file (fetched once, idempotent)."""
    vendor.mkdir(parents=True, exist_ok=True)
    changed = False
    for source in sources():
        changed |= app_assets.install(source, vendor)
    written = compress.precompress_tree(vendor)
    if not quiet and (changed or written):
        print(f"face-api bench assets laid out in {vendor}", file=sys.stderr)
    return vendor


def versions() -> dict[str, str]:
    return {s.package: s.version for s in sources()}


if __name__ == "__main__":
    setup(quiet=False)
    print(VENDOR)

"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Real face photos live beside the repository, never in it.
SHARED_DATA = Path(os.environ.get("OWNFACE_SHARED_DATA", ROOT.parent / "shared" / "data"))
LFW_DIR = SHARED_DATA / "lfw-dev"


@pytest.fixture(scope="session")
def lfw_dir() -> Path:
    """The LFW development half (images/<name>/<name>_NNNN.jpg + pairs.txt)."""
    if not (LFW_DIR / "images").is_dir():
        pytest.skip(f"real face photos not found at {LFW_DIR} (set OWNFACE_SHARED_DATA); "
                    "tests that need them are skipped")
    return LFW_DIR


def lfw_image(lfw: Path, name: str, number: int) -> Path:
    return lfw / "images" / name / f"{name}_{number:04d}.jpg"

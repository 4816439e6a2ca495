"""Fixtures of the face-pipeline tests: the real models (CPython only) and real LFW frames.

Nothing here imports onnxruntime or PIL at module level, so this file also loads inside
Pyodide; the test modules that need the real models import onnxruntime themselves and are
left out there (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from tests.conftest import lfw_image

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine of the async pipeline to completion."""
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def models() -> Any:
    """The default pipeline (v2: YuNet + O-Net landmarks + SFace)."""
    from pyapp import host

    return host.load_models()


@pytest.fixture(scope="session")
def models_v2(models: Any) -> Any:
    """Pipeline v2 by name, for tests that run over both pipelines."""
    return models


@pytest.fixture(scope="session")
def models_v1() -> Any:
    """Pipeline v1 (MTCNN + dlib): old templates keep verifying with it."""
    from pyapp import host

    return host.load_models(pipeline="v1")


@pytest.fixture(scope="session")
def lfw_frame(lfw_dir: Path) -> Any:
    """lfw_frame(name, number) -> the photo pasted into a 640x480 RGBA frame."""
    from pyapp import host
    from pyapp.face.frame import photo_frame

    cache: dict[tuple[str, int], np.ndarray] = {}

    def make(name: str, number: int) -> np.ndarray:
        key = (name, number)
        if key not in cache:
            cache[key] = photo_frame(host.read_photo(lfw_image(lfw_dir, name, number)))
        return cache[key].copy()

    return make


@pytest.fixture(scope="session")
def lfw_photo(lfw_dir: Path) -> Any:
    """lfw_photo(name, number) -> the 150x150 photo as RGBA."""
    from pyapp import host

    def make(name: str, number: int) -> np.ndarray:
        return host.read_photo(lfw_image(lfw_dir, name, number))

    return make

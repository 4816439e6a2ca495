"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

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


# --- running pyapp's tests inside Pyodide ----------------------------------------------------
# Some test modules use CPython-only packages as oracles (cryptography to check signatures the
# way the server does, onnxruntime, PIL...). Inside Pyodide those modules are left out of the
# run, by name and reason, and everything else runs exactly as in CPython.
CPYTHON_ONLY = {"cryptography", "onnxruntime", "PIL", "matplotlib", "nacl", "pysodium",
                "sqlalchemy", "starlette", "galois", "httpx", "server", "onnx", "brotli"}
LEFT_OUT: dict[str, list[str]] = {}


def _cpython_only_imports(path: Path, seen: set[Path] | None = None) -> list[str]:
    import ast

    seen = set() if seen is None else seen
    if path in seen or not path.is_file():
        return []
    seen.add(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name.split(".")[0] for a in node.names
                      if a.name.split(".")[0] in CPYTHON_ONLY]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module.split(".")[0] in CPYTHON_ONLY:
                found.append(node.module.split(".")[0])
            elif node.level == 1 and node.module:  # a sibling helper module of the tests
                found += _cpython_only_imports(path.with_name(node.module + ".py"), seen)
    return sorted(set(found))


if sys.platform == "emscripten":

    def pytest_ignore_collect(collection_path: Path) -> bool:
        if collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
            needs = _cpython_only_imports(collection_path)
            if needs:
                LEFT_OUT[collection_path.name] = needs
                return True
        return False

    def pytest_terminal_summary(terminalreporter: Any) -> None:
        for name, needs in sorted(LEFT_OUT.items()):
            terminalreporter.write_line(f"left out in Pyodide: {name} (needs {', '.join(needs)})")


# --- temporary files --------------------------------------------------------------------------
# Everything a run puts in the temporary directory (pytest's tmp_path, mkdtemp in tests and
# helpers, Chromium profiles, PostgreSQL clusters, benchmark scratch data, and whatever the
# subprocesses write) goes into one directory of the run, which is removed when the run
# passes: a run leaves nothing behind in /tmp. After a failure it stays, and its path is
# printed, for a look at what the failing tests left.
RUN_TMP_PREFIX = "ownface-tests-"
if sys.platform != "emscripten":

    def pytest_configure(config: pytest.Config) -> None:
        import tempfile

        if hasattr(config, "workerinput"):  # (a pytest-xdist worker shares its parent's)
            return
        run_tmp = tempfile.mkdtemp(prefix=RUN_TMP_PREFIX)
        os.chmod(run_tmp, 0o711)  # the PostgreSQL user must reach its cluster inside
        config.stash[_RUN_TMP] = run_tmp
        os.environ["TMPDIR"] = run_tmp
        tempfile.tempdir = run_tmp

    def pytest_unconfigure(config: pytest.Config) -> None:
        import shutil
        import tempfile

        run_tmp = config.stash.get(_RUN_TMP, None)
        if run_tmp is None:
            return
        tempfile.tempdir = None
        os.environ.pop("TMPDIR", None)
        if config.stash.get(_RUN_FAILED, False):
            print(f"\nthis run's temporary files are kept in {run_tmp}")
        else:
            shutil.rmtree(run_tmp, ignore_errors=True)

    def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
        session.config.stash[_RUN_FAILED] = exitstatus not in (0, 5)  # 5: nothing collected


_RUN_TMP = pytest.StashKey[str]()
_RUN_FAILED = pytest.StashKey[bool]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running in the main
    thread once it has started, and tests that use asyncio.run() must come before that."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid.replace("\\", "/"))

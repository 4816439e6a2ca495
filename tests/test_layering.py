"""Architecture rules, checked on the source tree with the ast module.

* Only pyapp/browser/ may import js, pyodide or pyscript.
* pyapp (outside pyapp/browser and the CPython host adapter) imports only the standard
  library, numpy, ecdsa and pyapp itself, so it runs in Pyodide.
* The server never imports pyapp.browser.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROWSER_MODULES = {"js", "pyodide", "pyscript", "pyodide_js"}
# CPython-only adapters inside pyapp: allowed to import heavier CPython packages lazily.
HOST_MODULES = {"host", "evaluate"}
PYAPP_ALLOWED_THIRD_PARTY = {"numpy", "ecdsa"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def pyapp_core_files() -> list[Path]:
    files = []
    for path in sorted((ROOT / "pyapp").rglob("*.py")):
        rel = path.relative_to(ROOT / "pyapp")
        if rel.parts[0] == "browser" or path.stem in HOST_MODULES:
            continue
        files.append(path)
    return files


def test_only_pyapp_browser_imports_browser_modules() -> None:
    offenders = []
    for path in sorted(ROOT.glob("**/*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in {".venv", "build", "web"} or rel.parts[:2] == ("pyapp", "browser"):
            continue
        if rel.parts[:3] == ("tests", "browser", "pages"):  # Python that runs in the page
            continue
        if rel == Path("tests/test_layering.py"):
            continue
        if imported_roots(path) & BROWSER_MODULES:
            offenders.append(str(rel))
    assert offenders == []


def test_pyapp_core_is_pure_python_and_numpy() -> None:
    stdlib = set(sys.stdlib_module_names)
    offenders = {}
    for path in pyapp_core_files():
        bad = imported_roots(path) - stdlib - PYAPP_ALLOWED_THIRD_PARTY - {"pyapp", "__future__"}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_server_never_imports_pyapp_browser() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "server").rglob("*.py"))
        if any(m == "pyapp.browser" or m.startswith("pyapp.browser.")
               for m in imported_modules(path))
    ]
    assert offenders == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import js\nfrom pyodide.ffi import to_js\nfrom pyapp.browser import app\n")
    assert {"js", "pyodide"} <= imported_roots(bad)
    assert "pyapp.browser" in imported_modules(bad)

"""The repository itself: the licence its metadata names, no paths of one machine, and a
test run that cleans up after itself."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import tomllib

from tests.conftest import ROOT, RUN_TMP_PREFIX

# home and work directories of machines (named by parts, so this file does not match itself)
_ROOTS = ("work", "root", "home", "Users")
MACHINE_PATH = re.compile("|".join(f"/{name}/" + ("(?!pyodide)" if name == "home" else "")
                                   for name in _ROOTS))


def test_the_licence_pyproject_names_is_there() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text


def test_no_file_carries_a_path_of_one_machine() -> None:
    """Benchmarks, docs and code name paths relative to the repository (or settings), never
    the directories of the machine they were written on."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    found = []
    for name in files:
        path = ROOT / name
        if path.suffix not in {".py", ".md", ".json", ".toml", ".js", ".html", ".sh", ""} or \
                not path.is_file() or name.startswith("web/assets/"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8",
                                                     errors="replace").splitlines(), 1):
            if MACHINE_PATH.search(line):
                found.append(f"{name}:{number}: {line.strip()[:100]}")
    assert found == []


def test_a_run_keeps_its_temporary_files_in_one_directory() -> None:
    """Everything this run writes to the temporary directory, this process's and its
    subprocesses', goes into the run's own directory (removed when the run passes)."""
    run_tmp = tempfile.gettempdir()
    assert os.path.basename(run_tmp).startswith(RUN_TMP_PREFIX)
    assert os.environ["TMPDIR"] == run_tmp
    child = subprocess.run(["python3", "-c", "import tempfile; print(tempfile.gettempdir())"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert child == run_tmp

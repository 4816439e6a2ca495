"""The README's two commands are the ones that work: CI runs the test command verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fenced_commands(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, re.S)]


def test_readme_has_exactly_two_one_line_commands() -> None:
    commands = fenced_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    setup, test = commands
    assert "ownface serve" in setup and "requirements.lock" in setup
    assert "pytest" in test


def test_ci_runs_the_readmes_test_command() -> None:
    test = fenced_commands((ROOT / "README.md").read_text(encoding="utf-8"))[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test in ci
    assert "set -eu" in ci

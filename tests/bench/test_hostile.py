"""bench/hostile.py, the review's attacks replayed, runs end to end and every attack is
refused (its exit status counts the ones that were not)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_every_attack_of_the_review_is_refused() -> None:
    proc = subprocess.run([sys.executable, "bench/hostile.py"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    lines = [line for line in proc.stdout.splitlines() if " -- " in line]
    assert [line.split()[0] for line in lines] == ["memory", "proxy", "targeted", "write",
                                                   "re-claim", "weak", "surrogate"]
    assert all(line.endswith("-- refused") for line in lines), proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]

"""What the numbers were measured on: CPU, cores, memory, OS, Chromium, and the load average.

The bench machine is shared (2 cores, other jobs running), so every timing is reported next
to the 1-minute load average sampled around it (``load()``): a timing taken at load 4 on 2
cores is not the same number as one taken on an idle machine.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.browser.conftest import CHROMIUM


def load() -> float:
    """The 1-minute load average now."""
    return round(os.getloadavg()[0], 2)


class LoadSampler:
    """Samples the load average at the start, at each ``tick()`` and at the end of a phase."""

    def __init__(self) -> None:
        self.samples = [load()]

    def tick(self) -> None:
        self.samples.append(load())

    def summary(self) -> dict[str, float]:
        s = [*self.samples, load()]
        return {"min": min(s), "max": max(s), "mean": round(sum(s) / len(s), 2)}


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) \
        else "unavailable"


def describe() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    mem_kb = next((int(line.split()[1]) for line in _read("/proc/meminfo").splitlines()
                   if line.startswith("MemTotal:")), 0)
    os_name = next((line.split("=", 1)[1].strip().strip('"')
                    for line in _read("/etc/os-release").splitlines()
                    if line.startswith("PRETTY_NAME=")), platform.system())
    flags = next((line for line in _read("/proc/cpuinfo").splitlines()
                  if line.startswith("flags")), "")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "simd": [f for f in ("avx2", "avx512f", "fma") if f" {f}" in flags],
        "memory_gib": round(mem_kb / 2**20, 1),
        "os": f"{os_name}, Linux {platform.release()}",
        "chromium": _version([CHROMIUM, "--version"]),
        "node": _version(["node", "--version"]),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }

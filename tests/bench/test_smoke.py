"""The side-by-side benchmarks keep working: their smoke modes run end to end on real photos.

Each script runs in its own process exactly as a person would run it (``--smoke``: a couple of
frames, a few runs), writing its JSON to a temporary folder; the tests then check what the
numbers must satisfy whatever the machine's speed. The full suite (bench/run_all.py) is never
part of the test command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.faceapi.macs import conv_model, count_macs, matmul_model, qconv_model
from tests.conftest import ROOT

browser, data, slow = pytest.mark.browser, pytest.mark.data, pytest.mark.slow


def run_smoke(script: str, out: Path, *extra: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, f"bench/{script}", "--smoke", "--json", str(out),
                           *extra], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, f"{script} --smoke failed:\n{proc.stderr[-3000:]}"
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def test_mac_count_of_known_models() -> None:
    import onnx

    model, _, macs = conv_model(8, 16)
    counted = count_macs(onnx.load_from_string(model), (1, 8, 16, 16))
    assert counted["conv"] == counted["total"] == macs == 8 * 8 * 9 * 16 * 16
    model, _, macs = qconv_model(8, 16)
    counted = count_macs(onnx.load_from_string(model), (1, 8, 16, 16))
    assert counted["int8"] == counted["total"] == macs and counted["float"] == 0
    model, _, macs = matmul_model(32)
    assert count_macs(onnx.load_from_string(model), (32, 32))["matmul"] == macs == 32 ** 3


@browser
@data
@slow
def test_compare_browser_smoke(lfw_dir: Path, tmp_path: Path) -> None:
    data = run_smoke("compare_browser.py", tmp_path / "compare_browser.json")
    s = data["summary"]
    assert s["pairs"] == 2 and s["pairs_both_found_face"] == 2  # a face in each LFW frame
    for side in ("ownface", "faceapi"):
        assert 0 < s[side]["per_frame_ms"]["median"] < 60_000
        assert s[side]["cold"]["bytes"] > 1_000_000  # runtimes and models came over the wire
        assert s[side]["warm"]["bytes"] < s[side]["cold"]["bytes"] / 10  # then from cache
    assert data["runtime"]["ownface"]["cross_origin_isolated"] is True
    assert data["runtime"]["faceapi"]["backend"] == "wasm"
    assert data["faceapi_tensors_after"] < 1000  # face-api does not leak tensors per frame


@browser
@data
@slow
def test_compare_accuracy_smoke(lfw_dir: Path, tmp_path: Path) -> None:
    data = run_smoke("compare_accuracy.py", tmp_path / "compare_accuracy.json",
                     "--cache", str(tmp_path / "cache"))
    assert data["images"] >= 30
    for side in ("faceapi", "ownface"):
        assert data[side]["detection_failures"] <= 2
        assert data[side]["pairs"]["accuracy"] >= 0.8  # same dlib network on both sides
    assert data["faceapi"]["fixed_0.6"]["pairs_accuracy"] >= 0.8
    assert (tmp_path / "cache").is_dir()  # descriptors cached for the next run


@browser
@data
@slow
def test_limits_smoke(lfw_dir: Path, tmp_path: Path) -> None:
    data = run_smoke("limits.py", tmp_path / "limits.json")
    assert data["peak"]["1"]["threads"] == 1
    assert data["peak_gflops"]["1"]["float"] > 0.5 and data["peak_gflops"]["1"]["int8"] > 0.5
    stages = data["stages"]
    assert data["pipeline_name"] == "v2" and set(stages) == {"yunet", "onet", "embed"}
    assert stages["embed"]["shapes"] == [[1, 3, 112, 112]]  # SFace: one chip, no mirror
    assert stages["onet"]["shapes"] == [[2, 48, 48, 3]]  # O-Net on the face and its mirror
    for s in stages.values():
        assert s["macs"] > 0 and s["web_ms"] > 0 and s["native_ms"] > 0
        assert s["ideal_ms_1_thread"] < s["web_ms"]  # nothing beats the measured peak

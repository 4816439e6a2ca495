"""The browser pipeline (Pyodide + onnxruntime-web) and the CPython one (onnxruntime) agree:
cosine >= 0.9999 on the same frames of real photos, and the same quality verdicts, for both
face pipelines (v2, and v1 which old templates still need).
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pyapp import host
from pyapp.errors import QualityError
from pyapp.face.frame import photo_frame
from pyapp.face.pipeline import embed_frame
from tests.browser.audit import NetworkAudit
from tests.browser.conftest import FRAMES, LiveServer

PEOPLE = ["Abel_Pacheco", "Akhmed_Zakayev", "Amber_Tamblyn", "Anders_Fogh_Rasmussen",
          "Angela_Bassett", "Ann_Veneman", "Anthony_Fauci", "Antonio_Banderas"]


def frames_of_real_photos(lfw: Path) -> dict[str, np.ndarray]:
    frames: dict[str, np.ndarray] = {}
    for person in PEOPLE:
        for photo in sorted((lfw / "images" / person).glob("*.jpg"))[:2]:
            frames[photo.stem] = photo_frame(host.read_photo(photo))
    # a frame with no face, and one with two faces side by side
    frames["empty"] = np.zeros((480, 640, 4), np.uint8) + np.uint8(120)
    a = host.read_photo(sorted((lfw / "images" / PEOPLE[0]).glob("*.jpg"))[0])
    b = host.read_photo(sorted((lfw / "images" / PEOPLE[2]).glob("*.jpg"))[0])
    two = np.zeros((480, 640, 4), np.uint8)
    two[..., 3] = 255
    two[90:390, 10:310] = photo_frame(a, (300, 300))
    two[90:390, 330:630] = photo_frame(b, (300, 300))
    frames["two_faces"] = two
    return frames


def cpython_results(frames: dict[str, np.ndarray], pipeline: str) -> dict[str, Any]:
    models = host.load_models(pipeline=pipeline)

    async def one(frame: np.ndarray) -> Any:
        try:
            return (await embed_frame(frame, models)).embedding
        except QualityError as exc:
            return exc.reason.value

    async def all_frames() -> dict[str, Any]:
        return {name: await one(frame) for name, frame in frames.items()}

    # Playwright's sync API owns this thread's event loop: run the pipeline in another thread
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, all_frames()).result()


def browser_results(browser: Any, url: str, names: list[str], audit: NetworkAudit,
                    pipeline: str) -> dict[str, Any]:
    context = browser.new_context()
    audit.attach(context)
    page = context.new_page()
    page.goto(f"{url}/_test/pipeline.html?pipeline={pipeline}")
    page.wait_for_selector("#state[data-ready]", state="attached", timeout=180_000)
    spec = json.dumps({"frames": [f"/_test/frames/{n}" for n in names], "width": 640,
                       "height": 480})
    raw = page.evaluate("spec => window.ownfaceGlue.worker.sync.run(spec)", spec)
    context.close()
    rows = json.loads(raw)["results"]
    out: dict[str, Any] = {}
    for name, row in zip(names, rows, strict=True):
        assert "error" not in row, row
        out[name] = np.asarray(row["embedding"], np.float32) if "embedding" in row \
            else row["reason"]
    return out


@pytest.mark.browser
@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("pipeline", ["v2", "v1"])
def test_browser_and_cpython_pipelines_agree(live_server: LiveServer, browser: Any,
                                             lfw_dir: Path, audit: NetworkAudit,
                                             pipeline: str) -> None:
    frames = frames_of_real_photos(lfw_dir)
    for name, frame in frames.items():
        FRAMES[name] = np.ascontiguousarray(frame).tobytes()
    expected = cpython_results(frames, pipeline)
    got = browser_results(browser, live_server.url, list(frames), audit, pipeline)
    embedded = 0
    cosines = []
    for name in frames:
        if isinstance(expected[name], str):
            assert got[name] == expected[name], f"{name}: verdicts differ"
        else:
            assert not isinstance(got[name], str), f"{name}: browser rejected ({got[name]})"
            cosine = float(expected[name] @ got[name])
            assert cosine >= 0.9999, f"{name}: cosine {cosine:.6f}"
            cosines.append(cosine)
            embedded += 1
    print(f"parity {pipeline}: {embedded} embeddings, lowest cosine {min(cosines):.7f}; verdicts: "
          f"{sorted(v for v in expected.values() if isinstance(v, str))}")
    assert embedded >= 12  # most real photos pass the gates in both
    assert expected["empty"] == "no_face" and expected["two_faces"] == "many_faces"
    audit.check()

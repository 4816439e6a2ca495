# Test/bench harness, runs inside Pyodide in a worker: loads the face models, then exposes
# run(frame_urls, repeats) to the page. Frames are raw 640x480 RGBA bytes, so the browser and
# CPython see exactly the same pixels.
import asyncio
import json
import time

import polyscript
from pyodide.http import pyfetch

from pyapp.browser import dom, models, ort
from pyapp.errors import OwnFaceError, QualityError
from pyapp.frame import frame_from_buffer
from pyapp.pipeline import embed_frame

ORIGIN = str(dom.window.location.origin)
STATE = {}


async def load():
    STATE["models"] = await models.load_models()
    STATE["runtime"] = ort.describe()
    dom.document.getElementById("state").dataset.ready = "1"


async def run(spec_json):
    spec = json.loads(spec_json)
    frames = []
    for url in spec["frames"]:
        data = await (await pyfetch(ORIGIN + url)).bytes()
        frames.append(frame_from_buffer(data, spec["width"], spec["height"]))
    out = []
    for frame in frames:
        times = []
        result = None
        for _ in range(spec.get("repeats", 1)):
            t0 = time.perf_counter()
            try:
                result = await embed_frame(frame, STATE["models"])
            except QualityError as exc:
                result = exc
            except OwnFaceError as exc:
                result = exc
            times.append((time.perf_counter() - t0) * 1000)
        if isinstance(result, QualityError):
            row = {"reason": result.reason.value}
        elif isinstance(result, OwnFaceError):
            row = {"error": str(result)}
        else:
            row = {"embedding": [float(v) for v in result.embedding],
                   "timings": result.timings, "box": [float(v) for v in result.face.box]}
        row["ms"] = times
        out.append(row)
    return json.dumps({"results": out, "runtime": STATE["runtime"]})


polyscript.xworker.sync.run = run
LOADING = asyncio.ensure_future(load())  # noqa: RUF006 (kept: module global)

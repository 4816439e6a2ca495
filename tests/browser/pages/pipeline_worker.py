# Test/bench harness, runs inside Pyodide in a worker: loads one face pipeline's models
# (?pipeline=v1|v2, default: the manifest's default; &pad=1: the presentation-attack
# detection models too, scored on every usable frame like the app does), then exposes
# run(frame_urls, repeats[, protect]) to the page; with protect, each frame's time includes
# the client's verification crypto (bench/compare_browser.py: detect, align, embed, protect).
# Frames are raw 640x480 RGBA bytes, so the browser and CPython see exactly the same pixels.
import asyncio
import json
import time

import polyscript
from pyodide.http import pyfetch

from pyapp import protocol
from pyapp.browser import dom, models, ort
from pyapp.enrol import OPRF_INPUT_LABEL
from pyapp.errors import NotMatched, OwnFaceError, QualityError
from pyapp.face.frame import frame_from_buffer
from pyapp.face.pipeline import DEFAULT_PIPELINE, embed_frame
from pyapp.template import commitment, oprf
from pyapp.template.binarise import binarise
from pyapp.template.keys import derive_keys

ORIGIN = str(dom.window.location.origin)
STATE = {}
MODEL_MS = {}  # with "profile": time inside each model's onnxruntime-web run, per frame


def profile_models():
    """Wrap every onnxruntime-web session's run to time it, by model role (bench only)."""
    roles = {id(s): role for role, s in models._sessions.items()}
    original = ort.OrtWebInference.run

    async def timed(self, inputs):
        t0 = time.perf_counter()
        out = await original(self, inputs)
        role = roles.get(id(self), "?")
        MODEL_MS[role] = MODEL_MS.get(role, 0.0) + (time.perf_counter() - t0) * 1000
        return out

    ort.OrtWebInference.run = timed


async def load():
    query = str(dom.window.location.search)
    name = query.split("pipeline=")[1].split("&")[0] if "pipeline=" in query else None
    pipelines = models.Pipelines(await models.read_manifest(), name or DEFAULT_PIPELINE,
                                 pad="pad=1" in query)
    STATE["models"], STATE["scheme"] = await pipelines.get()
    STATE["runtime"] = ort.describe()
    STATE["oprf_key"] = oprf.derive_key_pair(bytes(32), b"bench")[0]
    dom.document.getElementById("state").dataset.ready = "1"


def protect(embedding, template):
    """The client's verification crypto on one embedding (what follows the embedding in the
    app): binarise, open the commitment, OPRF (server step in-process), keys, sign."""
    scheme = STATE["scheme"]
    bits = binarise(embedding, scheme, template["seed"])
    try:
        secret = commitment.open(template["helper"], bits)
    except NotMatched:
        secret = bytes(32)  # the app goes on with a random secret: same work
    data = OPRF_INPUT_LABEL + secret
    state = oprf.blind(data)
    evaluated = oprf.blind_evaluate(STATE["oprf_key"], state.element)
    pair = derive_keys(oprf.finalize(data, state, evaluated), "demo", "bench")
    pair.sign(protocol.signed_message("verify", "demo", "bench", ORIGIN, bytes(16), bytes(32)))


async def run(spec_json):
    spec = json.loads(spec_json)
    frames = []
    for url in spec["frames"]:
        data = await (await pyfetch(ORIGIN + url)).bytes()
        frames.append(frame_from_buffer(data, spec["width"], spec["height"]))
    out = []
    template = None
    if spec.get("profile") and not STATE.get("profiled"):
        profile_models()
        STATE["profiled"] = True
    for frame in frames:
        MODEL_MS.clear()
        times = []
        result = None
        for _ in range(spec.get("repeats", 1)):
            t0 = time.perf_counter()
            try:
                result = await embed_frame(frame, STATE["models"])
                if spec.get("protect"):
                    if template is None:  # enrol on the first usable frame
                        seed = bytes(16)
                        helper, _ = commitment.commit(binarise(result.embedding,
                                                               STATE["scheme"], seed),
                                                      code=STATE["scheme"].code)
                        template = {"seed": seed, "helper": helper}
                    t1 = time.perf_counter()
                    protect(result.embedding, template)
                    result.timings["protect"] = (time.perf_counter() - t1) * 1000
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
        if spec.get("profile"):
            row["models_ms"] = {k: v / len(times) for k, v in MODEL_MS.items()}
        out.append(row)
    return json.dumps({"results": out, "runtime": STATE["runtime"]})


polyscript.xworker.sync.run = run
LOADING = asyncio.ensure_future(load())  # noqa: RUF006 (kept: module global)

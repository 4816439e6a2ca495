"""onnxruntime-web, behind pyapp's ``Inference`` port.

onnxruntime-web is loaded by PyScript as the JS module ``ort`` inside the worker (see
``web/glue/boot.js``). Inputs cross into JS as flat Float32Arrays (a nested conversion of an
image is very slow), outputs come back as flat buffers reshaped in numpy, and every tensor made
here is disposed of before ``run`` returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import js  # type: ignore[import-not-found]
import numpy as np
from pyodide.ffi import to_js  # type: ignore[import-not-found]

from pyapp.browser import dom
from pyapp.errors import ModelError
from pyapp.ports import FloatArray

_configured = False


def default_threads() -> int:
    """Threads for onnxruntime-web: 2 where the page is cross-origin isolated (wasm threads
    need SharedArrayBuffer) and the machine has at least 4 cores, else 1.

    Measured on this project's 2-core machine (docs/models.md, whole pipeline, interleaved
    runs): 2 threads were 10-17% faster when the machine was idle (load ~1.5) but 1.6-2.1x
    slower when other work shared the cores (load ~4), even with spinning off: every kernel
    waits for its slower half. So 2 threads only where cores are to spare.
    """
    cores = int(getattr(js.navigator, "hardwareConcurrency", 1) or 1)
    return 2 if bool(js.crossOriginIsolated) and cores >= 4 else 1


def runtime(threads: int = 1) -> Any:
    """The ``ort`` module, told once where its wasm lives (self-hosted) and how many threads.

    The thread count is global to onnxruntime-web (one wasm instance): the first call wins.
    """
    global _configured
    ort = dom.js_modules.ort
    if not _configured:
        ort.env.wasm.wasmPaths = dom.absolute(dom.manifest()["ort_dir"])
        ort.env.wasm.numThreads = threads
        ort.env.wasm.proxy = False  # we already run in a worker
        _configured = True
    return ort


def describe() -> dict[str, Any]:
    """What the runtime runs with: version, threads, cross-origin isolation."""
    ort = runtime()
    return {"version": str(ort.env.versions.web), "threads": int(ort.env.wasm.numThreads),
            "cross_origin_isolated": bool(js.crossOriginIsolated)}


class OrtWebInference:
    """An onnxruntime-web session; ``await OrtWebInference.create(model_bytes)``."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.input_names = [str(n) for n in session.inputNames]
        self.output_names = [str(n) for n in session.outputNames]

    @classmethod
    async def create(cls, model: bytes, *, external: Mapping[str, bytes] | None = None,
                     threads: int = 1) -> OrtWebInference:
        ort = runtime(threads)
        options: dict[str, Any] = {"executionProviders": ["wasm"],
                                   "graphOptimizationLevel": "all"}
        if threads > 1:  # idle threads wait instead of spinning (other work shares the cores)
            options["extra"] = {"session": {"intra_op": {"allow_spinning": "0"}}}
        if external:
            options["externalData"] = [{"path": path, "data": to_js(memoryview(data))}
                                       for path, data in external.items()]
        try:
            session = await ort.InferenceSession.create(to_js(memoryview(model)),
                                                        dom.js_object(options))
        except Exception as exc:  # a JsException from onnxruntime-web
            raise ModelError(f"onnxruntime-web could not load the model: {exc}") from exc
        return cls(session)

    async def run(self, inputs: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
        ort = runtime()
        tensors: dict[str, Any] = {}
        try:
            for name, value in inputs.items():
                array = np.ascontiguousarray(value, dtype=np.float32)
                tensors[name] = ort.Tensor.new("float32", to_js(array.ravel()),
                                               to_js(list(array.shape)))
            feeds = js.Object.fromEntries(to_js(list(tensors.items())))
            results = await self._session.run(feeds)
            outputs: dict[str, FloatArray] = {}
            for name in self.output_names:
                tensor = js.Reflect.get(results, name)
                dims = tuple(int(d) for d in tensor.dims)
                outputs[name] = np.asarray(tensor.data.to_py(), dtype=np.float32).reshape(dims)
                tensor.dispose()
            return outputs
        finally:
            for tensor in tensors.values():
                tensor.dispose()

    def close(self) -> None:
        self._session.release()

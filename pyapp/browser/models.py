"""The face models in the browser: fetched from our own server, hash-checked, expanded, loaded.

Same manifest, same sha256 checks and same weight expansion as the CPython host
(``pyapp.face.manifest``, ``pyapp.face.weights``); only the transport (fetch) and the runtime
(onnxruntime-web) differ. A file whose hash does not match is refused with a ModelError.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pyodide.http import pyfetch  # type: ignore[import-not-found]

from pyapp.browser import dom
from pyapp.browser.ort import OrtWebInference, default_threads
from pyapp.errors import ModelError
from pyapp.face.detect import Detector, DetectorConfig
from pyapp.face.embed import Embedder
from pyapp.face.manifest import ModelFiles, load_model_files, parse_manifest
from pyapp.face.pipeline import FaceModels

Progress = Callable[[str, int, int], None]  # (what, done, total)


async def fetch_bytes(url: str) -> bytes:
    try:
        response = await pyfetch(dom.absolute(url))
    except Exception as exc:  # network failure inside the browser
        raise ModelError(f"could not download {url}: {exc}") from exc
    if not response.ok:
        raise ModelError(f"could not download {url}: HTTP {response.status}")
    return bytes(await response.bytes())


async def read_model_files(progress: Progress | None = None) -> dict[str, ModelFiles]:
    """Download manifest.json and every model it lists (in parallel), checking every hash."""
    urls = dom.manifest()["models"]
    if "manifest.json" not in urls:
        raise ModelError("the server lists no model manifest: run 'ownface setup'")
    specs = parse_manifest(await fetch_bytes(urls["manifest.json"]))
    done = 0

    async def one(role: str) -> tuple[str, ModelFiles]:
        nonlocal done
        spec = specs[role]
        graph, weights = await asyncio.gather(fetch_bytes(urls[spec.graph.file]),
                                              fetch_bytes(urls[spec.weights.file]))
        files = load_model_files(spec, graph, weights)
        done += 1
        if progress:
            progress(role, done, len(specs))
        return role, files

    return dict(await asyncio.gather(*(one(role) for role in specs)))


async def load_models(threads: int | None = None, detector_config: DetectorConfig | None = None,
                      progress: Progress | None = None) -> FaceModels:
    """All four models as onnxruntime-web sessions (``threads``: default_threads())."""
    files = await read_model_files(progress)
    threads = threads or default_threads()
    sessions = {}
    for role, f in files.items():
        sessions[role] = await OrtWebInference.create(f.graph, external={f.spec.data_name: f.data},
                                                      threads=threads)
    detector = Detector(sessions["mtcnn_pnet"], sessions["mtcnn_rnet"], sessions["mtcnn_onet"],
                        detector_config or DetectorConfig())
    return FaceModels(detector, Embedder(sessions["dlib_resnet"], files["dlib_resnet"].spec))

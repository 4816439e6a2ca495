"""Multiply-accumulates of OwnFace's models for the shapes a 640x480 frame really feeds them.

For bench/limits.py: the shapes come from running the CPython pipeline on real frames with
every model wrapped in a :class:`Recorder`; the MACs come from the ONNX graphs in models/
(the tensor shapes of a real run with those input shapes; Conv, Gemm and MatMul counted as
float MACs, QLinearConv, ConvInteger, QLinearMatMul and MatMulInteger as 8-bit MACs;
element-wise ops, pooling and activations not). Also the synthetic models used to measure
onnxruntime-web's peak: a large MatMul, a large 3x3 Conv, and the same Conv in 8 bits.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pyapp.face.manifest import ModelFiles
from pyapp.ports import FloatArray, Inference


@dataclass
class Recorder:
    """An Inference port that records each call's input shapes, then delegates."""

    inner: Inference
    calls: list[tuple[int, ...]] = field(default_factory=list)

    async def run(self, inputs: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
        self.calls.extend(tuple(int(d) for d in v.shape) for v in inputs.values())
        return await self.inner.run(inputs)


def full_model(files: ModelFiles) -> onnx.ModelProto:
    """The graph with its external weights inlined (a self-contained model)."""
    with tempfile.TemporaryDirectory() as tmp:
        graph = Path(tmp) / "model.onnx"
        graph.write_bytes(files.graph)
        (Path(tmp) / files.spec.data_name).write_bytes(files.data)
        return onnx.load(str(graph), load_external_data=True)


WEIGHT_INPUT = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}
MATMULS = ("MatMul", "Gemm", "QLinearMatMul", "MatMulInteger")


def tensor_shapes(model: onnx.ModelProto, shape: tuple[int, ...]) -> dict[str, list[int]]:
    """Actual shapes of the tensors around every Conv/MatMul-like node for an input of
    ``shape``: onnxruntime runs the model on zeros with those tensors exposed as outputs
    (``onnx`` shape inference stops at the com.microsoft ops of quantised graphs)."""
    import onnxruntime as ort

    m = onnx.ModelProto()
    m.CopyFrom(model)
    names = {init.name for init in m.graph.initializer}
    wanted: list[str] = []
    for node in m.graph.node:
        if node.op_type in WEIGHT_INPUT or node.op_type in MATMULS:
            weight = node.input[WEIGHT_INPUT.get(node.op_type, 0)]  # computed in QDQ graphs
            wanted += [n for n in (node.input[0], weight, node.output[0])
                       if n and n not in names]
    existing = {o.name for o in m.graph.output}
    m.graph.output.extend(onnx.ValueInfoProto(name=n) for n in dict.fromkeys(wanted)
                          if n not in existing)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    session = ort.InferenceSession(m.SerializeToString(), opts,
                                   providers=["CPUExecutionProvider"])
    feed = {m.graph.input[0].name: np.zeros(shape, np.float32)}
    outputs = [o.name for o in session.get_outputs()]
    shapes = {n: list(v.shape) for n, v in zip(outputs, session.run(outputs, feed), strict=True)}
    shapes.update({init.name: list(init.dims) for init in m.graph.initializer})
    return shapes


def count_macs(model: onnx.ModelProto, shape: tuple[int, ...]) -> dict[str, int]:
    """Conv/Gemm/MatMul multiply-accumulates of one run on an input of ``shape``."""
    shapes = tensor_shapes(model, shape)
    graph = model.graph
    out = {"conv": 0, "gemm": 0, "matmul": 0, "int8": 0}
    for node in graph.node:
        if node.op_type in WEIGHT_INPUT:
            w = shapes[node.input[WEIGHT_INPUT[node.op_type]]]
            macs = int(np.prod(shapes[node.output[0]])) * int(np.prod(w[1:]))
            out["conv" if node.op_type == "Conv" else "int8"] += macs
        elif node.op_type in ("QLinearMatMul", "MatMulInteger"):
            out["int8"] += int(np.prod(shapes[node.output[0]])) * shapes[node.input[0]][-1]
        elif node.op_type == "Gemm":
            a = shapes[node.input[0]]
            trans_a = next((at.i for at in node.attribute if at.name == "transA"), 0)
            k = a[0] if trans_a else a[1]
            out["gemm"] += int(np.prod(shapes[node.output[0]])) * k
        elif node.op_type == "MatMul":
            out["matmul"] += int(np.prod(shapes[node.output[0]])) * shapes[node.input[0]][-1]
    out["float"] = out["conv"] + out["gemm"] + out["matmul"]
    out["total"] = out["float"] + out["int8"]
    return out


def matmul_model(n: int) -> tuple[bytes, list[dict[str, Any]], int]:
    """[n, n] x [n, n] MatMul (weights constant): (model bytes, inputs, MACs)."""
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((n, n)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "peak_matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              ir_version=8)  # onnxruntime-web 1.30 reads IR <= 13
    return model.SerializeToString(), [{"name": "x", "shape": [n, n]}], n ** 3


def conv_model(channels: int, side: int) -> tuple[bytes, list[dict[str, Any]], int]:
    """3x3 Conv, ``channels`` -> ``channels``, on [1, C, side, side], padded 'same'."""
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(
        (rng.standard_normal((channels, channels, 3, 3)) * 0.05).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], kernel_shape=[3, 3])],
        "peak_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, side, side])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, side, side])],
        [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              ir_version=8)  # onnxruntime-web 1.30 reads IR <= 13
    macs = channels * channels * 9 * side * side
    return model.SerializeToString(), [{"name": "x", "shape": [1, channels, side, side]}], macs


def qconv_model(channels: int, side: int) -> tuple[bytes, list[dict[str, Any]], int]:
    """The 3x3 Conv of :func:`conv_model` in 8 bits (uint8 activations, int8 per-channel
    weights, as OwnFace's quantised models): QuantizeLinear -> QLinearConv -> DequantizeLinear.
    """
    rng = np.random.default_rng(0)
    c = channels
    init = [
        numpy_helper.from_array(np.array(0.02, np.float32), "xs"),
        numpy_helper.from_array(np.array(128, np.uint8), "xz"),
        numpy_helper.from_array(rng.integers(-127, 128, (c, c, 3, 3)).astype(np.int8), "w"),
        numpy_helper.from_array(np.full(c, 0.001, np.float32), "ws"),
        numpy_helper.from_array(np.zeros(c, np.int8), "wz"),
        numpy_helper.from_array(np.array(0.05, np.float32), "ys"),
        numpy_helper.from_array(np.array(128, np.uint8), "yz"),
        numpy_helper.from_array(np.zeros(c, np.int32), "b"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("QLinearConv", ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"],
                         ["yq"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "peak_qconv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, side, side])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c, side, side])], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              ir_version=8)  # onnxruntime-web 1.30 reads IR <= 13
    return model.SerializeToString(), [{"name": "x", "shape": [1, c, side, side]}], \
        c * c * 9 * side * side

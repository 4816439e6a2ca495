"""Multiply-accumulates of OwnFace's models for the shapes a 640x480 frame really feeds them.

For bench/limits.py: the shapes come from running the CPython pipeline on real frames with
every model wrapped in a :class:`Recorder`; the MACs come from the ONNX graphs in models/
(``onnx`` shape inference with those concrete input shapes; Conv, Gemm and MatMul counted,
element-wise ops, pooling and activations not). Also the two synthetic models used to measure
onnxruntime-web's peak: one large MatMul and one large 3x3 Conv.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

from pyapp.manifest import ModelFiles
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


def _dims(value: onnx.ValueInfoProto) -> list[int]:
    return [d.dim_value for d in value.type.tensor_type.shape.dim]


def count_macs(model: onnx.ModelProto, shape: tuple[int, ...]) -> dict[str, int]:
    """Conv/Gemm/MatMul multiply-accumulates of one run on an input of ``shape``."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    dims = m.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != len(shape):
        raise ValueError(f"input has rank {len(dims)}, shape {shape} given")
    for d, v in zip(dims, shape, strict=True):
        d.Clear()
        d.dim_value = int(v)
    inferred = shape_inference.infer_shapes(m, strict_mode=True)
    shapes: dict[str, list[int]] = {}
    for v in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        shapes[v.name] = _dims(v)
    for init in inferred.graph.initializer:
        shapes[init.name] = list(init.dims)
    out = {"conv": 0, "gemm": 0, "matmul": 0}
    for node in inferred.graph.node:
        if node.op_type == "Conv":
            w, y = shapes[node.input[1]], shapes[node.output[0]]
            out["conv"] += int(np.prod(y)) * int(np.prod(w[1:]))
        elif node.op_type == "Gemm":
            a = shapes[node.input[0]]
            trans_a = next((at.i for at in node.attribute if at.name == "transA"), 0)
            k = a[0] if trans_a else a[1]
            out["gemm"] += int(np.prod(shapes[node.output[0]])) * k
        elif node.op_type == "MatMul":
            out["matmul"] += int(np.prod(shapes[node.output[0]])) * shapes[node.input[0]][-1]
    out["total"] = out["conv"] + out["gemm"] + out["matmul"]
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

"""Rebuild MiniFASNetV2 and MiniFASNetV1SE (passive presentation-attack detection) as ONNX.

    python models/convert_pad.py [--data DIR] [--out DIR] [--bits N --method M]
                                 [--check-torch PATH/TO/MiniFASNet.py]

1. Read the two legacy PyTorch state dicts from ``../shared/data/pad/`` (``--data``, or
   ``$OWNFACE_SHARED_DATA/pad``), each
   checked against the sha256 pinned below (the same as that folder's README); a missing or
   different file stops with a message saying which.
2. Rebuild each net with ``onnx.helper`` from the upstream module tree (minivision-ai/
   Silent-Face-Anti-Spoofing ``src/model_lib/MiniFASNet.py``): every BatchNorm folded into the
   convolution before it, PReLU as ``PRelu``, the squeeze-and-excitation modules of V1SE as
   GlobalAveragePool, two 1x1 convolutions, Sigmoid and Mul, and the head ``linear``, ``bn``
   (BatchNorm1d) and ``prob`` folded into one 512 x 3 MatMul + bias (exact: three affine maps
   in a row). Input ``input`` [N, 3, 80, 80] BGR 0..255 (not divided by 255), output
   ``logits`` [N, 3]; class 1 is bona fide.
3. Store the weights compactly (``pyapp/face/weights.py``, via ``models/convert.py``'s
   ``write_model``) and merge the two entries into ``models/manifest.json`` (the other entries
   are left exactly as they are).

``--check-torch`` runs the upstream PyTorch module (a copy of upstream's ``MiniFASNet.py``;
needs torch) on the same inputs as the numpy reference and the ONNX graph and prints the
largest differences (docs/models.md has the numbers). CI checks the ONNX graph against the
numpy reference (``models/minifasnet_reference.py``) instead: tests/models/test_convert_pad.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models import convert  # noqa: E402
from models.torch_pickle import load_state_dict  # noqa: E402

MODELS = ROOT / "models"
DATA = Path(os.environ.get("OWNFACE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "pad"
EPS = 1e-5  # torch BatchNorm's default
UPSTREAM = {"repository": "github.com/minivision-ai/Silent-Face-Anti-Spoofing",
            "commit": "b6d5f04"}
LICENCE = ("Apache-2.0 (Minivision, Silent-Face-Anti-Spoofing; licence text in "
           "models/licences/Silent-Face-Anti-Spoofing-LICENSE)")
LICENCE_FILE = "licences/Silent-Face-Anti-Spoofing-LICENSE"
# name -> upstream file, its pinned sha256 and size, and the crop scale in the file name
PAD_MODELS: dict[str, dict[str, Any]] = {
    "minifasnet_v2": {
        "file": "2.7_80x80_MiniFASNetV2.pth", "bytes": 1_849_453, "crop_scale": 2.7,
        "sha256": "a5eb02e1843f19b5386b953cc4c9f011c3f985d0ee2bb9819eea9a142099bec0",
        "architecture": "MiniFASNetV2"},
    "minifasnet_v1se": {
        "file": "4_0_0_80x80_MiniFASNetV1SE.pth", "bytes": 1_856_130, "crop_scale": 4.0,
        "sha256": "84ee1d37d96894d5e82de5a57df044ef80a58be2b218b5ed7cdfd875ec2f5990",
        "architecture": "MiniFASNetV1SE"},
}
# chosen in docs/models.md ("Presentation-attack detection": output agreement per encoding)
ENCODING: dict[str, Any] = {"bits": 8, "method": "uniform"}
STAGES = [("conv_23", 1, 2), ("conv_3", 4, 1), ("conv_34", 1, 2), ("conv_4", 6, 1),
          ("conv_45", 1, 2), ("conv_5", 2, 1)]  # (module, blocks, depthwise stride)


def read_source(name: str, data_dir: Path = DATA) -> dict[str, np.ndarray]:
    """The upstream state dict of ``name``, after its sha256 check."""
    src = PAD_MODELS[name]
    path = data_dir / src["file"]
    if not path.is_file():
        raise SystemExit(f"{path} not found: the MiniFASNet weights live in ../shared/data/pad/ "
                         "(see its README); pass --data DIR if they are elsewhere")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != src["sha256"]:
        raise SystemExit(f"sha256 mismatch for {path}: got {digest}, pinned {src['sha256']}")
    return load_state_dict(raw)


def fold_bn(s: dict[str, np.ndarray], conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    """Conv weights (no bias) followed by BatchNorm -> one conv's weights and bias."""
    w = s[f"{conv}.weight"].astype(np.float64)
    a = s[f"{bn}.weight"].astype(np.float64) / np.sqrt(s[f"{bn}.running_var"] + EPS)
    b = s[f"{bn}.bias"] - s[f"{bn}.running_mean"] * a
    return (w * a[:, None, None, None]).astype(np.float32), b.astype(np.float32)


def build_graph(s: dict[str, np.ndarray], name: str) -> Any:
    """One MiniFASNet (V2 or V1SE: the state dict says which) as an ONNX model."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []
    channels = {"input": 3}

    def const(key: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), key))
        return key

    def conv(x: str, prefix: str, bn: str, stride: int, pad: int, act: str | None,
             out: str) -> str:
        w, b = fold_bn(s, prefix, bn)
        k = w.shape[2]
        groups = channels[x] if w.shape[1] == 1 and channels[x] > 1 else 1
        y = out if act is None else out + "/pre"
        nodes.append(helper.make_node(
            "Conv", [x, const(prefix + ".W", w), const(prefix + ".B", b)], [y],
            kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=groups))
        if act == "prelu":
            slope = s[out + ".prelu.weight"].reshape(-1, 1, 1)
            nodes.append(helper.make_node("PRelu", [y, const(out + ".slope", slope)], [out]))
        elif act == "relu":
            nodes.append(helper.make_node("Relu", [y], [out]))
        channels[out] = w.shape[0]
        return out

    def block(x: str, prefix: str, act: bool, stride: int = 1, pad: int = 0) -> str:
        """Conv_block (conv, bn, prelu) or Linear_block (conv, bn)."""
        return conv(x, prefix + ".conv", prefix + ".bn", stride, pad,
                    "prelu" if act else None, prefix)

    def depth_wise(x: str, prefix: str, stride: int, residual: bool) -> str:
        y = block(x, prefix + ".conv", True)
        y = block(y, prefix + ".conv_dw", True, stride, 1)
        y = block(y, prefix + ".project", False)
        se = prefix + ".se_module"
        if se + ".fc1.weight" in s:
            nodes.append(helper.make_node("GlobalAveragePool", [y], [se + "/pool"]))
            channels[se + "/pool"] = channels[y]
            z = conv(se + "/pool", se + ".fc1", se + ".bn1", 1, 0, "relu", se + "/z1")
            z = conv(z, se + ".fc2", se + ".bn2", 1, 0, None, se + "/z2")
            nodes.append(helper.make_node("Sigmoid", [z], [se + "/gate"]))
            nodes.append(helper.make_node("Mul", [y, se + "/gate"], [se + "/out"]))
            y = se + "/out"
        if not residual:
            return y
        nodes.append(helper.make_node("Add", [x, y], [prefix + "/sum"]))
        channels[prefix + "/sum"] = channels[x]
        return prefix + "/sum"

    x = block("input", "conv1", True, 2, 1)
    x = block(x, "conv2_dw", True, 1, 1)
    for stage, blocks, stride in STAGES:
        if blocks == 1:
            x = depth_wise(x, stage, stride, residual=False)
        else:
            for i in range(blocks):
                x = depth_wise(x, f"{stage}.model.{i}", stride, residual=True)
    x = block(x, "conv_6_sep", True)
    x = block(x, "conv_6_dw", False)
    nodes.append(helper.make_node("Flatten", [x], ["features"], axis=1))
    # linear (512 -> 128, no bias), BatchNorm1d, prob (128 -> 3, no bias): one affine map
    a = s["bn.weight"].astype(np.float64) / np.sqrt(s["bn.running_var"] + EPS)
    shift = s["bn.bias"] - s["bn.running_mean"] * a
    prob = s["prob.weight"].astype(np.float64)
    head = prob @ (a[:, None] * s["linear.weight"].astype(np.float64))  # [3, 512]
    nodes.append(helper.make_node("MatMul", ["features", const("head.W", head.T)], ["head"]))
    nodes.append(helper.make_node("Add", ["head", const("head.B", prob @ shift)], ["logits"]))
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 80, 80])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", convert.OPSET)],
                              producer_name="ownface-models-convert-pad")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def manifest_entry(name: str, files: dict[str, str], encoding: dict[str, Any]
                   ) -> dict[str, Any]:
    from pyapp.face import weights as sw

    src = PAD_MODELS[name]
    out = Path(convert.MODELS)
    weights = (out / files["weights"]).read_bytes()
    data = sw.expand(weights)
    return {
        "graph": {"file": files["graph"], "sha256": convert.sha256_file(out / files["graph"])},
        "weights": {"file": files["weights"], "sha256": hashlib.sha256(weights).hexdigest(),
                    "data_name": files["data_name"],
                    "data_sha256": hashlib.sha256(data).hexdigest(),
                    "encoding": f"{encoding['method']} ({encoding['bits']}-bit codes), "
                                "per-output-channel scale (pyapp/face/weights.py)",
                    "data_bytes": len(data)},
        "source": {**UPSTREAM, "file": "resources/anti_spoof_models/" + src["file"],
                   "sha256": src["sha256"], "bytes": str(src["bytes"]),
                   "architecture": f"src/model_lib/MiniFASNet.py {src['architecture']}"},
        "licence": LICENCE,
        "input": {"name": "input", "shape": [-1, 3, 80, 80], "layout": "NCHW",
                  "colour": "BGR", "mean": [0.0, 0.0, 0.0], "scale": 1.0,
                  "note": "pixel values 0..255, not divided by 255",
                  "crop": {"scale": src["crop_scale"], "size": 80,
                           "rule": "detector box scaled about its centre, shifted inside the "
                                   "frame (scale lowered if it cannot fit), resized bilinearly"}},
        "outputs": [{"name": "logits", "dim": 3}],
        "classes": ["attack (print-like)", "bona fide", "attack (screen-like)"],
    }


def merge_manifest(path: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Set ``entries`` under "models" in the manifest at ``path``; nothing else changes."""
    doc = json.loads(path.read_text())
    doc["models"] = dict(sorted({**doc["models"], **entries}.items()))
    doc["pad"] = {"models": list(entries)}
    path.write_text(json.dumps(doc, indent=2) + "\n")


def check_torch(module_path: Path, states: dict[str, dict[str, np.ndarray]],
                data_dir: Path) -> None:
    """Upstream's PyTorch module vs the numpy reference vs the ONNX graph (needs torch)."""
    import importlib.util

    import onnxruntime as ort
    import torch

    from models import minifasnet_reference as ref

    spec = importlib.util.spec_from_file_location("upstream_minifasnet", module_path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {module_path}")
    upstream = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(upstream)
    x = np.random.default_rng(7).uniform(0, 255, (8, 3, 80, 80)).astype(np.float32)
    for name, state in states.items():
        net = getattr(upstream, PAD_MODELS[name]["architecture"])(conv6_kernel=(5, 5))
        raw = torch.load(data_dir / PAD_MODELS[name]["file"], map_location="cpu")
        net.load_state_dict({k.removeprefix("module."): v for k, v in raw.items()})
        net.eval()
        same = all(np.array_equal(raw[k].numpy(), state[k.removeprefix("module.")])
                   for k in raw)
        with torch.no_grad():
            t = net(torch.from_numpy(x)).numpy().astype(np.float64)
        r = ref.forward(state, x)
        sess = ort.InferenceSession(build_graph(state, name).SerializeToString(),
                                    providers=["CPUExecutionProvider"])
        o = sess.run(["logits"], {"input": x})[0]
        print(f"{name}: pickle reader == torch.load: {same}; max |logit| diff torch vs numpy "
              f"{np.abs(t - r).max():.2e}, torch vs onnx {np.abs(t - o).max():.2e}; max "
              f"|softmax| diff torch vs onnx "
              f"{np.abs(ref.softmax(t) - ref.softmax(o)).max():.2e}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA, help="folder with the .pth files")
    ap.add_argument("--out", type=Path, default=MODELS, help="where to write (experiments)")
    ap.add_argument("--bits", type=int, default=ENCODING["bits"])
    ap.add_argument("--method", default=ENCODING["method"])
    ap.add_argument("--check-torch", type=Path, metavar="MiniFASNet.py")
    args = ap.parse_args(argv)
    states = {name: read_source(name, args.data) for name in PAD_MODELS}
    if args.check_torch:
        check_torch(args.check_torch, states, args.data)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    convert.MODELS = args.out
    encoding = {"bits": args.bits, "method": args.method}
    entries = {name: manifest_entry(name, convert.write_model(build_graph(state, name), name,
                                                              encoding), encoding)
               for name, state in states.items()}
    manifest = args.out / "manifest.json"
    if not manifest.exists():
        manifest.write_text(json.dumps({"version": 2, "models": {}, "pipelines": {}},
                                       indent=2) + "\n")
    merge_manifest(manifest, entries)
    (args.out / "licences").mkdir(exist_ok=True)
    shutil.copyfile(args.data / "LICENSE", args.out / LICENCE_FILE)
    print(f"wrote {', '.join(entries)} to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""MiniFASNet's forward pass in plain numpy (float64), written from the upstream module tree.

The reference the ONNX rebuild (models/convert_pad.py) is checked against, in CI, without
torch: it follows minivision-ai/Silent-Face-Anti-Spoofing ``src/model_lib/MiniFASNet.py``
module by module on the unfolded state dict (every BatchNorm applied as such, PReLU, the
squeeze-and-excitation modules of V1SE, then ``linear``, ``bn`` and ``prob`` one after the
other; dropout is the identity at inference). It shares nothing with the graph builder but
the state dict. This file was itself checked once against the upstream PyTorch code
(docs/models.md, "Presentation-attack detection").

    logits = forward(load_state_dict(pth_bytes), x)  # x: [N, 3, 80, 80] BGR 0..255
"""

from __future__ import annotations

import numpy as np

EPS = 1e-5  # torch.nn.BatchNorm default
# (module, kind, blocks, depthwise stride): conv_23/34/45 are single Depth_Wise blocks that
# halve the size, conv_3/4/5 are Residual (or ResidualSE) stacks
STAGES = [("conv_23", "down", 1, 2), ("conv_3", "residual", 4, 1), ("conv_34", "down", 1, 2),
          ("conv_4", "residual", 6, 1), ("conv_45", "down", 1, 2), ("conv_5", "residual", 2, 1)]

State = dict[str, np.ndarray]


def conv2d(x: np.ndarray, w: np.ndarray, stride: int, pad: int, groups: int) -> np.ndarray:
    """torch.nn.functional.conv2d (no bias) by sliding windows: x [N, C, H, W], w [O, C/g, k, k]."""
    n, _c, _, _ = x.shape
    o, cg, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))
    win = win[:, :, ::stride, ::stride]  # [N, C, Ho, Wo, k, k]
    ho, wo = win.shape[2], win.shape[3]
    win = win.reshape(n, groups, cg, ho, wo, k, k)
    wg = w.reshape(groups, o // groups, cg, k, k)
    out = np.einsum("ngchwij,gocij->ngohw", win, wg, optimize=True)
    return out.reshape(n, o, ho, wo)


def batchnorm(x: np.ndarray, s: State, prefix: str) -> np.ndarray:
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = s[f"{prefix}.running_mean"].reshape(shape)
    var = s[f"{prefix}.running_var"].reshape(shape)
    gamma, beta = s[f"{prefix}.weight"].reshape(shape), s[f"{prefix}.bias"].reshape(shape)
    return (x - mean) / np.sqrt(var + EPS) * gamma + beta


def prelu(x: np.ndarray, slope: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, x, x * slope.reshape(1, -1, 1, 1))


def conv_bn(x: np.ndarray, s: State, prefix: str, stride: int, pad: int,
            act: bool) -> np.ndarray:
    """Conv_block (conv, bn, prelu) or, with act=False, Linear_block (conv, bn)."""
    w = s[f"{prefix}.conv.weight"].astype(np.float64)
    groups = x.shape[1] if w.shape[1] == 1 and x.shape[1] > 1 else 1
    y = batchnorm(conv2d(x, w, stride, pad, groups), s, f"{prefix}.bn")
    return prelu(y, s[f"{prefix}.prelu.weight"]) if act else y


def squeeze_excite(x: np.ndarray, s: State, prefix: str) -> np.ndarray:
    z = x.mean(axis=(2, 3), keepdims=True)
    z = batchnorm(conv2d(z, s[f"{prefix}.fc1.weight"], 1, 0, 1), s, f"{prefix}.bn1")
    z = np.maximum(z, 0)
    z = batchnorm(conv2d(z, s[f"{prefix}.fc2.weight"], 1, 0, 1), s, f"{prefix}.bn2")
    return x * (1 / (1 + np.exp(-z)))


def depth_wise(x: np.ndarray, s: State, prefix: str, stride: int, residual: bool) -> np.ndarray:
    """Depth_Wise / Depth_Wise_SE: 1x1 expand, 3x3 depthwise, 1x1 project (+ SE, + input)."""
    y = conv_bn(x, s, f"{prefix}.conv", 1, 0, True)
    y = conv_bn(y, s, f"{prefix}.conv_dw", stride, 1, True)
    y = conv_bn(y, s, f"{prefix}.project", 1, 0, False)
    if f"{prefix}.se_module.fc1.weight" in s:
        y = squeeze_excite(y, s, f"{prefix}.se_module")
    return x + y if residual else y


def forward(s: State, x: np.ndarray) -> np.ndarray:
    """Logits [N, 3] of MiniFASNetV2 / V1SE (whichever ``s`` holds) for x [N, 3, 80, 80]."""
    s = {k: v.astype(np.float64) for k, v in s.items() if v.dtype.kind == "f"}
    y = conv_bn(x.astype(np.float64), s, "conv1", 2, 1, True)
    y = conv_bn(y, s, "conv2_dw", 1, 1, True)
    for name, kind, blocks, stride in STAGES:
        if kind == "down":
            y = depth_wise(y, s, name, stride, residual=False)
        else:
            for i in range(blocks):
                y = depth_wise(y, s, f"{name}.model.{i}", stride, residual=True)
    y = conv_bn(y, s, "conv_6_sep", 1, 0, True)
    y = conv_bn(y, s, "conv_6_dw", 1, 0, False)  # 5x5 depthwise over the 5x5 map
    y = y.reshape(y.shape[0], -1)
    y = y @ s["linear.weight"].T
    y = batchnorm(y, s, "bn")
    return np.asarray(y @ s["prob.weight"].T)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))

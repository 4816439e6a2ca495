"""pyapp.host: onnxruntime behind the async port, model loading with hash checks, photos."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime  # noqa: F401  (CPython only)
import pytest
from PIL import Image

from pyapp import host
from pyapp.errors import InputError, ModelError

from .conftest import run


def test_models_load_and_run(models: Any) -> None:
    x = np.zeros((2, 48, 48, 3), np.float32)
    out = run(models.detector.onet.run({"input_3": x}))  # v2 refines landmarks with O-Net
    assert set(out) == {"dense_5", "dense_6", "softmax_2"}
    assert out["dense_6"].shape == (2, 10) and out["dense_6"].dtype == np.float32
    assert "OrtInference" in repr(models.detector.onet)


def copy_models(tmp_path: Path) -> Path:
    dst = tmp_path / "models"
    shutil.copytree(host.MODELS_DIR, dst, ignore=shutil.ignore_patterns("*.py", "*.mjs"))
    return dst


def test_tampered_graph_is_refused(tmp_path: Path) -> None:
    d = copy_models(tmp_path)
    graph = d / "mtcnn_pnet.onnx"
    data = bytearray(graph.read_bytes())
    data[-1] ^= 1
    graph.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"mtcnn_pnet\.onnx fails its sha256"):
        host.read_model_files(d)


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    d = copy_models(tmp_path)
    w = d / "dlib_resnet.weights.npz"
    data = bytearray(w.read_bytes())
    data[len(data) // 2] ^= 0x40
    w.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        host.read_model_files(d)


def test_missing_files_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model manifest"):
        host.read_model_files(tmp_path)
    d = copy_models(tmp_path)
    (d / "mtcnn_onet.weights.npz").unlink()
    with pytest.raises(ModelError, match="missing"):
        host.read_model_files(d)


def test_read_photo(tmp_path: Path) -> None:
    p = tmp_path / "x.png"
    Image.fromarray(np.full((70, 80, 3), 9, np.uint8)).save(p)
    f = host.read_photo(p)
    assert f.shape == (70, 80, 4) and f.dtype == np.uint8 and f[0, 0].tolist() == [9, 9, 9, 255]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(InputError, match="cannot read"):
        host.read_photo(bad)
    with pytest.raises(InputError):
        host.read_photo(tmp_path / "absent.jpg")


def test_read_photo_scales_a_phone_photo_and_turns_it_upright(tmp_path: Path) -> None:
    view = np.zeros((3024, 4032, 3), np.uint8)  # as the person saw it: landscape
    view[:600, :600] = (250, 0, 0)  # a red top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated; EXIF says: rotate 90 degrees clockwise to view
    p = tmp_path / "phone.jpg"
    Image.fromarray(view).transpose(Image.Transpose.ROTATE_90).save(p, exif=exif)
    frame = host.read_photo(p)
    assert frame.shape == (1440, 1920, 4)  # 12 MP scaled to fit 1920, upright
    assert frame[50, 50, 0] > 200 and frame[50, 50, 2] < 60
    assert frame[-50, -50, :3].max() < 40
    with pytest.raises(InputError, match="too large"):  # unscaled, it is no camera frame
        host.read_photo(p, max_side=None)

"""pyapp.evaluate (``ownface eval``): metrics on known scores, and a run over real photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime  # noqa: F401  (CPython only: runs the real models)
import pytest

from pyapp.evaluate import (
    all_pair_scores,
    best_threshold,
    kfold_accuracy,
    main,
    read_pairs,
    roc_metrics,
)

PEOPLE = ["Aaron_Sorkin", "Abdoulaye_Wade", "Abdullah", "Abdullah_Gul", "Aaron_Patterson",
          "Abbas_Kiarostami", "Abdel_Madi_Shabneh"]


def test_best_threshold_and_kfold() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9, 0.15, 0.6])
    labels = np.array([0, 0, 0, 1, 1, 1, 0, 0], bool)
    assert best_threshold(scores[:4], labels[:4]) == pytest.approx(0.5)
    assert best_threshold(scores[4:], labels[4:]) == pytest.approx(0.7)
    # each fold is scored with the threshold learnt on the other: 0.7 misses 0.7 in fold 0,
    # 0.5 accepts the impostor at 0.6 in fold 1
    mean, _, accs = kfold_accuracy(scores, labels, np.array([0, 0, 0, 0, 1, 1, 1, 1]))
    assert accs == [0.75, 0.75] and mean == 0.75


def test_roc_metrics_on_known_scores() -> None:
    genuine = np.array([0.9, 0.8, 0.7, 0.2])
    impostor = np.linspace(0.0, 0.75, 1000)  # 0.7 and above: ~6.7% of impostors
    m = roc_metrics(genuine, impostor)
    assert m["tar_at_far_0.01"] == 0.5  # threshold 0.7425: only 0.9 and 0.8 pass
    assert 0.0 <= m["eer"] <= 0.3
    assert (m["genuine_pairs"], m["impostor_pairs"]) == (4, 1000)


def test_failed_images_never_match() -> None:
    emb = np.array([[1, 0], [1, 0], [np.nan, np.nan], [0, 1]], np.float32)
    g, imp = all_pair_scores(emb, ["a", "a", "a", "b"])
    assert sorted(g.tolist()) == [-np.inf, -np.inf, 1.0]
    assert np.isinf(imp).sum() == 1 and imp.size == 3


def test_read_pairs(tmp_path: Path) -> None:
    p = tmp_path / "pairs.txt"
    p.write_text("2\t1\nA\t1\t2\nA\t1\tB\t1\nB\t1\t2\nA\t2\tC\t1\n")
    index = {"A/A_0001": 0, "A/A_0002": 1, "B/B_0001": 2, "C/C_0001": 3}
    ij, labels, folds = read_pairs(p, index)
    assert ij.tolist() == [[0, 1], [0, 2], [1, 3]]  # B_0002 absent: that pair is skipped
    assert labels.tolist() == [True, False, False] and folds.tolist() == [0, 0, 1]


@pytest.mark.slow
def test_eval_runs_over_a_labelled_folder(tmp_path: Path, lfw_dir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "faces"
    for person in PEOPLE:
        (root / person).mkdir(parents=True)
        for img in sorted((lfw_dir / "images" / person).glob("*.jpg"))[:3]:
            (root / person / img.name).symlink_to(img)
    (root / "pairs.txt").write_text(
        "2\t2\n"
        "Aaron_Sorkin\t1\t2\nAbdoulaye_Wade\t1\t2\nAaron_Sorkin\t1\tAbdullah\t1\n"
        "Abdoulaye_Wade\t1\tAbdullah_Gul\t6\n"
        "Abdullah\t1\t2\nAbdullah_Gul\t6\t7\nAbdullah\t1\tAbbas_Kiarostami\t1\n"
        "Aaron_Patterson\t1\tAbdel_Madi_Shabneh\t1\n")
    out = tmp_path / "out"
    assert main([str(root), "--out", str(out), "--npz", str(tmp_path / "e.npz")]) == 0
    report = json.loads((out / "eval.json").read_text())
    n = sum(len(list((root / p).iterdir())) for p in PEOPLE)
    assert report["images"] == n and report["detection_failures"] == 0
    assert report["pairs"]["pairs"] == 8 and report["pairs"]["accuracy"] >= 0.75
    assert report["all_pairs"]["genuine_pairs"] > 0 and report["all_pairs"]["eer"] < 0.2
    assert {"detect", "align", "embed", "total"} <= set(report["timing_ms"])
    assert (out / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "accuracy" in capsys.readouterr().out
    z = np.load(tmp_path / "e.npz")
    assert z["emb"].shape == (n, 128) and z["names"][0] == "Aaron_Patterson"
    # a second run uses the cache: same numbers
    mtime = (out / "embeddings.npz").stat().st_mtime_ns
    assert main([str(root), "--out", str(out)]) == 0
    assert (out / "embeddings.npz").stat().st_mtime_ns == mtime
    assert json.loads((out / "eval.json").read_text())["pairs"] == report["pairs"]


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 2


def test_settings_can_be_changed_from_the_command_line() -> None:
    from pyapp.evaluate import configs

    made = configs(True, ["mtcnn.min_face=72", "pipeline.chip_source=pyramid",
                          "mtcnn.mosaic=0", "yunet.landmarks=yunet", "yunet.score=0.7",
                          "pipeline.chip_padding=0.22"])
    assert made["mtcnn"].min_face == 72.0 and made["mtcnn"].mosaic is False
    assert made["yunet"].landmarks == "yunet" and made["yunet"].score == 0.7
    pipeline = made["pipeline"]
    assert pipeline.chip_source == "pyramid" and pipeline.flip and not pipeline.gates
    assert pipeline.chip_padding == 0.22
    with pytest.raises(SystemExit, match="no such setting"):
        configs(True, ["mtcnn.nope=1"])
    with pytest.raises(SystemExit, match="no such setting"):
        configs(None, ["detector.min_face=72"])


@pytest.mark.slow
def test_phone_photos_and_unreadable_files(tmp_path: Path, lfw_dir: Path) -> None:
    """A 12 MP phone photo (sideways, with its EXIF orientation) is scaled to a frame and
    measured; a broken file is reported as unreadable, not as a detection failure."""
    from PIL import Image

    root = tmp_path / "photos"
    for person in ("Aaron_Sorkin", "Abdoulaye_Wade"):
        (root / person).mkdir(parents=True)
        for k, img in enumerate(sorted((lfw_dir / "images" / person).glob("*.jpg"))[:2]):
            face = Image.open(img).convert("RGB").resize((2000, 2000))
            phone = Image.new("RGB", (4032, 3024), (90, 100, 110))
            phone.paste(face, (1016, 512))
            exif = Image.Exif()
            exif[0x0112] = 6  # stored rotated: "rotate 90 degrees clockwise to view"
            phone.transpose(Image.Transpose.ROTATE_90).save(
                root / person / f"{person}_{k + 1:04d}.jpg", quality=85, exif=exif)
    (root / "Aaron_Sorkin" / "Aaron_Sorkin_0003.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    out = tmp_path / "out"
    assert main([str(root), "--out", str(out)]) == 0
    report = json.loads((out / "eval.json").read_text())
    assert report["images"] == 5
    assert report["unreadable_files"] == 1
    assert report["unreadable"] == ["Aaron_Sorkin/Aaron_Sorkin_0003.jpg"]
    assert report["detection_failures"] == 0  # the four phone photos were all measured
    assert report["all_pairs"]["genuine_pairs"] == 3 + 1  # the broken file's pairs count too

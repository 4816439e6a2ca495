"""bench/pad.py and bench/pad_measure.py bookkeeping: caches per pipeline, shards and their
merge, burst statistics and the BPCER threshold rule, on tiny arrays with known answers."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from bench import pad as bench_pad
from bench.pad_measure import burst_stat, counted, threshold_for


def args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"shard": "0/1", "pipeline": "v2", "parts": "", **kw})


def test_caches_are_per_pipeline() -> None:
    assert bench_pad.cache("pad_frames", "v1").name == "pad_frames-v1.npz"
    assert bench_pad.cache("pad_measure", "v2", "json").name == "pad_measure-v2.json"
    assert bench_pad.output("pad_attacks", args()).name == "pad_attacks-v2.npz"
    assert bench_pad.output("pad_attacks", args(shard="2/3")).name == \
        "pad_attacks.2-of-3-v2.npz"


@pytest.mark.parametrize("spec", ["3/3", "x", "1/0", "-1/2"])
def test_bad_shards_are_refused(spec: str) -> None:
    with pytest.raises(SystemExit):
        bench_pad.shard_of(spec)


def test_unsharded_runs_keep_their_seed() -> None:
    """v1's caches were made unsharded: the stream must stay the one of the plain seed."""
    assert bench_pad.seeded(31, args()).random() == np.random.default_rng(31).random()
    a, b = (bench_pad.seeded(31, args(shard=f"{k}/2")).random() for k in (0, 1))
    assert a != b


def test_merge_joins_all_parts_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    monkeypatch.setattr(bench_pad, "OUT", tmp_path)
    for k in range(2):
        np.savez(tmp_path / f"pad_frames.{k}-of-2-v2.npz", verdict=np.array([f"{k}a", ""]),
                 box=np.full((2, 4), k))
    with pytest.raises(SystemExit, match="merge needs"):
        bench_pad.cmd_merge(args(shard="0/3", what="frames"))
    bench_pad.cmd_merge(args(shard="0/2", what="frames"))
    with np.load(tmp_path / "pad_frames-v2.npz") as z:
        assert list(z["verdict"]) == ["0a", "", "1a", ""]
        assert z["box"].shape == (4, 4) and z["box"][2, 0] == 1
    bench_pad.cmd_merge(args(shard="0/2", what="frames", parts="1"))  # a named subset
    with np.load(tmp_path / "pad_frames-v2.npz") as z:
        assert list(z["verdict"]) == ["1a", ""]


def test_threshold_refuses_at_most_the_share_asked() -> None:
    scores = np.concatenate([np.linspace(0.001, 0.01, 3), np.linspace(0.5, 1.0, 297)])
    t = threshold_for(scores)  # 1% of 300 = 3 may be refused
    assert np.sum(scores < t) == 3 and t == pytest.approx(0.5)
    assert np.sum(scores < threshold_for(scores, 0.0)) == 0


def test_burst_stat_needs_three_frames() -> None:
    rows = np.array([[0.9, 0.2, 0.8, np.nan], [0.9, np.nan, 0.8, np.nan]])
    assert burst_stat(rows, "all")[0] == pytest.approx(0.2)
    assert burst_stat(rows, "median")[0] == pytest.approx(0.8)
    assert np.isnan(burst_stat(rows, "all")[1])


def test_counted_gives_exact_intervals() -> None:
    c = counted(np.array([True] + [False] * 59))
    assert (c["k"], c["n"]) == (1, 60) and c["rate"] == pytest.approx(1 / 60)
    lo, hi = c["ci95"]
    assert 0 < lo < 1 / 60 < hi < 0.1
    assert counted(np.zeros(60, bool))["ci95"][0] == 0.0

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
    return argparse.Namespace(**{"shard": "0/1", "subset": "0/1", "pipeline": "v2", **kw})


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


def test_merge_joins_every_part_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    monkeypatch.setattr(bench_pad, "OUT", tmp_path)
    with pytest.raises(SystemExit, match="no parts"):
        bench_pad.cmd_merge(args(what="bona_fide"))
    # a shard of the whole run and a shard of a subset run (positions 0 mod 3)
    np.savez(tmp_path / "pad_bona_fide.1-of-6-v2.npz", index=np.array([1, 7]),
             probs=np.zeros((2, 9)))
    np.savez(tmp_path / "pad_bona_fide.0-of-3.0-of-8-v2.npz", index=np.array([0, 24]),
             probs=np.ones((2, 9)))
    np.savez(tmp_path / "pad_bona_fide.1-of-6-v1.npz", index=np.array([1]),
             probs=np.ones((1, 9)))  # another pipeline's: left alone
    bench_pad.cmd_merge(args(what="bona_fide"))
    with np.load(tmp_path / "pad_bona_fide-v2.npz") as z:
        assert sorted(z["index"]) == [0, 1, 7, 24] and z["probs"].shape == (4, 9)
    np.savez(tmp_path / "pad_bona_fide.2-of-6-v2.npz", index=np.array([7]),
             probs=np.zeros((1, 9)))
    with pytest.raises(SystemExit, match="overlap"):
        bench_pad.cmd_merge(args(what="bona_fide"))


def test_subset_shards_name_their_part() -> None:
    assert bench_pad.output("pad_bona_fide", args(subset="0/3", shard="5/8")).name == \
        "pad_bona_fide.0-of-3.5-of-8-v2.npz"


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

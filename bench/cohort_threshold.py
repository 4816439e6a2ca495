"""Can a per-template threshold even out who gets false accepts? Measured, not shipped.

    .venv/bin/python bench/cohort_threshold.py --embeddings E.npz --scheme S.json [--lfw DIR]

A group-blind mitigation: each template (the enrolled image) gets its own threshold from how
alike it is to a public cohort (here: the images of pairs.txt folds 1-2), so a template in a
crowded part of the embedding space needs a closer probe. The template already stores its own
t, so the protected rule could carry such a radius without a format change. Variants, each
with ONE global offset fitted on folds 1-2 at FAR 1e-3 (templates of folds 1-2 scored against
the cohort without their own person), reported on folds 3-5 (ordered template/probe pairs):

- plain: the shared threshold (what ships);
- znorm: (score - cohort mean) / cohort std of the template (classic Z-norm);
- topK: score - mean of the template's K most alike cohort images (local density).

For cosine and for the Hamming distance of the binarised codes (likeness = -distance). Prints
TAR, FAR, the name-proxy group's FAR against the rest's (bench/name_proxy.py) and the
99th-percentile person FAR; writes bench/out/cohort_threshold-<label>.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fairness import (  # noqa: E402
    GROUP,
    group_counts,
    load,
    nearest_rank,
    person_rates,
    save,
)
from bench.intervals import clopper_pearson  # noqa: E402
from bench.name_proxy import DEFAULT_LFW, NameProxy  # noqa: E402
from bench.protection import batch_bits, hamming_matrix  # noqa: E402
from pyapp.template import binarise as bz  # noqa: E402

F = np.ndarray
TOP_K = (5, 20)


def normalised(likeness: F, same: F, cohort: F) -> dict[str, F]:
    """Template-side normalisations of a likeness matrix (rows = templates)."""
    scores = np.where(same[:, cohort], np.nan, likeness[:, cohort])
    mean, std = np.nanmean(scores, axis=1), np.nanstd(scores, axis=1)
    ranked = -np.sort(-scores, axis=1)  # most alike first, NaN (own person) last
    out = {"plain": likeness, "znorm": (likeness - mean[:, None]) / std[:, None]}
    for k in TOP_K:
        out[f"top{k}"] = likeness - np.nanmean(ranked[:, :k], axis=1)[:, None]
    return out


def evaluate(score: F, names: F, member_of: dict[str, int], train: F, far: float = 1e-3
             ) -> dict[str, Any]:
    same = names[:, None] == names[None, :]
    fit = score[np.ix_(train, train)][~same[np.ix_(train, train)]]
    threshold = np.sort(fit)[::-1][int(far * fit.size)]
    test = ~train
    people, pid, images = np.unique(names[test], return_inverse=True, return_counts=True)
    member = np.array([member_of[p] for p in people])
    s, st = score[np.ix_(test, test)], same[np.ix_(test, test)]
    off = ~np.eye(len(s), dtype=bool)
    i, j = np.nonzero((s > threshold) & ~st)  # ordered (template, probe) pairs
    pairs = np.stack([pid[i], pid[j]], axis=1)
    fa, comparisons = person_rates(pairs, images)
    comparisons = 2 * comparisons  # ordered pairs: each person as template and as probe
    impostor = int((~st).sum())
    out: dict[str, Any] = {"tar": float((s[st & off] > threshold).mean()),
                           "far": len(i) / impostor, "false_accepts": len(i)}
    at = nearest_rank(fa / comparisons, 99)
    out["p99_x_global"] = float(fa[at] / comparisons[at] / out["far"])
    for side, (k, n) in group_counts(pairs, images, member).items():
        out[side] = {"false_accepts": k, "pairs": 2 * n, "far": k / (2 * n),
                     "far_ci": clopper_pearson(k, 2 * n)}
    out["ratio"] = out["in"]["far"] / out["rest"]["far"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--scheme", type=Path, required=True)
    parser.add_argument("--lfw", type=Path, default=DEFAULT_LFW)
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)
    scheme = bz.load_scheme(args.scheme)
    label = args.label or str(scheme.params.get("pipeline", "v1"))
    data = load(args.embeddings, args.lfw)
    emb, names = data["emb"], data["names"]
    x = emb.astype(np.float64)
    bits = batch_bits(x / np.linalg.norm(x, axis=1, keepdims=True), scheme)
    proxy = NameProxy.load()
    member_of = {n: GROUP.get(proxy.classify(n).status, -1) for n in set(names.tolist())}
    train = np.isin(data["fold"], (1, 2))
    same = names[:, None] == names[None, :]
    result: dict[str, Any] = {"label": label, "embeddings": str(args.embeddings)}
    print(f"{label}: held-out folds 3-5, ordered template/probe pairs, offset fitted on 1-2")
    print(f"{'rule':9s} {'variant':7s} {'TAR':>7s} {'FAR':>9s} {'in-group FAR [95% CI]':>30s} "
          f"{'rest FAR':>9s} {'in/rest':>7s} {'p99':>6s}")
    for rule, likeness in (("cosine", (emb @ emb.T).astype(np.float64)),
                           ("protected", -hamming_matrix(bits, bits).astype(np.float64))):
        for variant, score in normalised(likeness, same, train).items():
            r = evaluate(score, names, member_of, train)
            result[f"{rule}/{variant}"] = r
            g = r["in"]
            print(f"{rule:9s} {variant:7s} {r['tar']:7.2%} {r['far']:9.2e} "
                  f"{g['far']:9.2e} [{g['far_ci'][0]:.2e}, {g['far_ci'][1]:.2e}] "
                  f"{r['rest']['far']:9.2e} {r['ratio']:7.1f} {r['p99_x_global']:5.1f}x")
    save(result, ROOT / "bench" / "out" / f"cohort_threshold-{label}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

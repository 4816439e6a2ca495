"""Who the false accepts fall on: per-person FAR and a name-proxy group, on LFW.

    .venv/bin/python bench/fairness.py --embeddings E.npz --scheme models/binarise-v1.json
                                       [--lfw DIR] [--label v1] [--bootstrap 2000]

``E.npz`` is the ``embeddings.npz`` of ``ownface eval`` (rows in pyapp.evaluate.list_images
order, NaN rows = failures). Two decision rules, each at its shipped operating point:
cosine > the global FAR-1e-3 threshold of all lfw-dev pairs (pyapp.evaluate.roc_metrics, as
``ownface eval`` computes it), and the protected rule, Hamming distance <= the scheme's t
between single-image binarised codes (as bench/protection.py). Two populations: all people,
and the people of pairs.txt folds 3-5 (held out: the scheme was fitted on folds 1-2).

For each: the per-person FAR (accepted impostor pairs a person takes part in / impostor pairs
they take part in) at its median, 90th, 99th percentile and worst, each with its counts; the
share of false accepts (each pair counted half to each of its two people) carried by the
10% of people with the highest FAR; what a uniform FAR would give for both (binomial noise);
and the FAR of impostor pairs inside the East Asian name-proxy group (bench/name_proxy.py),
of pairs with neither person in it ("rest") and across, with exact (Clopper-Pearson)
intervals over pairs and a person-resampling bootstrap for the ratio (pairs of one person
are not independent). Prints a table; writes bench/out/fairness-<label>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fairness_report import print_report  # noqa: E402
from bench.intervals import clopper_pearson, rate_ratio_ci  # noqa: E402
from bench.name_proxy import DEFAULT_LFW, NameProxy  # noqa: E402
from bench.protection import _plain, batch_bits, hamming_matrix, person_folds  # noqa: E402
from pyapp.evaluate import all_pair_scores, list_images, roc_metrics  # noqa: E402
from pyapp.template import binarise as bz  # noqa: E402

F = np.ndarray
GROUP = {"in": 1, "out": 0}  # unsure / undecided people: -1, in neither side
TARGET_GROUP_RATIO, TARGET_P99_RATIO = 3.0, 5.0


# --- counting (pure) ---------------------------------------------------------------------------
def person_rates(pairs: F, images: F) -> tuple[F, F]:
    """(false accepts, comparisons) per person from the accepted impostor pairs' person
    indices (K x 2) and each person's image count: a pair counts once for each of its two
    people; comparisons = own images x everyone else's images."""
    fa = np.bincount(pairs.ravel(), minlength=len(images)).astype(np.int64)
    comparisons = images * (images.sum() - images)
    return fa, comparisons.astype(np.int64)


def nearest_rank(rates: F, q: float) -> int:
    """Index of the person at the q-th percentile (nearest rank, ties broken by index)."""
    order = np.argsort(rates, kind="stable")
    return int(order[max(0, math.ceil(q / 100 * len(rates)) - 1)])


def top_share(fa: F, comparisons: F, fraction: float = 0.1) -> tuple[float, float]:
    """(share of false accepts, share of comparisons) of the ceil(fraction * P) people with
    the highest FAR (ties: more false accepts first)."""
    rate = fa / comparisons
    order = np.lexsort((-fa, -rate))[: math.ceil(fraction * len(fa))]
    total = fa.sum()
    return (float(fa[order].sum() / total) if total else 0.0,
            float(comparisons[order].sum() / comparisons.sum()))


def group_counts(pairs: F, images: F, member: F) -> dict[str, tuple[int, int]]:
    """(false accepts, impostor pairs) inside the group (member 1), in the rest (0) and
    across; people with member -1 take part in none of the three."""
    a, b = member[pairs[:, 0]], member[pairs[:, 1]]
    s_in, s_out = images[member == 1].sum(), images[member == 0].sum()
    sq_in, sq_out = (images[member == 1] ** 2).sum(), (images[member == 0] ** 2).sum()
    return {"in": (int(((a == 1) & (b == 1)).sum()), int((s_in ** 2 - sq_in) // 2)),
            "rest": (int(((a == 0) & (b == 0)).sum()), int((s_out ** 2 - sq_out) // 2)),
            "cross": (int((((a == 1) & (b == 0)) | ((a == 0) & (b == 1))).sum()),
                      int(s_in * s_out))}


def bootstrap_ratio(pairs: F, images: F, member: F, reps: int, rng: np.random.Generator
                    ) -> F:
    """In-group FAR / rest FAR with the people of each side resampled (with replacement,
    a person drawn twice never pairs with itself): ``reps`` ratios."""
    def far(side: int) -> F:
        people = np.flatnonzero(member == side)
        w = np.zeros((reps, len(images)))
        w[:, people] = rng.multinomial(len(people), np.full(len(people), 1 / len(people)),
                                       size=reps)
        inside = (member[pairs[:, 0]] == side) & (member[pairs[:, 1]] == side)
        p, q = pairs[inside, 0], pairs[inside, 1]
        accepted = (w[:, p] * w[:, q]).sum(axis=1)
        n = w * images
        return np.asarray(accepted / ((n.sum(1) ** 2 - (n ** 2).sum(1)) / 2))

    with np.errstate(divide="ignore", invalid="ignore"):
        ratio: F = far(1) / far(0)
    return ratio


def uniform_null(comparisons: F, far: float, reps: int, rng: np.random.Generator
                 ) -> dict[str, list[float]]:
    """If every impostor pair had the same FAR: the p99 person FAR (x far) and the top-10%
    share that binomial noise alone gives, median and 95% range over ``reps`` draws."""
    p99, share = [], []
    for _ in range(reps):
        fa = rng.binomial(comparisons, far)
        at = nearest_rank(fa / comparisons, 99)
        p99.append(fa[at] / comparisons[at] / far)
        share.append(top_share(fa, comparisons)[0])
    return {k: [float(np.percentile(v, q)) for q in (50, 2.5, 97.5)]
            for k, v in (("p99_ratio", p99), ("top10_share", share))}


# --- measurement -------------------------------------------------------------------------------
def load(npz: Path, lfw: Path) -> dict[str, Any]:
    """Embeddings, names, folds and gate verdicts of the images that have an embedding, and
    the cosine threshold at FAR 1e-3 over all lfw-dev pairs exactly as ``ownface eval``."""
    if not (lfw / "pairs.txt").is_file():
        raise SystemExit(f"no LFW pairs.txt under {lfw} (--lfw, or OWNFACE_SHARED_DATA)")
    paths = list_images(lfw)
    with np.load(npz, allow_pickle=False) as z:
        emb = np.asarray(z["emb"], dtype=np.float32)
        verdict = np.array([str(v) for v in z["verdict"]]) if "verdict" in z.files else \
            np.array([""] * len(emb))
    if len(paths) != len(emb):
        raise SystemExit(f"{npz} has {len(emb)} rows, {lfw} has {len(paths)} images: not "
                         "the embeddings of this folder")
    names = np.array([p.parent.name for p in paths])
    threshold = roc_metrics(*all_pair_scores(emb, names.tolist()))["threshold_at_far_0.001"]
    ok = np.all(np.isfinite(emb), axis=1)
    folds = person_folds(lfw / "pairs.txt")
    return {"emb": emb[ok], "names": names[ok], "gated": verdict[ok] != "",
            "fold": np.array([folds.get(n, 0) for n in names[ok]]),
            "threshold": float(threshold), "failed": int((~ok).sum()), "images": len(emb)}


def analyse(pairs: F, images: F, member: F, people: F, rng: np.random.Generator,
            reps: int) -> dict[str, Any]:
    """Everything reported for one rule on one population (person indices in ``pairs``)."""
    fa, comparisons = person_rates(pairs, images)
    impostor = int((images.sum() ** 2 - (images ** 2).sum()) // 2)
    far = len(pairs) / impostor
    rates = fa / comparisons
    out: dict[str, Any] = {"people": len(images), "impostor_pairs": impostor,
                           "false_accepts": len(pairs), "far": far,
                           "far_ci": clopper_pearson(len(pairs), impostor)}
    for label, q in (("median", 50), ("p90", 90), ("p99", 99), ("worst", 100)):
        at = nearest_rank(rates, q)
        out[label] = {"far": float(rates[at]), "x_global": float(rates[at] / far),
                      "false_accepts": int(fa[at]), "comparisons": int(comparisons[at]),
                      "person": str(people[at]), "images": int(images[at])}
    out["comparisons_per_person"] = {"min": int(comparisons.min()),
                                     "median": float(np.median(comparisons))}
    out["top10_share"], out["top10_comparison_share"] = top_share(fa, comparisons)
    out["uniform_far_noise"] = uniform_null(comparisons, far, 200, rng)
    counts = group_counts(pairs, images, member)
    m1, m2 = member[pairs[:, 0]], member[pairs[:, 1]]
    sides = {"in": (m1 == 1) & (m2 == 1), "rest": (m1 == 0) & (m2 == 0), "cross": m1 + m2 == 1}
    for side, (k, n) in counts.items():
        distinct = np.unique(np.sort(pairs[sides[side]], axis=1), axis=0)
        out[f"group_{side}"] = {"false_accepts": k, "pairs": n, "far": k / n if n else 0.0,
                                "far_ci": clopper_pearson(k, n),
                                "person_pairs_with_false_accepts": len(distinct),
                                "people": {"in": int((member == 1).sum()),
                                           "rest": int((member == 0).sum())}.get(side)}
    (k1, n1), (k2, n2) = counts["in"], counts["rest"]
    ratio = (k1 / n1) / (k2 / n2) if k2 else math.inf
    boot = bootstrap_ratio(pairs, images, member, reps, rng)
    out["group_ratio"] = {"ratio": ratio, "exact_ci": rate_ratio_ci(k1, n1, k2, n2),
                          "person_bootstrap_ci": [  # no interpolation: ratios may be inf
                              float(np.nanpercentile(boot, 2.5, method="lower")),
                              float(np.nanpercentile(boot, 97.5, method="higher"))]}
    out["targets"] = {"group_ratio_max": TARGET_GROUP_RATIO, "group_ratio_met": ratio <=
                      TARGET_GROUP_RATIO, "p99_ratio_max": TARGET_P99_RATIO,
                      "p99_ratio_met": out["p99"]["x_global"] <= TARGET_P99_RATIO}
    worst = np.lexsort((-fa, -rates))[:12]
    out["worst_people"] = [
        {"person": str(people[p]), "images": int(images[p]), "false_accepts": int(fa[p]),
         "comparisons": int(comparisons[p]), "far": float(rates[p]),
         "far_ci": clopper_pearson(int(fa[p]), int(comparisons[p])),
         "group": int(member[p])} for p in worst if fa[p]]
    for label, chosen in (("top_person_pairs", np.ones(len(pairs), bool)),
                          ("in_group_person_pairs", sides["in"])):
        key, count = np.unique(np.sort(pairs[chosen], axis=1), axis=0, return_counts=True)
        out[label] = [
            {"people": [str(people[a]), str(people[b])], "false_accepts": int(c),
             "image_pairs": int(images[a] * images[b]),
             "groups": [int(member[a]), int(member[b])]}
            for (a, b), c in sorted(zip(key.tolist(), count.tolist(), strict=True),
                                    key=lambda t: -t[1])[:15]]
    return out


def measure(data: dict[str, Any], scheme: bz.Scheme, proxy: NameProxy, reps: int,
            seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    emb, names = data["emb"], data["names"]
    x = emb.astype(np.float64)
    bits = batch_bits(x / np.linalg.norm(x, axis=1, keepdims=True), scheme)
    cos, hd = emb @ emb.T, hamming_matrix(bits, bits)
    # (likeness: higher = more alike, accepted)
    rules = {"cosine": (cos, cos > data["threshold"]),
             "protected": (-hd, hd <= scheme.code.t)}
    decisions = proxy.classify_all(sorted(set(names.tolist())))
    result: dict[str, Any] = {
        "threshold_cosine": data["threshold"], "t": scheme.code.t, "scheme": repr(scheme),
        "detection_failures": data["failed"], "images": data["images"],
        "group_rule": "bench/name_proxy.py + bench/name_proxy.json"}
    for population, keep in (("all", np.ones(len(names), bool)),
                             ("held_out", np.isin(data["fold"], (3, 4, 5)))):
        idx = np.flatnonzero(keep)
        people, pid, images = np.unique(names[idx], return_inverse=True, return_counts=True)
        member = np.array([GROUP.get(decisions[p].status, -1) for p in people])
        gated = data["gated"][idx]
        ungated = np.bincount(pid[~gated], minlength=len(people))
        gi, gj = np.nonzero(np.triu(pid[:, None] == pid[None, :], 1))
        block: dict[str, Any] = {
            "images": len(idx), "people": len(people),
            "group_people": [{"person": str(p), "images": int(n)} for p, n, m in
                             zip(people, images, member, strict=True) if m == 1],
            "unsure_people": [str(p) for p, m in zip(people, member, strict=True) if m == -1]}
        for rule, (likeness, matrix) in rules.items():
            i, j = np.nonzero(np.triu(matrix[np.ix_(idx, idx)], 1))
            i, j = i[pid[i] != pid[j]], j[pid[i] != pid[j]]
            pairs = np.stack([pid[i], pid[j]], axis=1)
            report = analyse(pairs, images, member, people, rng, reps)
            clean = (ungated.sum() ** 2 - (ungated ** 2).sum()) // 2
            report["gated_share"] = {  # pairs with an image the quality gates would refuse
                "false_accepts": float((gated[i] | gated[j]).mean()) if len(i) else 0.0,
                "impostor_pairs": float(1 - clean / report["impostor_pairs"])}
            # impostor accepts as alike as a typical genuine pair: one person filed under two
            # names, the same photo under two names, or a second face in the photo
            score = likeness[idx[i], idx[j]]
            typical = float(np.median(likeness[idx[gi], idx[gj]]))
            alike = np.argsort(-score)[: int((score >= typical).sum())]
            report["genuine_like"] = {"genuine_median": abs(typical), "pairs": [
                {"people": [str(people[pid[i[k]]]), str(people[pid[j[k]]])],
                 "score": abs(float(score[k])),
                 "groups": [int(member[pid[i[k]]]), int(member[pid[j[k]]])]} for k in alike]}
            block[rule] = report
        result[population] = block
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--scheme", type=Path, required=True, help="a binarise-*.json")
    parser.add_argument("--lfw", type=Path, default=DEFAULT_LFW)
    parser.add_argument("--label", default="", help="names the output (default: the "
                        "scheme's pipeline, v1 when it names none)")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--out", type=Path, help="default: bench/out/fairness-<label>.json")
    args = parser.parse_args(argv)
    scheme = bz.load_scheme(args.scheme)
    label = args.label or str(scheme.params.get("pipeline", "v1"))
    start = time.perf_counter()
    result = measure(load(args.embeddings, args.lfw), scheme, NameProxy.load(), args.bootstrap)
    result.update(label=label, embeddings=str(args.embeddings), scheme_file=str(args.scheme),
                  seconds=time.perf_counter() - start)
    print_report(result)
    print(f"{result['seconds']:.1f} s")
    save(result, args.out or ROOT / "bench" / "out" / f"fairness-{label}.json")
    return 0


def save(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=_plain) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    raise SystemExit(main())

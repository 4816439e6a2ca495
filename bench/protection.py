"""What template protection costs in accuracy and what it leaks, on LFW (person-disjoint folds).

    .venv/bin/python bench/protection.py research --embeddings E.npz   # choose P, L on folds 1-2
    .venv/bin/python bench/protection.py fit --embeddings E.npz [--levels 17 --width 1.5]
    .venv/bin/python bench/protection.py measure --embeddings E.npz [--decode-sample 10000]

``--pipeline v1|v2`` (default v2) names the face pipeline the embeddings come from: the
parameters file is ``models/binarise-<pipeline>.json`` and the rotation seed names it too.

``E.npz`` holds ``paths`` (images/<Name>/<Name>_NNNN.jpg) and ``emb`` (L2-normalised, NaN rows
for detection failures), or is the ``embeddings.npz`` that ``ownface eval`` wrote for --lfw.
Everything learned (mean, thresholds, the code's t) is fitted on the people of pairs.txt
folds 1-2; ``measure`` reports on the people of folds 3-5 only (LFW's
folds are person-disjoint). ``measure`` prints a table and writes bench/out/protection.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyapp.errors import DecodeError, NotMatched  # noqa: E402
from pyapp.template import binarise as bz  # noqa: E402
from pyapp.template import commitment  # noqa: E402
from pyapp.template.ecc import dimension  # noqa: E402

DEFAULT_LFW = Path(os.environ.get("OWNFACE_SHARED_DATA", ROOT.parent / "shared" / "data")
                   ) / "lfw-dev"
PIPELINE = "v2"
F = np.ndarray


# --- data ------------------------------------------------------------------------------------
def person_folds(pairs: Path) -> dict[str, int]:
    lines = pairs.read_text().splitlines()
    folds, per_fold = (int(v) for v in lines[0].split())
    out: dict[str, int] = {}
    for i, line in enumerate(lines[1:]):
        parts = line.split("\t")
        fold = i // (2 * per_fold) + 1
        for name in (parts[0], parts[2]) if len(parts) == 4 else (parts[0],):
            out[name] = fold
    assert max(out.values()) == folds
    return out


def load(npz: Path, lfw: Path) -> dict[str, Any]:
    data = np.load(npz, allow_pickle=False)
    if "paths" in data.files:
        paths = [str(p) for p in data["paths"]]
    else:  # `ownface eval`'s embeddings.npz: rows in list_images order
        from pyapp.evaluate import list_images

        paths = [str(p.relative_to(lfw)) for p in list_images(lfw)]
        if len(paths) != data["emb"].shape[0]:
            raise SystemExit(f"{npz} has {data['emb'].shape[0]} rows, {lfw} has {len(paths)} "
                             "images: not the embeddings of this folder")
    names = np.array([Path(p).parent.name for p in paths])
    emb = np.asarray(data["emb"], dtype=np.float64)
    ok = np.all(np.isfinite(emb), axis=1)
    emb = emb[ok] / np.linalg.norm(emb[ok], axis=1, keepdims=True)
    names, kept = names[ok], [p for p, k in zip(paths, ok, strict=True) if k]
    folds = person_folds(lfw / "pairs.txt")
    fold = np.array([folds.get(n, 0) for n in names])
    return {"emb": emb, "names": names, "fold": fold, "paths": kept,
            "failed": int((~ok).sum()), "total": len(ok)}


def subset(data: dict[str, Any], folds: tuple[int, ...]) -> tuple[F, F]:
    mask = np.isin(data["fold"], folds)
    return data["emb"][mask], data["names"][mask]


# --- scores and operating points ---------------------------------------------------------------
def pair_masks(names: F) -> tuple[F, F]:
    same = names[:, None] == names[None, :]
    upper = np.triu(np.ones(same.shape, dtype=bool), 1)
    return same & upper, ~same & upper


def tar_at_far_similarity(genuine: F, impostor: F, far: float) -> tuple[float, float]:
    """Accept score > threshold, the threshold leaving at most far * N impostors above."""
    order = np.sort(impostor)[::-1]
    k = int(np.floor(far * len(order)))
    threshold = order[k]
    return float((genuine > threshold).mean()), float((impostor > threshold).mean())


def tar_at_far_distance(genuine: F, impostor: F, far: float) -> tuple[float, float, int]:
    """Accept distance <= tau, the largest integer tau with FAR <= far."""
    imp = np.sort(impostor)
    k = int(np.floor(far * len(imp)))
    tau = int(imp[k]) - 1 if k < len(imp) else int(imp[-1])
    while tau >= 0 and (imp <= tau).mean() > far:
        tau -= 1
    return float((genuine <= tau).mean()), float((impostor <= tau).mean()), tau


def batch_bits(emb: F, scheme: bz.Scheme) -> F:
    """Unpermuted bits of each row (single-image templates), vectorised."""
    x = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    level = bz.levels(x @ scheme.projection.T, scheme)
    return bz.thermometer(level, scheme.levels - 1)[:, : scheme.code.length]


def hamming_matrix(a: F, b: F) -> F:
    fa, fb = a.astype(np.float32), b.astype(np.float32)
    hd: F = np.rint(fa.sum(1)[:, None] + fb.sum(1)[None, :] - 2 * fa @ fb.T).astype(np.int32)
    return hd


def rotation_seed(pipeline: str) -> bytes:
    return f"OwnFace/1 binarise-{pipeline}".encode()


def evaluate_split(train: F, test: F, test_names: F, coordinates: int, levels: int,
                   width: float) -> dict[str, float]:
    """Fit on ``train`` rows, score all pairs of ``test``: cosine vs Hamming TAR."""
    n_bits = coordinates * (levels - 1)
    m = 11 if n_bits >= 2047 else 10
    params = bz.fit(train, coordinates=coordinates, levels_=levels, width=width, code_m=m,
                    code_t=1, rotation_seed=rotation_seed(PIPELINE), pipeline=PIPELINE)
    scheme = bz.scheme_from_params(params)
    genuine, impostor = pair_masks(test_names)
    cos = test @ test.T
    bits = batch_bits(test, scheme)
    hd = hamming_matrix(bits, bits)
    out = {"bits": float(bits.shape[1])}
    for f in (1e-3, 1e-4):
        out[f"cos_tar@{f:g}"] = tar_at_far_similarity(cos[genuine], cos[impostor], f)[0]
        tar, _, tau = tar_at_far_distance(hd[genuine], hd[impostor], f)
        out[f"hd_tar@{f:g}"] = tar
        out[f"tau@{f:g}"] = float(tau)
    out["k@1e-3"] = float(dimension(m, max(1, int(out["tau@0.001"]))))
    return out


# --- commands ----------------------------------------------------------------------------------
def research(data: dict[str, Any], grid: list[tuple[int, int, float]]) -> None:
    """Two-way cross-validation inside folds 1-2 (fit on one fold's people, test on the other)."""
    f1, f2 = subset(data, (1,)), subset(data, (2,))
    print(f"{'P':>5s} {'L':>3s} {'width':>5s} {'bits':>5s} {'cos@1e-3':>9s} {'hd@1e-3':>8s} "
          f"{'cos@1e-4':>9s} {'hd@1e-4':>8s} {'tau':>5s} {'k':>4s}")
    for coordinates, levels, width in grid:
        rows = [evaluate_split(a[0], b[0], b[1], coordinates, levels, width)
                for a, b in ((f1, f2), (f2, f1))]
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        print(f"{coordinates:5d} {levels:3d} {width:5.2f} {mean['bits']:5.0f} "
              f"{mean['cos_tar@0.001']:9.2%} "
              f"{mean['hd_tar@0.001']:8.2%} {mean['cos_tar@0.0001']:9.2%} "
              f"{mean['hd_tar@0.0001']:8.2%} {mean['tau@0.001']:5.0f} {mean['k@1e-3']:4.0f}",
              flush=True)


def fit_params(data: dict[str, Any], coordinates: int, levels: int, width: float, far: float,
               out: Path) -> dict[str, Any]:
    """Fit on folds 1-2; t = the largest Hamming radius with training FAR <= far."""
    train, names = subset(data, (1, 2))
    n_bits = coordinates * (levels - 1)
    m = 11 if n_bits >= 2047 else 10
    params = bz.fit(train, coordinates=coordinates, levels_=levels, width=width, code_m=m,
                    code_t=1, rotation_seed=rotation_seed(PIPELINE), pipeline=PIPELINE)
    scheme = bz.scheme_from_params(params)
    bits = batch_bits(train, scheme)
    hd = hamming_matrix(bits, bits)
    genuine, impostor = pair_masks(names)
    tar, achieved, tau = tar_at_far_distance(hd[genuine], hd[impostor], far)
    params["code"]["t"] = tau
    people = len(set(names.tolist()))
    params["note"] = (f"fitted on the {len(train)} images of the {people} people of LFW "
                      f"pairs.txt folds 1-2; t = largest radius with training FAR <= {far:g} "
                      f"(training FAR {achieved:.2e}, TAR {tar:.2%} over "
                      f"{int(impostor.sum())} impostor pairs)")
    scheme = bz.scheme_from_params(params)
    out.write_text(json.dumps(params, separators=(",", ":")) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes): {scheme!r}; {params['note']}")
    return params


def d_sys(mated: F, non_mated: F, bins: int = 100, omega: float = 1.0) -> float:
    """Global unlinkability D_sys (Gomez-Barrero et al., TIFS 2018; dasec reference code)."""
    lo = min(mated.min(), non_mated.min())
    hi = max(mated.max(), non_mated.max())
    edges = np.linspace(lo, hi, bins + 1)
    centres = (edges[1:] + edges[:-1]) / 2
    y1 = np.histogram(mated, bins=edges, density=True)[0]
    y2 = np.histogram(non_mated, bins=edges, density=True)[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = y1 / y2
        d = 2 * (omega * lr / (1 + omega * lr)) - 1
    d[omega * lr <= 1] = 0
    d[y2 == 0] = 1
    d[y1 == 0] = 0
    f = d * y1
    return float(np.sum((f[1:] + f[:-1]) / 2 * np.diff(centres)))


def three_image_sets(names: F, rng: np.random.Generator, per_person: int = 5
                     ) -> list[tuple[F, F]]:
    """(enrolment indices, genuine probe indices) for people with >= 4 images."""
    sets = []
    for name in sorted(set(names.tolist())):
        idx = np.flatnonzero(names == name)
        if len(idx) < 4:
            continue
        seen: set[tuple[int, ...]] = set()
        for _ in range(per_person):
            pick = tuple(sorted(rng.choice(idx, 3, replace=False).tolist()))
            if pick not in seen:
                seen.add(pick)
                sets.append((np.array(pick), np.setdiff1d(idx, pick)))
    return sets


def measure(data: dict[str, Any], scheme: bz.Scheme, decode_sample: int, link_pairs: int,
            attack_templates: int = 0, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    code = scheme.code
    test, names = subset(data, (3, 4, 5))
    result: dict[str, Any] = {
        "scheme": repr(scheme), "scheme_id": scheme.scheme_id.hex(), "params_note":
        scheme.params["note"], "n": code.length, "k": code.k, "t": code.t,
        "code_rate": code.rate, "test_images": len(test),
        "test_people": len(set(names.tolist())), "detection_failures_all_folds":
        data["failed"]}
    genuine, impostor = pair_masks(names)
    result["genuine_pairs"], result["impostor_pairs"] = int(genuine.sum()), int(impostor.sum())
    cos = test @ test.T
    bits = batch_bits(test, scheme)
    hd = hamming_matrix(bits, bits)
    g_hd, i_hd = hd[genuine], hd[impostor]
    single: dict[str, Any] = {}
    for far in (1e-3, 1e-4):
        single[f"cosine_tar@{far:g}"] = tar_at_far_similarity(cos[genuine], cos[impostor],
                                                              far)[0]
        tar, achieved, tau = tar_at_far_distance(g_hd, i_hd, far)
        single[f"protected_tar@{far:g}"], single[f"protected_tau@{far:g}"] = tar, tau
        single[f"protected_far_achieved@{far:g}"] = achieved
    single["shipped_t_tar"] = float((g_hd <= code.t).mean())
    single["shipped_t_far"] = float((i_hd <= code.t).mean())
    fhd = i_hd / code.length
    single["impostor_fhd_mean"], single["impostor_fhd_std"] = float(fhd.mean()), float(fhd.std())
    single["genuine_fhd_mean"] = float((g_hd / code.length).mean())
    single["daugman_dof"] = float(fhd.mean() * (1 - fhd.mean()) / fhd.var())
    result["single_image"] = single

    # naive reference: sign of 512 Gaussian projections of the centred embedding
    train, _ = subset(data, (1, 2))
    mu = train.mean(axis=0)
    g = np.random.default_rng(1).standard_normal((512, test.shape[1]))
    naive = ((test - mu) @ g.T > 0).astype(np.uint8)
    nhd = hamming_matrix(naive, naive)
    result["naive_sign512_tar@0.001"] = tar_at_far_distance(nhd[genuine], nhd[impostor],
                                                            1e-3)[0]

    # three-image enrolment (average of three L2-normalised embeddings)
    sets = three_image_sets(names, rng)
    enrol_emb = np.array([test[e].mean(axis=0) for e, _ in sets])
    enrol_emb /= np.linalg.norm(enrol_emb, axis=1, keepdims=True)
    owner = np.array([names[e[0]] for e, _ in sets])
    probe_ok = owner[:, None] != names[None, :]
    gen_mask = np.zeros((len(sets), len(test)), dtype=bool)
    for row, (_, probes) in enumerate(sets):
        gen_mask[row, probes] = True
    cos3 = enrol_emb @ test.T
    hd3 = hamming_matrix(batch_bits(enrol_emb, scheme), bits)
    three: dict[str, Any] = {"templates": len(sets), "genuine_pairs": int(gen_mask.sum()),
                             "impostor_pairs": int(probe_ok.sum())}
    for far in (1e-3, 1e-4):
        three[f"cosine_tar@{far:g}"] = tar_at_far_similarity(cos3[gen_mask], cos3[probe_ok],
                                                             far)[0]
        tar, achieved, tau = tar_at_far_distance(hd3[gen_mask], hd3[probe_ok], far)
        three[f"protected_tar@{far:g}"], three[f"protected_tau@{far:g}"] = tar, tau
    three["shipped_t_tar"] = float((hd3[gen_mask] <= code.t).mean())
    three["shipped_t_far"] = float((hd3[probe_ok] <= code.t).mean())
    result["three_image"] = three

    if decode_sample:
        result["decode_check"] = decode_check(test, names, scheme, hd, decode_sample, rng)
    if link_pairs:
        result["unlinkability"] = unlinkability(test, names, scheme, link_pairs, rng, train)
    if attack_templates:
        result["helper_only_attack"] = helper_attack(test, scheme, train, attack_templates,
                                                     rng)
    return result


def _sample_pairs(mask: F, count: int, rng: np.random.Generator) -> F:
    """``count`` ordered (enrol, probe) pairs: a random sample without repetition when there
    are enough pairs, else every ordered pair (both directions), cycled in random order (each
    repetition gets fresh seeds and secrets from the caller)."""
    rows, cols = np.nonzero(mask)
    if len(rows) >= count:
        pick = rng.choice(len(rows), count, replace=False)
        pairs = np.stack([rows[pick], cols[pick]], axis=1)
        swap = rng.random(count) < 0.5  # enrol with either image of the pair
        pairs[swap] = pairs[swap][:, ::-1]
        return pairs
    both = np.concatenate([np.stack([rows, cols], 1), np.stack([cols, rows], 1)])
    rounds = [both[rng.permutation(len(both))] for _ in range(-(-count // len(both)))]
    return np.concatenate(rounds)[:count]


def decode_check(test: F, names: F, scheme: bz.Scheme, hd: F, count: int,
                 rng: np.random.Generator) -> dict[str, Any]:
    """Really commit and open: the outcome must be exactly 'Hamming distance <= t'."""
    genuine, impostor = pair_masks(names)
    out: dict[str, Any] = {}
    start = time.perf_counter()
    for label, mask in (("genuine", genuine), ("impostor", impostor)):
        opened = agree = 0
        for a, b in _sample_pairs(mask, count, rng):
            seed = rng.bytes(16)
            helper, secret = commitment.commit(bz.binarise(test[a], scheme, seed),
                                               code=scheme.code, random=lambda n: rng.bytes(n))
            try:
                success = commitment.open(helper, bz.binarise(test[b], scheme, seed)) == secret
            except NotMatched:
                success = False
            opened += success
            agree += success == (hd[a, b] <= scheme.code.t)
        out[label] = {"pairs": count, "opened": opened, "rate": opened / count,
                      "agree_with_hamming": agree}
    out["seconds"] = time.perf_counter() - start
    return out


def unlinkability(test: F, names: F, scheme: bz.Scheme, count: int,
                  rng: np.random.Generator, train: F, recovery_pairs: int = 500
                  ) -> dict[str, Any]:
    """D_sys between two enrolments (different images, fresh seeds and secrets) of the same
    person (mated) vs of different people (non-mated), for several linkage scores."""
    genuine, impostor = pair_masks(names)
    code = scheme.code
    attack = HelperAttack(scheme, train)
    scores: dict[str, dict[str, list[float]]] = {}
    for label, mask in (("mated", genuine), ("non_mated", impostor)):
        for number, (a, b) in enumerate(_sample_pairs(mask, count, rng)):
            s1, s2 = rng.bytes(16), rng.bytes(16)
            h1, _ = commitment.commit(bz.binarise(test[a], scheme, s1), code=code,
                                      random=lambda n: rng.bytes(n))
            h2, _ = commitment.commit(bz.binarise(test[b], scheme, s2), code=code,
                                      random=lambda n: rng.bytes(n))
            p1, p2 = bz.permutation(s1, code.length), bz.permutation(s2, code.length)
            u1, u2 = np.empty_like(h1.bits), np.empty_like(h2.bits)
            u1[p1], u2[p2] = h1.bits, h2.bits  # undo each enrolment's permutation
            # same-seed baseline: what the helpers would show without per-enrolment seeds
            h1s, _ = commitment.commit(bz.binarise(test[a], scheme, s1), code=code,
                                       random=lambda n: rng.bytes(n))
            h2s, _ = commitment.commit(bz.binarise(test[b], scheme, s1), code=code,
                                       random=lambda n: rng.bytes(n))
            try:  # h1 ^ h2 = codeword ^ (b1 ^ b2): decodes iff the faces are within t
                _, errors = code.correct(h1s.bits ^ h2s.bits)
                same_seed = errors / code.length
            except DecodeError:
                same_seed = 0.5
            if number < recovery_pairs:  # the helper-recovery attacker links templates
                f1 = attack.recover(h1.bits, s1, rng)
                f2 = attack.recover(h2.bits, s2, rng)
                linked = 0.5 if f1 is None or f2 is None else float((f1[1] != f2[1]).mean())
                scores.setdefault("helper_recovery_attack", {}).setdefault(
                    label, []).append(linked)
            for name, value in (
                    ("helper_hamming", float((h1.bits != h2.bits).mean())),
                    ("unpermuted_helper_hamming", float((u1 != u2).mean())),
                    ("same_seed_decoding_attack", same_seed)):
                scores.setdefault(name, {}).setdefault(label, []).append(value)
    out: dict[str, Any] = {"pairs_each": count}
    for name, per in scores.items():
        mated, non = np.array(per["mated"]), np.array(per["non_mated"])
        half = len(non) // 2
        out[name] = {"d_sys": d_sys(mated, non),
                     "null_d_sys": d_sys(non[:half], non[half:]),
                     "mated_mean": float(mated.mean()), "non_mated_mean": float(non.mean())}
    return out


def _solve_gf2(rows: F, rhs: F, k: int) -> F | None:
    """Solve x . rows^T = rhs over GF(2) for x (k bits) by Gaussian elimination; None if the
    selected rows do not have rank k. ``rows`` is (N, k) bool."""
    a = np.concatenate([rows, rhs[:, None]], axis=1).astype(bool)
    r = 0
    for col in range(k):
        hits = np.flatnonzero(a[r:, col])
        if hits.size == 0:
            return None
        p = r + hits[0]
        a[[r, p]] = a[[p, r]]
        others = np.flatnonzero(a[:, col])
        others = others[others != r]
        a[others] ^= a[r]
        r += 1
    if a[r:, k].any():  # the surplus equations disagree: some guessed bit is wrong
        return None
    return a[:k, k].astype(np.uint8)


class HelperAttack:
    """Recover the face bits and the secret from a template ALONE (no face).

    Guess the bits the population makes predictable, read the codeword there (helper XOR
    guess), solve the code's linear equations for the secret (information-set decoding:
    retry with a few guesses swapped), accept a candidate whose face bits are valid
    thermometer blocks. It shows that the helper is as sensitive as the template itself.
    """

    def __init__(self, scheme: bz.Scheme, train: F, tries: int = 30) -> None:
        code = scheme.code
        prior = batch_bits(train, scheme).mean(axis=0)  # P(bit = 1) in the population
        self.scheme, self.tries = scheme, tries
        self.guess = (prior > 0.5).astype(np.uint8)
        self.confidence = np.maximum(prior, 1 - prior)
        self.generator = np.concatenate([code.parity_matrix,
                                         np.eye(code.k, dtype=np.uint8)], axis=1)

    def recover(self, helper: F, seed: bytes, rng: np.random.Generator
                ) -> tuple[F, F] | None:
        """(secret bits, unpermuted face bits), or None."""
        code, k = self.scheme.code, self.scheme.code.k
        width = self.scheme.levels - 1
        pad = (-code.length) % width
        perm = bz.permutation(seed, code.length)
        guess_q = self.guess[perm]  # per codeword position
        order = np.argsort(-self.confidence[perm], kind="stable")
        for attempt in range(self.tries):
            chosen = order[: k + 40]
            if attempt:  # swap a few guesses for the next most confident ones
                drop = rng.choice(len(chosen), 8, replace=False)
                extra = order[k + 40 + 8 * (attempt - 1): k + 40 + 8 * attempt]
                chosen = np.concatenate([np.delete(chosen, drop), extra])
            candidate = _solve_gf2(self.generator[:, chosen].T,
                                   helper[chosen] ^ guess_q[chosen], k)
            if candidate is None:
                continue
            face = np.empty(code.length, dtype=np.uint8)
            face[perm] = helper ^ code.encode(candidate)
            blocks = np.concatenate([face, np.zeros(pad, dtype=np.uint8)]).reshape(-1, width)
            if not np.any(np.diff(blocks[:-1].astype(np.int8), axis=1) > 0):
                return candidate, face
        return None


def helper_attack(test: F, scheme: bz.Scheme, train: F, count: int,
                  rng: np.random.Generator) -> dict[str, Any]:
    attack = HelperAttack(scheme, train)
    recovered = exact_face = 0
    times = []
    for index in rng.choice(len(test), count, replace=False):
        seed = rng.bytes(16)
        bits = bz.binarise(test[index], scheme, seed)
        helper, secret = commitment.commit(bits, code=scheme.code,
                                           random=lambda n: rng.bytes(n))
        start = time.perf_counter()
        found = attack.recover(helper.bits, seed, rng)
        times.append(time.perf_counter() - start)
        if found is not None and commitment.bits_to_secret(found[0]) == secret:
            recovered += 1
            exact_face += bool(np.array_equal(found[1], bz.unpermuted_bits(test[index],
                                                                           scheme)))
    return {"templates": count, "secret_recovered": recovered, "rate": recovered / count,
            "face_bits_recovered_exactly": exact_face,
            "median_seconds": float(np.median(times)), "tries_per_template": attack.tries}

def print_table(r: dict[str, Any]) -> None:
    s, t = r["single_image"], r["three_image"]
    print(f"{r['scheme']}  (scheme id {r['scheme_id']})")
    print(f"test: {r['test_images']} images of {r['test_people']} people (folds 3-5); "
          f"{r['genuine_pairs']} genuine, {r['impostor_pairs']} impostor pairs")
    print(f"code: n={r['n']} k={r['k']} t={r['t']} rate={r['code_rate']:.3f}; "
          f"Daugman DoF {s['daugman_dof']:.0f}; impostor FHD {s['impostor_fhd_mean']:.3f} "
          f"+- {s['impostor_fhd_std']:.3f}, genuine FHD {s['genuine_fhd_mean']:.3f}")
    print(f"{'':28s} {'TAR@FAR1e-3':>12s} {'TAR@FAR1e-4':>12s}")
    for label, d in (("single image", s), ("three-image enrolment", t)):
        print(f"{label + ', cosine':28s} {d['cosine_tar@0.001']:12.2%} "
              f"{d['cosine_tar@0.0001']:12.2%}")
        print(f"{label + ', protected':28s} {d['protected_tar@0.001']:12.2%} "
              f"{d['protected_tar@0.0001']:12.2%}")
        print(f"{label + ', shipped t':28s} TAR {d['shipped_t_tar']:.2%} at FAR "
              f"{d['shipped_t_far']:.2e}")
    print(f"naive sign-of-512-projections TAR@FAR1e-3: {r['naive_sign512_tar@0.001']:.2%}")
    if "decode_check" in r:
        dc = r["decode_check"]
        for label in ("genuine", "impostor"):
            d = dc[label]
            print(f"real decoding, {label}: opened {d['opened']}/{d['pairs']} "
                  f"({d['rate']:.2%}); agrees with Hamming<=t on {d['agree_with_hamming']}")
    if "helper_only_attack" in r:
        a = r["helper_only_attack"]
        print(f"helper-only attack (no face): secret recovered for {a['secret_recovered']}/"
              f"{a['templates']} templates ({a['rate']:.0%}), median {a['median_seconds']:.2f} s")
    if "unlinkability" in r:
        for name, d in r["unlinkability"].items():
            if isinstance(d, dict):
                print(f"unlinkability [{name}]: D_sys {d['d_sys']:.3f} (estimator floor "
                      f"{d['null_d_sys']:.3f}); mated {d['mated_mean']:.3f} vs non-mated "
                      f"{d['non_mated_mean']:.3f}")


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def main(argv: list[str] | None = None) -> int:
    global PIPELINE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("research", "fit", "measure"))
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--lfw", type=Path, default=DEFAULT_LFW)
    parser.add_argument("--pipeline", default="v2", choices=("v1", "v2"))
    parser.add_argument("--params", type=Path, help="default: models/binarise-<pipeline>.json")
    parser.add_argument("--coordinates", type=int, default=128)
    parser.add_argument("--levels", type=int, default=17)
    parser.add_argument("--width", type=float, default=1.5)
    parser.add_argument("--far", type=float, default=1e-3)
    parser.add_argument("--decode-sample", type=int, default=10_000)
    parser.add_argument("--link-pairs", type=int, default=5_000)
    parser.add_argument("--attack-templates", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "protection.json")
    args = parser.parse_args(argv)
    PIPELINE = args.pipeline
    args.params = args.params or ROOT / "models" / f"binarise-{args.pipeline}.json"
    data = load(args.embeddings, args.lfw)
    if args.command == "research":
        grid = [(128, 17, w) for w in (1.0, 1.25, 1.5, 1.75, 2.0, 2.5)] + [
            (256, 9, 1.75), (256, 9, 2.0), (512, 5, 2.0), (64, 33, 1.75), (128, 9, 1.75)]
        if data["emb"].shape[1] > 128:  # wider embeddings: more coordinates, fewer levels
            grid += [(256, 9, w) for w in (1.25, 1.5, 2.5)] + [
                (512, 5, w) for w in (1.5, 2.5)] + [(1024, 3, 2.0), (2048, 2, 2.0)]
        research(data, grid)
    elif args.command == "fit":
        fit_params(data, args.coordinates, args.levels, args.width, args.far, args.params)
    else:
        scheme = bz.load_scheme(args.params)
        result = measure(data, scheme, args.decode_sample, args.link_pairs,
                         args.attack_templates)
        result["embeddings"] = str(args.embeddings)
        print_table(result)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, default=_plain) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

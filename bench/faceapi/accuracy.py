"""Scores and operating points for bench/compare_accuracy.py, one function per kind of score.

* face-api.js compares descriptors by euclidean distance (match when < 0.6); its score here is
  the negated distance, so "higher is more similar" holds for every system;
* OwnFace unprotected compares L2-normalised embeddings by cosine (``ownface eval``);
* OwnFace protected compares binarised codes by Hamming distance; the fuzzy commitment opens
  exactly when that distance is <= the BCH code's t (bench/protection.py's decode check).

A photo whose face was not found scores -inf against everything: it is never accepted and
always counts as a false reject. The metrics are ``pyapp.evaluate``'s (k-fold pairs accuracy,
TAR at FAR over all pairs), so the three systems are measured by the same code.
Descriptors are cached per photo (:class:`PhotoCache`) so that re-runs are fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pyapp.evaluate import kfold_accuracy, roc_metrics

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]  # (i, j) indices, same-person, fold


class PhotoCache:
    """Per-photo rows (vector, extra fields) in one npz, keyed by path; saved atomically."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path, self.dim = path, dim
        self.rows: dict[str, tuple[np.ndarray, float]] = {}
        if path.is_file():
            with np.load(path, allow_pickle=False) as z:
                for p, v, ms in zip(z["paths"], z["vec"], z["ms"], strict=True):
                    self.rows[str(p)] = (v, float(ms))

    def missing(self, rel: list[str]) -> list[str]:
        return [r for r in rel if r not in self.rows]

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self.rows)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(tmp, paths=np.array(keys),
                 vec=np.array([self.rows[k][0] for k in keys], np.float32).reshape(-1, self.dim),
                 ms=np.array([self.rows[k][1] for k in keys], np.float64))
        tmp.replace(self.path)

    def matrix(self, rel: list[str]) -> tuple[np.ndarray, np.ndarray]:
        vec = np.stack([self.rows[r][0] for r in rel]).astype(np.float32)
        return vec, np.array([self.rows[r][1] for r in rel])


def person_folds(pairs_txt: Path) -> dict[str, int]:
    """Person -> 1-based pairs.txt fold (LFW's folds are person-disjoint); as protection.py."""
    lines = pairs_txt.read_text().splitlines()
    _, per_fold = (int(v) for v in lines[0].split())
    out: dict[str, int] = {}
    for i, line in enumerate(lines[1:]):
        parts = line.split("\t")
        for name in (parts[0], parts[2]) if len(parts) == 4 else (parts[0],):
            out[name] = i // (2 * per_fold) + 1
    return out


def _split(score: np.ndarray, names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.unique(names, return_inverse=True)[1]
    iu, ju = np.triu_indices(len(names), 1)
    same = ids[iu] == ids[ju]
    s = score[iu, ju]
    return s[same], s[~same]


def _with_failures(score: np.ndarray, ok: np.ndarray) -> np.ndarray:
    score[~ok, :] = -np.inf
    score[:, ~ok] = -np.inf
    return score


def similarity_scores(emb: np.ndarray, names: np.ndarray, ij: np.ndarray | None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Cosine: (genuine, impostor, scores of the pairs ``ij``)."""
    ok = np.all(np.isfinite(emb), axis=1)
    e = np.where(ok[:, None], emb, 0).astype(np.float64)
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    e = e / np.where(norms > 0, norms, 1)
    score = _with_failures(e @ e.T, ok)
    genuine, impostor = _split(score, names)
    return genuine, impostor, (score[ij[:, 0], ij[:, 1]] if ij is not None else None)


def distance_scores(desc: np.ndarray, names: np.ndarray, ij: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Negated euclidean distance of raw descriptors (face-api.js's measure)."""
    ok = np.all(np.isfinite(desc), axis=1)
    d = np.where(ok[:, None], desc, 0).astype(np.float64)
    sq = np.sum(d * d, axis=1)
    dist2 = np.maximum(sq[:, None] + sq[None, :] - 2 * (d @ d.T), 0)
    score = _with_failures(-np.sqrt(dist2), ok)
    genuine, impostor = _split(score, names)
    return genuine, impostor, (score[ij[:, 0], ij[:, 1]] if ij is not None else None)


def code_distances(emb: np.ndarray, names: np.ndarray, subset: np.ndarray, scheme: Any
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hamming distances of the unpermuted codes of ``emb[subset]``: (matrix, genuine, impostor).

    The enrolment permutation is the same on both sides of a comparison, so it cancels.
    A failed photo is at distance code-length + 1 from everything.
    """
    from pyapp.template import binarise

    sel = emb[subset]
    ok = np.all(np.isfinite(sel), axis=1)
    n_bits = int(scheme.code.length)
    bits = np.zeros((len(sel), n_bits), np.float32)
    for i in np.flatnonzero(ok):
        bits[i] = binarise.unpermuted_bits(sel[i].astype(np.float64), scheme)
    ones = bits.sum(axis=1)
    dist = np.rint(ones[:, None] + ones[None, :] - 2 * (bits @ bits.T))
    dist[~ok, :] = n_bits + 1
    dist[:, ~ok] = n_bits + 1
    genuine, impostor = _split(dist, names[subset])
    return dist, genuine, impostor


def summary_row(genuine: np.ndarray, impostor: np.ndarray, pair_scores: np.ndarray | None = None,
                pairs: Pairs | None = None) -> dict[str, Any]:
    """TAR at FAR over all pairs, and the pairs.txt k-fold accuracy when pairs are given."""
    out: dict[str, Any] = {"all_pairs": roc_metrics(genuine, impostor)}
    if pair_scores is not None and pairs is not None:
        _, labels, folds = pairs
        scores = np.where(np.isfinite(pair_scores), pair_scores,
                          np.min(pair_scores[np.isfinite(pair_scores)]) - 1)
        mean, std, accs = kfold_accuracy(scores, labels, folds)
        out["pairs"] = {"pairs": len(labels), "folds": len(accs), "accuracy": mean, "std": std,
                        "pairs_with_failed_image": int((~np.isfinite(pair_scores)).sum())}
    return out


def fixed_threshold(genuine: np.ndarray, impostor: np.ndarray, pair_scores: np.ndarray,
                    pairs: Pairs, threshold: float) -> dict[str, float]:
    """Accuracy, TAR and FAR when accepting score > ``threshold`` (no training at all)."""
    _, labels, _ = pairs
    return {"threshold_score": threshold,
            "pairs_accuracy": float(np.mean((pair_scores > threshold) == labels)),
            "tar": float(np.mean(genuine > threshold)),
            "far": float(np.mean(impostor > threshold))}

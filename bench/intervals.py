"""Exact binomial intervals for rare events (bench/fairness.py): numpy only, no scipy."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space (k small against n is fine)."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    i = np.arange(k + 1)
    log_coef = np.concatenate([[0.0], np.cumsum(np.log((n - i[1:] + 1) / i[1:]))])  # C(n, i)
    terms = log_coef + i * math.log(p) + (n - i) * math.log1p(-p)
    top = float(terms.max())
    return min(1.0, math.exp(top) * float(np.exp(terms - top).sum()))


def _solve(f: Callable[[float], float], target: float) -> float:
    """p in (0, 1) with f(p) = target, f decreasing in p (bisection on log p)."""
    lo, hi = -40.0, 0.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(math.exp(mid)) > target else (lo, mid)
    return math.exp((lo + hi) / 2)


def clopper_pearson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact two-sided interval for a binomial proportion k / n."""
    if n == 0:
        return 0.0, 1.0
    lower = 0.0 if k == 0 else _solve(lambda p: binom_cdf(k - 1, n, p), 1 - alpha / 2)
    upper = 1.0 if k == n else _solve(lambda p: binom_cdf(k, n, p), alpha / 2)
    return lower, upper


def rate_ratio_ci(k1: int, n1: int, k2: int, n2: int, alpha: float = 0.05
                  ) -> tuple[float, float]:
    """Exact conditional interval for (k1/n1) / (k2/n2) of two rare-event rates: given
    k1 + k2 events, k1 is binomial with p = n1 r1 / (n1 r1 + n2 r2)."""
    if k1 + k2 == 0:
        return 0.0, math.inf
    lo, hi = clopper_pearson(k1, k1 + k2, alpha)
    scale = n2 / n1
    return lo / (1 - lo) * scale, (hi / (1 - hi) * scale if hi < 1 else math.inf)

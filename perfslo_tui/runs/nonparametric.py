"""Two rank-based statistics as scipy.stats computes them, without importing scipy.stats.

``import scipy.stats`` costs 0.5–1.9 s on the machines perfslo runs on, more
than the rest of ``perfslo check``; these are the same computations
(checked against scipy.stats on random inputs in ``tests/test_stats.py``).
"""

from __future__ import annotations

import functools
import math
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray

_NORMAL = NormalDist()


def theil_sen(x: ArrayLike, y: ArrayLike, confidence: float = 0.95) -> tuple[float, float, float]:
    """Theil–Sen slope of ``y`` against ``x`` with Sen's (1968) interval.

    The same computation as ``scipy.stats.theilslopes(y, x, alpha=confidence)``:
    the median of all pairwise slopes, and the interval's ends picked among the
    sorted slopes by the normal approximation with ties in ``x`` and ``y``.

    Returns:
        ``(slope, low, high)``; the ends are NaN when the interval cannot be formed.
    """
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    dx = xs[:, np.newaxis] - xs
    dy = ys[:, np.newaxis] - ys
    slopes = np.sort(dy[dx > 0] / dx[dx > 0])
    if slopes.size == 0:
        return math.nan, math.nan, math.nan
    z = _NORMAL.inv_cdf((1.0 - confidence) / 2.0)
    n = ys.size
    sigsq = (n * (n - 1) * (2 * n + 5) - _tie_term(xs) - _tie_term(ys)) / 18.0
    if sigsq < 0:
        return float(np.median(slopes)), math.nan, math.nan
    sigma = math.sqrt(sigsq)
    upper = min(int(np.round((slopes.size - z * sigma) / 2.0)), slopes.size - 1)
    lower = max(int(np.round((slopes.size + z * sigma) / 2.0)) - 1, 0)
    return float(np.median(slopes)), float(slopes[lower]), float(slopes[upper])


def _tie_term(values: NDArray[np.float64]) -> float:
    """Sen's correction for tied values: the sum of k(k-1)(2k+5) over groups of k ties."""
    _unique, counts = np.unique(values, return_counts=True)
    ties = counts[counts > 1].astype(float)
    return float(np.sum(ties * (ties - 1) * (2 * ties + 5)))


def mann_whitney_p(x: ArrayLike, y: ArrayLike) -> float:
    """Two-sided Mann–Whitney U p-value, as ``scipy.stats.mannwhitneyu`` computes it.

    Exact (the null distribution of U) when one sample has at most 8 values
    and there are no ties; otherwise the normal approximation with tie and
    continuity corrections.
    """
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    n1, n2 = a.size, b.size
    values, inverse, counts = np.unique(np.concatenate([a, b]), return_inverse=True, return_counts=True)
    # Average ranks: a group of k ties ending at position c shares rank c - (k-1)/2.
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]
    u1 = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2.0
    u = max(u1, n1 * n2 - u1)
    ties = bool(np.any(counts > 1))
    if (n1 > 8 and n2 > 8) or ties:
        n = n1 + n2
        tie_term = float(np.sum(counts.astype(float) ** 3 - counts))
        spread = math.sqrt(n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1))))
        if spread <= 0:
            return 1.0  # every value tied: no evidence of a difference at all
        z = (u - n1 * n2 / 2.0 - 0.5) / spread
        p = 0.5 * math.erfc(z / math.sqrt(2.0))
    else:
        frequencies = _u_frequencies(min(n1, n2), max(n1, n2))
        p = float(frequencies[int(round(u)) :].sum() / frequencies.sum())
    return min(max(2.0 * p, 0.0), 1.0)


@functools.lru_cache(maxsize=256)
def _u_frequencies(m: int, n: int) -> NDArray[np.float64]:
    """How many orderings of m + n values give each U (0 … m·n) under the null.

    The coefficients of the Gaussian binomial ∏ (1 − q^(n+i)) / (1 − q^i),
    i = 1 … m: exact integers (below 2^53 for the sizes used here).
    """
    coefficients = np.zeros(m * n + 1)
    coefficients[0] = 1.0
    for i in range(1, m + 1):
        shift = n + i
        coefficients[shift:] -= coefficients[:-shift].copy()
        # Dividing by (1 - q^i): a running sum with stride i.
        for k in range(i, coefficients.size):
            coefficients[k] += coefficients[k - i]
    return coefficients

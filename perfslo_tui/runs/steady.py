"""Steady state of one run: where warm-up ends, and whether the run ever settles.

A run's samples are in time order. On a JIT runtime the first ones are slow
while code is interpreted, then compiled in tiers; on any runtime a run may
slow down (a growing heap) or never settle. Following Barrett et al.,
"Virtual Machine Warmup Blows Hot and Cold" (OOPSLA 2017), each run is put in
one of four classes: **flat** (steady from the start), **warm-up** (slower
first, then steady), **slowdown** (faster first, then steady) and **no steady
state**. Only the steady samples should make the run's value.

The method:

1. **Where warm-up ends: heads are peeled off.** The samples (on the log
   scale) are cut into blocks of ``BLOCK`` (5); each block's median (robust
   to a garbage-collector pause) is one point. The best single split of the
   points into a head and a rest is the one with the lowest L1 cost (the
   absolute deviations of each part from its own median; a squared cost, as
   in MSER, let one outlying block pull the split to itself). The head is
   cut off when its median differs from the rest's by more than
   ``STEADY_MARGIN`` and a Mann-Whitney test separates their samples
   (p < ``ALPHA``); then the rest is searched again, so a JIT's tiers come
   off one by one. Nothing past the first half of the run is cut.
2. **Is the rest steady?** The first and last thirds of what is left must
   not differ by more than ``STEADY_MARGIN`` with a Mann-Whitney p <
   ``ALPHA``: otherwise the level is still moving (a trend, or a step late in
   the run) and the run has **no steady state**.

``STEADY_MARGIN`` (5 %) was decided on 152 real sequences of 200 samples
(Node.js 20: five workloads with the old fixed 10-call warm-up, after 1.5 s of
calls, and through the Node example's warm-up until steady; Python through
``bench()``), at load 1-9 on the 2-vCPU machine, which runs at two speeds:
with 3 %, 7 of 88 steady-by-construction sequences (1.5 s pre-warmed Node,
Python) were called something other than flat; with 5 %, 2 of 88 (one
"slowdown", one "no steady state", both a change of the machine's speed
mid-run); with 8 %, also 2. All 23 sequences whose first 20 samples were
over 10 % slower than their last 100 were found (20 warm-up, 3 no steady
state) at 5 %. A margin at the default SLO tolerance also means that a
warm-up too small to matter to the tolerance is not cut.

This module is pure numpy/scipy: no TUI, report or action imports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

BLOCK = 5
# Significance of the warm-up/head and trend tests.
ALPHA = 0.01
# Smallest change (relative) called warm-up, slowdown or a trend: measured on
# real sequences (module docstring; benchmarks/ab_compare.py --steady).
STEADY_MARGIN = 0.05
# Fewest samples a run needs before it is tested at all (four blocks).
MIN_TESTED = 4 * BLOCK


class SteadyClass(StrEnum):
    """The four classes of Barrett et al. (OOPSLA 2017)."""

    FLAT = "flat"
    WARMUP = "warm-up"
    SLOWDOWN = "slowdown"
    NO_STEADY_STATE = "no steady state"


@dataclass(frozen=True, slots=True)
class SteadyState:
    """Where one run's samples became steady.

    Attributes:
        steady_from: Index of the first steady sample (0 when flat; the
            length of the run when there is no steady state).
        kind: The run's class.
        count: Samples in the run.
        samples: The steady samples (those from ``steady_from`` on; empty
            when there is no steady state).
        change: Relative level of the left-out head against the steady
            samples (``head / steady - 1``; positive for warm-up), or of the
            trend across the run when there is no steady state; 0.0 when flat.
        tested: False when the run was too short to test (fewer than
            ``MIN_TESTED`` samples): it is then taken as flat.
    """

    steady_from: int
    kind: SteadyClass
    count: int
    samples: tuple[float, ...]
    change: float = 0.0
    tested: bool = True

    @property
    def steady(self) -> bool:
        """True when the run has a steady state (any class but no steady state)."""
        return self.kind is not SteadyClass.NO_STEADY_STATE

    @property
    def message(self) -> str:
        """One line: ``steady after 40 of 200 samples (warm-up 31% slower)``."""
        if not self.tested:
            return f"{self.count} samples: too few to test for warm-up (need {MIN_TESTED})"
        if self.kind is SteadyClass.FLAT:
            return f"steady from the first of {self.count} samples"
        if self.kind is SteadyClass.NO_STEADY_STATE:
            direction = "falling" if self.change < 0 else "rising"
            return (
                f"no steady state in {self.count} samples (still {direction}, {self.change:+.0%});"
                " raise the warm-up or the sample count"
            )
        what = "slower" if self.kind is SteadyClass.WARMUP else "faster"
        return (
            f"steady after {self.steady_from} of {self.count} samples"
            f" ({self.kind.value}: first {self.steady_from} {abs(self.change):.0%} {what})"
        )


def block_medians(values: NDArray[np.float64], block: int = BLOCK) -> NDArray[np.float64]:
    """Medians of consecutive blocks of ``block`` values (the last block takes the remainder)."""
    m = max(1, values.size // block)
    edges = [i * block for i in range(m)] + [values.size]
    return np.array([np.median(values[edges[i] : edges[i + 1]]) for i in range(m)], dtype=float)


def head_split(points: NDArray[np.float64], limit: int) -> int:
    """The best single split of a series into a head and a rest, by L1 cost.

    Each candidate split ``d`` (``1 <= d <= limit``) is scored by the sum of
    absolute deviations of each part from its own median; the lowest cost
    wins. Unlike a squared cost, one outlying point cannot pull the split
    towards itself.

    Args:
        points: The block points, in time order.
        limit: The last split considered.

    Returns:
        The split (0 when no split is possible).
    """
    best_d, best = 0, math.inf
    for d in range(1, min(limit, points.size - 1) + 1):
        head, rest = points[:d], points[d:]
        cost = float(np.abs(head - np.median(head)).sum() + np.abs(rest - np.median(rest)).sum())
        if cost < best - 1e-12:
            best_d, best = d, cost
    return best_d


def detect_steady(
    samples: ArrayLike | Sequence[float],
    margin: float = STEADY_MARGIN,
    alpha: float = ALPHA,
) -> SteadyState:
    """Find where a run's samples became steady, and its class.

    Args:
        samples: One run's samples (positive numbers), in the order taken.
        margin: Smallest relative change called warm-up, slowdown or trend.
        alpha: Significance level of the head and trend tests.

    Returns:
        The steady state; its ``samples`` are the ones the run's value should
        be computed from.

    Raises:
        ValueError: When a sample is not a positive finite number.
    """
    x = np.asarray(samples, dtype=float).ravel()
    if x.size and not (np.all(np.isfinite(x)) and float(x.min()) > 0):
        raise ValueError("samples must be positive finite numbers")
    n = int(x.size)
    if n < MIN_TESTED:
        return SteadyState(0, SteadyClass.FLAT, n, tuple(float(v) for v in x), tested=False)
    from scipy import stats as sps

    y = np.log(x)
    z = block_medians(y)
    m = z.size
    log_margin = math.log1p(margin)
    start = 0  # in blocks
    gap_total = 0.0
    # Peel heads off while one differs materially and significantly from the
    # rest, never past the first half of the run.
    while True:
        rest_z = z[start:]
        d = head_split(rest_z, limit=(m + 1) // 2 - start)
        if d == 0:
            break
        head, tail = y[start * BLOCK : (start + d) * BLOCK], y[(start + d) * BLOCK :]
        gap = float(np.median(head) - np.median(tail))
        if abs(gap) <= log_margin:
            break
        if not float(sps.mannwhitneyu(head, tail, alternative="two-sided").pvalue) < alpha:
            break
        start += d
        gap_total = float(np.median(y[: start * BLOCK]) - np.median(y[start * BLOCK :]))
    kind = SteadyClass.FLAT
    if start:
        kind = SteadyClass.WARMUP if gap_total > 0 else SteadyClass.SLOWDOWN
    # Is the rest steady? Its first and last thirds must not differ materially
    # and significantly (a trend, or a step late in the run).
    first = start * BLOCK
    rest_y = y[first:]
    third = rest_y.size // 3
    if third >= BLOCK:
        early, late = rest_y[:third], rest_y[-third:]
        drift = float(np.median(late) - np.median(early))
        if abs(drift) > log_margin:
            if float(sps.mannwhitneyu(early, late, alternative="two-sided").pvalue) < alpha:
                return _unsettled(x, drift)
    return SteadyState(first, kind, n, tuple(float(v) for v in x[first:]), change=math.expm1(gap_total))


def _unsettled(x: NDArray[np.float64], drift: float) -> SteadyState:
    return SteadyState(
        steady_from=int(x.size),
        kind=SteadyClass.NO_STEADY_STATE,
        count=int(x.size),
        samples=(),
        change=math.expm1(drift),
    )

"""Steady state of one run: where warm-up ends, and whether the run ever settles.

A run's samples are in time order. On a JIT runtime the first ones are slow
while code is interpreted, then compiled in tiers; on any runtime a run may
slow down (a growing heap) or never settle. Following Barrett et al.,
"Virtual Machine Warmup Blows Hot and Cold" (OOPSLA 2017), each run is put in
one of four classes: **flat** (steady from the start), **warm-up** (slower
first, then steady), **slowdown** (faster first, then steady) and **no steady
state**. Only the steady samples make the run's value: the run table's
statistics are those of the steady part (:mod:`perfslo_tui.runs.store`), the
raw samples stay in the run file.

The method:

1. **Where warm-up ends: heads are peeled off.** The samples (on the log
   scale) are cut into blocks (5 samples; more for long runs, so that a run
   has at most :data:`MAX_POINTS` blocks); each block's median (robust to a
   garbage-collector pause) is one point. The best single split of the
   points into a head and a rest is the one with the lowest L1 cost (the
   absolute deviations of each part from its own median; a squared cost, as
   in MSER, let one outlying block pull the split to itself). The head is
   cut off when its median differs from the rest's by more than
   :data:`STEADY_MARGIN` and a Mann–Whitney test separates their samples
   (p < :data:`ALPHA` divided among the splits it was chosen from); then the
   rest is searched again, so a JIT's tiers come off one by one. Nothing past
   the first half of the run is cut.
2. **Is the rest steady?** The first and last thirds of what is left must
   not differ by more than :data:`STEADY_MARGIN` with a Mann–Whitney p <
   :data:`TREND_ALPHA`: otherwise the level is still moving (a trend, or a
   step late in the run) and the run has **no steady state**.

The significance levels were set on simulated runs (iid log-normal noise of
2–20 % per sample, 30–200 samples, 300 runs a cell;
``benchmarks/steady_detection.py``): the best split tested at 0.01 (and the
trend at 0.01) called up to 6.7 % of pure-noise runs something other than
flat, up to 0.7 % unsettled; with the level shared among the splits and the
trend tested at 0.001, at most 0.7 % and 0.3 %, while a first fifth 30 %
slower is still found in every run up to 5 % noise and in 86–100 % at 10 %
(at 20 % noise and 30 samples, in 17 %: the warm-up is hidden in the noise).
A 30-sample run still falling to its end is then mostly cut at its half
instead of called unsettled.

:data:`STEADY_MARGIN` (5 %) was chosen on 152 real sequences of 200 samples
(Node.js 20: five workloads with the Node example's old fixed 10-call
warm-up, after 1.5 s of calls, and through its warm-up until steady; Python
through ``bench()``), at load 1–9 on the 2-vCPU machine, which runs at two
speeds: with 3 %, 7 of 88 steady-by-construction sequences (1.5 s pre-warmed
Node, Python) were called something other than flat; with 5 %, 2 of 88 (one
"slowdown", one "no steady state", both a change of the machine's speed
mid-run); with 8 %, also 2. All 23 sequences whose first 20 samples were over
10 % slower than their last 100 were found (20 warm-up, 3 no steady state) at
5 %. A margin at the default SLO tolerance also means that a warm-up too
small to matter to the tolerance is not cut.

Pure numpy (the rank test is :mod:`perfslo_tui.runs.nonparametric`): loading
runs never imports ``scipy.stats``. Detection costs ~0.05 ms for a flat run of
100–200 samples (the tests are only run when a level differs by more than the
margin), and it runs once per run file: the on-disk cache keeps the result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from perfslo_tui.runs.nonparametric import mann_whitney_p

BLOCK = 5
# Long runs get longer blocks: the split search is quadratic in points.
MAX_POINTS = 200
# Significance of the warm-up/head test, shared by the splits it chose among
# (Bonferroni): the best of ten splits tested at 0.01 would call 3-5 % of
# runs of pure noise "warm-up" (benchmarks/steady_detection.py).
ALPHA = 0.01
# Significance of the trend test (the first and last thirds of the rest): a
# run called unsettled is not judged at all, so this errs towards "steady".
TREND_ALPHA = 0.001
# Smallest change (relative) called warm-up, slowdown or a trend: measured on
# real sequences (module docstring).
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
            :data:`MIN_TESTED` samples): it is then taken as flat.
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
        """One line, e.g. ``steady after 40 of 200 samples (warm-up: first 40 31% slower)``."""
        return steady_message(self.kind, self.steady_from, self.count, self.change, self.tested)


def steady_message(
    kind: SteadyClass, steady_from: int, count: int, change: float = 0.0, tested: bool = True
) -> str:
    """The one-line description of a run's steady state (also from a table row's columns)."""
    if not tested:
        return f"{count} samples: too few to test for warm-up (need {MIN_TESTED})"
    if kind is SteadyClass.FLAT:
        return f"steady from the first of {count} samples"
    if kind is SteadyClass.NO_STEADY_STATE:
        direction = "falling" if change < 0 else "rising"
        return (
            f"no steady state in {count} samples (still {direction}, {change:+.0%});"
            " not judged: raise the warm-up or the sample count"
        )
    what = "slower" if kind is SteadyClass.WARMUP else "faster"
    return (
        f"steady after {steady_from} of {count} samples"
        f" ({kind.value}: first {steady_from} {abs(change):.0%} {what})"
    )


def block_size(n: int) -> int:
    """Samples per block for a run of ``n`` samples (at most :data:`MAX_POINTS` blocks)."""
    return max(BLOCK, -(-n // MAX_POINTS))


def _median(values: NDArray[np.float64]) -> float:
    """The median of a 1-D array (``np.median`` costs ~15 µs of overhead per call, this ~2)."""
    ordered = np.sort(values)
    half = ordered.size // 2
    return float(ordered[half] if ordered.size % 2 else 0.5 * (ordered[half - 1] + ordered[half]))


def block_medians(values: NDArray[np.float64], block: int = BLOCK) -> NDArray[np.float64]:
    """Medians of consecutive blocks of ``block`` values (the last block takes the remainder)."""
    m = max(1, values.size // block)
    ordered = np.sort(values[: (m - 1) * block].reshape(m - 1, block), axis=1)
    whole = 0.5 * (ordered[:, (block - 1) // 2] + ordered[:, block // 2])
    return np.concatenate([whole, [_median(values[(m - 1) * block :])]]).astype(float)


def _l1_costs(rows: NDArray[np.float64], counts: NDArray[np.int64]) -> NDArray[np.float64]:
    """Per row: the sum of absolute deviations from the row's median (NaNs left out).

    Each row holds ``counts[i]`` numbers and NaNs; sorting puts the NaNs
    last, so the median is read at the middle of the numbers (numpy's
    ``nanmedian`` goes through masked arrays and costs ten times more).
    """
    ordered = np.sort(rows, axis=1)
    index = np.arange(rows.shape[0])
    centre = 0.5 * (ordered[index, (counts - 1) // 2] + ordered[index, counts // 2])
    return np.asarray(np.nansum(np.abs(rows - centre[:, np.newaxis]), axis=1), dtype=float)


def head_split(points: NDArray[np.float64], limit: int) -> int:
    """The best single split of a series into a head and a rest, by L1 cost.

    Each candidate split ``d`` (``1 <= d <= limit``) is scored by the sum of
    absolute deviations of each part from its own median; the lowest cost
    wins (the first on a tie). Unlike a squared cost, one outlying point
    cannot pull the split towards itself.

    Args:
        points: The block points, in time order.
        limit: The last split considered.

    Returns:
        The split (0 when no split is possible).
    """
    last = min(limit, points.size - 1)
    if last < 1:
        return 0
    splits = np.arange(1, last + 1)
    before = np.arange(points.size)[np.newaxis, :] < splits[:, np.newaxis]
    values = np.broadcast_to(points, (splits.size, points.size))
    cost = _l1_costs(np.where(before, values, np.nan), splits) + _l1_costs(
        np.where(before, np.nan, values), points.size - splits
    )
    # A tolerance so that float noise never moves a tie away from the earliest split.
    best = float(cost.min())
    return int(splits[int(np.flatnonzero(cost <= best + 1e-12)[0])])


def detect_steady(
    samples: ArrayLike | Sequence[float],
    margin: float = STEADY_MARGIN,
    alpha: float = ALPHA,
    trend_alpha: float = TREND_ALPHA,
    corrected: bool = True,
) -> SteadyState:
    """Find where a run's samples became steady, and its class.

    Args:
        samples: One run's samples (positive numbers), in the order taken.
        margin: Smallest relative change called warm-up, slowdown or trend.
        alpha: Significance level of the head test, for all the splits it
            chose among together.
        trend_alpha: Significance level of the trend test.
        corrected: Divide ``alpha`` among the candidate splits (off only
            to measure what the correction buys).

    Returns:
        The steady state; its ``samples`` are the ones the run's value is
        computed from.

    Raises:
        ValueError: When a sample is not a positive finite number.
    """
    x = np.asarray(samples, dtype=float).ravel()
    if x.size and not (np.all(np.isfinite(x)) and float(x.min()) > 0):
        raise ValueError("samples must be positive finite numbers")
    n = int(x.size)
    if n < MIN_TESTED:
        return SteadyState(0, SteadyClass.FLAT, n, tuple(x.tolist()), tested=False)
    block = block_size(n)
    y = np.log(x)
    z = block_medians(y, block)
    m = z.size
    log_margin = math.log1p(margin)
    start = 0  # in blocks
    gap_total = 0.0
    # Peel heads off while one differs materially and significantly from the
    # rest, never past the first half of the run.
    while True:
        limit = (m + 1) // 2 - start
        d = head_split(z[start:], limit=limit)
        if d == 0:
            break
        head, tail = y[start * block : (start + d) * block], y[(start + d) * block :]
        if abs(_median(head) - _median(tail)) <= log_margin:
            break
        # The split was chosen as the most different one: test it as such.
        candidates = min(limit, z.size - start - 1) if corrected else 1
        if not mann_whitney_p(head, tail) < alpha / max(candidates, 1):
            break
        start += d
        gap_total = _median(y[: start * block]) - _median(y[start * block :])
    kind = SteadyClass.FLAT
    if start:
        kind = SteadyClass.WARMUP if gap_total > 0 else SteadyClass.SLOWDOWN
    # Is the rest steady? Its first and last thirds must not differ materially
    # and significantly (a trend, or a step late in the run).
    first = start * block
    rest = y[first:]
    third = rest.size // 3
    if third >= BLOCK:
        early, late = rest[:third], rest[-third:]
        drift = _median(late) - _median(early)
        if abs(drift) > log_margin and mann_whitney_p(early, late) < trend_alpha:
            return SteadyState(n, SteadyClass.NO_STEADY_STATE, n, (), change=math.expm1(drift))
    return SteadyState(first, kind, n, tuple(x[first:].tolist()), change=math.expm1(gap_total))


def steady_values(samples: ArrayLike | Sequence[float]) -> NDArray[np.float64]:
    """The samples a run's value is computed from: the steady ones, or all when there is no steady state.

    A run with no steady state keeps all its samples for its value (budget
    checks still see it), but is not judged against other runs.
    """
    values = np.asarray(samples, dtype=float).ravel()
    try:
        state = detect_steady(values)
    except ValueError:
        return values
    return values[state.steady_from :] if state.steady else values


@dataclass(frozen=True, slots=True)
class SteadySummary:
    """What the run table keeps of a run's steady state (no samples).

    Attributes:
        kind: The run's class.
        steady_from: Samples left out as warm-up (the run's length when it
            has no steady state).
        total: Samples in the run.
        change: As :attr:`SteadyState.change`.
    """

    kind: SteadyClass
    steady_from: int
    total: int
    change: float = 0.0

    @property
    def tested(self) -> bool:
        """False when the run was too short to test."""
        return self.total >= MIN_TESTED

    @property
    def steady(self) -> bool:
        """True when the run has a steady state."""
        return self.kind is not SteadyClass.NO_STEADY_STATE

    @property
    def cut(self) -> bool:
        """True when warm-up (or a faster start) was left out of the value."""
        return self.steady and self.steady_from > 0

    @property
    def message(self) -> str:
        """As :attr:`SteadyState.message`."""
        return steady_message(self.kind, self.steady_from, self.total, self.change, self.tested)

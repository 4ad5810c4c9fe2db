"""Statistics for verdicts: change intervals, noise, drift and steps.

The noise model has two parts, because on shared machines a run's own
samples understate how much its median moves between runs:

* within-run uncertainty of each median: its Maritz–Jarrett standard error
  (as ``scipy.stats.mstats.mjci``: as good as a bootstrap and deterministic), and
* run-to-run noise: the robust spread (``median_abs_deviation``, normal scale)
  of the log-medians of recent runs of the same SLO, as conbench's lookback
  z-score does. It is the floor that keeps one fast or slow run from raising
  an alarm.

Start-up cost decides how the library functions are used: ``import
scipy.stats`` alone costs 0.5–1.9 s here, more than the rest of ``perfslo
check``. So the four tests the gate needs are the same computations as
scipy.stats' (Maritz–Jarrett's Beta weights as binomial tails, Mann–Whitney U with
its exact null distribution or the tie-corrected normal approximation,
Theil–Sen with Sen's interval, the MAD), on numpy and the standard library's
``NormalDist`` and ``lgamma``; ``tests/test_stats.py`` checks each against
scipy.stats on random inputs.

Changes are computed on the log scale (``log(current / reference)``) so that
intervals are symmetric in ratio terms, then reported as relative changes.

When a run also holds the reference series ``<slo>@ref`` (timed right after
each sample by :func:`perfslo_tui.collect.measure.bench`), a run's *level* is the
median of ``log(sample / reference)`` instead of ``log(median)``: the pair
sees the same machine speed, so the ratio cancels it. Both the run-to-run
noise and the changes are then computed on those levels. The choice was made
by measurement (``benchmarks/verdict_quality.py``, ``docs/verdicts.md``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray

from perfslo_tui.runs.files import REFERENCE_SUFFIX, is_reference_name
from perfslo_tui.runs.nonparametric import mann_whitney_p, theil_sen

__all__ = ["REFERENCE_SUFFIX", "is_reference_name", "mann_whitney_p", "theil_sen"]

_NORMAL = NormalDist()
# 95 % two-sided normal quantile.
Z95 = _NORMAL.inv_cdf(0.975)
# The MAD's scale for normal data: 1 / Φ⁻¹(3/4) (scipy's scale="normal").
MAD_NORMAL_SCALE = 1.0 / _NORMAL.inv_cdf(0.75)
_SEED = 20251220


def log_ratios(samples: ArrayLike, reference: ArrayLike) -> NDArray[np.float64] | None:
    """Per-pair ``log(sample / reference)``, or None when they do not pair up.

    Args:
        samples: One SLO's samples in one run.
        reference: The reference timings taken right after each sample.

    Returns:
        The log ratios, or None when the lengths differ, either is empty or
        a value is not a positive finite number.
    """
    x = np.asarray(samples, dtype=float)
    r = np.asarray(reference, dtype=float)
    if x.size == 0 or x.shape != r.shape:
        return None
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(r)) and x.min() > 0 and r.min() > 0):
        return None
    return np.asarray(np.log(x) - np.log(r), dtype=float)


# Pairs timed while the machine was fastest (lowest quarter of the reference
# timings) give the steadiest level; see docs/verdicts.md for the measurement.
FAST_PAIR_QUANTILE = 0.25
# A run whose reference workload ran this much slower than the machine's
# quiet level was measured on a busy machine and is not judged. Runs within
# 10 % of the quiet level had a run-to-run spread of ~2 % (docs/verdicts.md).
BUSY_SLOWDOWN = 0.10
# Run-to-run noise assumed for reference-adjusted levels until four clean
# runs exist to measure it: the spread measured on the reference machine.
ADJUSTED_PRIOR_NOISE = 0.03
# The same for raw medians (no reference series): their run-to-run spread
# measured at load ~3.6 on the reference machine (docs/verdicts.md, 0.046).
RAW_PRIOR_NOISE = 0.05
# How many successive differences the prior counts for when the noise is
# measured from few runs: a MAD of four differences can come out at a
# fraction of the truth by chance, and every change then looks significant
# (a command benchmark with five runs of history raised 1 false alarm in 10
# A/A trials at load 8).
PRIOR_WEIGHT = 2.0


# A pair whose log ratio sits this far above the run's typical one was
# interrupted: on a loaded machine the scheduler takes the core away for a
# whole time slice (4 ms and more) in the middle of a sample, and the
# reference timed after it does not see that. Measured at load 7 on the
# 2-vCPU machine: a third of 0.6 ms samples came out 7-20x slower; in the
# quietest quarter of pairs they made the median's standard error 0.3-0.6
# instead of ~0.02, so a +25 % slowdown was "within noise".
INTERRUPTED_FACTOR = 1.5
INTERRUPTED_MADS = 5.0


def without_interruptions(logged: NDArray[np.float64]) -> NDArray[np.float64]:
    """Log values without the upward excursions of interrupted samples.

    A value is dropped when it is more than ``INTERRUPTED_FACTOR`` times the
    median *and* ``INTERRUPTED_MADS`` robust standard deviations above it. A
    real change of the code moves every sample and drops nothing; a
    garbage-collector pause or a descheduled sample stands alone. The median
    changes little; its standard error stops seeing the far tail. At most
    half the values are ever dropped.
    """
    if logged.size < 5:
        return logged
    centre = float(np.median(logged))
    spread = float(np.median(np.abs(logged - centre))) * MAD_NORMAL_SCALE
    limit = centre + max(math.log(INTERRUPTED_FACTOR), INTERRUPTED_MADS * spread)
    kept = logged[logged <= limit]
    return kept if kept.size * 2 >= logged.size else logged


def quiet_log_ratios(
    samples: ArrayLike, reference: ArrayLike, quantile: float = FAST_PAIR_QUANTILE
) -> NDArray[np.float64] | None:
    """Log ratios of the pairs timed while the machine was at its fastest.

    Args:
        samples: One SLO's samples in one run.
        reference: The reference timings taken right after each sample.
        quantile: Keep pairs whose reference timing is at or below this
            quantile of the run's reference timings (all pairs when that
            leaves fewer than five).

    Returns:
        The kept log ratios, or None when the series do not pair up.
    """
    ratios = log_ratios(samples, reference)
    if ratios is None:
        return None
    log_reference = np.log(np.asarray(reference, dtype=float))
    # Interrupted samples first: their reference, timed after the
    # interruption, may well be among the fastest.
    clean = without_interruptions(ratios)
    if clean.size != ratios.size:
        limit = float(clean.max())
        keep_clean = ratios <= limit
        ratios, log_reference = ratios[keep_clean], log_reference[keep_clean]
    keep = log_reference <= np.quantile(log_reference, quantile)
    if int(keep.sum()) < 5:
        return ratios
    return np.asarray(ratios[keep], dtype=float)


def reference_level(reference: ArrayLike) -> float | None:
    """A run's machine speed: the log of the reference workload's median time."""
    values = np.asarray(reference, dtype=float)
    if values.size == 0 or not np.all(np.isfinite(values)) or values.min() <= 0:
        return None
    return float(np.log(np.median(values)))


def median_log_se(samples: ArrayLike, logged: bool = False) -> float:
    """Standard error of ``log(median)`` of the samples (Maritz–Jarrett).

    The Maritz–Jarrett estimate (``scipy.stats.mstats.mjci``) gives the same
    answer as a bootstrap of the median (within a few %) deterministically
    and ten times faster, which matters because every verdict needs it for
    several runs.

    Args:
        samples: The samples of one run (positive values), or already
            logged values (e.g. log ratios) when ``logged`` is True.
        logged: The samples are on the log scale already.

    Returns:
        The standard error of the log-median; 0.0 for fewer than three
        samples or identical samples.
    """
    values = np.asarray(samples, dtype=float)
    if values.size < 3:
        return 0.0
    if not logged:
        values = np.log(values)
    if float(values.min()) == float(values.max()):
        return 0.0
    # Large sample sets give the same answer from a subsample, at a fraction
    # of the cost; the standard error is rescaled by sqrt(n_sub / n).
    scale = 1.0
    if values.size > 2000:
        rng = np.random.default_rng(_SEED)
        scale = math.sqrt(2000 / values.size)
        values = rng.choice(values, 2000, replace=False)
    ordered = np.sort(values)
    weights = _maritz_jarrett_weights(ordered.size)
    # Centred on the median: C2 - C1² of raw log values (~ -7 for 1 ms)
    # cancels catastrophically and leaves round-off of ~1e-7 for identical runs.
    centred = ordered - ordered[ordered.size // 2]
    c1 = float(weights @ centred)
    c2 = float(weights @ (centred * centred))
    se = math.sqrt(max(c2 - c1 * c1, 0.0))
    return se * scale if math.isfinite(se) else 0.0


@functools.lru_cache(maxsize=64)
def _maritz_jarrett_weights(n: int) -> NDArray[np.float64]:
    """Weights of the order statistics in the Maritz–Jarrett SE of the median (n samples).

    ``W_i = B(i/n) - B((i-1)/n)`` with ``B`` the Beta(m-1, n-m) CDF and
    ``m = int(n/2 + 1/2)``, as ``scipy.stats.mstats.mjci``. For whole
    parameters the Beta CDF is a binomial tail, ``B(x) = P(Bin(n-2, x) >= m-1)``,
    summed here in log space (no scipy import on the gate's start-up path).
    The weights depend on ``n`` only, so they are computed once per sample count.
    """
    m = int(0.5 * n + 0.5)
    trials, needed = n - 2, m - 1
    ks = np.arange(needed, trials + 1, dtype=float)
    whole = math.lgamma(trials + 1)
    log_choose = np.array([whole - math.lgamma(k + 1) - math.lgamma(trials - k + 1) for k in ks])
    grid = np.arange(0, n + 1, dtype=float) / n
    inner = grid[1:-1, np.newaxis]
    log_terms = log_choose + ks * np.log(inner) + (trials - ks) * np.log1p(-inner)
    cdf = np.concatenate([[0.0], np.exp(log_terms).sum(axis=1), [1.0]])
    return np.asarray(np.diff(np.clip(cdf, 0.0, 1.0)), dtype=float)


def run_to_run_noise(medians: Sequence[float] | NDArray[np.float64]) -> float | None:
    """Robust run-to-run noise of an SLO, from its recent run medians.

    Uses the successive differences of the log-medians, so a real step or a
    slow drift in the history does not inflate the noise (only one or a few
    differences carry it, and the MAD ignores them).

    Args:
        medians: Medians of recent runs of one SLO (oldest first).

    Returns:
        The relative standard deviation of one run's median
        (``MAD(diff(log m)) / sqrt(2)``, normal-scaled), or None with fewer
        than four runs to judge from.
    """
    values = np.asarray(medians, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size < 4:
        return None
    steps = np.diff(np.log(values))
    # Successive differences of a steady series are centred on zero by
    # construction; centring on their own median instead would call a series
    # that alternates between two levels noise-free.
    spread = float(np.median(np.abs(steps))) * MAD_NORMAL_SCALE
    return spread / math.sqrt(2.0)


@dataclass(frozen=True, slots=True)
class ChangeEstimate:
    """A change in median between a reference and a current run.

    Attributes:
        change: Point estimate, ``current / reference - 1``.
        ci_low: Lower end of the 95 % interval of the change.
        ci_high: Upper end of the 95 % interval of the change.
        noise: The combined relative standard error used (log scale).
        significant: True when the interval excludes zero.
    """

    change: float
    ci_low: float
    ci_high: float
    noise: float
    significant: bool


def change_estimate(
    reference_median: float,
    current_median: float,
    reference_se: float,
    current_se: float,
    run_noise: float | None,
) -> ChangeEstimate:
    """Estimate the change of median with a 95 % interval.

    The log-ratio's variance is the two medians' within-run variances plus,
    when known, twice the run-to-run variance (each of the two runs carries
    it independently).

    Args:
        reference_median: The reference (baseline or previous) median, > 0.
        current_median: The current median, > 0.
        reference_se: Standard error of the reference's log-median.
        current_se: Standard error of the current log-median.
        run_noise: Run-to-run relative noise, or None when unknown.

    Returns:
        The point estimate, interval and significance.
    """
    log_change = math.log(current_median / reference_median)
    variance = reference_se**2 + current_se**2 + 2.0 * (run_noise or 0.0) ** 2
    return _interval(log_change, variance)


def pooled_change(
    reference_levels: ArrayLike,
    reference_ses: ArrayLike,
    current_levels: ArrayLike,
    current_ses: ArrayLike,
    run_noise: float | None,
) -> ChangeEstimate:
    """The change between two groups of runs, each pooled, with a 95 % interval.

    Each group's level is the mean of its runs' log levels; its variance is
    ``(run_noise² + mean within-run SE²) / runs``, because every run carries
    its own run-to-run deviation. With one run on each side this is
    :func:`change_estimate`. Confirmation uses it: three slow runs against
    three baseline runs are far stronger evidence than one against one.

    Args:
        reference_levels: Log levels of the reference runs (at least one).
        reference_ses: Their within-run standard errors.
        current_levels: Log levels of the current runs (at least one).
        current_ses: Their within-run standard errors.
        run_noise: Run-to-run noise (log scale), or None when unknown.

    Returns:
        The pooled change, its interval and significance.

    Raises:
        ValueError: When a group is empty or its SEs do not match its levels.
    """
    ref = np.asarray(reference_levels, dtype=float)
    cur = np.asarray(current_levels, dtype=float)
    ref_se = np.asarray(reference_ses, dtype=float)
    cur_se = np.asarray(current_ses, dtype=float)
    if ref.size == 0 or cur.size == 0:
        raise ValueError("both groups need at least one run")
    if ref.shape != ref_se.shape or cur.shape != cur_se.shape:
        raise ValueError("one standard error per level is needed")
    noise_sq = (run_noise or 0.0) ** 2
    variance = (noise_sq + float(np.mean(ref_se**2))) / ref.size + (
        noise_sq + float(np.mean(cur_se**2))
    ) / cur.size
    return _interval(float(cur.mean() - ref.mean()), variance)


def _interval(log_change: float, variance: float) -> ChangeEstimate:
    se = math.sqrt(max(variance, 0.0))
    half = Z95 * se
    low, high = math.expm1(log_change - half), math.expm1(log_change + half)
    if se > 0:
        significant = low > 0 or high < 0
    else:
        significant = log_change != 0
    return ChangeEstimate(
        change=math.expm1(log_change),
        ci_low=low,
        ci_high=high,
        noise=se,
        significant=significant,
    )


@dataclass(frozen=True, slots=True)
class DriftEstimate:
    """A robust trend of an SLO's run medians over time.

    Attributes:
        rate_per_day: Relative change per day (Theil–Sen slope on log medians).
        rate_low: Lower end of the slope's 95 % interval (per day).
        rate_high: Upper end of the slope's 95 % interval (per day).
        span_days: Days between the first and last run considered.
        total: The drift over the span, relative (``exp(slope*span) - 1``).
        significant: True when the slope's interval excludes zero.
        runs: Number of runs the estimate is based on.
    """

    rate_per_day: float
    rate_low: float
    rate_high: float
    span_days: float
    total: float
    significant: bool
    runs: int

    def days_until(self, current: float, threshold: float) -> float | None:
        """Days until ``current`` reaches ``threshold`` at this drift rate.

        Returns:
            Days, or None when not drifting upward or already past it.
        """
        if not self.significant or self.rate_per_day <= 0 or current >= threshold:
            return None
        return math.log(threshold / current) / math.log1p(self.rate_per_day)


def drift(days: ArrayLike, medians: ArrayLike) -> DriftEstimate | None:
    """Theil–Sen drift of log medians against time.

    Args:
        days: Run times in days (any origin), oldest first.
        medians: The runs' medians (positive).

    Returns:
        The drift estimate, or None with fewer than four runs or a span under
        one hour (not enough to call a trend).
    """
    x = np.asarray(days, dtype=float)
    y = np.asarray(medians, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (y > 0)
    x, y = x[keep], y[keep]
    if x.size < 4:
        return None
    span = float(x.max() - x.min())
    if span < 1.0 / 24.0:
        return None
    slope, low, high = theil_sen(x, np.log(y))
    return DriftEstimate(
        rate_per_day=math.expm1(slope),
        rate_low=math.expm1(low),
        rate_high=math.expm1(high),
        span_days=span,
        total=math.expm1(slope * span),
        significant=bool(low > 0 or high < 0),
        runs=int(x.size),
    )


@dataclass(frozen=True, slots=True)
class StepChange:
    """A step change in an SLO's run medians.

    Attributes:
        index: Position (in the series given) of the first run after the step.
        change: Relative change of the median level across the step.
        p_value: Mann–Whitney U two-sided p-value between the two segments.
    """

    index: int
    change: float
    p_value: float


def find_step(medians: ArrayLike, min_segment: int = 3, alpha: float = 0.01) -> StepChange | None:
    """Find the most pronounced step change in a series of run medians.

    Every split with at least ``min_segment`` runs on each side is scored by
    the robust (L1) cost of fitting each segment by its median; the split
    with the lowest cost is where the level changed (scoring by the gap
    between the segment medians instead would move the culprit a few runs
    later, since a segment with a few slow runs keeps its median). It is
    kept if a Mann–Whitney U test separates the segments at ``alpha``.

    Args:
        medians: Run medians, oldest first.
        min_segment: Fewest runs on each side of a step.
        alpha: Significance level of the segment test.

    Returns:
        The step, or None.
    """
    y = np.log(np.asarray(medians, dtype=float))
    n = y.size
    if n < 2 * min_segment:
        return None
    splits = np.arange(min_segment, n - min_segment + 1)
    # Every split at once: row k holds the values before (or after) split k,
    # NaN elsewhere; the first lowest cost wins, as a loop over splits would.
    columns = np.arange(n)
    before_mask = columns[np.newaxis, :] < splits[:, np.newaxis]
    values = np.broadcast_to(y, (splits.size, n))
    before_rows = np.where(before_mask, values, np.nan)
    after_rows = np.where(before_mask, np.nan, values)
    cost = _l1_cost(before_rows) + _l1_cost(after_rows)
    split = int(splits[int(np.argmin(cost))])
    before, after = y[:split], y[split:]
    p_value = mann_whitney_p(before, after)
    if not p_value < alpha:
        return None
    return StepChange(
        index=split,
        change=math.expm1(float(np.median(after) - np.median(before))),
        p_value=p_value,
    )


def _l1_cost(rows: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per row: the sum of absolute deviations from the row's median (NaNs left out)."""
    centre = np.nanmedian(rows, axis=1, keepdims=True)
    return np.asarray(np.nansum(np.abs(rows - centre), axis=1), dtype=float)

"""A run's level of one SLO, the machine's speed, and comparisons between runs.

Noise model (chosen by measurement, see ``docs/verdicts.md``). When a run
holds the companion reference series ``<slo>@ref`` (a fixed workload timed
right after each sample):

* the run's *machine speed* is the reference workload's median time. A run
  whose reference ran more than ``BUSY_SLOWDOWN`` (10 %) slower than the
  machine's quiet level (10th percentile over recent runs) was measured on a
  busy machine: it is not judged ("inconclusive: machine busy"), does not
  count towards confirmation, and is left out of the baseline and the noise;
* the run's *level* is the median of ``log(sample / reference)`` over the
  pairs timed while the machine was fastest.

Without the reference series the level is ``log(median)``. A change's
variance is the within-run variance (Maritz–Jarrett) plus the run-to-run
variance (robust spread of successive level differences of the last
``history_runs`` clean runs), each divided by the runs pooled on its side.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from perfslo_tui.verdict.model import Comparison
from perfslo_tui.verdict.rules import RegressionCheck, severity_for_change
from perfslo_tui.verdict.stats import (
    ADJUSTED_PRIOR_NOISE,
    BUSY_SLOWDOWN,
    REFERENCE_SUFFIX,
    ChangeEstimate,
    median_log_se,
    pooled_change,
    quiet_log_ratios,
    reference_level,
    run_to_run_noise,
)

_SE_CACHE: dict[tuple[str, str, int, float], float] = {}


def _median_se(run_id: str, slo: str, values: NDArray[np.float64], logged: bool = False) -> float:
    """Within-run SE of a run's log level, memoised per run (runs are immutable)."""
    middle = float(np.median(values)) if len(values) else 0.0
    key = (run_id, slo + (REFERENCE_SUFFIX if logged else ""), len(values), middle)
    cached = _SE_CACHE.get(key)
    if cached is None:
        if len(_SE_CACHE) > 50_000:
            _SE_CACHE.clear()
        cached = median_log_se(values, logged=logged)
        _SE_CACHE[key] = cached
    return cached


@dataclass(frozen=True, slots=True)
class RunLevel:
    """One run of one SLO as the comparisons see it.

    Attributes:
        run_id: The run's file name.
        commit: Its commit.
        median: The median of its samples (ms).
        samples: The samples.
        ratios: Log ratios sample/reference of the quiet pairs, or None
            without a reference series.
        speed: The machine's speed in this run (log of the reference's
            median time), or None.
    """

    run_id: str
    commit: str
    median: float
    samples: NDArray[np.float64]
    ratios: NDArray[np.float64] | None
    speed: float | None = None

    def level(self, adjusted: bool) -> float:
        """The run's log level: median log ratio (adjusted) or log median."""
        if adjusted:
            assert self.ratios is not None
            return float(np.median(self.ratios))
        return math.log(self.median)

    def se(self, slo: str, adjusted: bool) -> float:
        """Within-run standard error of the level."""
        if adjusted:
            assert self.ratios is not None
            return _median_se(self.run_id, slo, self.ratios, logged=True)
        if self.samples.size < 3:
            return 0.0
        return _median_se(self.run_id, slo, self.samples)


def run_level(
    run_id: str, commit: str, median: float, samples: Sequence[float], reference: Sequence[float] | None
) -> RunLevel:
    """Build a run's level from its samples and, if any, its reference timings."""
    values = np.asarray(samples, dtype=float)
    if reference is None:
        return RunLevel(run_id, commit, median, values, None)
    ratios = quiet_log_ratios(values, reference)
    speed = reference_level(reference) if ratios is not None else None
    return RunLevel(run_id, commit, median, values, ratios, speed)


def quiet_level(runs: Iterable[RunLevel]) -> float | None:
    """The machine's quiet speed: 10th percentile of the runs' reference levels."""
    speeds = [r.speed for r in runs if r.speed is not None]
    if not speeds:
        return None
    return float(np.quantile(speeds, 0.1))


def is_busy(run: RunLevel, quiet: float | None) -> bool:
    """True when the run's reference workload ran slower than the quiet level by ``BUSY_SLOWDOWN``."""
    return run.speed is not None and quiet is not None and run.speed - quiet > math.log1p(BUSY_SLOWDOWN)


def noise_of(runs: Sequence[RunLevel], adjusted: bool, history_runs: int) -> float | None:
    """Run-to-run noise (log scale) of the last ``history_runs`` runs that have the level."""
    usable = [r for r in runs if not adjusted or r.ratios is not None][-history_runs:]
    return run_to_run_noise(np.exp([r.level(adjusted) for r in usable]))


@dataclass(frozen=True, slots=True)
class NoiseSetting:
    """What every comparison of one SLO in one evaluation shares.

    Attributes:
        slo: The SLO's name (for the SE cache).
        tolerance: The SLO's tolerance (a fraction).
        history: Recent clean runs, for the run-to-run noise.
        history_runs: How many of them count.
        raw: Compare raw medians even where reference series exist.
    """

    slo: str
    tolerance: float
    history: Sequence[RunLevel]
    history_runs: int
    raw: bool = False


@dataclass(frozen=True, slots=True)
class Reference:
    """The side a comparison is made against.

    Attributes:
        kind: ``baseline``, ``previous`` or ``session``.
        runs: The reference runs (pooled).
        commit: Their commit.
        run_id: The reference run's file name, if one run stands for it.
    """

    kind: str
    runs: Sequence[RunLevel]
    commit: str
    run_id: str | None


def compare(
    reference: Reference, current: Sequence[RunLevel], setting: NoiseSetting, busy: bool = False
) -> Comparison:
    """Compare pooled current runs with pooled reference runs.

    The comparison is speed-adjusted when every run involved has its
    reference series (and ``setting.raw`` is off); otherwise it uses raw
    medians.
    """
    runs = (*reference.runs, *current)
    adjusted = not setting.raw and all(r.ratios is not None for r in runs)
    noise = noise_of(setting.history, adjusted, setting.history_runs)
    if noise is None and adjusted:
        # Too few clean runs to measure it: assume the measured typical spread
        # rather than none at all (which would make every change significant).
        noise = ADJUSTED_PRIOR_NOISE
    ref_median = float(np.median([r.median for r in reference.runs]))
    cur_median = float(np.median([r.median for r in current]))
    estimate: ChangeEstimate | None = None
    enough = all(r.samples.size >= 3 or adjusted for r in runs)
    if enough or noise is not None:
        slo = setting.slo
        estimate = pooled_change(
            [r.level(adjusted) for r in reference.runs],
            [r.se(slo, adjusted) if enough else 0.0 for r in reference.runs],
            [r.level(adjusted) for r in current],
            [r.se(slo, adjusted) if enough else 0.0 for r in current],
            noise,
        )
    change = estimate.change if estimate is not None and adjusted else cur_median / ref_median - 1.0
    regression = RegressionCheck(
        baseline_ms=ref_median,
        current_ms=cur_median,
        change=change,
        severity=severity_for_change(change, setting.tolerance),
    )
    return Comparison(
        reference.kind,
        reference.run_id,
        reference.commit,
        regression,
        estimate,
        adjusted=adjusted,
        reference_runs=len(reference.runs),
        busy=busy,
    )

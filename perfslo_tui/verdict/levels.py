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

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from perfslo_tui.runs.steady import SteadyClass
from perfslo_tui.verdict.comparable import differences, differing_fields
from perfslo_tui.verdict.model import Comparison, NoiseParts
from perfslo_tui.verdict.rules import RegressionCheck, severity_for_change
from perfslo_tui.verdict.stats import (
    ADJUSTED_PRIOR_NOISE,
    BUSY_SLOWDOWN,
    PRIOR_WEIGHT,
    RAW_PRIOR_NOISE,
    REFERENCE_SUFFIX,
    ChangeEstimate,
    median_log_se,
    pooled_change,
    quiet_log_ratios,
    reference_level,
    run_to_run_noise,
    without_interruptions,
)

_SE_CACHE: dict[tuple[str, str, int, float], float] = {}


def _median_se(run_id: str, slo: str, values: NDArray[np.float64], logged: bool = False) -> float:
    """Within-run SE of a run's log level, memoised per run (runs are immutable).

    Interrupted samples (:func:`~perfslo_tui.verdict.stats.without_interruptions`)
    are left out: the median barely sees them, its standard error would.
    """
    middle = float(np.median(values)) if len(values) else 0.0
    key = (run_id, slo + (REFERENCE_SUFFIX if logged else ""), len(values), middle)
    cached = _SE_CACHE.get(key)
    if cached is None:
        if len(_SE_CACHE) > 50_000:
            _SE_CACHE.clear()
        if values.size >= 3 and values.min() > 0 or logged:
            logs = values if logged else np.log(values)
            cached = median_log_se(without_interruptions(logs), logged=True)
        else:
            cached = median_log_se(values, logged=logged)
        _SE_CACHE[key] = cached
    return cached


@dataclass(frozen=True, slots=True)
class RunLevel:
    """One run of one SLO as the comparisons see it.

    Attributes:
        run_id: The run's file name.
        commit: Its commit.
        median: The median of its steady samples (ms).
        samples: The steady samples (the warm-up left out); all of them
            when the run has no steady state.
        ratios: Log ratios sample/reference of the quiet steady pairs, or
            None without a reference series.
        speed: The machine's speed in this run (log of the reference's
            median time), or None.
        steady: False when the run has no steady state: it is shown but
            never judged, and counts neither for nor against a regression.
        fingerprint: The run's measurement fingerprint (canonical JSON).
    """

    run_id: str
    commit: str
    median: float
    samples: NDArray[np.float64]
    ratios: NDArray[np.float64] | None
    speed: float | None = None
    steady: bool = True
    fingerprint: str = ""

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
    run_id: str,
    commit: str,
    median: float,
    samples: Sequence[float],
    reference: Sequence[float] | None,
    steady_from: int = 0,
    steady: bool = True,
    fingerprint: str = "",
) -> RunLevel:
    """Build a run's level from its samples and, if any, its reference timings.

    Args:
        run_id: The run's file name.
        commit: Its commit.
        median: The median of its steady samples.
        samples: All its samples, in the order taken.
        reference: The reference timings paired with them, if any.
        steady_from: Samples left out as warm-up; the reference series is
            cut at the same place, so pairs stay pairs.
        steady: False when the run has no steady state.
        fingerprint: The run's measurement fingerprint.
    """
    values = np.asarray(samples, dtype=float)
    cut = steady_from if steady and 0 < steady_from < values.size else 0
    if reference is not None and len(reference) == values.size:
        reference = reference[cut:]
    values = values[cut:]
    if reference is None:
        return RunLevel(run_id, commit, median, values, None, steady=steady, fingerprint=fingerprint)
    ratios = quiet_log_ratios(values, reference)
    speed = reference_level(reference) if ratios is not None else None
    return RunLevel(run_id, commit, median, values, ratios, speed, steady, fingerprint)


# The columns of a series' rows that make a run's level.
LEVEL_COLUMNS = ("run_id", "commit", "median", "samples", "steady_from", "steady_class", "fingerprint")


def level_of_row(row: Mapping[str, Any], reference: Sequence[float] | None) -> RunLevel:
    """A run's level from a table row (:data:`LEVEL_COLUMNS`) and its reference samples."""
    return run_level(
        str(row["run_id"]),
        str(row["commit"]),
        float(row["median"]),
        row["samples"],
        reference,
        int(row["steady_from"]),
        row["steady_class"] != SteadyClass.NO_STEADY_STATE.value,
        str(row["fingerprint"]),
    )


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


def judged_noise(runs: Sequence[RunLevel], adjusted: bool, history_runs: int) -> float:
    """The run-to-run noise a comparison uses: the measured one, tempered by a prior.

    With no measurement (fewer than four runs) the prior (the spread measured
    on the reference machine); otherwise the pooled variance of the measured
    differences and :data:`PRIOR_WEIGHT` prior ones, so a few runs that
    happened to agree do not make every change significant, and a long
    history speaks for itself.
    """
    prior = ADJUSTED_PRIOR_NOISE if adjusted else RAW_PRIOR_NOISE
    measured = noise_of(runs, adjusted, history_runs)
    if measured is None:
        return prior
    usable = len([r for r in runs if not adjusted or r.ratios is not None][-history_runs:])
    differences = max(usable - 1, 1)
    return math.sqrt((differences * measured**2 + PRIOR_WEIGHT * prior**2) / (differences + PRIOR_WEIGHT))


@dataclass(frozen=True, slots=True)
class NoiseSetting:
    """What every comparison of one SLO in one evaluation shares.

    Attributes:
        slo: The SLO's name (for the SE cache).
        tolerance: The SLO's tolerance (a fraction).
        history: Recent clean runs, for the run-to-run noise.
        history_runs: How many of them count.
        raw: Compare raw medians even where reference series exist.
        unit: The unit of the values (for the medians shown with a change).
    """

    slo: str
    tolerance: float
    history: Sequence[RunLevel]
    history_runs: int
    raw: bool = False
    unit: str = "ms"


@dataclass(frozen=True, slots=True)
class Reference:
    """The side a comparison is made against.

    Attributes:
        kind: ``baseline``, ``previous`` or ``session``.
        runs: The reference runs (pooled).
        commit: Their commit.
        run_id: The reference run's file name, if one run stands for it.
        fingerprint: Their measurement fingerprint (default: the first run's).
    """

    kind: str
    runs: Sequence[RunLevel]
    commit: str
    run_id: str | None
    fingerprint: str | None = None


def unjudged_reason(reference: Reference, current: Sequence[RunLevel]) -> tuple[str, tuple[str, ...]]:
    """Why a comparison cannot be judged (empty when it can), and what differs when not comparable.

    Runs measured differently (:mod:`perfslo_tui.verdict.comparable`) are not
    comparable; a run with no steady state has no level to compare.
    """
    fingerprint = reference.fingerprint
    if fingerprint is None:
        fingerprint = reference.runs[0].fingerprint
    differ = differences(current[-1].fingerprint, fingerprint)
    if differ:
        return "not comparable: " + ", ".join(differ), differing_fields(current[-1].fingerprint, fingerprint)
    if not all(r.steady for r in current):
        return "no steady state", ()
    if not any(r.steady for r in reference.runs):
        return f"{reference.kind} has no steady state", ()
    return "", ()


def compare(
    reference: Reference, current: Sequence[RunLevel], setting: NoiseSetting, busy: bool = False
) -> Comparison:
    """Compare pooled current runs with pooled reference runs.

    The comparison is speed-adjusted when every run involved has its
    reference series (and ``setting.raw`` is off); otherwise it uses raw
    medians.
    """
    unjudged, differs = unjudged_reason(reference, current)
    if len(reference.runs) > 1:
        # A pooled reference: its runs without a steady state say nothing.
        settled = [r for r in reference.runs if r.steady]
        reference = dataclasses.replace(reference, runs=settled or reference.runs)
    runs = (*reference.runs, *current)
    adjusted = not setting.raw and all(r.ratios is not None for r in runs)
    # Times: never no noise at all (which would make every change significant).
    # Other metrics (instruction counts) are nearly deterministic: their own
    # measured spread, if any, is the whole story.
    noise: float | None = (
        judged_noise(setting.history, adjusted, setting.history_runs)
        if setting.unit == "ms"
        else noise_of(setting.history, adjusted, setting.history_runs)
    )
    ref_median = float(np.median([r.median for r in reference.runs]))
    cur_median = float(np.median([r.median for r in current]))
    estimate: ChangeEstimate | None = None
    parts: NoiseParts | None = None
    enough = all(r.samples.size >= 3 or adjusted for r in runs)
    if enough or noise is not None:
        slo = setting.slo
        ref_se = np.array([r.se(slo, adjusted) if enough else 0.0 for r in reference.runs])
        cur_se = np.array([r.se(slo, adjusted) if enough else 0.0 for r in current])
        estimate = pooled_change(
            [r.level(adjusted) for r in reference.runs],
            ref_se,
            [r.level(adjusted) for r in current],
            cur_se,
            noise,
        )
        noise_sq = (noise or 0.0) ** 2
        parts = NoiseParts(
            run_noise=noise or 0.0,
            current_se=float(np.sqrt(np.mean(cur_se**2))),
            reference_var=(noise_sq + float(np.mean(ref_se**2))) / len(reference.runs),
            samples=int(current[-1].samples.size),
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
        unjudged=unjudged,
        differs=differs,
        parts=parts,
        tolerance=setting.tolerance,
        unit=setting.unit,
    )

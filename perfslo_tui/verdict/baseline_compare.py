"""One SLO against the baseline: the pooled reference runs, the comparison, the streak, the confirmation.

A regression blocks the gate only once confirmed: ``confirm_runs``
consecutive clean runs each slower than the baseline by more than the
tolerance, whose pooled change is a significant regression.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from perfslo_tui.runs.history import with_samples
from perfslo_tui.verdict.context import RecentLevels, SLOContext
from perfslo_tui.verdict.levels import NoiseSetting, Reference, RunLevel, compare, is_busy, run_level
from perfslo_tui.verdict.model import Comparison
from perfslo_tui.verdict.rules import Severity, severity_for_change
from perfslo_tui.verdict.stats import REFERENCE_SUFFIX, ChangeEstimate


@dataclass(frozen=True, slots=True)
class BaselineFindings:
    """An SLO against the baseline: the comparison, the regression streak, its pooled change."""

    comparison: Comparison | None = None
    streak: int = 0
    confirmation: ChangeEstimate | None = None
    improvement: ChangeEstimate | None = None


def against_baseline(context: SLOContext, frame: pl.DataFrame, levels: RecentLevels) -> BaselineFindings:
    """The comparison with the baseline, the regression streak and, once long enough, its pooled change."""
    baseline = context.baseline
    if baseline is None or context.series not in baseline.medians:
        return BaselineFindings()
    confirm = context.confirm
    this = levels.this
    setting = NoiseSetting(context.series, context.tolerance, levels.before, context.history_runs, levels.raw)
    # The runs being judged (the current commit's latest) never serve as
    # their own reference, even when the baseline is at the same commit.
    judged = [r for r in levels.runs[-confirm:] if r.commit == this.commit]
    pool = baseline_pool(context, frame, levels.ref_by_run, judged)
    quiet_pool = [r for r in pool if not is_busy(r, levels.quiet)] or pool
    reference = Reference("baseline", quiet_pool, baseline.commit, baseline.source_run)
    vs_baseline = compare(reference, [this], setting, busy=levels.busy)
    adjusted = vs_baseline.adjusted
    ref_level = float(np.mean([r.level(adjusted) for r in quiet_pool]))
    # The streak: consecutive clean runs (ending here) slower than the
    # baseline by more than the tolerance; busy runs are skipped.
    streak_runs: list[RunLevel] = []
    for run in reversed(levels.runs):
        if is_busy(run, levels.quiet):
            continue
        # The baseline commit's own runs are the reference, never the regression.
        if adjusted and run.ratios is None or run.commit == baseline.commit != this.commit:
            break
        if run.level(adjusted) - ref_level > math.log1p(context.tolerance):
            streak_runs.append(run)
        else:
            break
    confirmation: ChangeEstimate | None = None
    if len(streak_runs) >= confirm and not levels.busy:
        group = streak_runs[:confirm][::-1]
        pooled = compare(Reference("baseline", quiet_pool, baseline.commit, None), group, setting)
        confirmation = pooled.estimate or ChangeEstimate(
            pooled.change, pooled.change, pooled.change, 0.0, pooled.change != 0
        )
    improvement = _improvement(context, levels, quiet_pool, setting, ref_level, adjusted)
    return BaselineFindings(vs_baseline, len(streak_runs), confirmation, improvement)


def _improvement(
    context: SLOContext,
    levels: RecentLevels,
    quiet_pool: list[RunLevel],
    setting: NoiseSetting,
    ref_level: float,
    adjusted: bool,
) -> ChangeEstimate | None:
    """The pooled change of every clean run since the baseline, when all improved on it.

    Walking back from the evaluated run, every clean run down to the
    baseline's own commit (or the start of the recent runs) must be faster
    than the baseline by more than the tolerance; at least ``confirm`` of
    them, and their pooled change a significant improvement.
    """
    baseline = context.baseline
    assert baseline is not None
    this = levels.this
    if levels.busy or this.commit == baseline.commit:
        return None
    threshold = math.log1p(-context.tolerance)
    since: list[RunLevel] = []
    for run in reversed(levels.runs):
        if is_busy(run, levels.quiet):
            continue
        if run.commit == baseline.commit:
            break
        if adjusted and run.ratios is None or run.level(adjusted) - ref_level > threshold:
            return None
        since.append(run)
    if len(since) < context.confirm:
        return None
    pooled = compare(Reference("baseline", quiet_pool, baseline.commit, None), since[::-1], setting)
    estimate = pooled.estimate
    if estimate is None or not estimate.significant or severity_for_change(
        estimate.change, context.tolerance
    ) is not Severity.IMPROVED:
        return None
    return estimate


def baseline_pool(
    context: SLOContext, frame: pl.DataFrame, ref_by_run: Mapping[str, list[float]], current: list[RunLevel]
) -> list[RunLevel]:
    """The baseline run plus other clean runs of the baseline's commit.

    One baseline run carries its own run-to-run deviation into every later
    comparison; pooling the commit's other runs shrinks it. Runs being judged
    (the confirmation window) and dirty or commit-less runs are left out.
    """
    baseline = context.baseline
    assert baseline is not None
    name = context.series
    base_ref = baseline.samples.get(name + REFERENCE_SUFFIX)
    base = run_level(
        baseline.source_run or f"baseline:{baseline.commit}",
        baseline.commit,
        baseline.medians[name],
        baseline.samples.get(name, ()),
        base_ref or None,
    )
    pool = [base]
    if baseline.commit and baseline.commit != "unknown":
        skip = {r.run_id for r in current} | {base.run_id}
        same = frame.filter(
            (pl.col("commit") == baseline.commit) & ~pl.col("dirty") & ~pl.col("run_id").is_in(list(skip))
        ).tail(max(context.history_runs - 1, 0))
        same = with_samples(same, context.samples)
        pool += [
            run_level(r["run_id"], r["commit"], float(r["median"]), r["samples"], ref_by_run.get(r["run_id"]))
            for r in same.select("run_id", "commit", "median", "samples").iter_rows(named=True)
        ]
    if base.ratios is not None and current and current[-1].ratios is not None:
        pool = [r for r in pool if r.ratios is not None]
    return pool

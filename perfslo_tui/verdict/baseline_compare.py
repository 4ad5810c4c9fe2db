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
from perfslo_tui.text import short_commit
from perfslo_tui.verdict.comparable import comparable
from perfslo_tui.verdict.context import RecentLevels, SLOContext
from perfslo_tui.verdict.levels import (
    LEVEL_COLUMNS,
    NoiseSetting,
    Reference,
    RunLevel,
    compare,
    level_of_row,
    run_level,
)
from perfslo_tui.verdict.model import Comparison
from perfslo_tui.verdict.rules import Severity, severity_for_change
from perfslo_tui.verdict.settle import settle_action
from perfslo_tui.verdict.stats import REFERENCE_SUFFIX, ChangeEstimate


@dataclass(frozen=True, slots=True)
class BaselineFindings:
    """An SLO against the baseline: the comparison, the regression streak, its pooled change.

    ``settle`` is set when the comparison is inconclusive: what would settle it.
    """

    comparison: Comparison | None = None
    streak: int = 0
    confirmation: ChangeEstimate | None = None
    settle: str = ""
    improvement: ChangeEstimate | None = None


def against_baseline(context: SLOContext, frame: pl.DataFrame, levels: RecentLevels) -> BaselineFindings:
    """The comparison with the baseline, the regression streak and, once long enough, its pooled change."""
    baseline = context.baseline
    if baseline is None or context.series not in baseline.medians:
        return BaselineFindings()
    confirm = context.confirm
    this = levels.this
    setting = NoiseSetting(
        context.series, context.tolerance, levels.before, context.history_runs, levels.raw, context.spec.unit
    )
    # The runs being judged (the current commit's latest) never serve as
    # their own reference, even when the baseline is at the same commit.
    judged = [r for r in levels.runs[-confirm:] if r.commit == this.commit]
    fingerprint = context.baseline_fingerprint
    pool = baseline_pool(context, frame, levels.ref_by_run, judged)
    quiet_pool = [r for r in pool if levels.judgeable(r)] or pool
    # An SLO kept from an earlier baseline has its own commit and run.
    base_commit = baseline.commit_of(context.series)
    source_run = baseline.source_run_of(context.series)
    reference = Reference("baseline", quiet_pool, base_commit, source_run, fingerprint)
    vs_baseline = compare(reference, [this], setting, busy=levels.busy)
    if vs_baseline.not_comparable:
        # Measured differently from the baseline: no streak, no confirmation.
        return BaselineFindings(vs_baseline)
    adjusted = vs_baseline.adjusted
    ref_level = float(np.mean([r.level(adjusted) for r in quiet_pool]))
    # The streak: consecutive clean runs (ending here) slower than the
    # baseline by more than the tolerance; busy or unsettled runs are skipped,
    # a run measured differently from the baseline ends it.
    streak_runs: list[RunLevel] = []
    for run in reversed(levels.runs):
        if not levels.judgeable(run):
            continue
        # The baseline commit's own runs are the reference, never the regression.
        if adjusted and run.ratios is None or run.commit == base_commit != this.commit:
            break
        if not comparable(run.fingerprint, fingerprint):
            break
        if run.level(adjusted) - ref_level > math.log1p(context.tolerance):
            streak_runs.append(run)
        else:
            break
    confirmation: ChangeEstimate | None = None
    # Confirmed by the clean runs of the streak, whatever the latest run was
    # like: a busy or unsettled run after them never undoes a confirmation.
    if len(streak_runs) >= confirm:
        group = streak_runs[:confirm][::-1]
        pool_reference = Reference("baseline", quiet_pool, base_commit, None, fingerprint)
        pooled = compare(pool_reference, group, setting)
        confirmation = pooled.estimate or ChangeEstimate(
            pooled.change, pooled.change, pooled.change, 0.0, pooled.change != 0
        )
    settle = ""
    if vs_baseline.judged and len(streak_runs) < confirm:
        command = context.slo is not None and context.slo.command is not None
        settle = settle_action(vs_baseline, confirm, short_commit(base_commit), command=command)
    improvement = _improvement(context, levels, quiet_pool, setting, ref_level, adjusted)
    return BaselineFindings(vs_baseline, len(streak_runs), confirmation, settle, improvement)


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
    base_commit = baseline.commit_of(context.series)
    if not levels.judgeable(this) or this.commit == base_commit:
        return None
    threshold = math.log1p(-context.tolerance)
    since: list[RunLevel] = []
    for run in reversed(levels.runs):
        if not levels.judgeable(run):
            continue
        if run.commit == base_commit:
            break
        if not comparable(run.fingerprint, context.baseline_fingerprint):
            return None
        if adjusted and run.ratios is None or run.level(adjusted) - ref_level > threshold:
            return None
        since.append(run)
    if len(since) < context.confirm:
        return None
    reference = Reference("baseline", quiet_pool, base_commit, None, context.baseline_fingerprint)
    pooled = compare(reference, since[::-1], setting)
    estimate = pooled.estimate
    if (
        estimate is None
        or not estimate.significant
        or severity_for_change(estimate.change, context.tolerance) is not Severity.IMPROVED
    ):
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
    commit = baseline.commit_of(name)
    base_ref = baseline.samples.get(name + REFERENCE_SUFFIX)
    state = baseline.steady.get(name)
    base = run_level(
        baseline.source_run_of(name) or f"baseline:{commit}",
        commit,
        baseline.medians[name],
        baseline.samples.get(name, ()),
        base_ref or None,
        steady_from=state.steady_from if state is not None else 0,
        steady=state.steady if state is not None else True,
        fingerprint=context.baseline_fingerprint,
    )
    pool = [base]
    if commit and commit != "unknown":
        skip = {r.run_id for r in current} | {base.run_id}
        same = frame.filter(
            (pl.col("commit") == commit) & ~pl.col("dirty") & ~pl.col("run_id").is_in(list(skip))
        ).tail(max(context.history_runs - 1, 0))
        same = with_samples(same, context.samples)
        rows = same.select(LEVEL_COLUMNS).iter_rows(named=True)
        levels = [level_of_row(r, ref_by_run.get(r["run_id"])) for r in rows]
        # Only runs measured like the baseline pool with it.
        pool += [level for level in levels if comparable(level.fingerprint, base.fingerprint)]
    if base.ratios is not None and current and current[-1].ratios is not None:
        pool = [r for r in pool if r.ratios is not None]
    return pool

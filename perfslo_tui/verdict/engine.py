"""The one evaluation: budgets, regressions, noise, confirmation, drift, steps.

``evaluate(history, config)`` turns a :class:`~perfslo_tui.runs.history.RunHistory`
into an :class:`~perfslo_tui.verdict.model.Evaluation`. The gate
(``perfslo check``), the TUI and every report read that and nothing else;
the policy over it lives in :mod:`perfslo_tui.verdict.model`, the levels and
comparisons in :mod:`perfslo_tui.verdict.levels`, the window's drift and steps
in :mod:`perfslo_tui.verdict.trends`.

Each SLO is judged on its own series up to the evaluated run, so evaluating
an old run gives the verdict it had then. Given the previous evaluation of
the same store, a refresh that only added runs re-evaluates only the SLOs
those runs measured and reuses the other results.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import polars as pl

from perfslo_tui.config import DEFAULT_INSTRUCTIONS_TOLERANCE, Config, MetricBudget, SLOConfig
from perfslo_tui.runs.files import metric_series, series_metric
from perfslo_tui.runs.history import RunHistory, RunInfo, with_samples
from perfslo_tui.runs.metadata import fingerprint_text
from perfslo_tui.runs.steady import SteadyClass, SteadySummary
from perfslo_tui.runs.summary import SampleStats
from perfslo_tui.verdict.baseline_compare import against_baseline
from perfslo_tui.verdict.context import RecentLevels, SLOContext
from perfslo_tui.verdict.goals import baseline_age
from perfslo_tui.verdict.levels import (
    LEVEL_COLUMNS,
    NoiseSetting,
    Reference,
    RunLevel,
    compare,
    is_busy,
    level_of_row,
    noise_of,
    quiet_level,
)
from perfslo_tui.verdict.model import Comparison, Evaluation, SLOResult
from perfslo_tui.verdict.rules import DEFAULT_TOLERANCE, budget_status, violation_threshold
from perfslo_tui.verdict.stats import REFERENCE_SUFFIX, is_reference_name
from perfslo_tui.verdict.trends import DAY_MS, STEP_WINDOW, analyse_trend, trend_points

# Clean runs needed before the level (speed-adjusted or raw) is chosen by
# its measured spread; with fewer the speed-adjusted level is used.
LEVEL_CHOICE_RUNS = 8


def evaluate(
    history: RunHistory,
    config: Config,
    *,
    run_id: str | None = None,
    session_run_id: str | None = None,
    confirm_runs: int | None = None,
    only: Collection[str] | None = None,
    previous: Evaluation | None = None,
) -> Evaluation:
    """Evaluate one run (default: the latest by timestamp).

    Args:
        history: The loaded runs, baseline and load errors.
        config: The SLOs and settings.
        run_id: The run to evaluate (a file name); default the latest.
        session_run_id: A reference run for "since I opened the monitor".
        confirm_runs: Override of ``config.confirm_runs``.
        only: Evaluate only these SLOs (the drill-down's per-run rows).
        previous: The previous evaluation of the same store; results of
            SLOs that no new run measured are reused from it.

    Returns:
        The evaluation.

    Raises:
        KeyError: When ``run_id`` is not in the history.
    """
    errors = tuple(sorted((str(p), reason) for p, reason in history.errors.items()))
    confirm = confirm_runs if confirm_runs is not None else config.confirm_runs
    info = history.latest if run_id is None else history.run(run_id)
    if run_id is not None and info is None:
        raise KeyError(run_id)
    base = Evaluation(
        None,
        0,
        (),
        history.baseline,
        errors,
        confirm,
        config.trend_days,
        history_version=history.version,
        session_run_id=session_run_id,
        config=config,
    )
    if info is None:
        specs = [(slo, spec) for slo in config.slos.values() for spec in slo.metric_budgets()]
        empty = [_no_data_result(slo, spec, confirm) for slo, spec in specs]
        return dataclasses.replace(base, slos=_grouped(empty))
    age = baseline_age(
        history.baseline,
        info,
        history.baseline_distance,
        config.baseline_max_age_days,
        config.baseline_max_commits,
    )
    base = dataclasses.replace(base, run=info, run_count=history.run_count, baseline_age=age)
    reusable = _reusable(previous, base, history) if run_id is None and only is None else {}
    # Only history up to the evaluated run counts, so an old run gets the
    # verdict it had then. The series leave the samples behind (copying
    # every run's samples would make each evaluation O(history)); the few
    # runs whose samples are used fetch them by row number (_with_samples).
    samples = history.table.get_column("samples")
    wanted = _wanted(config, history, info, only)
    todo = [w.series for w in wanted if w.series not in reusable]
    series = _series(history, info if run_id is not None else None, todo)
    session = _session_levels(history, session_run_id, info, samples, todo)
    window_start = info.ts_ms - config.trend_days * DAY_MS
    baseline_fingerprint = _baseline_fingerprint(history)
    results: list[SLOResult] = []
    for want in wanted:
        if want.series in reusable:
            results.append(reusable[want.series])
            continue
        context = SLOContext(
            want.slo,
            config.slos.get(want.slo),
            history.baseline,
            info,
            window_start,
            config.history_runs,
            # Instruction counts are deterministic: one run confirms.
            1 if want.spec.metric == "instructions" else confirm,
            samples,
            session.get(want.series),
            want.spec,
            baseline_fingerprint,
        )
        ref_frame = series.get(want.series + REFERENCE_SUFFIX)
        results.append(_evaluate_slo(context, series.get(want.series), ref_frame))
    return dataclasses.replace(base, slos=_grouped(results))


def _baseline_fingerprint(history: RunHistory) -> str:
    """The baseline's measurement fingerprint: its own, else its source run's (older baselines)."""
    baseline = history.baseline
    if baseline is None:
        return ""
    if baseline.fingerprint:
        return fingerprint_text(baseline.fingerprint)
    source = history.run(baseline.source_run) if baseline.source_run else None
    return source.fingerprint if source is not None else ""


@dataclass(frozen=True, slots=True)
class _Wanted:
    """One series to judge: an SLO's metric."""

    series: str
    slo: str
    spec: MetricBudget


def _grouped(results: list[SLOResult]) -> tuple[SLOResult, ...]:
    """One result per SLO (its default metric), carrying its other metrics in ``also``."""
    by_slo: dict[str, list[SLOResult]] = {}
    for result in results:
        by_slo.setdefault(result.name, []).append(result)
    return tuple(
        dataclasses.replace(group[0], also=tuple(group[1:])) if len(group) > 1 else group[0]
        for group in by_slo.values()
    )


def _wanted(
    config: Config, history: RunHistory, info: RunInfo, only: Collection[str] | None
) -> list[_Wanted]:
    """Configured SLOs' metrics in config order, then the unconfigured series this run measured.

    A configured SLO that this run did not measure (a one-SLO re-run, a
    benchmark that crashed or was dropped) keeps its latest measurement up to
    this run, marked stale: dropping a benchmark never hides its violation.
    """
    wanted = [
        _Wanted(metric_series(name, spec.metric), name, spec)
        for name, slo in config.slos.items()
        for spec in slo.metric_budgets()
    ]
    known = {w.series for w in wanted}
    for series in sorted(history.measured(info.run_id) - known):
        slo, kind = series_metric(series)
        if kind == "ref":
            continue
        tolerance = DEFAULT_INSTRUCTIONS_TOLERANCE if kind == "instructions" else DEFAULT_TOLERANCE
        wanted.append(_Wanted(series, slo, MetricBudget(kind, None, tolerance)))
    return [w for w in wanted if only is None or w.slo in only]


def _series(history: RunHistory, upto: RunInfo | None, names: Collection[str]) -> dict[str, pl.DataFrame]:
    """Each wanted SLO's rows (and its ``@ref`` companion's), oldest first, up to ``upto`` if given."""
    found: dict[str, pl.DataFrame] = {}
    for name in (*names, *(n + REFERENCE_SUFFIX for n in names)):
        frame = history.series.get(name)
        if frame is None:
            continue
        if upto is not None:
            same_time = (pl.col("ts_ms") == upto.ts_ms) & (pl.col("run_id") <= upto.run_id)
            frame = frame.filter((pl.col("ts_ms") < upto.ts_ms) | same_time)
        found[name] = frame
    return found


def _reusable(previous: Evaluation | None, current: Evaluation, history: RunHistory) -> dict[str, SLOResult]:
    """Results of the previous evaluation that the new runs cannot have changed.

    Safe only when the previous evaluation was of the history right before
    this refresh, with the same settings, and the refresh only added runs
    newer than the one it evaluated. A reused SLO was not measured by the new
    runs: it is stale when its last measurement is older than the evaluated
    run, and is evaluated again if its window lost a point.
    """
    if (
        previous is None
        or previous.run is None
        or current.run is None
        or previous.history_version != history.previous_version
        or previous.config != current.config
        or previous.session_run_id != current.session_run_id
        or previous.confirm_runs != current.confirm_runs
        or previous.baseline is not current.baseline
        or not history.changes.runs_only_added
    ):
        return {}
    added = history.runs.filter(pl.col("run_id").is_in(list(history.changes.added)))
    last = (previous.run.ts_ms, previous.run.run_id)
    if any((ts, rid) <= last for ts, rid in added.select("ts_ms", "run_id").iter_rows()):
        return {}
    touched = set(history.table.filter(pl.col("run_id").is_in(added["run_id"].implode()))["slo"].to_list())
    touched |= {n[: -len(REFERENCE_SUFFIX)] for n in touched if is_reference_name(n)}
    window_start = current.run.ts_ms - current.trend_days * DAY_MS
    reused: dict[str, SLOResult] = {}
    for result in previous.all_results:
        series = metric_series(result.name, result.metric)
        if series in touched or result.stats is None:
            continue
        if result.trend and result.trend[0].ts_ms < window_start:
            continue
        stale = result.measured_run_id != current.run.run_id
        kept = dataclasses.replace(result, also=()) if result.also else result
        reused[series] = kept if stale == kept.stale else dataclasses.replace(kept, stale=stale)
    return reused


def _session_levels(
    history: RunHistory, session_run_id: str | None, info: RunInfo, samples: pl.Series, names: list[str]
) -> dict[str, RunLevel]:
    """The session's reference run, per SLO, as levels."""
    if session_run_id is None or session_run_id == info.run_id or not names:
        return {}
    rows = {
        str(row["slo"]): row
        for row in history.table.filter(pl.col("run_id") == session_run_id).iter_rows(named=True)
    }
    levels: dict[str, RunLevel] = {}
    for name in names:
        row = rows.get(name)
        if row is None:
            continue
        ref = rows.get(name + REFERENCE_SUFFIX)
        levels[name] = level_of_row(row, ref["samples"] if ref is not None else None)
    return levels


def _no_data_result(slo: SLOConfig, spec: MetricBudget, confirm: int) -> SLOResult:
    return SLOResult(
        name=slo.name,
        config=slo,
        description=slo.description,
        stats=None,
        budget=None,
        vs_baseline=None,
        vs_previous=None,
        vs_session=None,
        noise=None,
        inconclusive=False,
        violation_streak=0,
        regression_streak=0,
        confirm_runs=confirm,
        trend=(),
        drift=None,
        step=None,
        spec=spec,
    )


def _recent_levels(context: SLOContext, frame: pl.DataFrame, ref_frame: pl.DataFrame | None) -> RecentLevels:
    """The recent runs (noise, streaks, steps) with their levels; never the whole history."""
    span = max(context.history_runs + context.confirm, STEP_WINDOW)
    recent = with_samples(frame.tail(span), context.samples)
    ref_by_run: dict[str, list[float]] = {}
    if ref_frame is not None:
        # Reference samples of the runs that can be used: the recent ones and
        # the baseline commit's latest (the pool), never the whole history.
        wanted = pl.col("run_id").is_in(recent["run_id"].implode())
        baseline = context.baseline
        if baseline is not None:
            # A superset of _baseline_pool's pick: it skips at most confirm + 1 of these.
            commit = baseline.commit_of(context.series)
            same = frame.filter((pl.col("commit") == commit) & ~pl.col("dirty")).tail(
                context.history_runs + context.confirm + 1
            )
            wanted = wanted | pl.col("run_id").is_in(same["run_id"].implode())
        refs = with_samples(ref_frame.filter(wanted), context.samples)
        ref_by_run = dict(zip(refs["run_id"].to_list(), refs["samples"].to_list(), strict=True))
    runs = [
        level_of_row(r, ref_by_run.get(r["run_id"]))
        for r in recent.select(LEVEL_COLUMNS).iter_rows(named=True)
    ]
    this = runs[-1]
    quiet = quiet_level(runs)
    # Runs measured on a busy machine or that never settled say little about
    # the code: they are kept out of the noise, the baseline pool and the
    # confirmation streak.
    clean = [r for r in runs if r.steady and not is_busy(r, quiet)] or [this]
    # The noise comes from the history before the judged commit: its own
    # runs may carry the very step being judged, which is not noise.
    before = [r for r in clean if r.commit != this.commit] or clean
    # Which level to compare: the one whose run-to-run spread over the clean
    # history is smaller. Both are unbiased for a real change; which one is
    # steadier depends on the machine's load (docs/verdicts.md).
    raw = False
    if this.ratios is not None and len(before) >= LEVEL_CHOICE_RUNS:
        noise_adjusted = noise_of(before, True, context.history_runs)
        noise_raw = noise_of(before, False, context.history_runs)
        raw = noise_adjusted is not None and noise_raw is not None and noise_raw < noise_adjusted
    return RecentLevels(runs, this, quiet, clean, before, raw, ref_by_run)


def _target_streak(medians: np.ndarray, spec: MetricBudget) -> int:
    """Consecutive runs (ending with the latest) whose median is at or under the target."""
    if spec.target is None:
        return 0
    above = np.flatnonzero(medians > spec.target * (1 + 1e-9))
    return int(medians.size - (above[-1] + 1 if above.size else 0))


def _violation_streak(medians: np.ndarray, spec: MetricBudget) -> int:
    """Consecutive runs (ending with the latest) whose median is in VIOLATION."""
    if spec.budget is None:
        return 0
    limit = violation_threshold(spec.budget, spec.tolerance)
    # Vectorised: a long streak must not cost a Python loop over history.
    within = np.flatnonzero(~(medians > limit * (1 + 1e-9)))
    return int(medians.size - (within[-1] + 1 if within.size else 0))


def _evaluate_slo(
    context: SLOContext, frame: pl.DataFrame | None, ref_frame: pl.DataFrame | None
) -> SLOResult:
    """Judge one SLO: budget, baseline, previous run, session, noise, streaks, trend."""
    slo, spec = context.slo, context.spec
    if frame is None or frame.height == 0:
        assert slo is not None
        return _no_data_result(slo, spec, context.confirm)
    last = frame.row(frame.height - 1, named=True)
    steady = SteadySummary(
        SteadyClass(last["steady_class"]),
        int(last["steady_from"]),
        int(last["samples_total"]),
        float(last["steady_change"]),
    )
    stats = SampleStats(
        count=int(last["count"]),
        min=float(last["min"]),
        median=float(last["median"]),
        mean=float(last["mean"]),
        p95=float(last["p95"]),
        max=float(last["max"]),
        stdev=float(last["stdev"]),
    )
    levels = _recent_levels(context, frame, ref_frame)
    this = levels.this
    setting = NoiseSetting(
        context.series, context.tolerance, levels.before, context.history_runs, levels.raw, context.spec.unit
    )
    found = against_baseline(context, frame, levels)
    vs_previous: Comparison | None = None
    if len(levels.runs) >= 2:
        prev = levels.runs[-2]
        reference = Reference("previous", [prev], prev.commit, prev.run_id)
        vs_previous = compare(reference, [this], setting, busy=levels.busy or is_busy(prev, levels.quiet))
    vs_session: Comparison | None = None
    if context.session is not None:
        session = context.session
        session_setting = dataclasses.replace(setting, history=levels.runs)
        reference = Reference("session", [session], session.commit, session.run_id)
        vs_session = compare(reference, [this], session_setting, busy=levels.busy)
    machine_load = None
    if this.speed is not None and levels.quiet is not None:
        machine_load = math.expm1(this.speed - levels.quiet)
    trend = analyse_trend(trend_points(frame, context.window_start), levels.runs, spec)
    medians = frame["median"].to_numpy()
    return SLOResult(
        name=context.name,
        config=slo,
        description=slo.description if slo else "",
        stats=stats,
        budget=budget_status(stats.median, spec.budget, spec.tolerance, spec.unit) if spec.budget else None,
        vs_baseline=found.comparison,
        vs_previous=vs_previous,
        vs_session=vs_session,
        noise=noise_of(levels.before, this.ratios is not None and not levels.raw, context.history_runs),
        inconclusive=bool(found.settle),
        violation_streak=_violation_streak(medians, spec),
        regression_streak=found.streak,
        confirm_runs=context.confirm,
        trend=trend.points,
        drift=trend.drift,
        step=trend.step,
        confirmation=found.confirmation,
        machine_load=machine_load,
        measured_run_id=str(last["run_id"]),
        measured_commit=str(last["commit"]),
        stale=str(last["run_id"]) != context.run.run_id,
        spec=spec,
        steady=steady,
        settle=found.settle,
        target_streak=_target_streak(medians, spec),
        improvement=found.improvement,
    )


# Keyed by id(config): the entry keeps its config alive, so the id is not reused.
_RECENT_CACHE: dict[tuple[object, ...], tuple[Config, SLOResult | None]] = {}


def recent_results(
    history: RunHistory, config: Config, name: str, limit: int = 15
) -> list[tuple[RunInfo, SLOResult | None]]:
    """One SLO's last ``limit`` runs, newest first, each with the verdict it had then.

    For the drill-down's table of recent runs. Runs are immutable, so a
    run's result is kept per run, baseline, config and number of runs up to
    it; a new run costs one evaluation of one SLO.
    """
    measured = history.table.filter(pl.col("slo") == name).select("run_id").tail(limit)["run_id"].to_list()
    runs = history.runs.filter(pl.col("run_id").is_in(measured))
    ts = history.runs.get_column("ts_ms")
    baseline = history.baseline
    base_key = (baseline.path, baseline.established, baseline.commit) if baseline is not None else None
    rows: list[tuple[RunInfo, SLOResult | None]] = []
    for row in reversed(list(runs.iter_rows(named=True))):
        info = RunInfo(**row)
        earlier = int(ts.search_sorted(info.ts_ms, side="right"))
        key = (history.folder, info.run_id, name, base_key, earlier, id(config))
        cached = _RECENT_CACHE.get(key)
        if cached is None or cached[0] is not config:
            if len(_RECENT_CACHE) > 5000:
                _RECENT_CACHE.clear()
            result = evaluate(history, config, run_id=info.run_id, only=(name,)).result(name)
            cached = _RECENT_CACHE[key] = (config, result)
        rows.append((info, cached[1]))
    return rows

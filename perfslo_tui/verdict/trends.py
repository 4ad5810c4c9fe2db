"""An SLO's history over the trend window: its points, its drift, and where it stepped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from perfslo_tui.config import MetricBudget
from perfslo_tui.verdict.levels import RunLevel
from perfslo_tui.verdict.model import Drift, Step, TrendPoint
from perfslo_tui.verdict.rules import violation_threshold
from perfslo_tui.verdict.stats import drift, find_step

DAY_MS = 86_400_000
# The step finder looks at this many recent runs: it is quadratic, and an
# old step is already the baseline's business.
STEP_WINDOW = 60
# Most points of an SLO's trend (and drift) over the window.
TREND_MAX_POINTS = 240


@dataclass(frozen=True, slots=True)
class TrendAnalysis:
    """What the window says about one SLO.

    Attributes:
        points: Its medians over the window, oldest first (thinned evenly
            past ``TREND_MAX_POINTS``, the latest ``STEP_WINDOW`` kept whole).
        drift: A significant drift of at least half the tolerance, if any.
        step: The most pronounced step of at least the tolerance, if any.
    """

    points: tuple[TrendPoint, ...]
    drift: Drift | None
    step: Step | None


def trend_points(frame: pl.DataFrame, window_start: int) -> tuple[TrendPoint, ...]:
    """One SLO's run medians from ``window_start`` on, thinned to at most ``TREND_MAX_POINTS``.

    A long window is thinned evenly, keeping its span (so drift is still over
    the whole window) and the last ``STEP_WINDOW`` runs whole (the step
    finder's input): Theil–Sen is quadratic in points, and a plot has fewer
    columns than this anyway.
    """
    # The frame is sorted by time: the window is its tail from a binary search.
    start = int(frame.get_column("ts_ms").search_sorted(window_start, side="left"))
    window = frame.select("run_id", "ts_ms", "commit", "median", "dirty").slice(start)
    if window.height > TREND_MAX_POINTS:
        older = window.height - STEP_WINDOW
        picks = np.unique(np.linspace(0, older - 1, TREND_MAX_POINTS - STEP_WINDOW).round().astype(np.int64))
        window = window[np.concatenate([picks, np.arange(older, window.height)])]
    columns = [window.get_column(name).to_list() for name in ("run_id", "ts_ms", "commit", "median", "dirty")]
    return tuple(
        TrendPoint(str(run_id), int(ts), str(commit), float(median), bool(dirty))
        for run_id, ts, commit, median, dirty in zip(*columns, strict=True)
    )


def analyse_trend(
    points: tuple[TrendPoint, ...], runs: Sequence[RunLevel], spec: MetricBudget
) -> TrendAnalysis:
    """Drift and step of an SLO's window.

    Args:
        points: From :func:`trend_points`.
        runs: The recent runs with their levels; speed-adjusted levels are
            used for the step when every point in its window has one.
        spec: The metric's budget (for the time to a violation) and
            tolerance: changes smaller than it (half of it for drift) are
            not reported.
    """
    tolerance = spec.tolerance
    if len(points) < 4:
        return TrendAnalysis(points, None, None)
    days = np.array([p.ts_ms for p in points], dtype=float) / DAY_MS
    values = np.array([p.median for p in points], dtype=float)
    drift_result: Drift | None = None
    estimate = drift(days, values)
    if estimate is not None and estimate.significant and abs(estimate.total) >= tolerance / 2:
        to_breach = None
        if spec.budget is not None:
            to_breach = estimate.days_until(values[-1], violation_threshold(spec.budget, tolerance))
        drift_result = Drift(estimate, to_breach)
    offset = max(0, len(values) - STEP_WINDOW)
    levels = _step_levels(points[offset:], runs)
    step = find_step(levels if levels is not None else values[offset:])
    step_result: Step | None = None
    if step is not None and abs(step.change) >= tolerance:
        point = points[offset + step.index]
        step_result = Step(point.run_id, point.commit, point.ts_ms, step.change)
    return TrendAnalysis(points, drift_result, step_result)


def _step_levels(points: Sequence[TrendPoint], runs: Sequence[RunLevel]) -> NDArray[np.float64] | None:
    """Speed-adjusted levels (as ratios) for the step finder, if every point has one."""
    by_id = {r.run_id: r for r in runs}
    found = [by_id.get(p.run_id) for p in points]
    if not found or any(r is None or r.ratios is None for r in found):
        return None
    return np.exp([r.level(True) for r in found if r is not None])

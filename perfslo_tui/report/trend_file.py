"""The trend file ``perf-trend.json``: each SLO's per-run medians over the window.

Everything in it comes from :func:`perfslo_tui.verdict.engine.evaluate` (the same
points, drift and culprit the gate and the TUI show); this module only lays
them out and keeps the history that ``perfslo prune`` folds in.

Format (``format_version`` 1)::

    {
      "format_version": 1,
      "kind": "perfslo-trend",
      "generated": "2026-11-28T01:02:03.000Z", "generated_unix": 1795...,
      "window_days": 30,
      "window_start": ISO | null, "window_start_unix": ms | null,
      "verdict": "PASSED" | "WARNING" | "FAILED",
      "run": {"run_id", "commit", "branch", "timestamp", "timestamp_unix"} | null,
      "baseline": {"commit", "established", "source_run"} | null,
      "slos": {
        "<name>": {
          "description": str,
          "metric": "time" | "instructions" | "peak_memory", "unit": "ms" | "instructions" | "MB",
          "budget_ms": float | null, "tolerance": float | null,   # *_ms: in ``unit``
          "violation_ms": float | null,      # above this: VIOLATION
          "baseline_ms": float | null,
          "status": "PASS" | "DRIFT" | "VIOLATION" | "NO BUDGET" | "NO DATA",
          "value_ms": float | null, "percent_of_budget": float | null,
          "indicator": "102.0% ⚠️ drifting +2.1% over 14 days",
          "points": [{"run_id", "commit", "timestamp", "timestamp_unix", "median_ms"}],
          "drift": {"rate_per_day", "rate_low", "rate_high", "total", "span_days",
                    "runs", "days_to_violation", "message"} | null,
          "culprit": {"run_id", "commit", "timestamp", "timestamp_unix",
                      "change", "message"} | null,
          "metrics": {"<metric>": {the same fields, for the SLO's other metrics}}
        }
      },
      "history": {"<name>": [point, ...]}   # runs removed by `perfslo prune`
    }

``points`` are the runs inside the window, oldest first. ``history`` holds
the medians of runs that ``perfslo prune`` deleted, oldest first, so the
file keeps the history it summarises; regenerating the file keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from perfslo_tui.atomic import atomic_write_bytes
from perfslo_tui.config import Config
from perfslo_tui.runs.files import ArtifactError, metric_series, read_json
from perfslo_tui.runs.metadata import now_ms
from perfslo_tui.text import format_change, format_percent, utc_iso
from perfslo_tui.verdict.model import Evaluation, SLOResult, TrendPoint, finite_or_none
from perfslo_tui.verdict.rules import Severity, violation_threshold
from perfslo_tui.verdict.trends import DAY_MS

TREND_FILE = "perf-trend.json"
HOUR_MS = 3_600_000
FORMAT_VERSION = 1
KIND = "perfslo-trend"


def trend_path(config: Config) -> Path:
    """Where the trend file lives: ``<artifacts>/perf-trend.json``."""
    return config.artifacts_dir / TREND_FILE


def window_start_ms(evaluation: Evaluation) -> int | None:
    """Start of the trend window: the evaluated run's time minus ``trend_days``."""
    if evaluation.run is None:
        return None
    return evaluation.run.ts_ms - evaluation.trend_days * DAY_MS


def has_trend(result: SLOResult) -> bool:
    """True when the window holds enough runs for the drift test to speak.

    The same minimum the drift estimate needs (four runs over at least an
    hour), so "steady" is only said where a drift could have been found.
    """
    trend = result.trend
    return len(trend) >= 4 and trend[-1].ts_ms - trend[0].ts_ms >= HOUR_MS


def trend_note(result: SLOResult) -> str:
    """What the SLO's history says: the step, the drift, or ``steady``.

    LUASCRIPT's "(drifting +2% over 2 weeks)" / "(regressed +7% from …)".
    """
    if result.stats is None:
        return "no data"
    # Both can hold (a step also tilts the drift fit, a steep drift can pass
    # the step test), so both are shown rather than guessing which is real.
    parts = [x.message for x in (result.step, result.drift) if x is not None]
    if parts:
        return "; ".join(parts)
    trend = result.trend
    if len(trend) < 4:
        return f"too few runs for a trend ({len(trend)} of 4)"
    if not has_trend(result):
        minutes = (trend[-1].ts_ms - trend[0].ts_ms) / 60_000
        return f"{len(trend)} runs within {minutes:.0f} min: too short a span for a trend (1 hour)"
    # "steady" only when the latest run says so too: not beside a jump.
    if result.busy:
        return "latest run measured on a busy machine: not judged"
    latest = result.vs_previous
    if latest is not None and not latest.within_noise and latest.effective_severity is not Severity.STABLE:
        return f"latest run {format_change(latest.change)} vs the previous (one run, not yet a step)"
    return "steady"


def indicator(result: SLOResult) -> str:
    """``102.0% ⚠️ drifting +2.1% over 14 days``, LUASCRIPT's drift indicator line."""
    if result.budget is None:
        return f"{result.icon} {trend_note(result)}"
    return f"{format_percent(result.budget.percent_of_budget)} {result.icon} {trend_note(result)}"


def point_to_dict(point: TrendPoint) -> dict[str, Any]:
    """One trend point as JSON."""
    return {
        "run_id": point.run_id,
        "commit": point.commit,
        "timestamp": utc_iso(point.ts_ms),
        "timestamp_unix": point.ts_ms,
        "median_ms": point.median,
    }


def _slo_entry(result: SLOResult, evaluation: Evaluation) -> dict[str, Any]:
    spec = result.spec
    budget = spec.budget if spec is not None else None
    base = evaluation.baseline
    drift = result.drift
    step = result.step
    series = metric_series(result.name, result.metric)
    return {
        "description": result.description,
        "metric": result.metric,
        "unit": result.unit,
        "budget_ms": budget,
        "tolerance": spec.tolerance if spec is not None and result.config is not None else None,
        "violation_ms": violation_threshold(budget, spec.tolerance) if spec is not None and budget else None,
        "baseline_ms": base.medians.get(series) if base is not None else None,
        "status": result.state_label,
        "value_ms": result.value_ms,
        "percent_of_budget": round(result.budget.percent_of_budget, 2) if result.budget else None,
        "indicator": indicator(result),
        "points": [point_to_dict(p) for p in result.trend],
        "drift": None
        if drift is None
        else {
            "rate_per_day": drift.estimate.rate_per_day,
            "rate_low": drift.estimate.rate_low,
            "rate_high": drift.estimate.rate_high,
            "total": drift.estimate.total,
            "span_days": drift.estimate.span_days,
            "runs": drift.estimate.runs,
            "days_to_violation": finite_or_none(drift.days_to_violation),
            "message": drift.message,
        },
        "culprit": None
        if step is None
        else {
            "run_id": step.run_id,
            "commit": step.commit,
            "timestamp": utc_iso(step.ts_ms),
            "timestamp_unix": step.ts_ms,
            "change": step.change,
            "message": step.message,
        },
        "metrics": {other.metric: _slo_entry(other, evaluation) for other in result.also},
    }


def build_trend(
    evaluation: Evaluation,
    history: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
    generated_ms: int | None = None,
) -> dict[str, Any]:
    """Lay the evaluation out as a trend document (see the module docstring).

    Args:
        evaluation: The evaluation of the latest run.
        history: Points of pruned runs per SLO (from the previous trend file
            and from ``perfslo prune``); kept sorted and without duplicates.
        generated_ms: The generation time (default: now).

    Returns:
        The JSON-ready document.
    """
    ms = generated_ms if generated_ms is not None else now_ms()
    run = evaluation.run
    base = evaluation.baseline
    start = window_start_ms(evaluation)
    return {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "generated": utc_iso(ms),
        "generated_unix": ms,
        "window_days": evaluation.trend_days,
        "window_start": utc_iso(start) if start is not None else None,
        "window_start_unix": start,
        "verdict": evaluation.verdict.value,
        "run": None
        if run is None
        else {
            "run_id": run.run_id,
            "commit": run.commit,
            "branch": run.branch,
            "timestamp": utc_iso(run.ts_ms),
            "timestamp_unix": run.ts_ms,
        },
        "baseline": None
        if base is None
        else {"commit": base.commit, "established": base.established, "source_run": base.source_run},
        "slos": {r.name: _slo_entry(r, evaluation) for r in evaluation.slos},
        "history": merge_history(history or {}),
    }


def _valid_point(point: Any) -> bool:
    return (
        isinstance(point, dict)
        and isinstance(point.get("run_id"), str)
        and isinstance(point.get("timestamp_unix"), int)
        and not isinstance(point.get("timestamp_unix"), bool)
        and isinstance(point.get("median_ms"), int | float)
        and not isinstance(point.get("median_ms"), bool)
    )


def merge_history(*sources: Mapping[str, Iterable[Mapping[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Merge per-SLO point lists: one point per run, oldest first.

    The first source wins for a run that appears twice, so history already
    written is never rewritten by a later fold.
    """
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    for source in sources:
        for name, points in source.items():
            slot = merged.setdefault(name, {})
            for point in points:
                slot.setdefault(str(point["run_id"]), dict(point))
    return {
        name: sorted(points.values(), key=lambda p: (p["timestamp_unix"], p["run_id"]))
        for name, points in merged.items()
    }


def read_history(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The ``history`` of an existing trend file; empty when there is none.

    Raises:
        ArtifactError: When the file exists but is not a usable trend file:
            overwriting it would lose the history it keeps.
    """
    if not path.exists():
        return {}
    document = read_json(path)
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise ArtifactError(path, "not a perfslo trend file (move it away to start a new one)")
    if document.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(path, f"unsupported trend format_version {document.get('format_version')!r}")
    history = document.get("history", {})
    if not isinstance(history, dict):
        raise ArtifactError(path, "history: expected an object of SLO -> points")
    for name, points in history.items():
        if not isinstance(points, list) or not all(_valid_point(p) for p in points):
            raise ArtifactError(path, f"history: {str(name)[:60]}: expected a list of points")
    return {str(name): list(points) for name, points in history.items()}


def write_trend(path: Path, document: Mapping[str, Any]) -> Path:
    """Write a trend document atomically (indented JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")


def update_trend(
    evaluation: Evaluation,
    history_path: Path,
    output: Path | None = None,
    folded: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
    generated_ms: int | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Rebuild the trend file, keeping its history and adding ``folded`` points.

    Args:
        evaluation: The evaluation of the latest run.
        history_path: The trend file whose history is kept (the artifacts
            folder's ``perf-trend.json``).
        output: Where to write (default ``history_path``).
        folded: Points of runs about to be pruned, per SLO.
        generated_ms: The generation time (default: now).

    Returns:
        The path written and the document.

    Raises:
        ArtifactError: When the existing trend file cannot be read.
    """
    history = merge_history(read_history(history_path), folded or {})
    document = build_trend(evaluation, history, generated_ms)
    target = output if output is not None else history_path
    write_trend(target, document)
    return target, document

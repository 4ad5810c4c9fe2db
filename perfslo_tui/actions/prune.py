"""Retention: remove run files older than the trend window, losing nothing needed.

A run file is removed only when all of these hold:

* it loaded cleanly into the run table (a file perfslo cannot read is never
  touched: it is not known to be a run);
* it is older than the trend window, which ends at the latest run (the same
  window :func:`~perfslo_tui.verdict.engine.evaluate` uses, so the trend loses nothing);
* it is not one of the latest ``keep_runs`` runs;
* it is not the baseline's source run;
* for no SLO it is among the latest ``max(history_runs, confirm_runs)`` runs
  measuring that SLO (the runs the noise estimate and the confirmation
  streak read, even for an SLO that was not measured for a long time).

Before anything is deleted, the removed runs' medians are folded into the
trend file's ``history`` (written atomically), so the trend file keeps the
history it summarises. Only run files in the artifacts folder itself are
ever removed; baselines, the trend file, the dashboard and anything else stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from perfslo_tui.config import Config
from perfslo_tui.report.trend_file import trend_path, update_trend
from perfslo_tui.runs.files import is_run_file_name
from perfslo_tui.runs.history import RunHistory
from perfslo_tui.text import utc_iso
from perfslo_tui.verdict.engine import evaluate
from perfslo_tui.verdict.trends import DAY_MS


@dataclass(frozen=True, slots=True)
class PrunedRun:
    """A run file that prune removes (or would remove)."""

    run_id: str
    path: Path
    ts_ms: int
    commit: str


@dataclass(slots=True)
class PrunePlan:
    """What prune removes and why the rest stays.

    Attributes:
        window_start_ms: Runs before this are candidates (None: no runs).
        remove: The runs to remove, oldest first.
        kept: Run id -> why an old run is kept.
        unreadable: Run-named files that could not be read; never removed.
    """

    window_start_ms: int | None
    remove: list[PrunedRun] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)
    unreadable: list[Path] = field(default_factory=list)


def plan_prune(config: Config, history: RunHistory) -> PrunePlan:
    """Decide which run files are older than the window and safe to remove.

    Args:
        config: The config (trend window, ``keep_runs``, noise history).
        history: The loaded artifacts folder.

    Returns:
        The plan; nothing is touched.
    """
    unreadable = sorted(
        path for path in history.errors if path.parent == history.folder and is_run_file_name(path.name)
    )
    table = history.table
    if table.height == 0:
        return PrunePlan(None, unreadable=unreadable)
    runs = history.runs.select("run_id", "ts_ms", "commit")
    latest = int(runs["ts_ms"][-1])
    start = latest - config.trend_days * DAY_MS
    protected: dict[str, str] = {}
    for run_id in runs["run_id"][-config.keep_runs :]:
        protected.setdefault(str(run_id), f"one of the latest {config.keep_runs} runs")
    baseline = history.baseline
    if baseline is not None and baseline.source_run:
        protected.setdefault(baseline.source_run, "the baseline's source run")
    per_slo = max(config.history_runs, config.confirm_runs)
    recent = (
        table.sort(["ts_ms", "run_id"])
        .group_by("slo", maintain_order=True)
        .tail(per_slo)
        .select("slo", "run_id")
    )
    for slo, run_id in recent.iter_rows():
        protected.setdefault(str(run_id), f"among the latest {per_slo} runs of {slo}")

    plan = PrunePlan(start, unreadable=unreadable)
    for run_id, ts_ms, commit in runs.filter(pl.col("ts_ms") < start).iter_rows():
        if run_id in protected:
            plan.kept[run_id] = protected[run_id]
            continue
        plan.remove.append(PrunedRun(run_id, history.folder / run_id, int(ts_ms), commit))
    return plan


def folded_points(history: RunHistory, plan: PrunePlan) -> dict[str, list[dict[str, Any]]]:
    """The removed runs' medians per SLO, in the trend file's point format."""
    ids = [r.run_id for r in plan.remove]
    rows = history.table.filter(pl.col("run_id").is_in(ids)).sort(["ts_ms", "run_id"])
    points: dict[str, list[dict[str, Any]]] = {}
    for row in rows.select("slo", "run_id", "commit", "ts_ms", "median").iter_rows(named=True):
        points.setdefault(row["slo"], []).append(
            {
                "run_id": row["run_id"],
                "commit": row["commit"],
                "timestamp": utc_iso(int(row["ts_ms"])),
                "timestamp_unix": int(row["ts_ms"]),
                "median_ms": float(row["median"]),
            }
        )
    return points


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What :func:`apply_prune` did."""

    removed: list[PrunedRun]
    failed: Mapping[Path, str]
    trend_file: Path | None


def apply_prune(config: Config, history: RunHistory, plan: PrunePlan) -> PruneResult:
    """Fold the plan's runs into the trend file, then delete them.

    The trend file is written first: if it cannot be written (or the
    existing one cannot be read), nothing is deleted.

    Raises:
        ArtifactError: When the existing trend file cannot be read.
        OSError: When the trend file cannot be written.
    """
    if not plan.remove:
        return PruneResult([], {}, None)
    evaluation = evaluate(history, config)
    target, _document = update_trend(evaluation, trend_path(config), folded=folded_points(history, plan))
    removed: list[PrunedRun] = []
    failed: dict[Path, str] = {}
    for run in plan.remove:
        try:
            run.path.unlink()
        except FileNotFoundError:
            removed.append(run)  # already gone: its history is folded all the same
        except OSError as exc:
            failed[run.path] = exc.strerror or str(exc)
        else:
            removed.append(run)
    return PruneResult(removed, failed, target)

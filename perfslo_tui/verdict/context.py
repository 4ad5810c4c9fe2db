"""What judging one SLO works from: its context in the evaluation and its recent runs as levels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from perfslo_tui.config import MetricBudget, SLOConfig
from perfslo_tui.runs.files import Baseline, metric_series
from perfslo_tui.runs.history import RunInfo
from perfslo_tui.verdict.levels import RunLevel, is_busy
from perfslo_tui.verdict.rules import DEFAULT_TOLERANCE


@dataclass(frozen=True, slots=True)
class SLOContext:
    """What judging one SLO needs besides its own series.

    Attributes:
        name: The SLO's name.
        slo: Its config, or None when measured but not configured.
        baseline: The baseline, if any.
        run: The evaluated run.
        window_start: Start of the trend window (epoch ms).
        history_runs: Recent runs used for the run-to-run noise.
        confirm: Runs needed to confirm a problem.
        samples: The table's samples column, fetched by row number.
        session: The session's reference run of this series (TUI), if any.
        spec: The metric judged, with its budget and tolerance.
        baseline_fingerprint: The baseline's measurement fingerprint
            (canonical JSON; empty when unknown).
    """

    name: str
    slo: SLOConfig | None
    baseline: Baseline | None
    run: RunInfo
    window_start: int
    history_runs: int
    confirm: int
    samples: pl.Series
    session: RunLevel | None = None
    spec: MetricBudget = MetricBudget("time", None, DEFAULT_TOLERANCE)
    baseline_fingerprint: str = ""

    @property
    def tolerance(self) -> float:
        """The metric's tolerance."""
        return self.spec.tolerance

    @property
    def series(self) -> str:
        """The name of the series judged: the SLO's, or ``<slo>@<metric>``."""
        return metric_series(self.name, self.spec.metric)


@dataclass(frozen=True, slots=True)
class RecentLevels:
    """One SLO's recent runs as levels, and what they say about the machine.

    Attributes:
        runs: The recent runs, oldest first.
        this: The evaluated run.
        quiet: The machine's quiet speed, if known.
        clean: The runs that can be judged: not measured on a busy machine,
            and with a steady state.
        before: The clean runs of earlier commits (the noise's history).
        raw: Compare raw medians (their spread was the smaller).
        ref_by_run: Reference samples by run id.
    """

    runs: list[RunLevel]
    this: RunLevel
    quiet: float | None
    clean: list[RunLevel]
    before: list[RunLevel]
    raw: bool
    ref_by_run: Mapping[str, list[float]]

    @property
    def busy(self) -> bool:
        """The evaluated run was measured on a busy machine."""
        return is_busy(self.this, self.quiet)

    def judgeable(self, run: RunLevel) -> bool:
        """A run that can count for or against a regression: steady, and not measured while busy."""
        return run.steady and not is_busy(run, self.quiet)

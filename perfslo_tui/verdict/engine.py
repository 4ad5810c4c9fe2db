"""The one evaluation: budgets, regressions, noise, confirmation, drift, steps.

The gate (``perfslo check``), the TUI and every report read the
:class:`Evaluation` built here from the run table, the config and the
baseline; nothing downstream recomputes a verdict.

Gate policy:

* FAILED (exit 1) when an SLO is *blocking*: a budget VIOLATION seen in
  ``confirm_runs`` consecutive runs, or a confirmed REGRESSION against the
  baseline: ``confirm_runs`` consecutive runs each slower than the baseline
  by more than the tolerance, whose pooled change is a significant
  regression (past twice the tolerance, 95 % interval above zero).
* WARNING (exit 0) for DRIFT, unconfirmed violations or regressions,
  significant warnings against the baseline, and SLOs with no data.
* PASSED otherwise. Changes past a threshold that are not significant are
  shown as "within noise" and do not warn.

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

Without the reference series the level is ``log(median)``; with eight clean
runs of history, the level (speed-adjusted or ``log(median)``) with the
smaller measured run-to-run spread is used. The baseline's
level is pooled over the clean runs of the baseline's commit. A change's
variance is the within-run variance (Maritz–Jarrett) plus the run-to-run
variance (robust spread of successive level differences of the last
``history_runs`` clean runs), each divided by the runs pooled on its side.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import polars as pl
from numpy.typing import NDArray

from perfslo_tui.config import Config, SLOConfig
from perfslo_tui.runs.files import Baseline
from perfslo_tui.runs.summary import SampleStats
from perfslo_tui.text import format_change, format_ms, short_commit
from perfslo_tui.verdict.rules import (
    DEFAULT_TOLERANCE,
    BudgetCheck,
    BudgetStatus,
    RegressionCheck,
    Severity,
    budget_status,
    severity_for_change,
    violation_threshold,
)
from perfslo_tui.verdict.stats import (
    ADJUSTED_PRIOR_NOISE,
    BUSY_SLOWDOWN,
    REFERENCE_SUFFIX,
    Z95,
    ChangeEstimate,
    DriftEstimate,
    drift,
    find_step,
    is_reference_name,
    median_log_se,
    pooled_change,
    quiet_log_ratios,
    reference_level,
    run_to_run_noise,
)

DAY_MS = 86_400_000
STEP_WINDOW = 60
# Clean runs needed before the level (speed-adjusted or raw) is chosen by
# its measured spread; with fewer the speed-adjusted level is used.
LEVEL_CHOICE_RUNS = 8
# Most points of an SLO's trend (and drift) over the window; see _evaluate_slo.
TREND_MAX_POINTS = 240
INCONCLUSIVE_HINT = "inconclusive: increase PERF_ITERATIONS or stabilise the machine"
BUSY_HINT = "inconclusive: the machine was busy while measuring (reference workload {load} slower); re-run"


class Verdict(StrEnum):
    """The overall verdict of a run, as the gate reports it."""

    PASSED = "PASSED"
    WARNING = "WARNING"
    FAILED = "FAILED"

    @property
    def icon(self) -> str:
        """LUASCRIPT's icon for the verdict."""
        return {"PASSED": "✅", "WARNING": "⚠️", "FAILED": "❌"}[self.value]

    @property
    def exit_code(self) -> int:
        """The gate's exit code: 1 only for FAILED."""
        return 1 if self is Verdict.FAILED else 0


@dataclass(frozen=True, slots=True)
class Comparison:
    """One SLO's median compared with a reference run's median.

    Attributes:
        reference: ``baseline``, ``previous`` or ``session``.
        reference_run_id: The reference run's file name, if known.
        reference_commit: The reference run's commit.
        regression: The rule's verdict on the point estimate.
        estimate: The change with its 95 % interval and significance, or
            None when there were no samples to judge noise from.
        adjusted: True when the change is measured against the reference
            workload (machine speed cancelled); the change then differs
            from the ratio of the raw medians.
        reference_runs: Runs pooled into the reference level.
        busy: The current run was measured on a busy machine: the change is
            not judged (never significant).
    """

    reference: str
    reference_run_id: str | None
    reference_commit: str
    regression: RegressionCheck
    estimate: ChangeEstimate | None
    adjusted: bool = False
    reference_runs: int = 1
    busy: bool = False

    @property
    def change(self) -> float:
        """Relative change (a fraction)."""
        return self.regression.change

    @property
    def severity(self) -> Severity:
        """The rule's severity for the point estimate."""
        return self.regression.severity

    @property
    def significant(self) -> bool:
        """True when the change's interval excludes zero (True without an estimate).

        Never True for a run measured on a busy machine.
        """
        if self.busy:
            return False
        return self.estimate.significant if self.estimate else True

    @property
    def within_noise(self) -> bool:
        """A change past a threshold that is not significant."""
        return self.severity is not Severity.STABLE and not self.significant

    @property
    def effective_severity(self) -> Severity:
        """The severity that counts: STABLE when the change is within noise."""
        return Severity.STABLE if self.within_noise else self.severity

    @property
    def label(self) -> str:
        """``+6.1% warning``, ``+12.0% within noise``, ``-1.0% stable``."""
        if self.busy and self.severity is not Severity.STABLE:
            kind = "machine busy"
        else:
            kind = "within noise" if self.within_noise else self.severity.value
        return f"{format_change(self.change)} {kind}"

    @property
    def interval(self) -> str:
        """The 95 % interval as text, or an empty string."""
        if not self.estimate:
            return ""
        return f"[{format_change(self.estimate.ci_low)}, {format_change(self.estimate.ci_high)}]"


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One run's median of one SLO, for trend lines."""

    run_id: str
    ts_ms: int
    commit: str
    median: float


@dataclass(frozen=True, slots=True)
class Drift:
    """A significant robust drift over the trend window."""

    estimate: DriftEstimate
    days_to_violation: float | None

    @property
    def message(self) -> str:
        """``drifting +2.1% over 14 days``, with the time to breach if any."""
        days = self.estimate.span_days
        span = f"{days:.0f} days" if days >= 2 else f"{days * 24:.0f} hours"
        text = f"drifting {format_change(self.estimate.total)} over {span}"
        if self.days_to_violation is not None:
            text += f"; violation in ~{self.days_to_violation:.0f} days at this rate"
        return text


@dataclass(frozen=True, slots=True)
class Step:
    """A step change in an SLO's history: where it happened."""

    run_id: str
    commit: str
    ts_ms: int
    change: float

    @property
    def verb(self) -> str:
        """``regressed`` for a slowdown, ``improved`` for a speed-up."""
        return "regressed" if self.change > 0 else "improved"

    @property
    def message(self) -> str:
        """``regressed +7.0% at a1b2c3d`` or ``improved -9.0% at …``."""
        verb = self.verb
        return f"{verb} {format_change(self.change)} at {short_commit(self.commit)}"


@dataclass(frozen=True, slots=True)
class SLOResult:
    """Everything known about one SLO in the evaluated run.

    Attributes:
        name: The SLO's name.
        config: Its config, or None when measured but not configured
            ("no budget").
        description: The configured description (or empty).
        stats: Summary of this run's samples, or None when the SLO has no
            data in this run.
        budget: The budget check, or None without budget or data.
        vs_baseline: Comparison with the baseline, if the baseline has it.
        vs_previous: Comparison with the previous run that measured it.
        vs_session: Comparison with the session's reference run (TUI).
        noise: Run-to-run relative noise from recent runs, if known.
        inconclusive: True when the noise is wider than the tolerance.
        violation_streak: Consecutive runs (ending here) in VIOLATION.
        regression_streak: Consecutive runs (ending here) slower than the
            baseline by more than the tolerance.
        confirm_runs: Runs needed to confirm.
        trend: This SLO's medians over the trend window, oldest first.
        drift: A significant drift over the window, if any.
        step: The most pronounced step change in the window, if any.
        confirmation: The pooled change of the last ``confirm_runs`` runs
            against the baseline, once the streak is long enough.
        machine_load: How much slower the reference workload ran in this
            run than at the machine's quiet level (0.34 is 34 % slower), or
            None without a reference series.
    """

    name: str
    config: SLOConfig | None
    description: str
    stats: SampleStats | None
    budget: BudgetCheck | None
    vs_baseline: Comparison | None
    vs_previous: Comparison | None
    vs_session: Comparison | None
    noise: float | None
    inconclusive: bool
    violation_streak: int
    regression_streak: int
    confirm_runs: int
    trend: tuple[TrendPoint, ...]
    drift: Drift | None
    step: Step | None
    confirmation: ChangeEstimate | None = None
    machine_load: float | None = None
    measured_run_id: str | None = None
    measured_commit: str | None = None
    stale: bool = False

    @property
    def busy(self) -> bool:
        """This run was measured on a busy machine (its reference ran slow)."""
        return self.machine_load is not None and self.machine_load > BUSY_SLOWDOWN

    @property
    def value_ms(self) -> float | None:
        """This run's median, or None without data."""
        return self.stats.median if self.stats else None

    @property
    def status(self) -> BudgetStatus | None:
        """The budget status, or None (no budget or no data)."""
        return self.budget.status if self.budget else None

    @property
    def has_budget(self) -> bool:
        """True when the SLO is configured."""
        return self.config is not None

    @property
    def violation(self) -> bool:
        """A budget VIOLATION in this run, confirmed or not."""
        return self.status is BudgetStatus.VIOLATION

    @property
    def confirmed_violation(self) -> bool:
        """A VIOLATION seen in enough consecutive runs to block."""
        return self.violation and self.violation_streak >= self.confirm_runs

    @property
    def regression(self) -> bool:
        """A significant REGRESSION against the baseline in this run, or a confirmed one."""
        cmp = self.vs_baseline
        current = cmp is not None and cmp.effective_severity is Severity.REGRESSION
        return current or self.confirmed_regression

    @property
    def confirmed_regression(self) -> bool:
        """``confirm_runs`` consecutive slow runs whose pooled change is a significant regression."""
        pooled = self.confirmation
        if pooled is None or self.regression_streak < self.confirm_runs:
            return False
        tolerance = self.config.tolerance if self.config else DEFAULT_TOLERANCE
        return pooled.significant and severity_for_change(pooled.change, tolerance) is Severity.REGRESSION

    @property
    def needs_confirmation(self) -> bool:
        """An unconfirmed problem that more runs could confirm or clear.

        A violation not yet seen in enough runs, a slowdown past the
        tolerance whose interval reaches the regression threshold (a +8 %
        change with interval [+3 %, +13 %] may be a regression), or a run
        measured on a busy machine.
        """
        if self.violation and not self.confirmed_violation:
            return True
        cmp = self.vs_baseline
        if cmp is None or self.confirmed_regression:
            return False
        if cmp.busy:
            # A busy machine hides the truth either way: only a clean run can tell.
            return True
        tolerance = self.config.tolerance if self.config else DEFAULT_TOLERANCE
        if cmp.change <= tolerance:
            return False
        # Not yet significant alone is fine: the pooled runs decide.
        return cmp.estimate is None or cmp.estimate.ci_high >= 2.0 * tolerance

    @property
    def blocking(self) -> bool:
        """True when this SLO fails the gate."""
        return self.confirmed_violation or self.confirmed_regression

    @property
    def warning(self) -> bool:
        """True when this SLO warrants a warning (but does not block)."""
        if self.blocking:
            return False
        if self.config is not None and self.stats is None:
            return True
        if self.status in (BudgetStatus.DRIFT, BudgetStatus.VIOLATION):
            return True
        cmp = self.vs_baseline
        return cmp is not None and cmp.effective_severity in (Severity.WARNING, Severity.REGRESSION)

    @property
    def rank(self) -> int:
        """Badness for sorting: blocking > warning > no data > pass."""
        if self.blocking:
            return 4
        if self.violation:
            return 3
        if self.warning:
            return 2
        if self.stats is None or self.config is None:
            return 1
        return 0

    @property
    def state_label(self) -> str:
        """A short status word: PASS, DRIFT, VIOLATION, NO BUDGET or NO DATA."""
        if self.stats is None:
            return "NO DATA"
        if self.budget is None:
            return "NO BUDGET"
        return self.budget.status.value

    @property
    def icon(self) -> str:
        """The status icon (❔ without budget or data)."""
        return self.budget.status.icon if self.budget else "❔"

    @property
    def confirmation_label(self) -> str:
        """``confirmed (3/3 runs)`` or ``unconfirmed (1/3 runs)``; empty if n/a."""
        if self.violation:
            streak = self.violation_streak
        elif self.regression:
            streak = self.regression_streak
        else:
            return ""
        word = "confirmed" if streak >= self.confirm_runs else "unconfirmed"
        return f"{word} ({min(streak, self.confirm_runs)}/{self.confirm_runs} runs)"

    def messages(self) -> list[str]:
        """Human lines explaining this SLO's state, most important first."""
        lines: list[str] = []
        if self.stats is None:
            lines.append("no data in this run")
            return lines
        if self.stale:
            where = short_commit(self.measured_commit or "unknown")
            lines.append(f"not measured in this run: last measured at {where} ({self.measured_run_id})")
        if self.budget is None:
            lines.append(f"no budget: measured {format_ms(self.stats.median)}ms, not configured")
        elif self.budget.status is not BudgetStatus.PASS or self.budget.under_band:
            text = self.budget.message
            if self.violation:
                text += f" — {self.confirmation_label}"
            lines.append(text)
        cmp = self.vs_baseline
        if cmp is not None and cmp.severity is not Severity.STABLE:
            text = f"{cmp.label} vs baseline {short_commit(cmp.reference_commit)}"
            if self.regression:
                text += f" — {self.confirmation_label}"
            lines.append(text)
        if self.step is not None:
            lines.append(self.step.message)
        if self.drift is not None:
            lines.append(self.drift.message)
        if self.busy and self.machine_load is not None:
            lines.append(BUSY_HINT.format(load=format_change(self.machine_load)))
        elif self.inconclusive:
            lines.append(INCONCLUSIVE_HINT)
        return lines


@dataclass(frozen=True, slots=True)
class RunInfo:
    """The evaluated run's identity."""

    run_id: str
    ts_ms: int
    commit: str
    branch: str
    dirty: bool
    source: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The evaluation of one run against budgets, baseline and history.

    Attributes:
        run: The evaluated run, or None when there are no runs.
        run_count: Runs in the table.
        slos: One result per SLO: configured ones in config order, then
            measured-but-unconfigured ones by name.
        baseline: The baseline used, if any.
        errors: Files that could not be used: ``(path, reason)``.
        confirm_runs: Runs needed to confirm a violation or regression.
        trend_days: The trend window in days.
    """

    run: RunInfo | None
    run_count: int
    slos: tuple[SLOResult, ...]
    baseline: Baseline | None
    errors: tuple[tuple[str, str], ...] = ()
    confirm_runs: int = 3
    trend_days: int = 30
    notes: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> Verdict:
        """FAILED if any SLO blocks, WARNING if any warns, else PASSED."""
        if any(r.blocking for r in self.slos):
            return Verdict.FAILED
        if any(r.warning for r in self.slos):
            return Verdict.WARNING
        return Verdict.PASSED

    @property
    def budgeted(self) -> list[SLOResult]:
        """SLOs with a budget and data in this run."""
        return [r for r in self.slos if r.budget is not None]

    @property
    def passing(self) -> int:
        """Budgets in PASS."""
        return sum(1 for r in self.budgeted if r.status is BudgetStatus.PASS)

    @property
    def blocking(self) -> list[SLOResult]:
        """SLOs that fail the gate."""
        return [r for r in self.slos if r.blocking]

    @property
    def warnings(self) -> list[SLOResult]:
        """SLOs that warn."""
        return [r for r in self.slos if r.warning]

    def result(self, name: str) -> SLOResult | None:
        """The result for one SLO by name."""
        for r in self.slos:
            if r.name == name:
                return r
        return None

    def luascript_summary(self) -> dict[str, int]:
        """LUASCRIPT's ``summary`` block."""
        return {
            "totalViolations": len(self.blocking),
            "totalWarnings": len(self.warnings),
            "passingBudgets": self.passing,
            "failingBudgets": len(self.budgeted) - self.passing,
        }


_ROW = "_row"


def _with_samples(frame: pl.DataFrame, samples: pl.Series) -> pl.DataFrame:
    """A few rows of a series with their samples, fetched by row number.

    The rows are gathered from a zero-copy slice spanning them: a gather on a
    table of several chunks (a cache load, appended runs) would first merge
    the whole samples column, ~60 MB at 10,000 runs, at every evaluation.
    """
    rows = frame.get_column(_ROW)
    if rows.len() == 0:
        return frame.with_columns(samples.clear())
    low = int(rows.min())  # type: ignore[arg-type]
    high = int(rows.max())  # type: ignore[arg-type]
    return frame.with_columns(samples.slice(low, high - low + 1).gather(rows - low))


def _series(table: pl.DataFrame) -> dict[str, pl.DataFrame]:
    return {str(key[0]): frame for key, frame in table.group_by("slo", maintain_order=True)}


_SE_CACHE: dict[tuple[str, str, int, float], float] = {}


def _median_se(run_id: str, slo: str, values: NDArray[np.float64], logged: bool = False) -> float:
    """Bootstrap SE of a run's log level, memoised per run (runs are immutable)."""
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
class _Run:
    """One run of one SLO as the comparisons see it."""

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
        """Within-run bootstrap SE of the level."""
        if adjusted:
            assert self.ratios is not None
            return _median_se(self.run_id, slo, self.ratios, logged=True)
        if self.samples.size < 3:
            return 0.0
        return _median_se(self.run_id, slo, self.samples)


def _make_run(
    run_id: str, commit: str, median: float, samples: Sequence[float], reference: Sequence[float] | None
) -> _Run:
    values = np.asarray(samples, dtype=float)
    if reference is None:
        return _Run(run_id, commit, median, values, None)
    ratios = quiet_log_ratios(values, reference)
    speed = reference_level(reference) if ratios is not None else None
    return _Run(run_id, commit, median, values, ratios, speed)


def _quiet_level(runs: Iterable[_Run]) -> float | None:
    """The machine's quiet speed: 10th percentile of the runs' reference levels."""
    speeds = [r.speed for r in runs if r.speed is not None]
    if not speeds:
        return None
    return float(np.quantile(speeds, 0.1))


def _is_busy(run: _Run, quiet: float | None) -> bool:
    return run.speed is not None and quiet is not None and run.speed - quiet > math.log1p(BUSY_SLOWDOWN)


def _noise(runs: Sequence[_Run], adjusted: bool, history_runs: int) -> float | None:
    """Run-to-run noise (log scale) of the last ``history_runs`` runs that have the level."""
    usable = [r for r in runs if not adjusted or r.ratios is not None][-history_runs:]
    return run_to_run_noise(np.exp([r.level(adjusted) for r in usable]))


def _compare(
    reference: str,
    ref_runs: Sequence[_Run],
    current: Sequence[_Run],
    slo: str,
    tolerance: float,
    history: Sequence[_Run],
    history_runs: int,
    ref_commit: str,
    ref_run_id: str | None,
    busy: bool = False,
    raw: bool = False,
) -> tuple[Comparison, float | None]:
    """Compare pooled current runs with pooled reference runs.

    The comparison is speed-adjusted when every run involved has its
    reference series; otherwise it uses raw medians.

    Returns:
        The comparison and the run-to-run noise used.
    """
    adjusted = not raw and all(r.ratios is not None for r in (*ref_runs, *current))
    noise = _noise(history, adjusted, history_runs)
    if noise is None and adjusted:
        # Too few clean runs to measure it: assume the measured typical spread
        # rather than none at all (which would make every change significant).
        noise = ADJUSTED_PRIOR_NOISE
    ref_median = float(np.median([r.median for r in ref_runs]))
    cur_median = float(np.median([r.median for r in current]))
    estimate: ChangeEstimate | None = None
    enough = all(r.samples.size >= 3 or adjusted for r in (*ref_runs, *current))
    if enough or noise is not None:
        estimate = pooled_change(
            [r.level(adjusted) for r in ref_runs],
            [r.se(slo, adjusted) if enough else 0.0 for r in ref_runs],
            [r.level(adjusted) for r in current],
            [r.se(slo, adjusted) if enough else 0.0 for r in current],
            noise,
        )
    if estimate is not None and adjusted:
        change = estimate.change
    else:
        change = cur_median / ref_median - 1.0
    regression = RegressionCheck(
        baseline_ms=ref_median,
        current_ms=cur_median,
        change=change,
        severity=severity_for_change(change, tolerance),
    )
    comparison = Comparison(
        reference,
        ref_run_id,
        ref_commit,
        regression,
        estimate,
        adjusted=adjusted,
        reference_runs=len(ref_runs),
        busy=busy,
    )
    return comparison, noise


def evaluate(
    table: pl.DataFrame,
    config: Config,
    baseline: Baseline | None = None,
    run_id: str | None = None,
    session_run_id: str | None = None,
    errors: Mapping[Path, str] | Iterable[tuple[Path, str]] = (),
    confirm_runs: int | None = None,
) -> Evaluation:
    """Evaluate one run (default: the latest by timestamp).

    Args:
        table: The run table from :mod:`perfslo_tui.runs.store`.
        config: The SLOs and settings.
        baseline: The baseline to compare with, if any.
        run_id: The run to evaluate (a file name); default the latest.
        session_run_id: A reference run for "since I opened the monitor".
        errors: Load errors to carry along for the views.
        confirm_runs: Override of ``config.confirm_runs``.

    Returns:
        The evaluation.

    Raises:
        KeyError: When ``run_id`` is not in the table.
    """
    error_items = errors.items() if isinstance(errors, Mapping) else errors
    error_list = tuple(sorted((str(p), reason) for p, reason in error_items))
    confirm = confirm_runs if confirm_runs is not None else config.confirm_runs
    if table.height == 0:
        empty_results = tuple(_no_data_result(slo, confirm) for slo in config.slos.values())
        return Evaluation(None, 0, empty_results, baseline, error_list, confirm, config.trend_days)

    runs = (
        table.select("run_id", "ts_ms", "commit", "branch", "dirty", "source")
        .unique("run_id", keep="first")
        .sort(["ts_ms", "run_id"])
    )
    if run_id is None:
        row = runs.row(runs.height - 1, named=True)
    else:
        match = runs.filter(pl.col("run_id") == run_id)
        if match.height == 0:
            raise KeyError(run_id)
        row = match.row(0, named=True)
    info = RunInfo(
        run_id=row["run_id"],
        ts_ms=int(row["ts_ms"]),
        commit=row["commit"],
        branch=row["branch"],
        dirty=bool(row["dirty"]),
        source=row["source"],
    )
    # Only history up to the evaluated run counts, so evaluating an old run
    # gives the verdict it had then.
    # The per-SLO series leave the samples behind (copying every run's
    # samples would make each evaluation O(history)); the few runs whose
    # samples are used fetch them by row number (_with_samples).
    samples = table.get_column("samples")
    upto = (
        table.drop("samples")
        .with_row_index(_ROW)
        .filter(
            (pl.col("ts_ms") < info.ts_ms)
            | ((pl.col("ts_ms") == info.ts_ms) & (pl.col("run_id") <= info.run_id))
        )
    )
    all_series = _series(upto)
    # ``<slo>@ref`` series are the reference workload's timings, not SLOs.
    series = {name: f for name, f in all_series.items() if not is_reference_name(name)}
    references = {
        name[: -len(REFERENCE_SUFFIX)]: f for name, f in all_series.items() if is_reference_name(name)
    }
    session_rows: dict[str, dict[str, object]] = {}
    if session_run_id is not None and session_run_id != info.run_id:
        for srow in table.filter(pl.col("run_id") == session_run_id).iter_rows(named=True):
            session_rows[srow["slo"]] = srow

    names = list(config.slos)
    # A configured SLO that this run did not measure (a one-SLO re-run, a
    # benchmark that crashed or was dropped) keeps its latest measurement up
    # to this run, marked stale: dropping a benchmark never hides its
    # violation, and a partial run does not turn every other SLO into "no data".
    current = {
        name: frame
        for name, frame in series.items()
        if name in config.slos or frame["run_id"][-1] == info.run_id
    }
    names += sorted(name for name in current if name not in config.slos)
    window_start = info.ts_ms - config.trend_days * DAY_MS
    results = [
        _evaluate_slo(
            name,
            config.slos.get(name),
            current.get(name),
            references.get(name),
            baseline,
            session_rows.get(name),
            session_rows.get(name + REFERENCE_SUFFIX),
            info,
            window_start,
            config.history_runs,
            confirm,
            samples,
        )
        for name in names
    ]
    return Evaluation(
        run=info,
        run_count=runs.height,
        slos=tuple(results),
        baseline=baseline,
        errors=error_list,
        confirm_runs=confirm,
        trend_days=config.trend_days,
    )


def _no_data_result(slo: SLOConfig, confirm: int) -> SLOResult:
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
    )


def _evaluate_slo(
    name: str,
    slo: SLOConfig | None,
    frame: pl.DataFrame | None,
    ref_frame: pl.DataFrame | None,
    baseline: Baseline | None,
    session_row: Mapping[str, object] | None,
    session_ref_row: Mapping[str, object] | None,
    info: RunInfo,
    window_start: int,
    history_runs: int,
    confirm: int,
    samples: pl.Series,
) -> SLOResult:
    if frame is None or frame.height == 0:
        assert slo is not None
        return _no_data_result(slo, confirm)
    tolerance = slo.tolerance if slo else DEFAULT_TOLERANCE
    last = frame.row(frame.height - 1, named=True)
    stats = SampleStats(
        count=int(last["count"]),
        min=float(last["min"]),
        median=float(last["median"]),
        mean=float(last["mean"]),
        p95=float(last["p95"]),
        max=float(last["max"]),
        stdev=float(last["stdev"]),
    )
    medians = frame["median"].to_numpy()
    budget = budget_status(stats.median, slo.budget_ms, slo.tolerance) if slo else None

    # Only recent runs matter for noise, streaks and steps; building every
    # run of a long history would cost time for nothing.
    recent = _with_samples(frame.tail(max(history_runs + confirm, STEP_WINDOW)), samples)
    ref_by_run: dict[str, list[float]] = {}
    if ref_frame is not None:
        # Reference samples of the runs that can be used: the recent ones and
        # the baseline commit's latest (the pool), never the whole history.
        wanted = pl.col("run_id").is_in(recent["run_id"].implode())
        if baseline is not None:
            # A superset of _baseline_pool's pick: it skips at most confirm + 1 of these.
            same = frame.filter((pl.col("commit") == baseline.commit) & ~pl.col("dirty")).tail(
                history_runs + confirm + 1
            )
            wanted = wanted | pl.col("run_id").is_in(same["run_id"].implode())
        refs = _with_samples(ref_frame.filter(wanted), samples)
        ref_by_run = dict(zip(refs["run_id"].to_list(), refs["samples"].to_list(), strict=True))
    runs = [
        _make_run(r["run_id"], r["commit"], float(r["median"]), r["samples"], ref_by_run.get(r["run_id"]))
        for r in recent.select("run_id", "commit", "median", "samples").iter_rows(named=True)
    ]
    this = runs[-1]
    quiet = _quiet_level(runs)
    machine_load = math.expm1(this.speed - quiet) if this.speed is not None and quiet is not None else None
    this_busy = _is_busy(this, quiet)
    # Runs measured on a busy machine say little about the code: they are
    # kept out of the noise, the baseline pool and the confirmation streak.
    clean = [r for r in runs if not _is_busy(r, quiet)] or [this]
    # The noise comes from the history before the judged commit: its own
    # runs may carry the very step being judged, which is not noise.
    before = [r for r in clean if r.commit != this.commit] or clean
    # Which level to compare: the one whose run-to-run spread over the clean
    # history is smaller. Both are unbiased for a real change; which one is
    # steadier depends on the machine's load (docs/verdicts.md).
    raw_level = False
    if this.ratios is not None and len(before) >= LEVEL_CHOICE_RUNS:
        noise_adjusted = _noise(before, True, history_runs)
        noise_raw = _noise(before, False, history_runs)
        raw_level = noise_adjusted is not None and noise_raw is not None and noise_raw < noise_adjusted
    noise = _noise(before, this.ratios is not None and not raw_level, history_runs)

    vs_baseline: Comparison | None = None
    confirmation: ChangeEstimate | None = None
    regression_streak = 0
    if baseline is not None and name in baseline.medians:
        # The runs being judged (the current commit's latest) never serve as
        # their own reference, even when the baseline is at the same commit.
        judged = [r for r in runs[-confirm:] if r.commit == this.commit]
        pool = _baseline_pool(name, baseline, frame, samples, ref_by_run, judged, history_runs)
        quiet_pool = [r for r in pool if not _is_busy(r, quiet)] or pool
        vs_baseline, _ = _compare(
            "baseline",
            quiet_pool,
            [this],
            name,
            tolerance,
            before,
            history_runs,
            baseline.commit,
            baseline.source_run,
            busy=this_busy,
            raw=raw_level,
        )
        adjusted = vs_baseline.adjusted
        ref_level = float(np.mean([r.level(adjusted) for r in quiet_pool]))
        # The streak: consecutive clean runs (ending here) slower than the
        # baseline by more than the tolerance; busy runs are skipped.
        streak_runs: list[_Run] = []
        for run in reversed(runs):
            if _is_busy(run, quiet):
                continue
            # The baseline commit's own runs are the reference, never the regression.
            if adjusted and run.ratios is None or run.commit == baseline.commit != this.commit:
                break
            if run.level(adjusted) - ref_level > math.log1p(tolerance):
                streak_runs.append(run)
            else:
                break
        regression_streak = len(streak_runs)
        if regression_streak >= confirm and not this_busy:
            group = streak_runs[:confirm][::-1]
            pooled, _ = _compare(
                "baseline",
                quiet_pool,
                group,
                name,
                tolerance,
                before,
                history_runs,
                baseline.commit,
                None,
                raw=raw_level,
            )
            confirmation = pooled.estimate or ChangeEstimate(
                pooled.change, pooled.change, pooled.change, 0.0, pooled.change != 0
            )
    vs_previous: Comparison | None = None
    if len(runs) >= 2:
        prev = runs[-2]
        vs_previous, _ = _compare(
            "previous",
            [prev],
            [this],
            name,
            tolerance,
            before,
            history_runs,
            prev.commit,
            prev.run_id,
            busy=this_busy or _is_busy(prev, quiet),
            raw=raw_level,
        )
    vs_session: Comparison | None = None
    if session_row is not None:
        session_ref = session_ref_row["samples"] if session_ref_row is not None else None
        session_run = _make_run(
            str(session_row["run_id"]),
            str(session_row["commit"]),
            float(session_row["median"]),  # type: ignore[arg-type]
            session_row["samples"],  # type: ignore[arg-type]
            session_ref,  # type: ignore[arg-type]
        )
        vs_session, _ = _compare(
            "session",
            [session_run],
            [this],
            name,
            tolerance,
            runs,
            history_runs,
            session_run.commit,
            session_run.run_id,
            busy=this_busy,
            raw=raw_level,
        )

    violation_streak = 0
    if slo is not None:
        limit = violation_threshold(slo.budget_ms, slo.tolerance)
        # Vectorised: a long streak must not cost a Python loop over history.
        within = np.flatnonzero(~(medians > limit * (1 + 1e-9)))
        violation_streak = int(medians.size - (within[-1] + 1 if within.size else 0))

    inconclusive = False
    probe = vs_baseline or vs_previous
    if probe is not None and probe.estimate is not None:
        inconclusive = Z95 * probe.estimate.noise > tolerance
    inconclusive = inconclusive or this_busy

    window = frame.select("run_id", "ts_ms", "commit", "median").filter(pl.col("ts_ms") >= window_start)
    if window.height > TREND_MAX_POINTS:
        # A long window is thinned evenly, keeping its span (so drift is still
        # over the whole window) and the last STEP_WINDOW runs whole (the step
        # finder's input): Theil–Sen is quadratic in points, and a plot has
        # fewer columns than this anyway.
        older = window.height - STEP_WINDOW
        picks = np.unique(np.linspace(0, older - 1, TREND_MAX_POINTS - STEP_WINDOW).round().astype(np.int64))
        window = window[np.concatenate([picks, np.arange(older, window.height)])]
    trend = tuple(
        TrendPoint(r["run_id"], int(r["ts_ms"]), r["commit"], float(r["median"]))
        for r in window.select("run_id", "ts_ms", "commit", "median").iter_rows(named=True)
    )
    drift_result: Drift | None = None
    step_result: Step | None = None
    if len(trend) >= 4:
        days = np.array([p.ts_ms for p in trend], dtype=float) / DAY_MS
        values = np.array([p.median for p in trend], dtype=float)
        estimate = drift(days, values)
        if estimate is not None and estimate.significant and abs(estimate.total) >= tolerance / 2:
            to_breach = None
            if slo is not None:
                to_breach = estimate.days_until(
                    stats.median, violation_threshold(slo.budget_ms, slo.tolerance)
                )
            drift_result = Drift(estimate, to_breach)
        # The culprit search looks at the most recent runs only: it is
        # quadratic, and an old step is already the baseline's business.
        offset = max(0, len(values) - STEP_WINDOW)
        levels = _step_levels(trend[offset:], runs)
        step = find_step(levels if levels is not None else values[offset:])
        if step is not None and abs(step.change) >= tolerance:
            point = trend[offset + step.index]
            step_result = Step(point.run_id, point.commit, point.ts_ms, step.change)

    return SLOResult(
        name=name,
        config=slo,
        description=slo.description if slo else "",
        stats=stats,
        budget=budget,
        vs_baseline=vs_baseline,
        vs_previous=vs_previous,
        vs_session=vs_session,
        noise=noise,
        inconclusive=inconclusive,
        violation_streak=violation_streak,
        regression_streak=regression_streak,
        confirm_runs=confirm,
        trend=trend,
        drift=drift_result,
        step=step_result,
        confirmation=confirmation,
        machine_load=machine_load,
        measured_run_id=str(last["run_id"]),
        measured_commit=str(last["commit"]),
        stale=str(last["run_id"]) != info.run_id,
    )


def _baseline_pool(
    name: str,
    baseline: Baseline,
    frame: pl.DataFrame,
    samples: pl.Series,
    ref_by_run: Mapping[str, Sequence[float]],
    current: Sequence[_Run],
    history_runs: int,
) -> list[_Run]:
    """The baseline run plus other clean runs of the baseline's commit.

    One baseline run carries its own run-to-run deviation into every later
    comparison; pooling the commit's other runs shrinks it. Runs being judged
    (the confirmation window) and dirty or commit-less runs are left out.
    """
    base_ref = baseline.samples.get(name + REFERENCE_SUFFIX)
    base = _make_run(
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
        ).tail(max(history_runs - 1, 0))
        same = _with_samples(same, samples)
        pool += [
            _make_run(r["run_id"], r["commit"], float(r["median"]), r["samples"], ref_by_run.get(r["run_id"]))
            for r in same.select("run_id", "commit", "median", "samples").iter_rows(named=True)
        ]
    if base.ratios is not None and current and current[-1].ratios is not None:
        pool = [r for r in pool if r.ratios is not None]
    return pool


def _step_levels(points: Sequence[TrendPoint], runs: Sequence[_Run]) -> NDArray[np.float64] | None:
    """Speed-adjusted levels (as ratios) for the step finder, if every point has one."""
    by_id = {r.run_id: r for r in runs}
    found = [by_id.get(p.run_id) for p in points]
    if not found or any(r is None or r.ratios is None for r in found):
        return None
    return np.exp([r.level(True) for r in found if r is not None])


def write_time_summary(
    samples: Mapping[str, Sequence[float]], config: Config
) -> tuple[dict[str, int], list[dict[str, str]], list[dict[str, str]]]:
    """LUASCRIPT's summary, violations and warnings for a run about to be written.

    Only the budget rule applies here (no history); views re-evaluate.

    Returns:
        ``(summary, violations, warnings)``.
    """
    violations: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []
    passing = failing = 0
    for name, values in samples.items():
        slo = config.slos.get(name)
        if slo is None or not len(values) or is_reference_name(name):
            continue
        check = budget_status(float(np.median(values)), slo.budget_ms, slo.tolerance)
        if check.status is BudgetStatus.PASS:
            passing += 1
            continue
        failing += 1
        entry = {"slo": name, "message": check.message}
        (violations if check.status is BudgetStatus.VIOLATION else warnings).append(entry)
    summary = {
        "totalViolations": len(violations),
        "totalWarnings": len(warnings),
        "passingBudgets": passing,
        "failingBudgets": failing,
    }
    return summary, violations, warnings


def finite_or_none(value: float | None) -> float | None:
    """The value, or None when missing or not finite (for JSON output)."""
    if value is None or not math.isfinite(value):
        return None
    return value

"""The result model: what the evaluation found, and the gate's policy over it.

:class:`Evaluation` holds one :class:`SLOResult` per SLO; every view reads
these and nothing else. The policy lives in their properties: an SLO blocks
the gate (FAILED, exit 1) only for a *confirmed* problem, a budget
VIOLATION seen in ``confirm_runs`` consecutive runs or a confirmed
REGRESSION against the baseline; it warns (WARNING, exit 0) for DRIFT,
unconfirmed problems, significant warnings and configured SLOs with no data;
a change past a threshold that is not significant is "within noise".
When the gate confirmed a suspected regression by an interleaved compare
(``perfslo check --confirm``), the compare's decision is attached to the
SLO's result (``ab_confirmation``) and decides instead of the run streak.
How the numbers are reached is :mod:`perfslo_tui.verdict.engine`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from perfslo_tui.config import Config, MetricBudget, SLOConfig
from perfslo_tui.runs.files import Baseline
from perfslo_tui.runs.history import RunInfo
from perfslo_tui.runs.steady import SteadySummary
from perfslo_tui.runs.summary import SampleStats
from perfslo_tui.text import format_change, format_value, short_commit
from perfslo_tui.verdict.ab import ABConfirmation
from perfslo_tui.verdict.goals import REBASELINE_COMMAND, BaselineAge, TargetProgress, target_progress
from perfslo_tui.verdict.rules import (
    DEFAULT_TOLERANCE,
    BudgetCheck,
    BudgetStatus,
    RegressionCheck,
    Severity,
    severity_for_change,
)
from perfslo_tui.verdict.stats import BUSY_SLOWDOWN, ChangeEstimate, DriftEstimate

METRIC_LABELS = {"time": "time", "instructions": "instructions", "peak_memory": "peak memory"}
BUSY_HINT = "not judged: the machine was busy while measuring (reference workload {load} slower); re-run"
FASTER_HINT = (
    "the reference workload ran {load} against the runs compared with: they were measured on a"
    " busier or slower machine, so the adjusted and raw changes disagree; re-establish the baseline"
    " (`perfslo baseline --establish`) from runs of the machine as it is now"
)
# Exit code of a gate that could not judge: not a pass (0), not a failure (1),
# not bad input (2); CI shows it red, and a pipeline can tell it apart.
UNJUDGED_EXIT = 3


class Verdict(StrEnum):
    """The overall verdict of a run, as the gate reports it.

    UNJUDGED: some SLO against the baseline could not be judged (the machine
    was busy, the run had no steady state, or it was measured differently
    from the baseline) and nothing blocks: the gate cannot say it passed.
    """

    PASSED = "PASSED"
    WARNING = "WARNING"
    UNJUDGED = "UNJUDGED"
    FAILED = "FAILED"

    @property
    def icon(self) -> str:
        """LUASCRIPT's icon for the verdict (❔ for one that could not judge)."""
        return {"PASSED": "✅", "WARNING": "⚠️", "UNJUDGED": "❔", "FAILED": "❌"}[self.value]

    @property
    def exit_code(self) -> int:
        """The gate's exit code: 1 for FAILED, 3 when it could not judge, else 0."""
        if self is Verdict.FAILED:
            return 1
        return UNJUDGED_EXIT if self is Verdict.UNJUDGED else 0


@dataclass(frozen=True, slots=True)
class NoiseParts:
    """Where a comparison's uncertainty comes from (log scale), to say what would settle it.

    Attributes:
        run_noise: Run-to-run noise of one run's level.
        current_se: Within-run standard error of the judged run's level.
        reference_var: Variance of the (pooled) reference level.
        samples: Samples in the judged run's level.
    """

    run_noise: float
    current_se: float
    reference_var: float
    samples: int


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
        unjudged: Why else the change is not judged (``no steady state``,
            ``not comparable: CPU model … → …``), or empty.
        differs: When not comparable, what differs in short (``CPU model``).
        parts: Where the interval's width comes from, when known.
        tolerance: The SLO's tolerance the severity was judged with.
        unit: The unit of the medians.
    """

    reference: str
    reference_run_id: str | None
    reference_commit: str
    regression: RegressionCheck
    estimate: ChangeEstimate | None
    adjusted: bool = False
    reference_runs: int = 1
    busy: bool = False
    unjudged: str = ""
    differs: tuple[str, ...] = ()
    parts: NoiseParts | None = None
    tolerance: float = DEFAULT_TOLERANCE
    unit: str = "ms"

    @property
    def change(self) -> float:
        """Relative change (a fraction)."""
        return self.regression.change

    @property
    def severity(self) -> Severity:
        """The rule's severity for the point estimate."""
        return self.regression.severity

    @property
    def judged(self) -> bool:
        """False when the change says nothing: a busy machine, no steady state, not comparable."""
        return not (self.busy or self.unjudged)

    @property
    def not_comparable(self) -> bool:
        """The two sides were measured differently (see :mod:`perfslo_tui.verdict.comparable`)."""
        return self.unjudged.startswith("not comparable")

    @property
    def significant(self) -> bool:
        """True when the change's interval excludes zero (True without an estimate).

        Never True for a change that is not judged.
        """
        if not self.judged:
            return False
        return self.estimate.significant if self.estimate else True

    @property
    def raw_change(self) -> float:
        """The change of the raw medians, ``current / reference - 1``."""
        return self.regression.current_ms / self.regression.baseline_ms - 1.0

    @property
    def basis(self) -> str:
        """``machine-adjusted`` (against the reference workload) or ``raw`` (medians)."""
        return "machine-adjusted" if self.adjusted else "raw"

    @property
    def change_text(self) -> str:
        """The change with its basis: ``+1.0% adj.`` (machine-adjusted) or ``+1.0%`` (raw medians)."""
        return format_change(self.change) + (" adj." if self.adjusted else "")

    @property
    def raw_disagrees(self) -> bool:
        """A machine-adjusted change whose raw medians tell another story (another severity)."""
        if not self.adjusted:
            return False
        return severity_for_change(self.raw_change, self.tolerance) is not self.severity

    @property
    def medians_text(self) -> str:
        """The raw medians the change is about: ``13.75ms → 23.76ms``."""
        reg = self.regression
        return f"{format_value(reg.baseline_ms, self.unit)} → {format_value(reg.current_ms, self.unit)}"

    @property
    def within_noise(self) -> bool:
        """A change past a threshold that is not significant."""
        return self.severity is not Severity.STABLE and not self.significant

    @property
    def agreed_severity(self) -> Severity:
        """The severity the machine-adjusted change and the raw medians both support.

        Each has its own way of failing: the raw medians when the machine's
        speed changed between the runs, the adjusted change when the work
        and the reference workload did not slow down alike (a short run
        under a passing load). A change is claimed only as far as both go:
        the one nearer to STABLE, and STABLE when they point opposite ways.
        Raw runs (no reference series) have only their own severity.
        """
        if not self.raw_disagrees:
            return self.severity
        raw = severity_for_change(self.raw_change, self.tolerance)
        if _direction(raw) * _direction(self.severity) <= 0:
            return Severity.STABLE  # one of them stable, or opposite ways
        return min(raw, self.severity, key=lambda s: abs(s.rank - Severity.STABLE.rank))

    @property
    def effective_severity(self) -> Severity:
        """The severity that counts: STABLE within noise, else what raw and adjusted both support."""
        return Severity.STABLE if self.within_noise else self.agreed_severity

    @property
    def label(self) -> str:
        """``+6.1% warning``, ``+12.0% adj. within noise``, ``+30.1% machine busy``, ``not comparable: …``.

        ``adj.`` marks a machine-adjusted change (it differs from the ratio of
        the raw medians; :attr:`explained` gives both).
        """
        if self.not_comparable:
            return f"not comparable ({', '.join(self.differs)})" if self.differs else self.unjudged
        if self.busy:
            kind = "machine busy"
        elif self.unjudged:
            kind = self.unjudged
        elif self.within_noise:
            kind = "within noise"
        elif self.agreed_severity is not self.severity:
            # The raw medians do not back the adjusted change: both are shown.
            return f"{self.change_text}, raw {format_change(self.raw_change)}: {self.agreed_severity.value}"
        else:
            kind = self.severity.value
        return f"{self.change_text} {kind}"

    @property
    def explained(self) -> str:
        """The label with the raw medians it came from.

        E.g. ``+1.0% adj. stable (machine-adjusted; raw medians 13.75 → 23.76 ms, +72.8%)``.
        """
        if self.not_comparable:
            return f"{self.unjudged} (medians {self.medians_text})"
        if self.adjusted:
            return (
                f"{self.label} (machine-adjusted; raw medians {self.medians_text}, "
                f"{format_change(self.raw_change)})"
            )
        return f"{self.label} (medians {self.medians_text})"

    @property
    def interval(self) -> str:
        """The 95 % interval as text, or an empty string."""
        if not self.estimate:
            return ""
        return f"[{format_change(self.estimate.ci_low)}, {format_change(self.estimate.ci_high)}]"


def _direction(severity: Severity) -> int:
    """-1 for faster, 0 for stable, 1 for slower."""
    return -1 if severity is Severity.IMPROVED else 0 if severity is Severity.STABLE else 1


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One run's median of one SLO, for trend lines."""

    run_id: str
    ts_ms: int
    commit: str
    median: float
    dirty: bool = False


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
        ab_confirmation: The interleaved compare against the baseline's
            commit that confirmed or cleared a suspected regression, when the
            gate ran one; it then decides the regression instead of the
            run streak.
        measured_run_id: The run the SLO's data comes from.
        measured_commit: Its commit.
        stale: The evaluated run did not measure this SLO (the data is its
            last measurement).
        steady: This run's steady state (what warm-up was left out of the
            value), or None without data.
        inconclusive: The comparison with the baseline cannot tell a
            regression from none, and the gate's own re-runs could not
            either; ``settle`` says what would.
        settle: The action that would settle an inconclusive comparison,
            computed from the measured noise.
        target_streak: Consecutive runs (ending here) at or under the
            metric's target (0 without a target).
        improvement: The pooled change of every clean run since the
            baseline, when each was faster (smaller) than the baseline by
            more than the tolerance, at least ``confirm_runs`` of them, and
            the pooled change is a significant improvement; else None.
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
    spec: MetricBudget | None = None
    also: tuple[SLOResult, ...] = ()
    target_streak: int = 0
    improvement: ChangeEstimate | None = None

    @property
    def target_progress(self) -> TargetProgress | None:
        """Progress toward the metric's target, or None without a target or data."""
        spec = self.spec
        if spec is None:
            return None
        value = self.value_ms
        return target_progress(
            spec.metric, spec.unit, spec.target, spec.budget, value, self.target_streak, self.confirm_runs
        )

    @property
    def metric(self) -> str:
        """What this result measures: ``time``, ``instructions`` or ``peak_memory``."""
        return self.spec.metric if self.spec is not None else "time"

    @property
    def unit(self) -> str:
        """The unit of the values: ``ms``, ``instructions`` or ``MB``."""
        return self.spec.unit if self.spec is not None else "ms"

    @property
    def tolerance(self) -> float:
        """The tolerance that applies to this metric."""
        return self.spec.tolerance if self.spec is not None else DEFAULT_TOLERANCE

    @property
    def display_name(self) -> str:
        """The SLO's name, with the metric when it is not time: ``parse · instructions``."""
        return self.name if self.metric == "time" else f"{self.name} · {METRIC_LABELS[self.metric]}"

    @property
    def metrics(self) -> tuple[SLOResult, ...]:
        """This result and the same SLO's other metrics, the default one first."""
        return (self, *self.also)

    def for_metric(self, metric: str) -> SLOResult | None:
        """The same SLO's result for ``metric``, if it measures it."""
        return next((r for r in self.metrics if r.metric == metric), None)

    ab_confirmation: ABConfirmation | None = None
    steady: SteadySummary | None = None
    settle: str = ""

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
        """A significant REGRESSION against the baseline in this run, or a confirmed one.

        After an interleaved compare: only when the compare did not clear it.
        """
        ab = self.ab_confirmation
        if ab is not None and (ab.cleared or ab.regressed):
            return ab.regressed and self.confirmed_regression
        cmp = self.vs_baseline
        current = cmp is not None and cmp.effective_severity is Severity.REGRESSION
        return current or self.confirmed_regression

    @property
    def confirmed_regression(self) -> bool:
        """``confirm_runs`` consecutive slow runs whose pooled change is a significant regression.

        After an interleaved compare: the compare showed HEAD slower than the
        baseline's commit, by more than the regression threshold (+2×tolerance).
        """
        tolerance = self.tolerance
        ab = self.ab_confirmation
        if ab is not None:
            return ab.regressed and severity_for_change(ab.decision.change, tolerance) is Severity.REGRESSION
        pooled = self.confirmation
        if pooled is None or self.regression_streak < self.confirm_runs:
            return False
        return pooled.significant and severity_for_change(pooled.change, tolerance) is Severity.REGRESSION

    @property
    def confirmed_slowdown(self) -> ChangeEstimate | None:
        """A confirmed slowdown below the regression threshold: the seed's "warning, investigate".

        ``confirm_runs`` consecutive runs slower than the baseline by more
        than the tolerance whose pooled change is significant but at most
        +2×tolerance (or an interleaved compare that showed such a
        slowdown). It warns and does not block; a slowdown past the
        threshold is a :attr:`confirmed_regression` instead. None otherwise.
        """
        if self.confirmed_regression:
            return None
        tolerance = self.tolerance
        ab = self.ab_confirmation
        if ab is not None:
            d = ab.decision
            if ab.regressed and severity_for_change(d.change, tolerance) is Severity.WARNING:
                return ChangeEstimate(d.change, d.ci_low, d.ci_high, 0.0, True)
            return None
        pooled = self.confirmation
        if pooled is None or self.regression_streak < self.confirm_runs or not pooled.significant:
            return None
        return pooled if severity_for_change(pooled.change, tolerance) is Severity.WARNING else None

    def slowdown_message(self, slowdown: ChangeEstimate) -> str:
        """The line for a confirmed slowdown below the regression threshold."""
        cmp = self.vs_baseline
        adj = " adj." if cmp is not None and cmp.adjusted else ""
        interval = f"[{format_change(slowdown.ci_low)}, {format_change(slowdown.ci_high)}]"
        threshold = format_change(2.0 * self.tolerance)
        return (
            f"slowdown {format_change(slowdown.change)}{adj} {interval} vs baseline,"
            f" {self.confirmation_label}: a warning (investigate); it blocks past {threshold}"
        )

    @property
    def unjudged(self) -> str:
        """Why this SLO's comparison with the baseline could not be judged (empty when it was).

        A confirmed problem is judged whatever the latest run was like, and so
        is one an interleaved compare decided (regressed, same or improved).
        """
        cmp = self.vs_baseline
        if cmp is None or self.blocking:
            return ""
        ab = self.ab_confirmation
        if ab is not None and (ab.regressed or ab.cleared):
            # The interleaved compare judged what this run could not: both sides
            # measured in the same window, so the busy machine hit them alike.
            return ""
        if cmp.busy:
            load = format_change(self.machine_load) if self.machine_load is not None else "much"
            return f"machine busy (reference workload {load} slower)"
        return cmp.unjudged

    @property
    def needs_confirmation(self) -> bool:
        """An unconfirmed problem that more runs could confirm or clear.

        A violation not yet seen in enough runs, a slowdown past the
        tolerance not yet confirmed (a +8 % change with interval [+3 %,
        +13 %] may be a regression; one with [+6 %, +9 %] is a warning only
        once enough runs show it), or a run
        that could not be judged because the machine was busy or the run
        never settled (not one measured differently from the baseline:
        another run of the same kind cannot help).
        """
        if self.violation and not self.confirmed_violation:
            return True
        cmp = self.vs_baseline
        if cmp is None or self.confirmed_regression or self.ab_confirmation is not None or cmp.not_comparable:
            return False
        if not cmp.judged:
            # A busy machine or an unsettled run hides the truth either way:
            # only another run can tell.
            return True
        # Any slowdown past the tolerance is confirmed or cleared, one that
        # cannot reach the regression threshold too: a warning the gate
        # reports as confirmed must have been seen in enough runs.
        return cmp.change > self.tolerance and self.confirmed_slowdown is None

    @property
    def suspected_regression(self) -> bool:
        """A slowdown against the baseline past the tolerance that is not yet confirmed or cleared.

        The part of :attr:`needs_confirmation` that an interleaved compare of
        the baseline's commit against HEAD can settle: the run is slower
        than the baseline by more than the tolerance (a regression, or a
        warning to confirm), or it was measured on a busy machine, which
        hides a regression as well as it fakes one (a compare interleaves
        both sides, so the load hits them alike).
        """
        cmp = self.vs_baseline
        if cmp is None or self.confirmed_regression or self.ab_confirmation is not None:
            return False
        if cmp.busy:
            return True
        return cmp.change > self.tolerance and self.confirmed_slowdown is None

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
            # A metric measured only now and then (instruction counts under
            # valgrind) is not missing from an ordinary run: only the SLO's
            # default metric must be there.
            return self.metric == self.config.metrics[0]
        if self.status in (BudgetStatus.DRIFT, BudgetStatus.VIOLATION):
            return True
        ab = self.ab_confirmation
        if ab is not None:
            # The compare decides: a slowdown it showed (below the regression
            # threshold) or one it could not settle warns; a cleared one does not.
            return not ab.cleared
        if self.confirmed_slowdown is not None:
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
        """The status icon (❔ without budget or data; ⚠️ for a violation not yet confirmed)."""
        if self.budget is None:
            return "❔"
        if self.violation and not self.confirmed_violation:
            return "⚠️"
        return self.budget.status.icon

    @property
    def confirmation_label(self) -> str:
        """``confirmed (3/3 runs)`` or ``unconfirmed (1/3 runs)``; empty if n/a.

        A regression streak long enough whose pooled change is not a
        significant slowdown is not confirmed, and says why.
        """
        if self.violation:
            streak = self.violation_streak
            confirmed = self.confirmed_violation
        elif self.ab_confirmation is not None:
            return self.ab_confirmation.label
        elif self.regression or self.confirmed_slowdown is not None:
            streak = self.regression_streak
            confirmed = self.confirmed_regression or self.confirmed_slowdown is not None
            if not confirmed and streak >= self.confirm_runs:
                return f"unconfirmed ({streak} slow runs, but their pooled change is not significant)"
        else:
            return ""
        word = "confirmed" if confirmed else "unconfirmed"
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
            lines.append(f"no budget: measured {format_value(self.stats.median, self.unit)}, not configured")
        elif self.budget.status is not BudgetStatus.PASS or self.budget.under_band:
            text = self.budget.message
            if self.violation:
                text += f" — {self.confirmation_label}"
            lines.append(text)
        steady = self.steady
        if steady is not None and (steady.cut or not steady.steady):
            lines.append(steady.message)
        cmp = self.vs_baseline
        ab = self.ab_confirmation
        if cmp is not None and ab is not None:
            where = short_commit(cmp.reference_commit)
            lines.append(f"{cmp.label} vs baseline {where} in this run — {ab.label}")
            lines.append(ab.message)
            if ab.action is not None:
                lines.append(f"to settle it: {ab.action}")
        elif cmp is not None and cmp.not_comparable and not self.blocking:
            base = short_commit(cmp.reference_commit)
            what = cmp.unjudged.removeprefix("not comparable: ")
            lines.append(
                f"not comparable with baseline {base} ({what}): no regression verdict; re-establish the"
                " baseline on this setup (`perfslo baseline --establish`) or run"
                f" `perfslo compare {base} HEAD`"
            )
        elif cmp is not None and (cmp.severity is not Severity.STABLE or not cmp.judged or cmp.raw_disagrees):
            text = f"{cmp.explained} vs baseline {short_commit(cmp.reference_commit)}"
            if self.regression:
                text += f" — {self.confirmation_label}"
            lines.append(text)
        slowdown = self.confirmed_slowdown
        if slowdown is not None and ab is None:
            lines.append(self.slowdown_message(slowdown))
        if self.step is not None:
            lines.append(self.step.message)
        if self.drift is not None:
            lines.append(self.drift.message)
        # A confirmed problem stands whatever the latest run was like: no
        # "busy" or "inconclusive" beside "confirmed (3/3 runs)".
        if self.busy and self.machine_load is not None and not self.blocking:
            load = format_change(self.machine_load)
            lines.append(
                BUSY_HINT.format(load=load)
                if cmp is not None
                else f"measured while the machine was busy (reference workload {load} slower)"
            )
        elif (
            self.machine_load is not None
            and self.machine_load < -BUSY_SLOWDOWN
            and cmp is not None
            and cmp.raw_disagrees
            and not self.blocking
        ):
            # The quiet level came from runs measured slower than the machine runs now.
            lines.append(FASTER_HINT.format(load=format_change(self.machine_load)))
        elif self.inconclusive and self.settle and not self.blocking and ab is None:
            # After a compare, its own action says what to do.
            lines.append(f"inconclusive: {self.settle}")
        disagreement = self.metric_disagreement
        if disagreement:
            lines.append(disagreement)
        return lines

    @property
    def metric_disagreement(self) -> str | None:
        """What it means when time and instruction counts tell different stories, or None.

        Instruction counts miss cache, memory and system-call effects (and the
        machine's own speed); time misses nothing but carries the noise. A
        significant move of one beside a flat other is worth saying.
        """
        time = self.for_metric("time")
        instructions = self.for_metric("instructions")
        if time is None or instructions is None:
            return None
        t_cmp, i_cmp = time.vs_baseline, instructions.vs_baseline
        if t_cmp is None or i_cmp is None or time.busy:
            return None
        time_moved = t_cmp.effective_severity in (Severity.WARNING, Severity.REGRESSION, Severity.IMPROVED)
        instr_moved = abs(i_cmp.change) >= instructions.tolerance
        if time_moved and not instr_moved:
            return (
                f"time {format_change(t_cmp.change)} but instructions {format_change(i_cmp.change)}: "
                "not more work; cache, memory or system-call effects, or the machine"
            )
        if instr_moved and not time_moved:
            return (
                f"instructions {format_change(i_cmp.change)} but time {format_change(t_cmp.change)}: "
                "the work changed; time may not show it yet (within noise, or cheap instructions)"
            )
        return None


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
        history_version: The version of the history it was made from.
        session_run_id: The session's reference run, if any.
        config: The config it was made with (None for one built by hand).
        baseline_age: How old the baseline is at the evaluated run, if
            there are both.
    """

    run: RunInfo | None
    run_count: int
    slos: tuple[SLOResult, ...]
    baseline: Baseline | None
    errors: tuple[tuple[str, str], ...] = ()
    confirm_runs: int = 3
    trend_days: int = 30
    history_version: int = 0
    session_run_id: str | None = None
    config: Config | None = field(default=None, compare=False, repr=False)
    baseline_age: BaselineAge | None = None

    @property
    def improvements(self) -> list[SLOResult]:
        """Results improved against the baseline in every clean run since it, confirmed."""
        return [r for r in self.all_results if r.improvement is not None]

    @property
    def rebaseline_advice(self) -> str:
        """Why and how to re-establish the baseline after confirmed improvements, or empty.

        Never while any result is slower than the baseline: a new baseline
        would make that slowdown the reference.
        """
        improved = self.improvements
        if not improved:
            return ""
        slower = [
            r
            for r in self.all_results
            if r.vs_baseline is not None
            and r.vs_baseline.effective_severity in (Severity.WARNING, Severity.REGRESSION)
        ]
        if slower:
            return ""
        parts = [
            f"{r.display_name} {format_change(r.improvement.change)}"
            for r in improved
            if r.improvement is not None
        ]
        return (
            f"improved in every run since the baseline ({', '.join(parts)}): re-establish it "
            f"(`{REBASELINE_COMMAND}`) so later changes are measured from the new level"
        )

    @property
    def all_results(self) -> list[SLOResult]:
        """Every SLO's result for every metric it measures, each SLO's default metric first."""
        return [m for r in self.slos for m in r.metrics]

    @property
    def verdict(self) -> Verdict:
        """FAILED if an SLO blocks (any metric), UNJUDGED if one could not be judged, WARNING, else PASSED."""
        results = self.all_results
        if any(r.blocking for r in results):
            return Verdict.FAILED
        if any(r.unjudged for r in results):
            return Verdict.UNJUDGED
        if any(r.warning for r in results):
            return Verdict.WARNING
        return Verdict.PASSED

    @property
    def unjudged(self) -> list[SLOResult]:
        """Results (one per SLO and metric) whose comparison with the baseline could not be judged."""
        return [r for r in self.all_results if r.unjudged]

    @property
    def budgeted(self) -> list[SLOResult]:
        """Results with a budget and data in this run (one per SLO and metric)."""
        return [r for r in self.all_results if r.budget is not None]

    @property
    def passing(self) -> int:
        """Budgets in PASS."""
        return sum(1 for r in self.budgeted if r.status is BudgetStatus.PASS)

    @property
    def blocking(self) -> list[SLOResult]:
        """Results that fail the gate."""
        return [r for r in self.all_results if r.blocking]

    @property
    def warnings(self) -> list[SLOResult]:
        """Results that warn."""
        return [r for r in self.all_results if r.warning]

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


def finite_or_none(value: float | None) -> float | None:
    """The value, or None when missing or not finite (for JSON output)."""
    if value is None or not math.isfinite(value):
        return None
    return value

"""Helpers shared by the text, Markdown, JSON and HTML reports."""

from __future__ import annotations

import shlex

from perfslo_tui.text import format_change, format_percent, format_value, printable, short_commit
from perfslo_tui.verdict.model import Comparison, Evaluation, SLOResult, Verdict

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


def headline(verdict: Verdict, evaluation: Evaluation | None = None) -> str:
    """LUASCRIPT's headline for a verdict; it names what failed when the evaluation is given.

    A gate that failed only on confirmed regressions says so: budget
    "violations" are a budget's business.
    """
    if verdict is Verdict.PASSED:
        return "✅ PASSED: All SLOs within budget"
    if verdict is Verdict.WARNING:
        return "⚠️  WARNING: Performance drift detected"
    if verdict is Verdict.UNJUDGED:
        count = len(evaluation.unjudged) if evaluation is not None else 0
        what = f"{count} SLO(s)" if count else "some SLOs"
        return f"❔ NOT JUDGED: could not judge {what} against the baseline (not a pass)"
    if evaluation is not None and not any(r.confirmed_violation for r in evaluation.blocking):
        return "❌ FAILED: Confirmed performance regression"
    return "❌ FAILED: Performance SLO violations detected"


def action_line(verdict: Verdict, evaluation: Evaluation | None = None) -> str:
    """LUASCRIPT's closing line for a verdict (for one that could not judge: what to do)."""
    if verdict is Verdict.PASSED:
        return ""
    if verdict is Verdict.WARNING:
        return "Status: Merge allowed, but monitor performance"
    if verdict is Verdict.UNJUDGED:
        results = evaluation.unjudged if evaluation is not None else []
        if any(r.vs_baseline is not None and r.vs_baseline.not_comparable for r in results):
            base = evaluation.baseline if evaluation is not None else None
            commit = printable(short_commit(base.commit), 12) if base is not None else "BASELINE"
            return (
                "Action: measured differently from the baseline: re-establish it on this setup "
                f"(`perfslo baseline --establish`) or run `perfslo compare {commit} HEAD`"
            )
        return (
            "Action: not a pass: re-run on a quieter machine or with a longer warm-up "
            "(`perfslo check --confirm 3` re-runs until it can judge)"
        )
    return "Action: Must fix before merge"


def short_reason(result: SLOResult) -> str:
    """Why an SLO warns or blocks, in a few words (for the summary lines).

    The most serious reason comes first: a budget violation, then a
    regression against the baseline, then budget drift.
    """
    if result.stats is None:
        return "no data"
    reasons: list[str] = []
    budget = result.budget
    if budget is not None and result.violation:
        text = f"exceeds budget by {budget.over_by_percent:.1f}%"
        if not result.confirmed_violation:
            text += f", {result.confirmation_label}"
        reasons.append(text)
    cmp = result.vs_baseline
    ab = result.ab_confirmation
    if ab is not None and not ab.cleared:
        # The interleaved compare decided: its estimate, not this run's.
        reasons.append(f"{ab.verdict.value} {format_change(ab.decision.change)} vs baseline, {ab.label}")
    elif ab is None and cmp is not None and result.confirmed_slowdown is not None:
        # Confirmed, but below the regression threshold: the seed's warning.
        adj = " adj." if cmp.adjusted else ""
        change = format_change(result.confirmed_slowdown.change)
        threshold = format_change(2.0 * result.tolerance)
        reasons.append(
            f"{change}{adj} slowdown vs baseline, {result.confirmation_label},"
            f" under the {threshold} regression threshold"
        )
    elif ab is None and cmp is not None and result.regression:
        if result.confirmed_regression and result.confirmation is not None:
            # The pooled change of the confirming runs is what blocks.
            adj = " adj." if cmp.adjusted else ""
            change = format_change(result.confirmation.change)
            text = f"{change}{adj} regression vs baseline, {result.confirmation_label}"
        else:
            text = f"{cmp.label} vs baseline, {result.confirmation_label}"
        reasons.append(text)
    if budget is not None and not result.violation and budget.over_by_percent > 0:
        reasons.append(f"drift, {format_percent(budget.percent_of_budget)} of budget")
    shown = cmp if ab is None else None  # after a compare, its decision is the reason
    if not reasons and shown is not None and shown.effective_severity.value in ("warning", "regression"):
        reasons.append(f"{shown.label} vs baseline")
    return "; ".join(reasons) or "warning"


def value_cell(result: SLOResult) -> str:
    """The value as ``0.84ms`` or ``—``."""
    return format_value(result.value_ms, result.unit) if result.value_ms is not None else "—"


def budget_cell(result: SLOResult) -> str:
    """The budget as ``0.85ms ±5%`` or ``—``."""
    spec = result.spec
    if spec is None or spec.budget is None:
        return "—"
    return f"{format_value(spec.budget, spec.unit)} ±{spec.tolerance * 100:g}%"


def percent_cell(result: SLOResult) -> str:
    """Percent of budget or ``—``."""
    return format_percent(result.budget.percent_of_budget) if result.budget else "—"


def status_cell(result: SLOResult) -> str:
    """``✅ PASS``, ``❌ VIOLATION (unconfirmed 1/3)``, ``❔ NO BUDGET``."""
    text = f"{result.icon} {result.state_label}"
    if result.violation and not result.confirmed_violation:
        text += f" (unconfirmed {result.violation_streak}/{result.confirm_runs})"
    return text


def comparison_cell(cmp: Comparison | None) -> str:
    """``+6.1% warning``, ``+1.0% adj. stable`` (machine-adjusted) or ``—``."""
    return cmp.label if cmp is not None else "—"


def reference_cell(cmp: Comparison | None, unit: str = "ms") -> str:
    """The reference median the change is against (``13.75ms``) or ``—``."""
    return format_value(cmp.regression.baseline_ms, unit) if cmp is not None else "—"


ADJUSTED_LEGEND = (
    "adj. = machine-adjusted: the change after cancelling the machine's speed (a reference workload "
    "timed beside every sample); it can differ from the ratio of the raw medians shown beside it"
)


def any_adjusted(evaluation: Evaluation) -> bool:
    """True when some change shown is machine-adjusted (the report then explains ``adj.``)."""
    return any(
        cmp is not None and cmp.adjusted for r in evaluation.slos for cmp in (r.vs_baseline, r.vs_previous)
    )


def sparkline(values: list[float], width: int = 20) -> str:
    """A unicode block sparkline of the last ``width`` values."""
    tail = values[-width:]
    if not tail:
        return ""
    low, high = min(tail), max(tail)
    if high <= low:
        return SPARK_BLOCKS[3] * len(tail)
    steps = len(SPARK_BLOCKS) - 1
    return "".join(SPARK_BLOCKS[round((v - low) / (high - low) * steps)] for v in tail)


def problem_lines(evaluation: Evaluation) -> list[str]:
    """What blocks, what could not be judged and what warns, each under its own name.

    LUASCRIPT's ``Violations: 1 (…)`` for confirmed budget violations,
    ``Regressions: 1 (…)`` for confirmed regressions against the baseline
    (never called violations: the budgets may all pass),
    ``Not judged: 1 (…)`` and LUASCRIPT's ``Warnings: 2 (…)``.
    """
    lines: list[str] = []
    blocking = evaluation.blocking
    violations = [r for r in blocking if r.confirmed_violation]
    regressions = [r for r in blocking if not r.confirmed_violation]
    if violations:
        details = ", ".join(f"{printable(r.display_name, 70)} {short_reason(r)}" for r in violations)
        lines.append(f"Violations: {len(violations)} ({details})")
    if regressions:
        details = ", ".join(f"{printable(r.display_name, 70)} {short_reason(r)}" for r in regressions)
        lines.append(f"Regressions: {len(regressions)} ({details})")
    unjudged = evaluation.unjudged
    if unjudged:
        details = ", ".join(
            f"{printable(r.display_name, 70)}: {printable(r.unjudged, 160)}" for r in unjudged
        )
        lines.append(f"Not judged: {len(unjudged)} ({details})")
    warnings = evaluation.warnings
    if warnings:
        details = ", ".join(f"{printable(r.display_name, 70)}: {short_reason(r)}" for r in warnings)
        lines.append(f"Warnings: {len(warnings)} ({details})")
    return lines


def target_line(result: SLOResult) -> str:
    """``85.0% of budget · target 1.0ms: 0.15ms to go``, or empty without a target or data."""
    progress = result.target_progress
    return progress.line if progress is not None else ""


def baseline_age_text(evaluation: Evaluation) -> str:
    """``age 12 days, 34 commits`` (at the evaluated run), or empty without a baseline."""
    age = evaluation.baseline_age
    if age is None:
        return ""
    return f"age {age.age}"


def goal_lines(evaluation: Evaluation) -> list[str]:
    """What the goals say about this run: targets met just now, a stale or outgrown baseline.

    A target is celebrated on the run that confirmed it (``confirm_runs`` in
    a row under it), so a gate run says it once; the baseline lines repeat
    while they hold, since they ask for an action.
    """
    lines: list[str] = []
    for result in evaluation.all_results:
        progress = result.target_progress
        if progress is not None and progress.newly_met:
            lines.append(f"{printable(result.display_name, 70)}: {progress.celebration}")
    age = evaluation.baseline_age
    if age is not None:
        lines.extend(f"⚠️  {line}" for line in age.warnings)
    advice = evaluation.rebaseline_advice
    if advice:
        lines.append(f"↻ {printable(advice, 400)}")
    return lines


def profile_diff_results(evaluation: Evaluation) -> list[SLOResult]:
    """The results a report shows a kept profile diff for: confirmed time regressions."""
    return [r for r in evaluation.all_results if r.confirmed_regression and r.metric == "time"]


def profile_command(result: SLOResult) -> str:
    """The command that keeps the profiles a report's profile diff needs."""
    return f"perfslo profile {shlex.quote(result.name)} --baseline"

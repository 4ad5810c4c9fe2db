"""Helpers shared by the text, Markdown, JSON and HTML reports."""

from __future__ import annotations

from perfslo_tui.text import format_percent, format_value, printable
from perfslo_tui.verdict.model import Comparison, Evaluation, SLOResult, Verdict

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


def headline(verdict: Verdict) -> str:
    """LUASCRIPT's headline for a verdict."""
    if verdict is Verdict.PASSED:
        return "✅ PASSED: All SLOs within budget"
    if verdict is Verdict.WARNING:
        return "⚠️  WARNING: Performance drift detected"
    return "❌ FAILED: Performance SLO violations detected"


def action_line(verdict: Verdict) -> str:
    """LUASCRIPT's closing line for a verdict."""
    if verdict is Verdict.PASSED:
        return ""
    if verdict is Verdict.WARNING:
        return "Status: Merge allowed, but monitor performance"
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
    if cmp is not None and result.regression:
        text = f"{cmp.label} vs baseline"
        if not result.confirmed_regression:
            seen = min(result.regression_streak, result.confirm_runs)
            text += f", unconfirmed ({seen}/{result.confirm_runs} runs)"
        reasons.append(text)
    if budget is not None and not result.violation and budget.over_by_percent > 0:
        reasons.append(f"drift, {format_percent(budget.percent_of_budget)} of budget")
    if not reasons and cmp is not None and cmp.effective_severity.value in ("warning", "regression"):
        reasons.append(f"{cmp.label} vs baseline")
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
    """``+6.1% warning`` or ``—``."""
    return cmp.label if cmp is not None else "—"


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
    """LUASCRIPT's ``Violations: 1 (…)`` and ``Warnings: 2 (…)`` lines."""
    lines: list[str] = []
    blocking = evaluation.blocking
    if blocking:
        details = ", ".join(f"{printable(r.display_name, 70)} {short_reason(r)}" for r in blocking)
        lines.append(f"Violations: {len(blocking)} ({details})")
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

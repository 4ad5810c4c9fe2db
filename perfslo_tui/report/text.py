"""The plain-text report of ``perfslo check`` (LUASCRIPT's console output)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from perfslo_tui.report.common import (
    ADJUSTED_LEGEND,
    action_line,
    any_adjusted,
    baseline_age_text,
    budget_cell,
    comparison_cell,
    goal_lines,
    headline,
    percent_cell,
    problem_lines,
    profile_command,
    profile_diff_results,
    reference_cell,
    status_cell,
    target_line,
    value_cell,
)
from perfslo_tui.text import printable, utc_iso
from perfslo_tui.verdict.model import Evaluation

if TYPE_CHECKING:
    from perfslo_tui.profiles.store import KeptComparison

PROFILE_DIFF_LINES = 5
NOTHING_MOVED = "no function moved by more than 0.05% of the total"


def render_text(evaluation: Evaluation, profile_diffs: Mapping[str, KeptComparison] | None = None) -> str:
    """Render the gate's report as plain text.

    Args:
        evaluation: The evaluation of the run.
        profile_diffs: Kept profile diffs (baseline's commit → the measured
            one) by SLO name, found for confirmed regressions; each confirmed
            time regression shows its top lines, or the command that would
            make them. None: the section is left out.

    Returns:
        The report, ending with a newline.
    """
    out: list[str] = []
    run = evaluation.run
    if run is None:
        out.append("No runs in the artifacts folder yet: run your benchmarks first.")
    else:
        dirty = " (dirty)" if run.dirty else ""
        out.append(
            f"perfslo check: {printable(run.run_id)} — commit {printable(run.commit[:12])}{dirty}, "
            f"branch {printable(run.branch, 40)}, {utc_iso(run.ts_ms)[:19].replace('T', ' ')} UTC"
        )
        base = evaluation.baseline
        if base is not None:
            established = printable(base.established, 30)
            age = baseline_age_text(evaluation)
            age = f" ({age})" if age else ""
            out.append(f"Baseline: commit {printable(base.commit[:12])}, established {established}{age}")
        else:
            out.append("Baseline: none (establish one with `perfslo baseline --establish`)")
        out.append(f"Runs in history: {evaluation.run_count}")
    out.append("")
    # The baseline median sits beside the value: the change beside them is
    # either their ratio or marked "adj." (machine-adjusted), never unexplained.
    header = ("SLO", "Value", "Baseline", "Budget", "% budget", "Status", "vs baseline", "vs previous")
    rows = [
        (
            printable(r.display_name, 40),
            value_cell(r),
            reference_cell(r.vs_baseline, r.unit),
            budget_cell(r),
            percent_cell(r),
            status_cell(r),
            comparison_cell(r.vs_baseline),
            comparison_cell(r.vs_previous),
        )
        for r in evaluation.all_results
    ]
    if rows:
        widths = [max(len(h), *(_width(row[i]) for row in rows)) for i, h in enumerate(header)]
        out.append(_row(header, widths))
        out.append(_row(tuple("-" * w for w in widths), widths))
        out.extend(_row(row, widths) for row in rows)
        if any_adjusted(evaluation):
            out.append(ADJUSTED_LEGEND)
        out.append("")
    targets = [(r, target_line(r)) for r in evaluation.all_results]
    targets = [(r, line) for r, line in targets if line]
    if targets:
        out.append("Targets:")
        for result, line in targets:
            out.append(f"  {printable(result.display_name, 48)}: {line}")
        out.append("")
    details = [(r, r.messages()) for r in evaluation.all_results]
    details = [(r, lines) for r, lines in details if lines]
    if details:
        out.append("Details:")
        for result, lines in details:
            for line in lines:
                out.append(f"  {printable(result.display_name, 48)}: {printable(line, 400)}")
        out.append("")
    if profile_diffs is not None:
        out.extend(_profile_lines(evaluation, profile_diffs))
    if evaluation.errors:
        out.append(f"Skipped {len(evaluation.errors)} unusable file(s):")
        for path, reason in evaluation.errors:
            out.append(f"  {printable(path, 120)}: {printable(reason, 200)}")
        out.append("")
    goals = goal_lines(evaluation)
    if goals:
        out.extend(goals)
        out.append("")
    verdict = evaluation.verdict
    out.append(headline(verdict, evaluation))
    out.extend(problem_lines(evaluation))
    budgeted = evaluation.budgeted
    out.append(f"Passing budgets: {evaluation.passing}/{len(budgeted)}")
    action = action_line(verdict, evaluation)
    if action:
        out.append(action)
    return "\n".join(out) + "\n"


def _width(text: str) -> int:
    # Emoji icons take two terminal cells; the variation selector takes none.
    return sum(0 if ch == "\ufe0f" else 2 if ord(ch) >= 0x2600 else 1 for ch in text)


def _row(cells: tuple[str, ...], widths: list[int]) -> str:
    parts = [cell + " " * (width - _width(cell)) for cell, width in zip(cells, widths, strict=True)]
    return "  ".join(parts).rstrip()


def _profile_lines(evaluation: Evaluation, profile_diffs: Mapping[str, KeptComparison]) -> list[str]:
    """Per confirmed time regression: the kept profile diff's top lines, or the command that makes one."""
    results = profile_diff_results(evaluation)
    if not results:
        return []
    # Profiled times carry the profiler's overhead: the order of the
    # functions is what counts, the change's size is the measured one.
    out = ["Where the time went (kept profiles, baseline's commit → this one; read the order, not sizes):"]
    for result in results:
        name = printable(result.display_name, 48)
        comparison = profile_diffs.get(result.name)
        if comparison is None:
            command = printable(profile_command(result), 120)
            out.append(f"  {name}: no kept profiles of both commits; `{command}` shows what got slower")
            continue
        footing = "per benchmark call" if comparison.diff.unit == "s" else "as shares of samples"
        before, after = comparison.before, comparison.after
        out.append(
            f"  {name}: {printable(before.label, 40)} → {printable(after.label, 40)} ({footing};"
            f" profiles/{printable(before.file, 80)} → profiles/{printable(after.file, 80)})"
        )
        lines = comparison.diff.lines(PROFILE_DIFF_LINES) or [NOTHING_MOVED]
        out.extend(f"    {printable(line, 200)}" for line in lines)
    out.append("")
    return out

"""The Markdown report: PR comments and ``$GITHUB_STEP_SUMMARY``.

Every line starts at column 0 (the original's indented template rendered as
a code block on GitHub). Text read from files is escaped only where it could
do harm: ``|`` (table cells), ``<``/``>``/``&`` (HTML), ``](`` and
autolinks (links), backticks and ``*`` (code spans, emphasis), ``_`` at word
edges, and ``@`` (mentions). So ``transpile-simple`` stays readable in the
raw text, and ``<script>`` stays text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from perfslo_tui.report.common import (
    ADJUSTED_LEGEND,
    action_line,
    any_adjusted,
    baseline_age_text,
    budget_cell,
    goal_lines,
    headline,
    percent_cell,
    problem_lines,
    profile_command,
    profile_diff_results,
    reference_cell,
    sparkline,
    status_cell,
    target_line,
    value_cell,
)
from perfslo_tui.report.trend_file import has_trend
from perfslo_tui.text import format_change, printable, short_commit, utc_iso
from perfslo_tui.verdict.model import Comparison, Evaluation, SLOResult
from perfslo_tui.verdict.rules import Severity

if TYPE_CHECKING:
    from perfslo_tui.profiles.store import KeptComparison

COMMENT_MARKER = "<!-- perfslo-report -->"
PROFILE_DIFF_LINES = 5
SPARK_WIDTH = 20
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Backslash escapes: table pipes, code spans, emphasis, and the ``](`` that
# closes a link text (brackets alone make no link without a definition).
_BACKSLASHED = re.compile(r"([\\`*|~]|\](?=\())")
# ``_`` only opens or closes emphasis at a word edge (GFM ignores intraword ones).
_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# GFM autolinks (``www.``, ``http://``) and GitHub mentions (``@user``).
_AUTOLINK = re.compile(r"(?i)(www)\.|(://)|@")


def _unlink(match: re.Match[str]) -> str:
    if match.group(1):
        return f"{match.group(1)}&#46;"
    if match.group(2):
        return "&#58;//"
    return "&#64;"


def md_escape(text: str, limit: int = 80) -> str:
    """Escape untrusted text for Markdown table cells and prose.

    Only what could break a table, open HTML, make a link, an emphasis or a
    mention is escaped; hyphens, dots and most punctuation stay as they are.
    """
    cleaned = printable(text.replace("\r\n", " ").replace("\n", " ").replace("\r", " "), limit)
    cleaned = _BACKSLASHED.sub(r"\\\1", cleaned)
    cleaned = _EDGE_UNDERSCORE.sub(r"\\_", cleaned)
    cleaned = "".join(_ESCAPES.get(ch, ch) for ch in cleaned)
    return _AUTOLINK.sub(_unlink, cleaned)


def md_code(text: str, limit: int = 60) -> str:
    """Untrusted text as an inline code span (no escapes apply inside one)."""
    cleaned = printable(text, limit).replace("`", "'").replace("\n", " ").replace("|", "¦")
    return f"`{cleaned}`"


def _change_cell(cmp: Comparison | None) -> str:
    if cmp is None:
        return "—"
    text = md_escape(cmp.label, 60)
    if cmp.estimate is not None:
        text += f" (95% CI {md_escape(cmp.interval, 40)})"
    if cmp.significant and cmp.severity in (Severity.WARNING, Severity.REGRESSION):
        text = f"**{text}**"
    return text


def _binned(values: list[float], width: int = SPARK_WIDTH) -> list[float]:
    """The whole window in ``width`` bins (median of each), so the sparkline spans all of it."""
    if len(values) <= width:
        return values
    return [float(np.median(chunk)) for chunk in np.array_split(np.asarray(values), width)]


def _trend_cell(result: SLOResult) -> str:
    """Sparkline plus a short word: the step's culprit, the drift, or steady (details below)."""
    spark = sparkline(_binned([p.median for p in result.trend]))
    if not spark:
        return "—"
    if result.step is not None:
        note = f"step {format_change(result.step.change)} at {md_code(short_commit(result.step.commit), 7)}"
    elif result.drift is not None:
        note = f"drift {format_change(result.drift.estimate.total)}"
    elif has_trend(result):
        note = "steady"
    else:
        note = ""
    return f"{spark} {note}".rstrip()


def _analysis_lines(evaluation: Evaluation) -> list[str]:
    """Regression analysis and drift, one bullet per SLO with something to say."""
    lines: list[str] = []
    base_commit = short_commit(evaluation.baseline.commit) if evaluation.baseline else ""
    for r in evaluation.all_results:
        parts: list[str] = []
        cmp = r.vs_baseline
        if cmp is not None and (cmp.severity is not Severity.STABLE or cmp.raw_disagrees):
            text = f"{md_escape(cmp.explained, 160)} vs baseline {md_code(base_commit, 12)}"
            if cmp.interval:
                text += f" (95% CI {md_escape(cmp.interval, 40)})"
            parts.append(text)
        if r.step is not None:
            verb = r.step.verb
            parts.append(
                f"{verb} {format_change(r.step.change)} at {md_code(r.step.commit[:12], 12)} "
                f"(run {md_code(r.step.run_id, 60)})"
            )
        if r.drift is not None:
            parts.append(md_escape(r.drift.message, 120))
        if parts:
            lines.append(f"- **{md_escape(r.display_name, 70)}**: " + "; ".join(parts))
    return lines


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text``."""
    fence = "```"
    while fence in text:
        fence += "`"
    return fence


def _profile_lines(evaluation: Evaluation, profile_diffs: Mapping[str, KeptComparison]) -> list[str]:
    """Per confirmed time regression: the kept profile diff's top lines, or the command that makes one."""
    out: list[str] = []
    for r in profile_diff_results(evaluation):
        name = md_escape(r.display_name, 70)
        comparison = profile_diffs.get(r.name)
        if comparison is None:
            command = md_code(profile_command(r), 120)
            out.append(
                f"- **{name}**: no kept profiles of both commits; {command} shows which functions got slower"
            )
            continue
        diff = comparison.diff
        # The profile's own total is left out: profiled times carry the profiler's overhead, and a
        # second, larger percentage beside the measured change would contradict it.
        footing = "per benchmark call" if diff.unit == "s" else "as shares of samples"
        out.append(
            f"**{name}**: kept profiles {md_code(comparison.before.label, 40)} → "
            f"{md_code(comparison.after.label, 40)} ({md_code(comparison.before.file, 100)} → "
            f"{md_code(comparison.after.file, 100)} in the artifacts' {md_code('profiles/')}), the "
            f"functions that changed most, as parts of the profile's total ({footing}; profiled times "
            "include the profiler's overhead: read the order, the change's size is the one above):"
        )
        lines = [printable(line, 200) for line in diff.lines(PROFILE_DIFF_LINES)]
        lines = lines or ["no function moved by more than 0.05% of the total"]
        fence = _fence("\n".join(lines))
        out.extend(["", f"{fence}text", *lines, fence])
        out.append("")
    return out


def render_markdown(
    evaluation: Evaluation,
    reproduce: str = "perfslo check",
    profile_diffs: Mapping[str, KeptComparison] | None = None,
) -> str:
    """Render the gate's report as GitHub-flavoured Markdown.

    Args:
        evaluation: The evaluation of the run.
        reproduce: The command(s) shown for reproducing the result locally,
            one per line.
        profile_diffs: Kept profile diffs (baseline's commit → the measured
            one) by SLO name, which the gate found for confirmed
            regressions; each confirmed time regression shows its top lines,
            or the command that would make them.

    Returns:
        The Markdown text, starting with a hidden marker used to find and
        update the PR comment in place.
    """
    verdict = evaluation.verdict
    out = [COMMENT_MARKER, f"## {headline(verdict, evaluation)}", ""]
    run = evaluation.run
    if run is None:
        out.append("No runs in the artifacts folder yet.")
    else:
        when = utc_iso(run.ts_ms)[:16].replace("T", " ")
        dirty = " (dirty)" if run.dirty else ""
        out.append(
            f"Run {md_code(run.run_id)} · commit {md_code(run.commit[:12])}{dirty} · "
            f"branch {md_code(run.branch, 40)} · {when} UTC · {evaluation.run_count} runs in history  "
        )
        base = evaluation.baseline
        if base is not None:
            age = baseline_age_text(evaluation)
            age = f" ({md_escape(age, 60)})" if age else ""
            established = md_escape(base.established, 30)
            out.append(f"Baseline: commit {md_code(base.commit[:12])}, established {established}{age}")
        else:
            out.append("Baseline: none yet (`perfslo baseline --establish`)")
    out.append("")
    for line in problem_lines(evaluation):
        out.append(f"**{md_escape(line, 500)}**  ")
    for line in goal_lines(evaluation):
        out.append(f"{md_escape(line, 500)}  ")
    out.append(f"Passing budgets: {evaluation.passing}/{len(evaluation.budgeted)}")
    action = action_line(verdict, evaluation)
    if action:
        out[-1] += "  "
        out.append(action)
    out.append("")
    if evaluation.all_results:
        days = evaluation.trend_days
        out.append(
            f"| SLO | Value | Baseline | Budget | % of budget | Status | vs baseline | Trend ({days} d) |"
        )
        out.append("|---|---:|---:|---:|---:|---|---|---|")
        for r in evaluation.all_results:
            out.append(
                f"| {md_escape(r.display_name, 70)} | {value_cell(r)} | "
                f"{reference_cell(r.vs_baseline, r.unit)} | "
                f"{md_escape(budget_cell(r))} | {percent_cell(r)} | {md_escape(status_cell(r))} | "
                f"{_change_cell(r.vs_baseline)} | {_trend_cell(r)} |"
            )
        out.append("")
        if any_adjusted(evaluation):
            out.append(f"<sub>{md_escape(ADJUSTED_LEGEND, 300)}</sub>")
            out.append("")
    targets = [(r, target_line(r)) for r in evaluation.all_results]
    targets = [(r, line) for r, line in targets if line]
    if targets:
        out.append("### Targets")
        out.append("")
        for r, line in targets:
            out.append(f"- **{md_escape(r.display_name, 70)}**: {md_escape(line, 200)}")
        out.append("")
    problems = [r for r in evaluation.all_results if r.blocking or r.unjudged or r.warning]
    if problems:
        out.append("### Blocking, not judged and warnings")
        out.append("")
        for r in problems:
            kind = "blocking" if r.blocking else "not judged" if r.unjudged else "warning"
            lines = r.messages() or ["no data in this run"]
            out.append(f"- **{md_escape(r.display_name, 70)}** ({kind}): {md_escape(lines[0], 200)}")
            for line in lines[1:]:
                out.append(f"  - {md_escape(line, 200)}")
        out.append("")
    profiled = _profile_lines(evaluation, profile_diffs or {})
    if profiled:
        out.append("### Where the time went (profile diff vs the baseline's commit)")
        out.append("")
        out.extend(profiled)
        if out[-1] != "":
            out.append("")
    analysis = _analysis_lines(evaluation)
    if analysis:
        out.append("<details><summary>Regression analysis and drift</summary>")
        out.append("")
        out.extend(analysis)
        out.append("")
        out.append("</details>")
        out.append("")
    noisy = [
        (r, line) for r in evaluation.all_results for line in r.messages() if line.startswith("inconclusive")
    ]
    if noisy:
        out.append(f"<details><summary>Inconclusive measurements ({len(noisy)})</summary>")
        out.append("")
        for result, line in noisy:
            out.append(f"- **{md_escape(result.display_name, 70)}**: {md_escape(line, 200)}")
        out.append("")
        out.append("</details>")
        out.append("")
    if evaluation.errors:
        out.append(f"Skipped {len(evaluation.errors)} unusable file(s):")
        out.append("")
        for path, reason in evaluation.errors[:20]:
            out.append(f"- {md_code(path, 100)}: {md_escape(reason, 160)}")
        if len(evaluation.errors) > 20:
            out.append(f"- … and {len(evaluation.errors) - 20} more")
        out.append("")
    out.append("Reproduce locally:")
    out.append("")
    fence = _fence(reproduce)
    out.append(f"{fence}sh")
    out.extend(printable(line, 300) for line in reproduce.splitlines() or [reproduce])
    out.append(fence)
    return "\n".join(out) + "\n"

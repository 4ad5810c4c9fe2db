"""The Markdown report: PR comments and ``$GITHUB_STEP_SUMMARY``.

Every line starts at column 0 (the original's indented template rendered as
a code block on GitHub), and every piece of text from a file is escaped so
that it cannot open HTML, links or table cells.
"""

from __future__ import annotations

import html
import re

from perfslo_tui.artifacts import utc_iso
from perfslo_tui.evaluate import Comparison, Evaluation, SLOResult
from perfslo_tui.report.common import (
    action_line,
    budget_cell,
    headline,
    percent_cell,
    printable,
    problem_lines,
    sparkline,
    status_cell,
    value_cell,
)

COMMENT_MARKER = "<!-- perfslo-report -->"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


def md_escape(text: str, limit: int = 80) -> str:
    """Escape untrusted text for Markdown table cells and prose."""
    cleaned = printable(text, limit).replace("\n", " ").replace("\r", " ")
    return _MD_SPECIAL.sub(r"\\\1", html.escape(cleaned, quote=True))


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
    if cmp.significant and cmp.severity.value in ("warning", "regression"):
        text = f"**{text}**"
    return text


def _trend_cell(result: SLOResult) -> str:
    return sparkline([p.median for p in result.trend]) or "—"


def render_markdown(evaluation: Evaluation, reproduce: str = "perfslo check") -> str:
    """Render the gate's report as GitHub-flavoured Markdown.

    Args:
        evaluation: The evaluation of the run.
        reproduce: The command shown for reproducing the result locally.

    Returns:
        The Markdown text, starting with a hidden marker used to find and
        update the PR comment in place.
    """
    verdict = evaluation.verdict
    out = [COMMENT_MARKER, f"## {headline(verdict)}", ""]
    run = evaluation.run
    if run is None:
        out.append("No runs in the artifacts folder yet.")
    else:
        when = utc_iso(run.ts_ms)[:16].replace("T", " ")
        dirty = " (dirty)" if run.dirty else ""
        out.append(
            f"Run {md_code(run.run_id)} · commit {md_code(run.commit[:12])}{dirty} · "
            f"branch {md_code(run.branch, 40)} · {when} UTC · {evaluation.run_count} runs in history"
        )
        base = evaluation.baseline
        if base is not None:
            out.append(
                f"Baseline: commit {md_code(base.commit[:12])}, established {md_escape(base.established, 30)}"
            )
        else:
            out.append("Baseline: none yet")
    out.append("")
    for line in problem_lines(evaluation):
        out.append(f"**{md_escape(line, 500)}**  ")
    out.append(f"Passing budgets: {evaluation.passing}/{len(evaluation.budgeted)}")
    action = action_line(verdict)
    if action:
        out.append(f"  \n{action}")
    out.append("")
    if evaluation.slos:
        out.append("| SLO | Value | Budget | % of budget | Status | vs baseline | Trend |")
        out.append("|---|---:|---:|---:|---|---|---|")
        for r in evaluation.slos:
            out.append(
                f"| {md_escape(r.name, 60)} | {value_cell(r)} | {md_escape(budget_cell(r))} | "
                f"{percent_cell(r)} | {md_escape(status_cell(r))} | {_change_cell(r.vs_baseline)} | "
                f"{_trend_cell(r)} |"
            )
        out.append("")
    details = [(r, r.messages()) for r in evaluation.slos if r.messages()]
    if details:
        out.append("<details><summary>Details</summary>")
        out.append("")
        for result, lines in details:
            for line in lines:
                out.append(f"- **{md_escape(result.name, 60)}**: {md_escape(line, 200)}")
        out.append("")
        out.append("</details>")
        out.append("")
    if evaluation.errors:
        out.append(f"Skipped {len(evaluation.errors)} unusable file(s):")
        out.append("")
        for path, reason in evaluation.errors[:20]:
            out.append(f"- {md_code(path, 100)}: {md_escape(reason, 160)}")
        out.append("")
    out.append(f"Reproduce locally: `{reproduce}`")
    return "\n".join(out) + "\n"

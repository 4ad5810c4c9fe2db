"""What ``perfslo budgets`` prints: the evidence, the suggestions and the flags (text or JSON).

JSON (``format_version`` 1)::

    {"format_version": 1, "runs": N, "rule": "p95", "rule_text": "p95 × (1 + 2t)",
     "budgets": [{"slo", "metric", "unit", "key", "budget", "tolerance", "target",
                  "flag" ("tight"|"loose"|"ok"|"no budget"|"no evidence"),
                  "action" ("raise"|"lower"|"add"|"keep"), "reason",
                  "suggested", "exact", "used",
                  "evidence": {"runs", "busy_skipped", "dirty_skipped", "since_step",
                               "median", "p95", "spread", "trend", "over_budget",
                               "run_ids"} | null}]}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson

from perfslo_tui.config import Config
from perfslo_tui.text import format_percent, printable
from perfslo_tui.verdict.budgets import LOOSE_USE, MIN_RUNS, BudgetAdvice, trend_text

FORMAT_VERSION = 1
FLAG_ICONS = {
    "tight": "⚠ tight",
    "loose": "↓ loose",
    "ok": "ok",
    "no budget": "+ no budget",
    "no evidence": "?",
}
METRIC_NAMES = {"time": "time", "instructions": "instr", "peak_memory": "memory"}


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def advice_to_dict(advice: BudgetAdvice) -> dict[str, Any]:
    """One advice as a JSON-ready dict."""
    ev = advice.evidence
    evidence = None
    if ev is not None:
        evidence = {
            "runs": ev.count,
            "busy_skipped": ev.busy,
            "dirty_skipped": ev.dirty,
            "since_step": ev.since_step,
            "median": _finite(ev.median),
            "p95": _finite(ev.p95),
            "spread": _finite(ev.spread),
            "trend": trend_text(ev, advice.tolerance) if ev.count else None,
            "over_budget": ev.over(advice.budget) if advice.budget is not None else None,
            "run_ids": list(ev.run_ids),
        }
    return {
        "slo": advice.slo,
        "metric": advice.metric,
        "unit": advice.unit,
        "key": advice.key,
        "budget": advice.budget,
        "tolerance": advice.tolerance,
        "target": advice.target,
        "flag": advice.flag,
        "action": advice.action,
        "reason": advice.reason,
        "suggested": advice.suggested,
        "exact": _finite(advice.exact),
        "used": _finite(advice.used),
        "evidence": evidence,
    }


def render_budgets_json(advice: Sequence[BudgetAdvice], runs: int) -> str:
    """The advice as indented JSON text."""
    rule = advice[0].rule if advice else None
    document = {
        "format_version": FORMAT_VERSION,
        "runs": runs,
        "rule": rule.name if rule else None,
        "rule_text": rule.text if rule else None,
        "budgets": [advice_to_dict(a) for a in advice],
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"


def _row(advice: BudgetAdvice) -> tuple[str, ...]:
    ev = advice.evidence
    fmt = advice.format
    have = ev is not None and ev.count > 0
    spread = "—"
    if ev is not None and ev.spread is not None:
        spread = f"±{ev.spread * 100:.1f}%"
    return (
        printable(advice.slo, 40),
        METRIC_NAMES[advice.metric],
        str(ev.count) if ev is not None else "0",
        fmt(ev.median) if have and ev is not None else "—",
        fmt(ev.p95) if have and ev is not None else "—",
        spread,
        trend_text(ev, advice.tolerance) if have and ev is not None else "—",
        fmt(advice.budget) if advice.budget is not None else "—",
        format_percent(100 * advice.used) if advice.used is not None and math.isfinite(advice.used) else "—",
        fmt(advice.suggested) if advice.suggested is not None else "—",
        FLAG_ICONS[advice.flag],
    )


def render_budgets_text(
    advice: Sequence[BudgetAdvice], runs: int, config: Config, writing: bool = False
) -> str:
    """The advice as a table, the reasons of the flagged ones, and what ``--write`` would do."""
    out: list[str] = []
    rule = advice[0].rule.text if advice else ""
    out.append(
        f"Budgets from the last {runs} clean comparable runs of each SLO "
        "(not on a busy machine, not dirty, since the latest step change at a new commit)"
    )
    out.append(f"Suggested budget: {rule}, rounded up to 2 significant figures (t: the tolerance)")
    out.append("")
    header = (
        "SLO",
        "metric",
        "runs",
        "median",
        "p95",
        "spread",
        "trend",
        "budget",
        "used",
        "suggested",
        "flag",
    )
    rows = [_row(a) for a in advice]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    out.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    out.append("  ".join("-" * w for w in widths))
    out.extend("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
    out.append("")
    notes: list[str] = []
    for a in advice:
        name = printable(a.slo, 40) + ("" if a.metric == "time" else f" ({a.metric})")
        ev = a.evidence
        if a.flag in ("tight", "loose", "no budget"):
            notes.append(f"  {name}: {a.flag}: {printable(a.reason, 200)}")
        elif a.flag == "no evidence":
            have = ev.count if ev is not None else 0
            notes.append(f"  {name}: {have} clean comparable runs, {MIN_RUNS} needed for a suggestion")
        if ev is not None and (ev.busy or ev.dirty or ev.since_step):
            left = []
            if ev.busy:
                left.append(f"{ev.busy} busy")
            if ev.dirty:
                left.append(f"{ev.dirty} dirty")
            if ev.since_step:
                left.append(f"runs before the step at {printable(ev.since_step, 60)}")
            notes.append(f"  {name}: left out: {', '.join(left)}")
        if ev is not None and ev.count and trend_text(ev, a.tolerance) not in ("steady", "—"):
            notes.append(
                f"  {name}: trending {trend_text(ev, a.tolerance)}: the suggestion follows the latest runs"
            )
    if notes:
        out.append(
            f"Flags (tight: normal noise goes past the budget; loose: under {LOOSE_USE * 100:.0f} % used):"
        )
        out.extend(notes)
        out.append("")
    changing = [a for a in advice if a.action != "keep"]
    if not changing:
        out.append("Every budget agrees with the evidence.")
    elif not writing:
        where = config.path.name if config.path is not None else "the config"
        out.append(
            f"{len(changing)} budget(s) would change: `perfslo budgets --write` rewrites {where} "
            "(shows the diff, keeps a backup)."
        )
    return "\n".join(out) + "\n"

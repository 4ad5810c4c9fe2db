"""The JSON report of ``perfslo check --format json``.

Format (``format_version`` 1)::

    {
      "format_version": 1,
      "verdict": "PASSED" | "WARNING" | "UNJUDGED" | "FAILED",
      "exit_code": 0 | 1 | 3,
      "run": {"run_id", "timestamp", "timestamp_unix", "commit", "branch", "dirty"} | null,
      "run_count": int,
      "baseline": {"commit", "established", "source_run",
                   "age_days" (at the run) | null, "commits_since" | null, "stale", "warnings": [str]} | null,
      "confirm_runs": int,
      "summary": {"totalViolations", "totalWarnings", "passingBudgets", "failingBudgets"},
      "violations": [{"slo", "metric", "message"}],   (what blocks: confirmed violations and regressions)
      "warnings": [{"slo", "metric", "message"}],
      "unjudged": [{"slo", "metric", "message"}],     (not judged: busy, no steady state, not comparable)
      "slos": [{
        "name", "metric" ("time"|"instructions"|"peak_memory"), "unit" ("ms"|"instructions"|"MB"),
        "description", "has_budget", "status" ("PASS"|"DRIFT"|"VIOLATION"|"NO BUDGET"|"NO DATA"),
        "value", "budget" (in the unit), "value_ms", "budget_ms" (times only, else null),
        "tolerance", "percent_of_budget", "under_band",
        "stats": {count, min, median, mean, p95, max, stdev} | null,   (of the steady samples)
        "steady": {"class", "steady_from", "samples_total", "message"} | null,
        "blocking", "warning", "confirmed", "violation_streak", "regression_streak",
        "vs_baseline" | "vs_previous" | "vs_session": {
            "reference_run", "reference_commit", "reference_ms", "current_ms", "change", "percent_change",
            "basis" ("raw"|"machine-adjusted"), "raw_change", "severity", "significant", "within_noise",
            "judged", "unjudged", "ci_low", "ci_high", "label"} | null,
        "noise", "inconclusive", "settle", "unjudged",
        "drift": {"rate_per_day", "total", "span_days", "runs", "days_to_violation", "message"} | null,
        "step": {"run_id", "commit", "timestamp_unix", "change", "message"} | null,
        "ab_confirmation": {"verdict" ("regressed"|"improved"|"same"|"unknown"), "change",
            "ci_low", "ci_high", "pairs", "base_commit", "head", "message", "action"} | null,
        "messages": [str],
        "target": {"target", "to_go", "met", "confirmed", "newly_met", "streak", "line"} | null,
        "confirmed_slowdown": {"change", "ci_low", "ci_high"} | null,  (confirmed, under the regression
            threshold: a warning)
        "improvement": {"change", "ci_low", "ci_high"} | null,
        "metrics": [the same object for each other metric of the SLO]
      }],
      "goals": [str] (targets met in this run, a stale baseline, re-establishing it),
      "profile_diffs": [{"slo", "kept": true, "before": {"commit", "file"}, "after": {"commit", "file"},
                         "unit" ("s" per call | "share"), "changes": [{"function", "file", "before",
                         "after", "contribution"}], "lines": [str]}
                        | {"slo", "kept": false, "command"}] | null   (per confirmed time regression;
                        null when not looked up)
      "errors": [{"path", "reason"}]
    }
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from perfslo_tui.report.common import goal_lines, profile_command, profile_diff_results, short_reason
from perfslo_tui.text import utc_iso
from perfslo_tui.verdict.model import Comparison, Evaluation, SLOResult, finite_or_none
from perfslo_tui.verdict.stats import ChangeEstimate

if TYPE_CHECKING:
    from perfslo_tui.profiles.store import KeptComparison

FORMAT_VERSION = 1
PROFILE_DIFF_CHANGES = 10


def _comparison(cmp: Comparison | None) -> dict[str, Any] | None:
    if cmp is None:
        return None
    est = cmp.estimate
    return {
        "reference_run": cmp.reference_run_id,
        "reference_commit": cmp.reference_commit,
        "reference_ms": cmp.regression.baseline_ms,
        "current_ms": cmp.regression.current_ms,
        "change": finite_or_none(cmp.change),
        "percent_change": cmp.regression.percent_change,
        "basis": cmp.basis,
        "raw_change": finite_or_none(cmp.raw_change),
        "severity": cmp.severity.value,
        "significant": cmp.significant,
        "within_noise": cmp.within_noise,
        "judged": cmp.judged,
        "unjudged": ("machine busy" if cmp.busy else cmp.unjudged) or None,
        "ci_low": finite_or_none(est.ci_low) if est else None,
        "ci_high": finite_or_none(est.ci_high) if est else None,
        "label": cmp.label,
    }


def slo_to_dict(result: SLOResult) -> dict[str, Any]:
    """One SLO's result as a JSON-ready dict."""
    budget = result.budget
    spec = result.spec
    time = result.metric == "time"
    return {
        "name": result.name,
        "metric": result.metric,
        "unit": result.unit,
        "description": result.description,
        "has_budget": result.has_budget,
        "status": result.state_label,
        "value": result.value_ms,
        "budget": spec.budget if spec else None,
        # The names of format 1, kept for times.
        "value_ms": result.value_ms if time else None,
        "budget_ms": (spec.budget if spec else None) if time else None,
        "tolerance": spec.tolerance if spec else None,
        "percent_of_budget": round(budget.percent_of_budget, 1) if budget else None,
        "under_band": budget.under_band if budget else False,
        "stats": result.stats.as_dict() if result.stats else None,
        "steady": None
        if result.steady is None
        else {
            "class": result.steady.kind.value,
            "steady_from": result.steady.steady_from,
            "samples_total": result.steady.total,
            "message": result.steady.message,
        },
        "blocking": result.blocking,
        "warning": result.warning,
        "confirmed": result.confirmed_violation or result.confirmed_regression,
        "violation_streak": result.violation_streak,
        "regression_streak": result.regression_streak,
        "vs_baseline": _comparison(result.vs_baseline),
        "vs_previous": _comparison(result.vs_previous),
        "vs_session": _comparison(result.vs_session),
        "noise": finite_or_none(result.noise),
        "inconclusive": result.inconclusive,
        "settle": result.settle or None,
        "unjudged": result.unjudged or None,
        "drift": None
        if result.drift is None
        else {
            "rate_per_day": result.drift.estimate.rate_per_day,
            "total": result.drift.estimate.total,
            "span_days": result.drift.estimate.span_days,
            "runs": result.drift.estimate.runs,
            "days_to_violation": result.drift.days_to_violation,
            "message": result.drift.message,
        },
        "step": None
        if result.step is None
        else {
            "run_id": result.step.run_id,
            "commit": result.step.commit,
            "timestamp_unix": result.step.ts_ms,
            "change": result.step.change,
            "message": result.step.message,
        },
        "ab_confirmation": _ab_confirmation(result),
        "messages": result.messages(),
        "target": _target(result),
        "confirmed_slowdown": _estimate(result.confirmed_slowdown),
        "improvement": None
        if result.improvement is None
        else {
            "change": result.improvement.change,
            "ci_low": result.improvement.ci_low,
            "ci_high": result.improvement.ci_high,
        },
        "metrics": [slo_to_dict(other) for other in result.also],
    }


def _estimate(estimate: ChangeEstimate | None) -> dict[str, Any] | None:
    if estimate is None:
        return None
    return {
        "change": finite_or_none(estimate.change),
        "ci_low": finite_or_none(estimate.ci_low),
        "ci_high": finite_or_none(estimate.ci_high),
    }


def _target(result: SLOResult) -> dict[str, Any] | None:
    progress = result.target_progress
    if progress is None:
        return None
    return {
        "target": progress.target,
        "to_go": progress.to_go,
        "met": progress.met,
        "confirmed": progress.confirmed,
        "newly_met": progress.newly_met,
        "streak": progress.streak,
        "line": progress.line,
    }


def _baseline(evaluation: Evaluation) -> dict[str, Any] | None:
    base = evaluation.baseline
    if base is None:
        return None
    age = evaluation.baseline_age
    return {
        "commit": base.commit,
        "established": base.established,
        "source_run": base.source_run,
        "age_days": round(age.days, 3) if age is not None and age.days is not None else None,
        "commits_since": age.commits if age is not None else None,
        "stale": age.stale if age is not None else False,
        "warnings": age.warnings if age is not None else [],
    }


def _problem(result: SLOResult) -> dict[str, str]:
    return {"slo": result.name, "metric": result.metric, "message": short_reason(result)}


def _ab_confirmation(result: SLOResult) -> dict[str, Any] | None:
    """The interleaved compare that confirmed or cleared a suspected regression, if the gate ran one."""
    ab = result.ab_confirmation
    if ab is None:
        return None
    d = ab.decision
    return {
        "verdict": d.verdict.value,
        "change": finite_or_none(d.change),
        "ci_low": finite_or_none(d.ci_low),
        "ci_high": finite_or_none(d.ci_high),
        "pairs": d.pairs,
        "base_commit": ab.base_commit,
        "head": ab.head,
        "message": ab.message,
        "action": ab.action,
    }


def evaluation_to_dict(
    evaluation: Evaluation, profile_diffs: Mapping[str, KeptComparison] | None = None
) -> dict[str, Any]:
    """The whole evaluation as a JSON-ready dict (see the module docstring).

    ``profile_diffs``: the kept profile diffs the gate found for confirmed
    regressions, by SLO name (None: not looked up; ``profile_diffs`` is null).
    """
    run = evaluation.run
    return {
        "format_version": FORMAT_VERSION,
        "verdict": evaluation.verdict.value,
        "exit_code": evaluation.verdict.exit_code,
        "run": None
        if run is None
        else {
            "run_id": run.run_id,
            "timestamp": utc_iso(run.ts_ms),
            "timestamp_unix": run.ts_ms,
            "commit": run.commit,
            "branch": run.branch,
            "dirty": run.dirty,
        },
        "run_count": evaluation.run_count,
        "baseline": _baseline(evaluation),
        "confirm_runs": evaluation.confirm_runs,
        "summary": evaluation.luascript_summary(),
        "violations": [_problem(r) for r in evaluation.blocking],
        "warnings": [_problem(r) for r in evaluation.warnings],
        "unjudged": [{"slo": r.name, "metric": r.metric, "message": r.unjudged} for r in evaluation.unjudged],
        "slos": [slo_to_dict(r) for r in evaluation.slos],
        "goals": goal_lines(evaluation),
        "profile_diffs": None if profile_diffs is None else _profile_diffs(evaluation, profile_diffs),
        "errors": [{"path": p, "reason": reason} for p, reason in evaluation.errors],
    }


def _profile_diffs(evaluation: Evaluation, diffs: Mapping[str, KeptComparison]) -> list[dict[str, Any]]:
    """Per confirmed time regression: its kept profile diff, or the command that would keep one."""
    out: list[dict[str, Any]] = []
    for result in profile_diff_results(evaluation):
        comparison = diffs.get(result.name)
        if comparison is None:
            out.append({"slo": result.name, "kept": False, "command": profile_command(result)})
            continue
        diff = comparison.diff
        out.append(
            {
                "slo": result.name,
                "kept": True,
                "before": {"commit": comparison.before.commit, "file": comparison.before.file},
                "after": {"commit": comparison.after.commit, "file": comparison.after.file},
                "unit": diff.unit,
                "changes": [
                    {
                        "function": change.name,
                        "file": change.file,
                        "before": finite_or_none(change.before_s),
                        "after": finite_or_none(change.after_s),
                        "contribution": finite_or_none(change.contribution),
                    }
                    for change in diff.top(PROFILE_DIFF_CHANGES)
                ],
                "lines": diff.lines(PROFILE_DIFF_CHANGES),
            }
        )
    return out


def render_json(evaluation: Evaluation, profile_diffs: Mapping[str, KeptComparison] | None = None) -> str:
    """Render the evaluation as indented JSON text (``profile_diffs``: see :func:`evaluation_to_dict`)."""
    document = evaluation_to_dict(evaluation, profile_diffs)
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"

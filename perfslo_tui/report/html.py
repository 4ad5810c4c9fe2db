"""The HTML dashboard ``perf-dashboard.html``: one self-contained file.

No CDN, no network, no external file: charts are inline SVG whose geometry is
computed here, the styles and one tiny script are inline, and a
Content-Security-Policy (``default-src 'none'``, the script allowed by its
hash) makes the browser refuse anything else. The page is rendered by jinja2
with autoescaping, so names and commits read from run files are text, never
markup. Everything shown comes from the :class:`~perfslo_tui.verdict.engine.Evaluation`.

It reads right in any browser: status icons are inline SVG (no emoji font
needed), time axes get distinct labels at round times, a long pause between
runs is drawn as a gap in the line, runs with uncommitted changes are hollow
points, and the banner says what the evaluation found (an unconfirmed
violation on a busy machine is not "drift").
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

import jinja2
import numpy as np

from perfslo_tui import __version__
from perfslo_tui.report.common import (
    action_line,
    baseline_age_text,
    budget_cell,
    goal_lines,
    headline,
    percent_cell,
    value_cell,
)
from perfslo_tui.report.trend_file import trend_note, window_start_ms
from perfslo_tui.runs.files import metric_series
from perfslo_tui.text import format_change, format_ms, format_value, printable, short_commit, utc_iso
from perfslo_tui.verdict.model import Comparison, Evaluation, SLOResult, Verdict
from perfslo_tui.verdict.rules import (
    BudgetStatus,
    Severity,
    budget_status,
    tolerance_band,
    violation_threshold,
)
from perfslo_tui.verdict.trends import DAY_MS

CHART_W = 560
CHART_H = 190
PAD_L, PAD_R, PAD_T, PAD_B = 56, 14, 10, 24
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
# A pause between runs longer than this many times the usual spacing (and at
# least an hour) is drawn as a gap, not as a line across it.
GAP_FACTOR = 3.0
MAX_X_TICKS = 6
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class ChartPoint:
    """One run's median on the chart (``dirty``: measured with uncommitted changes)."""

    x: float
    y: float
    css: str
    label: str
    dirty: bool = False


@dataclass(frozen=True, slots=True)
class HLine:
    """A horizontal reference line (budget, threshold, baseline)."""

    y: float
    css: str
    label: str


@dataclass(slots=True)
class Chart:
    """The geometry of one SLO's trend chart, in SVG user units."""

    width: int = CHART_W
    height: int = CHART_H
    left: float = PAD_L
    right: float = CHART_W - PAD_R
    top: float = PAD_T
    bottom: float = CHART_H - PAD_B
    points: list[ChartPoint] = field(default_factory=list)
    path: str = ""
    lines: list[HLine] = field(default_factory=list)
    band: tuple[float, float] | None = None
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    step: tuple[float, str] | None = None
    fit: tuple[float, float, float, float] | None = None
    label: str = ""


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 × 10^k) covering ``[low, high]``."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _time_label(ts_ms: int, span_ms: int) -> str:
    iso = utc_iso(ts_ms)
    day = f"{MONTHS[int(iso[5:7]) - 1]} {int(iso[8:10])}"
    # Labels as fine as the span needs: seconds within an hour, hours within two days.
    if span_ms < 3_600_000:
        return iso[11:19]
    if span_ms < 2 * DAY_MS:
        return f"{day} {iso[11:16]}"
    return day


def _tick(value: float, unit: str) -> str:
    """An axis label: the number alone for times (the axis says ms), with its unit otherwise."""
    return format_ms(value) if unit == "ms" else format_value(value, unit)


# Tick steps from a minute to a month, each with how its labels read.
_TICK_STEPS: tuple[tuple[int, str], ...] = (
    (MINUTE_MS, "minute"),
    (2 * MINUTE_MS, "minute"),
    (5 * MINUTE_MS, "minute"),
    (10 * MINUTE_MS, "minute"),
    (15 * MINUTE_MS, "minute"),
    (30 * MINUTE_MS, "minute"),
    (HOUR_MS, "hour"),
    (2 * HOUR_MS, "hour"),
    (3 * HOUR_MS, "hour"),
    (6 * HOUR_MS, "hour"),
    (12 * HOUR_MS, "hour"),
    (DAY_MS, "day"),
    (2 * DAY_MS, "day"),
    (7 * DAY_MS, "day"),
    (14 * DAY_MS, "day"),
)


def time_ticks(t0: int, t1: int) -> list[tuple[int, str]]:
    """Round times between ``t0`` and ``t1`` (UTC ms) with distinct labels, at most :data:`MAX_X_TICKS`.

    Days are labelled ``Nov 28``; times of day ``06:00`` (with the day on the
    first tick and where the day changes); under a minute, ``12:01:05``.
    """
    span = t1 - t0
    if span <= 0:
        return [(t0, utc_iso(t0)[11:19] + " UTC")]
    step, unit = next(((s, u) for s, u in _TICK_STEPS if span / s <= MAX_X_TICKS - 1), _TICK_STEPS[-1])
    if span < MINUTE_MS:
        return [(t0, utc_iso(t0)[11:19]), (t1, utc_iso(t1)[11:19])]
    first = -(-t0 // step) * step
    if first + step > t1:
        # Fewer than two round times in the span: its two ends, labelled in full.
        return [(t0, f"{_time_label(t0, span)}"), (t1, f"{_time_label(t1, span)}")]
    ticks: list[tuple[int, str]] = []
    last_day = ""
    for ts in range(first, t1 + 1, step):
        iso = utc_iso(ts)
        day = f"{MONTHS[int(iso[5:7]) - 1]} {int(iso[8:10])}"
        if unit == "day":
            label = day
        else:
            label = iso[11:16] if day == last_day else f"{day} {iso[11:16]}"
        last_day = day
        ticks.append((ts, label))
    return ticks


def series_path(points: Sequence[ChartPoint], times: Sequence[int]) -> str:
    """The SVG path through the points, broken where the runs paused for long (a gap, not a line)."""
    if not points:
        return ""
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    usual = float(np.median(gaps)) if gaps else 0.0
    limit = max(GAP_FACTOR * usual, HOUR_MS)
    parts = [f"M{points[0].x},{points[0].y}"]
    for point, gap in zip(points[1:], gaps, strict=True):
        parts.append(f"{'M' if gap > limit else 'L'}{point.x},{point.y}")
    return " ".join(parts)


def build_chart(result: SLOResult, baseline_ms: float | None) -> Chart:
    """Compute one SLO's chart: medians over the window with reference lines.

    Args:
        result: The SLO's evaluated result (its ``trend``, ``drift``, ``step``).
        baseline_ms: The baseline median of this SLO, if any.

    Returns:
        The chart geometry; no points when the SLO has no data.
    """
    chart = Chart()
    trend = result.trend
    spec = result.spec if result.spec is not None and result.spec.budget is not None else None
    unit = result.unit
    values = [p.median for p in trend]
    refs: list[float] = []
    if spec is not None and spec.budget is not None:
        band_low, band_high = tolerance_band(spec.budget, spec.tolerance)
        refs += [band_low, band_high, violation_threshold(spec.budget, spec.tolerance)]
    if baseline_ms is not None:
        refs.append(baseline_ms)
    everything = values + refs
    if not everything:
        chart.label = "no data"
        return chart
    low, high = min(everything), max(everything)
    pad = (high - low) * 0.08 if high > low else max(abs(low) * 0.05, 1e-6)
    low, high = max(0.0, low - pad), high + pad

    def y_of(value: float) -> float:
        return chart.bottom - (value - low) / (high - low) * (chart.bottom - chart.top)

    chart.y_ticks = [(y_of(v), _tick(v, unit)) for v in nice_ticks(low, high) if low <= v <= high]

    if spec is not None and spec.budget is not None:
        budget = spec.budget
        band_low, band_high = tolerance_band(budget, spec.tolerance)
        chart.band = (y_of(band_high), y_of(band_low))
        limit = violation_threshold(budget, spec.tolerance)
        chart.lines.append(HLine(y_of(budget), "budget", f"budget {format_value(budget, unit)}"))
        chart.lines.append(HLine(y_of(limit), "limit", f"violation above {format_value(limit, unit)}"))
    if baseline_ms is not None:
        label = f"baseline {format_value(baseline_ms, unit)}"
        chart.lines.append(HLine(y_of(baseline_ms), "baseline", label))
    if not trend:
        chart.label = "no runs in the window"
        return chart

    t0, t1 = trend[0].ts_ms, trend[-1].ts_ms
    span = t1 - t0

    def x_of(ts_ms: int) -> float:
        if span <= 0:
            return (chart.left + chart.right) / 2
        return chart.left + (ts_ms - t0) / span * (chart.right - chart.left)

    for point in trend:
        css = "nobudget"
        if spec is not None and spec.budget is not None:
            css = budget_status(point.median, spec.budget, spec.tolerance).status.value.lower()
        when = utc_iso(point.ts_ms)[:16].replace("T", " ")
        label = f"{format_value(point.median, unit)} · {short_commit(point.commit)} · {when} UTC"
        if point.dirty:
            label += " · dirty (uncommitted changes)"
        x, y = round(x_of(point.ts_ms), 2), round(y_of(point.median), 2)
        chart.points.append(ChartPoint(x, y, css, label, point.dirty))
    chart.path = series_path(chart.points, [p.ts_ms for p in trend])
    chart.x_ticks = [(x_of(ts), label) for ts, label in time_ticks(t0, t1)]
    if result.step is not None:
        chart.step = (round(x_of(result.step.ts_ms), 2), result.step.message)
    if result.drift is not None and span > 0:
        # The drift's own Theil–Sen slope; the intercept is the median offset
        # of the log medians from it, as Theil–Sen defines it.
        slope = math.log1p(result.drift.estimate.rate_per_day)
        days = np.array([p.ts_ms - t0 for p in trend], dtype=float) / DAY_MS
        intercept = float(np.median(np.log(np.array(values)) - slope * days))
        end = span / DAY_MS
        chart.fit = (
            x_of(t0),
            y_of(math.exp(intercept)),
            x_of(t1),
            y_of(math.exp(intercept + slope * end)),
        )
    chart.label = f"{len(trend)} runs, {_time_label(t0, span)} to {_time_label(t1, span)}"
    return chart


@dataclass(frozen=True, slots=True)
class CardView:
    """What one SLO's status card shows."""

    result: SLOResult
    name: str
    css: str
    status_css: str
    value: str
    budget: str
    percent: str
    bar: float
    status: str
    indicator: str
    note: str
    vs_baseline: str
    vs_previous: str
    messages: list[str]
    chart: Chart
    icon: str = "nodata"
    target: str = ""


def _css(result: SLOResult) -> str:
    if result.blocking or result.status is BudgetStatus.VIOLATION:
        return "violation"
    if result.status is BudgetStatus.DRIFT or result.warning:
        return "drift"
    if result.status is BudgetStatus.PASS:
        return "pass"
    return "nodata"


def _cmp_text(cmp: Comparison | None) -> str:
    if cmp is None:
        return "—"
    # With the medians it came from (and both changes when machine-adjusted).
    text = cmp.explained
    if cmp.interval:
        text += f" (95% CI {cmp.interval})"
    return text


def _card(result: SLOResult, evaluation: Evaluation) -> CardView:
    base = evaluation.baseline
    baseline_ms = base.medians.get(metric_series(result.name, result.metric)) if base is not None else None
    bar = 0.0
    if result.budget is not None:
        # The bar spans 0–120 % of the budget; the marks sit at 100 % and at the violation line.
        bar = min(result.budget.percent_of_budget, 120.0) / 120.0 * 100.0
    status_css = result.status.value.lower() if result.status is not None else "nodata"
    note = trend_note(result)
    status = result.state_label
    if result.violation and not result.confirmed_violation:
        status += f" (unconfirmed {result.violation_streak}/{result.confirm_runs})"
    return CardView(
        result=result,
        name=printable(result.display_name, 140),
        css=_css(result),
        status_css=status_css,
        value=value_cell(result),
        budget=budget_cell(result),
        percent=percent_cell(result),
        bar=round(bar, 2),
        # Words only: the icon is drawn as SVG beside them (no emoji font needed).
        status=status,
        indicator=f"{percent_cell(result)} {note}" if result.budget is not None else note,
        note=note,
        vs_baseline=_cmp_text(result.vs_baseline),
        vs_previous=_cmp_text(result.vs_previous),
        messages=[printable(m, 300) for m in result.messages()],
        chart=build_chart(result, baseline_ms),
        icon=status_css,
        # The card shows the % of budget already: only the progress.
        target=result.target_progress.summary if result.target_progress is not None else "",
    )


def banner(evaluation: Evaluation) -> tuple[str, str, str]:
    """The banner's icon, headline and action line, from what the evaluation found.

    WARNING is spelled out: unconfirmed violations (and whether the machine
    was busy), slowdowns against the baseline, drift over the budget, SLOs
    without data; "drift" is said only when an SLO is in its drift band.
    """
    if evaluation.run is None:
        return "nodata", "No runs yet", "Run the benchmarks, then make this page again."
    verdict = evaluation.verdict
    if verdict is Verdict.PASSED:
        return "pass", "PASSED: All SLOs within budget", ""
    if verdict is Verdict.FAILED:
        confirmed = evaluation.blocking
        kinds = []
        if any(r.confirmed_violation for r in confirmed):
            kinds.append("budget violations")
        if any(r.confirmed_regression for r in confirmed):
            kinds.append("regressions against the baseline")
        return "violation", f"FAILED: confirmed {' and '.join(kinds)}", action_line(verdict)
    if verdict is Verdict.UNJUDGED:
        return "nodata", headline(verdict, evaluation).removeprefix("❔ "), action_line(verdict, evaluation)
    warnings = evaluation.warnings
    parts: list[str] = []
    unconfirmed = [r for r in warnings if r.violation and not r.confirmed_violation]
    if unconfirmed:
        text = f"{len(unconfirmed)} unconfirmed budget violation{'s' if len(unconfirmed) != 1 else ''}"
        if all(r.busy for r in unconfirmed):
            text += " measured on a busy machine"
        parts.append(text)
    slower = [
        r
        for r in warnings
        if r not in unconfirmed
        and r.vs_baseline is not None
        and r.vs_baseline.effective_severity in (Severity.WARNING, Severity.REGRESSION)
    ]
    if slower:
        parts.append(f"{len(slower)} slower than the baseline (unconfirmed)")
    drifting = [r for r in warnings if r.status is BudgetStatus.DRIFT]
    if drifting:
        parts.append(f"performance drift: {len(drifting)} over budget within the tolerance band")
    missing = [r for r in warnings if r.stats is None]
    if missing:
        parts.append(f"{len(missing)} without data in this run")
    action = action_line(verdict)
    if any(r.needs_confirmation for r in evaluation.slos):
        action += " · re-run to confirm or clear: perfslo check --confirm 3"
    return "drift", "WARNING: " + "; ".join(parts or ["see the SLOs below"]), action


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("perfslo_tui", "report/templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ms"] = format_ms
    env.filters["change"] = format_change
    env.filters["clip"] = printable
    env.filters["iso"] = lambda ms: utc_iso(int(ms))
    env.filters["when"] = lambda ms: utc_iso(int(ms))[:16].replace("T", " ") + " UTC"
    return env


def _script() -> str:
    return resources.files("perfslo_tui").joinpath("report", "templates", "dashboard.js").read_text("utf-8")


def script_hash(script: str) -> str:
    """The CSP source for an inline script: ``'sha256-…'``."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def render_html(evaluation: Evaluation, generated_ms: int | None = None, history_runs: int = 0) -> str:
    """Render the dashboard page.

    Args:
        evaluation: The evaluation of the latest run.
        generated_ms: When the page was generated (default: now).
        history_runs: Pruned run medians kept in the trend file (shown as a count).

    Returns:
        The complete HTML document.
    """
    from perfslo_tui.runs.metadata import now_ms

    script = _script()
    cards = [_card(r, evaluation) for r in evaluation.all_results]
    problems = [c for c in cards if c.result.blocking or c.result.warning or c.result.violation]
    analysed: Sequence[CardView] = [
        c for c in cards if c.result.vs_baseline is not None or c.result.step is not None
    ]
    drifting = [c for c in cards if c.result.drift is not None]
    start = window_start_ms(evaluation)
    template = _environment().get_template("dashboard.html.j2")
    icon, title, action = banner(evaluation)
    return template.render(
        evaluation=evaluation,
        verdict=evaluation.verdict,
        verdict_css=evaluation.verdict.value.lower() if evaluation.run is not None else "nodata",
        verdict_icon=icon,
        headline=title,
        action=action,
        run=evaluation.run,
        baseline=evaluation.baseline,
        baseline_age=baseline_age_text(evaluation),
        baseline_stale=evaluation.baseline_age is not None and evaluation.baseline_age.stale,
        goals=goal_lines(evaluation),
        cards=cards,
        problems=problems,
        analysed=analysed,
        drifting=drifting,
        errors=[(printable(p, 200), printable(r, 300)) for p, r in evaluation.errors],
        window_start=start,
        generated=generated_ms if generated_ms is not None else now_ms(),
        history_runs=history_runs,
        version=__version__,
        script=script,
        script_hash=script_hash(script),
    )

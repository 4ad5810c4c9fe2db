"""The drill-down, help and confirmation screens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Log, Static
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot

from perfslo_tui.actions.baseline import BaselinePlan
from perfslo_tui.report.common import budget_cell, target_line, value_cell
from perfslo_tui.runs.files import metric_series
from perfslo_tui.runs.history import RunHistory, RunInfo
from perfslo_tui.text import (
    format_change,
    format_ms,
    format_percent,
    format_value,
    printable,
    short_commit,
    utc_iso,
)
from perfslo_tui.tui.compare_panel import ComparePanel, LiveCompare
from perfslo_tui.tui.profile import ProfileScreen, bisect_hint
from perfslo_tui.tui.widgets import SEVERITY_STYLE, STATUS_STYLE, glyph, safe
from perfslo_tui.verdict.engine import recent_results
from perfslo_tui.verdict.model import Comparison, Evaluation, SLOResult
from perfslo_tui.verdict.rules import tolerance_band
from perfslo_tui.verdict.trends import DAY_MS

if TYPE_CHECKING:
    from perfslo_tui.tui.app import PerfSLOApp

HISTORY_ROWS = 15

# Every key, for the help screen and the docs: (keys, where, what).
KEYS: list[tuple[str, str, str]] = [
    ("←↓↑→ / h j k l", "overview", "move between cards"),
    ("Enter / click", "overview", "open the selected SLO (drill-down)"),
    ("/", "overview", "filter SLOs by name (Enter keeps it; Esc clears it, also later)"),
    ("s", "overview", "cycle the sort: status, name, % of budget"),
    ("v", "overview", "cycle the view: auto (fits every SLO), list (one line each), cards"),
    (
        "r",
        "anywhere",
        "re-run the bench command as written; in the drill-down only that SLO: "
        "PERFSLO_SLO=<name> is set (and {slo} filled in), so it can always narrow",
    ),
    ("x", "anywhere", "cancel the running bench command (drill-down: or the running compare)"),
    ("o", "anywhere", "show or hide the bench command's output"),
    (
        "b",
        "anywhere",
        "make the latest run (drill-down: the selected run) the baseline, after confirming; "
        "SLOs it lacks keep theirs",
    ),
    ("m", "anywhere", "switch the metric shown: time, instruction counts, peak memory (where measured)"),
    (
        "c",
        "drill-down",
        "did my edit help? compare the working tree (uncommitted edits) against HEAD, "
        "measured side by side; the estimate updates live (x or Esc cancels)",
    ),
    ("C", "drill-down", "the same against the baseline's commit"),
    ("p", "drill-down", "profile this SLO's benchmark: hot spots, call tree (x cancels, Esc goes back)"),
    ("d", "profile", "diff against a profile of the baseline's commit (kept, or made in a worktree)"),
    ("1 2 3", "profile", "show the hot spots, the call tree, the diff"),
    ("M", "overview", "next machine (runs of two machines are never compared; the last choice mixes them)"),
    ("Esc", "drill-down", "back to the overview"),
    ("?", "anywhere", "this help"),
    ("q", "anywhere", "quit (stops the watchers and any running command)"),
]


def baseline_question(run_id: str, commit: str, plan: BaselinePlan, shared: bool = False) -> Text:
    """The confirmation for ``b``: which SLOs the run sets and which keep their baseline, from where.

    Args:
        run_id: The run that would become the baseline.
        commit: Its short commit.
        plan: Which SLOs it sets and which keep their baseline.
        shared: The history is the shared one (the baseline is its machine's, there).
    """
    question = Text()
    question.append("Make run ")
    question.append(printable(run_id, 80), style="bold")
    question.append(" (commit ")
    question.append(printable(commit, 12), style="bold")
    question.append(") the baseline of its machine in the shared history?" if shared else ") the baseline?")
    if plan.kept:
        question.append(f"\nFrom this run: {len(plan.from_run)} SLO(s): ")
        question.append(
            ", ".join(printable(n, 40) for n in plan.from_run[:6]) + ("…" if len(plan.from_run) > 6 else "")
        )
        by_commit: dict[str, list[str]] = {}
        for name, origin in plan.kept.items():
            by_commit.setdefault(origin, []).append(printable(name, 40))
        for origin, names in sorted(by_commit.items()):
            shown = printable(short_commit(origin), 12)
            question.append(f"\nNot in this run, kept from the baseline at {shown}: ", style="yellow")
            question.append(", ".join(names[:6]) + ("…" if len(names) > 6 else ""))
    if shared:
        question.append("\nEarlier baselines stay there.")
    else:
        question.append("\nThe current baseline file is kept in baselines/.")
    return question


def comparison_line(title: str, cmp: Comparison | None) -> Text:
    """``vs baseline a1b2c3d: +3.0% stable [-1.0%, +7.1%]``, then the medians it came from.

    A machine-adjusted change says so and gives the raw change of the
    medians beside it, so the two never seem to contradict each other.
    """
    line = Text()
    line.append(f"{title}", style="bold")
    if cmp is None:
        line.append(": —", style="dim")
        return line
    line.append(" ")
    line.append(printable(short_commit(cmp.reference_commit), 12), style="dim")
    line.append(": ")
    line.append(cmp.label, style=SEVERITY_STYLE[cmp.effective_severity] if cmp.judged else "dim")
    if cmp.interval and cmp.judged:
        line.append(f"  95% CI {cmp.interval}", style="dim")
    line.append(f"\n    medians {cmp.medians_text}", style="dim")
    if cmp.adjusted:
        raw, adjusted = format_change(cmp.raw_change), format_change(cmp.change)
        line.append(f" (raw {raw}; machine-adjusted {adjusted})", style="dim")
    return line


def analysis_text(result: SLOResult | None) -> Text:
    """The regression analysis of one SLO: messages, comparisons, noise, samples."""
    if result is None:
        return Text("this SLO is not in the latest run", style="dim")
    parts: list[Text] = []
    status = Text()
    style = f"bold {STATUS_STYLE.get(result.status, '')}"
    status.append(f"{glyph(result.icon)} {result.state_label}", style=style)
    if result.confirmation_label:
        status.append(f"  {result.confirmation_label}", style="dim")
    parts.append(status)
    target = target_line(result)
    if target:
        parts.append(safe("🎯 " + target, 300, style="cyan"))
    for message in result.messages():
        parts.append(safe("• " + message, 300))
    parts.append(Text(""))
    parts.append(comparison_line("vs previous", result.vs_previous))
    parts.append(comparison_line("vs baseline", result.vs_baseline))
    parts.append(comparison_line("vs session start", result.vs_session))
    hint = bisect_hint(result)
    if hint is not None:
        parts.append(Text("find the commit that stepped:", style="bold"))
        parts.append(safe(hint, 200, "cyan"))
    if result.noise is not None:
        parts.append(Text(f"run-to-run noise ±{result.noise * 100:.1f}%", style="dim"))
    if result.stats is not None:
        s = result.stats
        steady = result.steady
        counted = f"n={s.count}"
        if steady is not None and steady.cut:
            counted = f"n={s.count} steady of {steady.total}"
        parts.append(
            Text(
                f"samples {counted}  min {format_ms(s.min)}  median {format_ms(s.median)}  "
                f"p95 {format_ms(s.p95)}  max {format_ms(s.max)} {result.unit}",
                style="dim",
            )
        )
        if steady is not None and steady.tested and not steady.cut and steady.steady:
            parts.append(Text(steady.message, style="dim"))
    for part in parts:
        part.no_wrap = False
    return Text("\n").join(parts)


class DetailScreen(LiveCompare, Screen[None]):
    """Drill-down into one SLO: trend plot, samples, recent runs, analysis."""

    CSS_PATH = "detail.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("escape", "back", "Back"),
        # Always offered: the SLO reaches the command as PERFSLO_SLO (and {slo}).
        Binding("r", "rerun", "Re-run SLO"),
        Binding("b", "baseline", "Baseline←row"),
        Binding("c", "compare('HEAD')", "Compare vs HEAD"),
        Binding("C", "compare('baseline')", "vs baseline", show=False),
        Binding("x", "cancel", "Cancel"),
        Binding("p", "profile", "Profile"),
    ]

    def __init__(self, slo_name: str) -> None:
        super().__init__()
        self.slo_name = slo_name
        self.recent: list[tuple[RunInfo, SLOResult | None]] = []
        self._shown: tuple[object, ...] | None = None
        self.title_text = Text()
        self._ready = False
        self.init_compare()

    @property
    def perf_app(self) -> PerfSLOApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        """Title, plots, table of runs, analysis, footer."""
        yield Static(id="detail-title")
        with Horizontal(id="plots"):
            yield PlotextPlot(id="trend")
            yield PlotextPlot(id="samples")
        with Horizontal(id="lower"):
            with Vertical(id="runs-box"):
                yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="analysis-box"):
                yield Static(id="analysis")
        yield ComparePanel(id="compare")
        yield Log(id="detail-log", max_lines=5000, classes="hidden")
        yield Static(id="detail-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """Build the table's columns and show the data."""
        table = self.query_one("#runs", DataTable)
        for label in ("commit", "branch", "UTC", "median", "% budget", "status", "vs prev"):
            table.add_column(label, key=label)
        self.query_one("#runs-box").border_title = "recent runs (* dirty: uncommitted changes)"
        self.query_one("#analysis-box").border_title = "analysis"
        self.query_one("#detail-log").border_title = "bench command output (o hides)"
        app = self.perf_app
        if app.runner is not None and app.runner.running:
            # A command already running: its output so far, and it goes on here.
            self.output_started(app.output_lines)
        self._ready = True
        self.data_changed()
        table.focus()

    def result(self) -> SLOResult | None:
        """This SLO's result in the app's current evaluation."""
        return self.perf_app.result(self.slo_name)

    def data_changed(self) -> None:
        """Redraw from the app's current evaluation (only when this SLO's data changed)."""
        if not self._ready or not self.is_attached:
            # Not composed yet (on_mount draws) or already popped.
            return
        app = self.perf_app
        ev = app.evaluation
        if ev is None:
            return
        result = app.result(self.slo_name)
        baseline = ev.baseline
        key = (result, baseline.path if baseline else None, baseline.established if baseline else None)
        if key == self._shown:
            return
        self._shown = key
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(f"{glyph(result.icon) if result else '❔'} ")
        title.append(printable(result.display_name if result else self.slo_name, 100), style="bold")
        if result is not None:
            title.append(f"  {value_cell(result)}", style="bold")
            title.append(f"  budget {budget_cell(result)}", style="dim")
            if result.budget is not None:
                title.append(f"  {format_percent(result.budget.percent_of_budget)} of budget")
        title.append("\n")
        title.append(printable(result.description if result else "", 120), style="dim")
        self.title_text = title
        self.query_one("#detail-title", Static).update(title)
        self.query_one("#analysis", Static).update(analysis_text(result))
        self._draw_trend(result, ev)
        history = app.history
        if history is not None:
            self._draw_samples(result, ev, history)
            self._load_history(history)

    def _draw_trend(self, result: SLOResult | None, ev: Evaluation) -> None:
        widget = self.query_one("#trend", PlotextPlot)
        plt = widget.plt
        plt.clear_figure()
        plt.title(f"median over the last {ev.trend_days} days ({result.unit if result else 'ms'})")
        if result is None or not result.trend:
            widget.refresh()
            return
        last = result.trend[-1].ts_ms
        span_ms = last - result.trend[0].ts_ms
        # The unit follows the history's span, so a morning of local runs is
        # not squeezed into 0.0001 days.
        unit_ms, unit = (DAY_MS, "days") if span_ms >= 2 * DAY_MS else (3_600_000, "hours")
        if span_ms < 2 * 3_600_000:
            unit_ms, unit = 60_000, "minutes"
        xs = [(p.ts_ms - last) / unit_ms for p in result.trend]
        ys = [p.median for p in result.trend]
        span = [xs[0], xs[-1]] if len(xs) > 1 else [xs[0] - 1, xs[0]]
        spec = result.spec
        if spec is not None and spec.budget is not None:
            budget = spec.budget
            low, high = tolerance_band(budget, spec.tolerance)
            plt.plot(span, [budget, budget], color="red", label="budget", marker="braille")
            plt.plot(span, [high, high], color="orange", label="band", marker="braille")
            plt.plot(span, [low, low], color="orange", marker="braille")
        series = metric_series(self.slo_name, result.metric)
        if ev.baseline is not None and series in ev.baseline.medians:
            value = ev.baseline.medians[series]
            plt.plot(span, [value, value], color="green", label="baseline", marker="braille")
        plt.plot(xs, ys, marker="braille", color="cyan", label="median")
        plt.scatter(xs, ys, marker="dot", color="cyan")
        plt.xlabel(f"{unit} before the latest run")
        widget.refresh()

    def _draw_samples(self, result: SLOResult | None, ev: Evaluation, history: RunHistory) -> None:
        widget = self.query_one("#samples", PlotextPlot)
        plt = widget.plt
        plt.clear_figure()
        plt.title(f"samples: latest vs baseline ({result.unit if result else 'ms'})")
        series = metric_series(self.slo_name, result.metric if result else "time")
        if result is not None and ev.run is not None and result.stats is not None:
            latest = history.samples(result.measured_run_id or ev.run.run_id, series)
            if latest:
                plt.hist(latest, bins=20, color="cyan", label="latest")
        if ev.baseline is not None:
            base = list(ev.baseline.samples.get(series, ()))
            if base:
                plt.hist(base, bins=20, color="green", label="baseline")
        widget.refresh()

    @work(thread=True, exclusive=True, group="detail-history", exit_on_error=False)
    def _load_history(self, history: RunHistory) -> None:
        rows = recent_results(history, self.perf_app.config, self.slo_name, HISTORY_ROWS)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_history, rows)

    def _show_history(self, rows: list[tuple[RunInfo, SLOResult | None]]) -> None:
        if not self.is_attached:
            return
        self.recent = rows
        table = self.query_one("#runs", DataTable)
        selected = None
        if table.row_count and table.cursor_row >= 0:
            try:
                selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            except Exception:  # noqa: BLE001 - an empty or shrunk table has no cursor cell
                selected = None
        table.clear()
        for row, slo_result in rows:
            r = self.perf_app.shown(slo_result) if slo_result is not None else None
            status = Text("—", style="dim")
            pct = Text("—", style="dim")
            change = Text("—", style="dim")
            median = Text("—", style="dim")
            if r is not None:
                status = Text(f"{glyph(r.icon)} {r.state_label}", style=STATUS_STYLE.get(r.status, "dim"))
                if r.budget is not None:
                    pct = Text(format_percent(r.budget.percent_of_budget))
                if r.value_ms is not None:
                    median = Text(format_value(r.value_ms, r.unit))
                if r.vs_previous is not None:
                    cmp = r.vs_previous
                    change = Text(cmp.label, style=SEVERITY_STYLE[cmp.effective_severity])
            commit = safe(short_commit(row.commit), 12)
            if row.dirty:
                commit.append("*", style="bold yellow")
                commit.stylize("yellow")
            table.add_row(
                commit,
                safe(row.branch, 24),
                Text(utc_iso(row.ts_ms)[5:16].replace("T", " ")),
                median,
                pct,
                status,
                change,
                key=row.run_id,
            )
        if selected is not None:
            for index, (info, _result) in enumerate(rows):
                if info.run_id == selected:
                    table.move_cursor(row=index)
                    break

    def selected_run_id(self) -> str | None:
        """The run under the table's cursor, or None."""
        table = self.query_one("#runs", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def output_started(self, lines: list[str]) -> None:
        """A bench command started: its output panel opens and starts over with ``lines``."""
        log = self.query_one("#detail-log", Log)
        log.clear()
        log.write_lines(lines)
        self.toggle_output(True)

    def output(self, lines: list[str]) -> None:
        """More output of the running bench command (shown while a command runs)."""
        log = self.query_one("#detail-log", Log)
        log.write_lines(lines)
        if log.has_class("hidden") and self.perf_app.runner is not None and self.perf_app.runner.running:
            self.toggle_output(True)

    def toggle_output(self, visible: bool | None = None) -> None:
        """Show or hide the output panel (``o``)."""
        log = self.query_one("#detail-log", Log)
        show = log.has_class("hidden") if visible is None else visible
        log.set_class(not show, "hidden")
        self.set_class(show, "-log-open")

    def set_status(self, text: Text) -> None:
        """The status line: the running command's progress, then how it ended."""
        self.query_one("#detail-status", Static).update(text)

    def action_back(self) -> None:
        """Back to the overview (a running compare is cancelled)."""
        self.stop_compare()
        self.app.pop_screen()

    def action_rerun(self) -> None:
        """Re-run this SLO only (or everything when the command cannot narrow)."""
        if self.comparing:
            self.compare_status("a compare is measuring on this machine (x cancels it)", "yellow")
            return
        self.perf_app.action_rerun(self.slo_name)

    def action_profile(self) -> None:
        """Profile this SLO's benchmark (its own screen)."""
        result = self.result()
        evaluation = self.perf_app.evaluation
        run_id = result.measured_run_id if result is not None else None
        if run_id is None and result is not None and evaluation is not None and evaluation.run is not None:
            run_id = evaluation.run.run_id
        self.app.push_screen(ProfileScreen(self.slo_name, run_id))

    def action_baseline(self) -> None:
        """Make the selected run the baseline, after a confirmation."""
        self.perf_app.ask_baseline(self.selected_run_id())


class HelpScreen(ModalScreen[None]):
    """Every key, in a modal table."""

    CSS_PATH = "modal.tcss"
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        """The key table."""
        table = Table(box=None, padding=(0, 2), show_header=True, header_style="bold")
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("where", style="dim", no_wrap=True)
        table.add_column("what")
        for keys, where, what in KEYS:
            table.add_row(Text(keys), Text(where), Text(what))
        with Vertical(id="help-box"):
            yield Static(Text("perfslo-tui keys", style="bold"), id="help-title")
            yield Static(table, id="help-table")
            yield Static(Text("Esc, q or ? closes this help", style="dim"), id="help-hint")

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; y/Enter confirms, n/Esc declines."""

    CSS_PATH = "modal.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: Text) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        """The question and two buttons."""
        with Vertical(id="confirm-box"):
            yield Static(self.question, id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes (y)", id="yes", variant="primary")
                yield Button("No (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """A button answers."""
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        """A key answers."""
        self.dismiss(answer)

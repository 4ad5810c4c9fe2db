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
from textual.widgets import Button, DataTable, Footer, Static
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot

from perfslo_tui.report.common import budget_cell, value_cell
from perfslo_tui.runs.history import RunHistory, RunInfo
from perfslo_tui.text import format_ms, format_percent, printable, short_commit, utc_iso
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
    ("/", "overview", "filter SLOs by name (Enter keeps it, Esc clears it)"),
    ("s", "overview", "cycle the sort: status, name, % of budget"),
    ("r", "anywhere", "re-run the bench command (only this SLO in the drill-down, if {slo} is configured)"),
    ("x", "anywhere", "cancel the running bench command"),
    ("o", "anywhere", "show or hide the bench command's output"),
    ("b", "anywhere", "make the latest run (drill-down: the selected run) the baseline, after confirming"),
    ("m", "overview", "next machine (runs of two machines are never compared; the last choice mixes them)"),
    ("Esc", "drill-down", "back to the overview"),
    ("?", "anywhere", "this help"),
    ("q", "anywhere", "quit (stops the watcher and any running command)"),
]


def comparison_line(title: str, cmp: Comparison | None) -> Text:
    """``vs baseline a1b2c3d: +3.0% stable [-1.0%, +7.1%]``."""
    line = Text()
    line.append(f"{title}", style="bold")
    if cmp is None:
        line.append(": —", style="dim")
        return line
    line.append(" ")
    line.append(printable(short_commit(cmp.reference_commit), 12), style="dim")
    line.append(": ")
    line.append(cmp.label, style=SEVERITY_STYLE[cmp.effective_severity])
    if cmp.interval:
        line.append(f"  95% CI {cmp.interval}", style="dim")
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
    for message in result.messages():
        parts.append(safe("• " + message, 300))
    parts.append(Text(""))
    parts.append(comparison_line("vs previous", result.vs_previous))
    parts.append(comparison_line("vs baseline", result.vs_baseline))
    parts.append(comparison_line("vs session start", result.vs_session))
    if result.noise is not None:
        parts.append(Text(f"run-to-run noise ±{result.noise * 100:.1f}%", style="dim"))
    if result.stats is not None:
        s = result.stats
        parts.append(
            Text(
                f"samples n={s.count}  min {format_ms(s.min)}  median {format_ms(s.median)}  "
                f"p95 {format_ms(s.p95)}  max {format_ms(s.max)} ms",
                style="dim",
            )
        )
    for part in parts:
        part.no_wrap = False
    return Text("\n").join(parts)


class DetailScreen(Screen[None]):
    """Drill-down into one SLO: trend plot, samples, recent runs, analysis."""

    CSS_PATH = "detail.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("r", "rerun", "Re-run SLO"),
        Binding("b", "baseline", "Baseline←row"),
    ]

    def __init__(self, slo_name: str) -> None:
        super().__init__()
        self.slo_name = slo_name
        self.recent: list[tuple[RunInfo, SLOResult | None]] = []
        self._shown: tuple[object, ...] | None = None
        self.title_text = Text()
        self._ready = False

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
        yield Static(id="detail-status")
        yield Footer()

    def on_mount(self) -> None:
        """Build the table's columns and show the data."""
        table = self.query_one("#runs", DataTable)
        for label in ("commit", "branch", "UTC", "median", "% budget", "status", "vs prev"):
            table.add_column(label, key=label)
        self.query_one("#runs-box").border_title = "recent runs"
        self.query_one("#analysis-box").border_title = "analysis"
        self._ready = True
        self.data_changed()
        table.focus()

    def result(self) -> SLOResult | None:
        """This SLO's result in the app's current evaluation."""
        ev = self.perf_app.evaluation
        return ev.result(self.slo_name) if ev is not None else None

    def data_changed(self) -> None:
        """Redraw from the app's current evaluation (only when this SLO's data changed)."""
        if not self._ready or not self.is_attached:
            # Not composed yet (on_mount draws) or already popped.
            return
        app = self.perf_app
        ev = app.evaluation
        if ev is None:
            return
        result = ev.result(self.slo_name)
        baseline = ev.baseline
        key = (result, baseline.path if baseline else None, baseline.established if baseline else None)
        if key == self._shown:
            return
        self._shown = key
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(f"{glyph(result.icon) if result else '❔'} ")
        title.append(printable(self.slo_name, 80), style="bold")
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
        plt.title(f"median over the last {ev.trend_days} days (ms)")
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
        if result.config is not None:
            budget = result.config.budget_ms
            low, high = tolerance_band(budget, result.config.tolerance)
            plt.plot(span, [budget, budget], color="red", label="budget", marker="braille")
            plt.plot(span, [high, high], color="orange", label="band", marker="braille")
            plt.plot(span, [low, low], color="orange", marker="braille")
        if ev.baseline is not None and self.slo_name in ev.baseline.medians:
            value = ev.baseline.medians[self.slo_name]
            plt.plot(span, [value, value], color="green", label="baseline", marker="braille")
        plt.plot(xs, ys, marker="braille", color="cyan", label="median")
        plt.scatter(xs, ys, marker="dot", color="cyan")
        plt.xlabel(f"{unit} before the latest run")
        widget.refresh()

    def _draw_samples(self, result: SLOResult | None, ev: Evaluation, history: RunHistory) -> None:
        widget = self.query_one("#samples", PlotextPlot)
        plt = widget.plt
        plt.clear_figure()
        plt.title("samples: latest vs baseline (ms)")
        if result is not None and ev.run is not None and result.stats is not None:
            latest = history.samples(result.measured_run_id or ev.run.run_id, self.slo_name)
            if latest:
                plt.hist(latest, bins=20, color="cyan", label="latest")
        if ev.baseline is not None:
            base = list(ev.baseline.samples.get(self.slo_name, ()))
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
        for row, r in rows:
            status = Text("—", style="dim")
            pct = Text("—", style="dim")
            change = Text("—", style="dim")
            median = Text("—", style="dim")
            if r is not None:
                status = Text(f"{glyph(r.icon)} {r.state_label}", style=STATUS_STYLE.get(r.status, "dim"))
                if r.budget is not None:
                    pct = Text(format_percent(r.budget.percent_of_budget))
                if r.value_ms is not None:
                    median = Text(f"{format_ms(r.value_ms)}ms")
                if r.vs_previous is not None:
                    cmp = r.vs_previous
                    change = Text(cmp.label, style=SEVERITY_STYLE[cmp.effective_severity])
            table.add_row(
                safe(short_commit(row.commit), 12),
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

    def action_back(self) -> None:
        """Back to the overview."""
        self.app.pop_screen()

    def action_rerun(self) -> None:
        """Re-run this SLO only (or everything when the command cannot narrow)."""
        self.perf_app.action_rerun(self.slo_name)

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

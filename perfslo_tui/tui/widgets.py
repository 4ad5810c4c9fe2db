"""Reusable widgets of the monitor: SLO cards, the header, the panels.

Every string that comes from a file (SLO names, commits, branches, error
reasons) is put into a :class:`rich.text.Text` after
:func:`~perfslo_tui.text.printable`, never into markup, so a name
like ``[bold red]x[/]`` shows literally.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.events import Click
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static
from textual_plotext.plot import Plot

from perfslo_tui.text import format_change, printable, short_commit
from perfslo_tui.tui.card_lines import card_body, row_line
from perfslo_tui.tui.layout import RowColumns
from perfslo_tui.verdict.model import Comparison, Evaluation, SLOResult, Verdict
from perfslo_tui.verdict.rules import BudgetStatus, Severity

STATUS_STYLE: dict[BudgetStatus | None, str] = {
    None: "dim",
    BudgetStatus.PASS: "green",
    BudgetStatus.DRIFT: "yellow",
    BudgetStatus.VIOLATION: "red",
}
VERDICT_STYLE = {
    Verdict.PASSED: "green",
    Verdict.WARNING: "yellow",
    Verdict.UNJUDGED: "magenta",
    Verdict.FAILED: "red",
}
SEVERITY_STYLE = {
    Severity.IMPROVED: "green",
    Severity.STABLE: "",
    Severity.WARNING: "yellow",
    Severity.REGRESSION: "red",
}


def safe(text: str, limit: int = 80, style: str = "") -> Text:
    """Untrusted text as a Text object: control characters escaped, no markup."""
    return Text(printable(text, limit), style=style, no_wrap=True, overflow="ellipsis")


def glyph(icon: str) -> str:
    """An icon without the emoji variation selector.

    ``⚠️`` is U+26A0 + U+FE0F: Textual counts it two cells wide, many
    terminals (and tmux) draw it one wide, and every border after it on the
    line shifts. Without the selector both agree on one cell.
    """
    return icon.replace("\ufe0f", "")


def format_age(seconds: float) -> str:
    """``12s ago``, ``5m ago``, ``3h ago``, ``2d ago`` (``in the future`` for clock skew)."""
    if seconds < -60:
        return "in the future"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m ago"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.0f}h ago"
    return f"{seconds / 86400:.0f}d ago"


def comparison_text(label: str, cmp: Comparison | None, compact: bool = False) -> Text:
    """``base +3.0% warning`` coloured by the effective severity; ``adj.`` marks a machine-adjusted change.

    ``compact`` leaves out the word for stable changes (cards are narrow).
    """
    text = Text(f"{label} " if label else "", style="dim")
    if cmp is None:
        text.append("—", style="dim")
        return text
    style = SEVERITY_STYLE[cmp.effective_severity] if cmp.judged else "dim"
    if compact and cmp.judged and cmp.effective_severity is Severity.STABLE and not cmp.within_noise:
        text.append(cmp.change_text, style=style)
        if cmp.agreed_severity is not cmp.severity:
            # The raw medians did not back the adjusted change: both numbers, one glance.
            text.append(f", raw {format_change(cmp.raw_change)}", style=style)
    else:
        text.append(cmp.label, style=style)
    return text


def change_icon(result: SLOResult) -> str:
    """The icon of an SLO's change against the baseline: ❌ only once confirmed.

    An unconfirmed regression wears ⚠, one that could not be judged ❔.
    """
    cmp = result.vs_baseline
    if cmp is None:
        return "·"
    if result.confirmed_regression:
        return "❌"
    if result.unjudged:
        return "❔"
    severity = cmp.effective_severity
    if severity is Severity.REGRESSION:
        return "⚠"
    return glyph(severity.icon)


# ------------------------------------------------------------- sparklines

_SPARK_CACHE: OrderedDict[tuple[object, ...], Text] = OrderedDict()
_SPARK_CACHE_SIZE = 512
_SPARK_PLOT: Plot | None = None
spark_stats = {"hits": 0, "builds": 0}


def sparkline_text(values: Sequence[float], budget: float | None, width: int, height: int) -> Text:
    """A small plotext line of ``values`` with the budget as a red line, cached.

    plotext's ``build()`` and ``Text.from_ansi`` cost a few milliseconds per
    plot, so the result is kept per (data, budget, size): a card whose data
    did not change is never plotted again.
    """
    global _SPARK_PLOT
    key = (tuple(values), budget, width, height)
    cached = _SPARK_CACHE.get(key)
    if cached is not None:
        _SPARK_CACHE.move_to_end(key)
        spark_stats["hits"] += 1
        return cached
    spark_stats["builds"] += 1
    if width < 4 or height < 1 or not values:
        text = Text("no trend data yet" if not values else "", style="dim")
    else:
        if _SPARK_PLOT is None:
            _SPARK_PLOT = Plot()
        plt = _SPARK_PLOT
        plt.clear_figure()
        plt.plotsize(width, height)
        plt.theme("clear")
        plt.frame(False)
        plt.xaxes(False, False)
        plt.yaxes(False, False)
        plt.xticks([])
        plt.yticks([])
        ys = [float(v) for v in values]
        xs = list(range(len(ys)))
        low, high = min(ys), max(ys)
        if budget is not None:
            plt.hline(budget, "red")
            low, high = min(low, budget), max(high, budget)
        pad = (high - low) * 0.08 or abs(high) * 0.05 or 1.0
        plt.ylim(low - pad, high + pad)
        if len(xs) == 1:
            xs, ys = [0, 1], ys * 2
        plt.xlim(xs[0], xs[-1])
        plt.plot(xs, ys, marker="braille", color="cyan")
        text = Text.from_ansi(plt.build(), no_wrap=True, overflow="crop")
        text.rstrip_end(width * height + height)
    _SPARK_CACHE[key] = text
    if len(_SPARK_CACHE) > _SPARK_CACHE_SIZE:
        _SPARK_CACHE.popitem(last=False)
    return text


# ------------------------------------------------------------------ cards


class SLOCard(Widget, can_focus=True):
    """One SLO's status card: value, budget, status, changes and a sparkline.

    The card re-renders only when its :class:`SLOResult` changes (results are
    frozen dataclasses, compared by value), and Textual renders only cards
    that are on screen.
    """

    DEFAULT_CSS = """
    SLOCard {
        height: 100%;
        min-height: 1;
        border: round $panel-lighten-2;
        padding: 0 1;
    }
    SLOCard.-row, SLOCard.-row.-pass, SLOCard.-row.-drift, SLOCard.-row.-violation { border: none; }
    SLOCard.-row:focus, SLOCard.-row:focus.-pass, SLOCard.-row:focus.-drift, SLOCard.-row:focus.-violation {
        border: none;
        background: $accent 40%;
    }
    SLOCard:focus { border: round $accent; background: $boost; }
    SLOCard.-pass { border: round $success; }
    SLOCard.-drift { border: round $warning; }
    SLOCard.-violation { border: round $error; }
    SLOCard:focus.-pass, SLOCard:focus.-drift, SLOCard:focus.-violation { border: double $accent; }
    SLOCard.-flash { background: $accent 30%; }
    """

    BINDINGS = [
        Binding("enter", "open", "Open", show=True),
        Binding("up,k", "move(0, -1)", "Up", show=False),
        Binding("down,j", "move(0, 1)", "Down", show=False),
        Binding("left,h", "move(-1, 0)", "Left", show=False),
        Binding("right,l", "move(1, 0)", "Right", show=False),
    ]

    class Open(Message):
        """The user asked to drill into this card's SLO."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class Move(Message):
        """The user asked to move the focus from this card."""

        def __init__(self, card: SLOCard, dx: int, dy: int) -> None:
            super().__init__()
            self.card = card
            self.dx = dx
            self.dy = dy

    def __init__(self, slo_name: str, result: SLOResult | None = None, stale: bool = False) -> None:
        super().__init__(classes="card")
        self.slo_name = slo_name
        self.result: SLOResult | None = None
        self.stale = False
        self.renders = 0
        self.row_columns: RowColumns | None = None
        self._had_focus = False
        if result is not None:
            self.set_result(result, stale)

    def set_result(self, result: SLOResult, stale: bool = False) -> bool:
        """Show a new result; returns False (and does nothing) when it is unchanged.

        Args:
            result: The SLO's result.
            stale: True when it is the last known result of an SLO that the
                latest run did not measure.
        """
        if result == self.result and stale == self.stale:
            return False
        self.result = result
        self.stale = stale
        status = result.status
        for name in ("-pass", "-drift", "-violation"):
            self.remove_class(name)
        if status is not None:
            self.add_class(f"-{status.value.lower()}")
        self.refresh()
        return True

    def flash(self, seconds: float = 1.5) -> None:
        """Highlight the card briefly (its data just changed)."""
        self.add_class("-flash")
        self.set_timer(seconds, lambda: self.remove_class("-flash"))

    def action_open(self) -> None:
        """Drill into this SLO."""
        self.post_message(self.Open(self.slo_name))

    def action_move(self, dx: int, dy: int) -> None:
        """Move the focus to a neighbouring card."""
        self.post_message(self.Move(self, dx, dy))

    def on_blur(self) -> None:
        """The next click only selects the card again."""
        self._had_focus = False

    def on_click(self, event: Click) -> None:
        """A click selects the card; a double click (or a click on the selected card) opens it."""
        # Textual focuses the card on mouse down, before the click arrives, so
        # "selected" is tracked here rather than read from has_focus.
        if event.chain >= 2 or self._had_focus:
            self.action_open()
        else:
            self.focus()
            self._had_focus = True

    def set_row_columns(self, columns: RowColumns | None) -> None:
        """Show the card as one line in these columns (None: as a card)."""
        if columns != self.row_columns:
            self.row_columns = columns
            self.set_class(columns is not None, "-row")
            self.refresh()

    def render(self) -> RenderableType:
        """The card's lines (only called when the card is visible and dirty)."""
        self.renders += 1
        result = self.result
        if result is None:
            return safe(self.slo_name, style="bold")
        style = STATUS_STYLE[result.status]
        if self.row_columns is not None:
            base = comparison_text("", result.vs_baseline, compact=True) if result.vs_baseline else None
            return row_line(result, self.stale, self.row_columns, style, base)
        width = max(1, self.content_size.width)
        changes = comparison_text("prev", result.vs_previous, compact=True)
        changes.append("  ")
        changes.append_text(comparison_text("base", result.vs_baseline, compact=True))
        changes.no_wrap = True
        changes.overflow = "ellipsis"
        budget = result.spec.budget if result.spec is not None else None
        medians = [p.median for p in result.trend]

        def plot(lines: int) -> RenderableType:
            return sparkline_text(medians, budget, width, lines)

        return card_body(result, self.stale, width, max(1, self.content_size.height), style, changes, plot)


# ----------------------------------------------------------------- header


class HeaderBar(Static):
    """The verdict, run count and the latest run's commit, branch and age."""

    DEFAULT_CSS = """
    HeaderBar { height: 2; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, now: Callable[[], float] = time.time, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.now = now
        self.evaluation: Evaluation | None = None
        self.extra = ""
        self.banner: str = ""

    def show(self, evaluation: Evaluation | None, extra: str = "", banner: str = "") -> None:
        """Set what the header shows and redraw it."""
        self.evaluation = evaluation
        self.extra = extra
        self.banner = banner
        self.update(self.build())

    def tick(self) -> None:
        """Redraw (the age moves on)."""
        if self.evaluation is not None and self.evaluation.run is not None:
            self.update(self.build())

    def build(self) -> Text:
        """The header's two lines."""
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append("perfslo ", style="bold")
        ev = self.evaluation
        if ev is None:
            line.append("loading…", style="dim")
        elif ev.run is None:
            # Nothing was judged: never a verdict without a run.
            line.append(" no runs yet ", style="bold reverse")
        else:
            verdict = ev.verdict
            style = f"bold reverse {VERDICT_STYLE[verdict]}"
            line.append(f" {glyph(verdict.icon)} {verdict.value} ", style=style)
            line.append(f"  {ev.run_count} run{'' if ev.run_count == 1 else 's'}", style="bold")
            if ev.run is not None:
                run = ev.run
                line.append("  latest ", style="dim")
                line.append(printable(short_commit(run.commit), 12), style="bold")
                line.append(" on ", style="dim")
                line.append(printable(run.branch, 40))
                if run.dirty:
                    line.append(" (dirty)", style="yellow")
                line.append(f"  {format_age(self.now() - run.ts_ms / 1000)}", style="dim")
        if ev is not None and ev.run is not None:
            if ev.baseline is not None:
                line.append("  baseline ", style="dim")
                line.append(printable(short_commit(ev.baseline.commit), 12))
                age = ev.baseline_age
                if age is not None and age.short:
                    line.append(f" ({age.short})", style="bold yellow" if age.stale else "dim")
            else:
                line.append("  no baseline", style="dim yellow")
        second = Text(no_wrap=True, overflow="ellipsis")
        if self.banner:
            second.append(self.banner, style="bold red" if self.banner.startswith("✗") else "bold yellow")
        else:
            second.append(self.extra, style="dim")
        both = Text("\n").join([line, second])
        both.no_wrap = True
        both.overflow = "ellipsis"
        return both


# ----------------------------------------------------------------- panels


def regression_table(evaluation: Evaluation | None, width: int, needle: str = "") -> RenderableType:
    """SLOs by severity against the baseline: change, severity, since which commit, and this session.

    Names are never clipped while the panel has room: the session column,
    then the since column, go first when the width is short.
    """
    if evaluation is None:
        return Text("loading…", style="dim")
    rows = [r for r in evaluation.slos if r.stats is not None]
    if not rows:
        return Text("no runs yet", style="dim")
    if needle:
        rows = [r for r in rows if needle.lower() in r.name.lower()]
        if not rows:
            return Text(f"no SLO matches the filter {printable(needle, 40)!r}", style="dim")

    def key(r: SLOResult) -> tuple[int, float, str]:
        cmp = r.vs_baseline
        if cmp is None:
            return (-1, 0.0, r.name)
        return (cmp.effective_severity.rank, cmp.change, r.name)

    rows.sort(key=key, reverse=True)
    names = [printable(r.name, 60) for r in rows]
    changes = [r.vs_baseline.label if r.vs_baseline else "no baseline" for r in rows]
    name_width = 2 + max(len(n) for n in names)
    change_width = max(len("vs baseline"), *(len(c) for c in changes))
    since_width = 12
    session_width = max(
        [len("session")] + [len(comparison_text("", r.vs_session, compact=True).plain) for r in rows]
    )
    # Columns are two spaces apart (padding 1 on each side, none at the edges).
    show_since = width >= name_width + change_width + since_width + 4
    show_session = show_since and width >= name_width + change_width + since_width + session_width + 6
    table = Table(
        box=None, padding=(0, 1), pad_edge=False, expand=False, show_edge=False, header_style="bold dim"
    )
    table.add_column("SLO", no_wrap=True, overflow="ellipsis", min_width=min(name_width, 12))
    table.add_column("vs baseline", no_wrap=True)
    if show_since:
        table.add_column("since", no_wrap=True)
    if show_session:
        table.add_column("session", no_wrap=True)
    for r, shown in zip(rows, names, strict=True):
        cmp = r.vs_baseline
        name = Text(no_wrap=True, overflow="ellipsis")
        name.append(f"{change_icon(r)} ")
        name.append(shown)
        if cmp is None:
            change = Text("no baseline", style="dim")
            since = Text("")
        else:
            change = comparison_text("", cmp, compact=True)
            if r.regression and not r.confirmed_regression or r.confirmed_slowdown is not None:
                change.append(f" {min(r.regression_streak, r.confirm_runs)}/{r.confirm_runs}", style="dim")
            since = Text(no_wrap=True)
            if r.step is not None and r.step.change > 0 and cmp.change > 0:
                # The step tells which commit the rise came in with.
                since.append(printable(short_commit(r.step.commit), 12))
                since.append(" step", style="dim")
            else:
                since.append(printable(short_commit(cmp.reference_commit), 12), style="dim")
        cells: list[RenderableType] = [name, change]
        if show_since:
            cells.append(since)
        if show_session:
            cells.append(comparison_text("", r.vs_session, compact=True))
        table.add_row(*cells)
    return table


class RegressionPanel(Static):
    """The regression panel: every SLO with data (the filter applies), worst first against the baseline."""

    DEFAULT_CSS = """
    RegressionPanel { height: auto; }
    """

    shown: RenderableType = ""
    evaluation: Evaluation | None = None
    needle: str = ""

    def show(self, evaluation: Evaluation | None, needle: str = "") -> None:
        """Redraw from an evaluation, with the overview's name filter."""
        self.evaluation = evaluation
        self.needle = needle
        self.shown = regression_table(evaluation, self.size.width or 80, needle)
        self.update(self.shown)

    def on_resize(self) -> None:
        """The since and session columns come and go with the width."""
        if self.evaluation is not None:
            self.show(self.evaluation, self.needle)


class ErrorsPanel(Static):
    """Files that could not be loaded, each with its reason."""

    DEFAULT_CSS = """
    ErrorsPanel { height: auto; }
    """

    shown: Text = Text()

    def show(self, errors: dict[Path, str], folder: Path) -> None:
        """Redraw from ``{path: reason}`` (paths shown relative to the folder)."""
        lines: list[Text] = []
        for path, reason in sorted(errors.items()):
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append("✗ ", style="red")
            try:
                shown = str(path.relative_to(folder))
            except ValueError:
                shown = str(path)
            line.append(printable(shown, 60), style="bold")
            line.append(": ")
            line.append(printable(reason, 200))
            lines.append(line)
        self.shown = Text("\n").join(lines) if lines else Text("no load errors", style="dim")
        self.update(self.shown)

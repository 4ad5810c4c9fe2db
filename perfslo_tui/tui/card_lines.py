"""What one SLO shows in the space it gets: a card of any height, or one line.

Every size keeps the essentials (status, value, % of budget, trend); taller
cards add the budget, the changes against the previous run and the baseline,
the description and a taller trend. Text from files goes through
:func:`~perfslo_tui.text.printable` into :class:`rich.text.Text`, never markup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.text import Text

from perfslo_tui.report.common import budget_cell, value_cell
from perfslo_tui.text import format_percent, printable, short_commit
from perfslo_tui.tui.layout import RowColumns
from perfslo_tui.verdict.model import SLOResult

BLOCKS = "▁▂▃▄▅▆▇█"


def inline_sparkline(values: Sequence[float], budget: float | None, width: int) -> Text:
    """The last ``width`` values as one line of block characters; points over budget in red."""
    text = Text(no_wrap=True, overflow="crop")
    points = [float(v) for v in values][-width:] if width > 0 else []
    if not points:
        text.append("no trend yet"[: max(width, 0)], style="dim")
        return text
    low, high = min(points), max(points)
    span = high - low
    for value in points:
        level = 3 if span <= 0 else round((value - low) / span * (len(BLOCKS) - 1))
        over = budget is not None and value > budget
        text.append(BLOCKS[level], style="red" if over else "cyan")
    return text


def _line(*parts: tuple[str, str]) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for content, style in parts:
        text.append(content, style=style)
    return text


def title_line(result: SLOResult) -> Text:
    """``✅ name``: the icon without its emoji selector, then the whole name."""
    return _line((f"{result.icon.replace(chr(0xFE0F), '')} ", ""), (printable(result.name, 120), "bold"))


def value_line(result: SLOResult, stale: bool) -> Text:
    """``16.05ms  budget 25ms ±5%``; a value from an older run says so."""
    line = _line((value_cell(result), "bold yellow" if stale else "bold"), ("  budget ", "dim"))
    line.append(budget_cell(result))
    if stale and result.trend:
        line.append(f"  (at {printable(short_commit(result.trend[-1].commit), 12)})", style="yellow")
    return line


def state_line(result: SLOResult, style: str, of_budget: bool = True) -> Text:
    """``64.2% of budget  PASS`` (``64.2%  PASS`` without ``of_budget``) with the confirmation, if any."""
    line = _line()
    if result.budget is not None:
        line.append(format_percent(result.budget.percent_of_budget), style=f"bold {style}")
        line.append(" of budget  " if of_budget else "  ", style="dim")
    line.append(result.state_label, style=f"bold {style}")
    if result.confirmation_label:
        line.append(f" {result.confirmation_label}", style="dim")
    return line


def short_line(result: SLOResult, style: str, stale: bool) -> Text:
    """``16.05ms  64.2%  PASS`` for three-line cards."""
    line = _line((value_cell(result), "bold yellow" if stale else "bold"))
    if result.budget is not None:
        line.append(f"  {format_percent(result.budget.percent_of_budget)}", style=f"bold {style}")
    line.append(f"  {result.state_label}", style=f"bold {style}")
    if stale:
        line.append("  older run", style="yellow")
    return line


def stale_line(result: SLOResult) -> Text:
    """Said instead of the description: this value is not from the latest run."""
    line = _line(("not in the latest run; last at ", "yellow"))
    if result.trend:
        line.append(printable(short_commit(result.trend[-1].commit), 12), style="bold yellow")
    return line


def card_body(
    result: SLOResult,
    stale: bool,
    width: int,
    lines: int,
    style: str,
    changes: Text,
    plot: Callable[[int], RenderableType],
) -> RenderableType:
    """A card's content for ``lines`` lines inside its border.

    Args:
        result: The SLO's result.
        stale: Its value is from an older run than the latest.
        width: Content width.
        lines: Content height.
        style: The status colour.
        changes: The ``prev … base …`` line.
        plot: Draws the trend in the given number of lines (used when 2+ are left).
    """
    budget = result.spec.budget if result.spec is not None else None
    medians = [p.median for p in result.trend]
    if lines >= 7:
        if stale and result.trend:
            description = stale_line(result)
        else:
            description = _line((printable(result.description or " ", 200), "dim"))
        head = [
            title_line(result),
            description,
            value_line(result, stale),
            state_line(result, style),
            changes,
        ]
    elif lines >= 5:
        head = [title_line(result), value_line(result, stale), state_line(result, style), changes]
    elif lines == 4:
        head = [title_line(result), value_line(result, stale), state_line(result, style)]
    else:
        head = [title_line(result), short_line(result, style, stale)]
    progress = result.target_progress
    if progress is not None and lines >= 6:
        # Toward the target, under the state.
        head.insert(4 if lines >= 7 else 3, _line((printable(progress.progress, 200), "cyan")))
    elif progress is not None:
        # No line to spare (the overview at 80×24): the short form after the
        # state, when it fits, so a target is never invisible on its card.
        at = 2 if lines >= 4 else 1
        candidates = [(head[at], progress.compact)]
        if lines >= 4:
            candidates.append((state_line(result, style, of_budget=False), progress.compact))
            candidates.append((state_line(result, style, of_budget=False), progress.tiny))
        for state, words in candidates:
            if isinstance(state, Text) and state.cell_len + 2 + cell_len(words) <= width:
                state.append(f"  {words}", style="cyan")
                head[at] = state
                break
    left = lines - len(head)
    if left >= 2:
        return Group(*head, plot(left))
    return Group(*head, inline_sparkline(medians, budget, width))


def _icon_cell(icon: str) -> str:
    """An icon padded to two cells (✅ is two wide, ⚠ one), so the columns line up."""
    icon = icon.replace(chr(0xFE0F), "")
    return icon + " " * max(0, 2 - cell_len(icon))


def row_line(result: SLOResult, stale: bool, columns: RowColumns, style: str, baseline: Text | None) -> Text:
    """One SLO on one line, in the list's columns."""
    line = Text(no_wrap=True, overflow="crop")
    line.append(_icon_cell(result.icon) + " ")
    name = printable(result.name, 200)
    if len(name) > columns.name:
        name = name[: max(1, columns.name - 1)] + "…"
    line.append(name.ljust(columns.name), style="bold")
    value = value_cell(result) + ("°" if stale else "")
    line.append("  " + value.rjust(columns.value)[: columns.value], style="yellow" if stale else "")
    percent = format_percent(result.budget.percent_of_budget) if result.budget is not None else "—"
    line.append("  " + percent.rjust(columns.percent)[: columns.percent], style=style)
    line.append("  " + result.state_label.ljust(columns.state)[: columns.state], style=f"bold {style}")
    if columns.baseline:
        cell = baseline if baseline is not None else Text("—", style="dim")
        cell = cell.copy()
        cell.truncate(columns.baseline, overflow="ellipsis", pad=True)
        line.append("  ")
        line.append_text(cell)
    budget = result.spec.budget if result.spec is not None else None
    line.append("  ")
    line.append_text(inline_sparkline([p.median for p in result.trend], budget, columns.spark))
    return line


def row_header(columns: RowColumns) -> Text:
    """The list's column titles, aligned with :func:`row_line`."""
    parts = ["   " + "SLO".ljust(columns.name), "  " + "value".rjust(columns.value)]
    parts.append("  " + "budget".rjust(columns.percent))
    parts.append("  " + "status".ljust(columns.state))
    if columns.baseline:
        parts.append("  " + "vs baseline".ljust(columns.baseline))
    # The legend of ° (a value from an older run) when the trend column has room for it.
    parts.append("  trend, ° older run" if columns.spark >= 17 else "  trend")
    return Text("".join(parts), style="bold dim", no_wrap=True, overflow="crop")

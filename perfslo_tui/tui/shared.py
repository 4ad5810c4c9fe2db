"""The monitor's one-line bar about where its runs come from: the shared history and the machine shown.

Shown when the runs come from a shared history (live, or lost and
reconnecting) or when the history holds more than one machine; hidden
otherwise, so a single-machine folder looks as it always did.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from perfslo_tui.runs.history import RunHistory
from perfslo_tui.text import printable


def machine_label(history: RunHistory) -> str:
    """``machine 093f437414de (x86_64 ×2 · Linux)`` or ``all 3 machines``."""
    if history.machine is None:
        return f"all {len(history.machines)} machines (mixed)"
    info = history.machines.get(history.machine)
    description = f" ({printable(info.description, 60)})" if info is not None else ""
    return f"machine {printable(history.machine, 40)}{description}"


class SharedBar(Static):
    """Where the runs come from and which machine is shown (``M`` switches)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.history: RunHistory | None = None
        self.status = ""
        self.ok = True
        self.elsewhere = 0

    def show(self, history: RunHistory | None) -> None:
        """A new history: redraw (hidden unless shared or several machines)."""
        self.history = history
        self._draw()

    def set_status(self, text: str, ok: bool) -> None:
        """The listener's state: live, or lost and reconnecting."""
        self.status = text
        self.ok = ok
        self._draw()

    def count_elsewhere(self, runs: int = 1) -> None:
        """Runs arrived for machines not shown."""
        self.elsewhere += runs
        self._draw()

    def reset_elsewhere(self) -> None:
        """The machine shown changed: nothing is new elsewhere any more."""
        self.elsewhere = 0
        self._draw()

    def build(self) -> Text | None:
        """The bar's line, or None when there is nothing to say."""
        history = self.history
        if history is None:
            return None
        shared = history.shared is not None
        if not shared and len(history.machines) < 2:
            return None
        line = Text(no_wrap=True, overflow="ellipsis")
        if shared:
            # The header names the shared history; the bar says how the connection is.
            if self.ok:
                line.append("⇄ live", style="bold green")
            else:
                status = self.status.replace(history.shared or "", "the shared history")
                line.append(f"⚠ {printable(status, 160)}", style="bold yellow")
            line.append(" · ", style="dim")
        line.append(machine_label(history))
        # News first: on a narrow terminal the end of the line is cut.
        if self.elsewhere:
            plural = "s" if self.elsewhere != 1 else ""
            line.append(f" · {self.elsewhere} new run{plural} elsewhere", style="cyan")
        others = len(history.machines) - (1 if history.machine is not None else 0)
        if history.machine is not None and others > 0:
            line.append(f" · M: {others} other machine{'s' if others != 1 else ''}", style="dim")
        elif history.machine is None:
            line.append(" · M: one machine at a time", style="dim")
        return line

    def _draw(self) -> None:
        text = self.build()
        self.display = text is not None
        if text is not None:
            self.set_class(not self.ok, "-lost")
            self.update(text)

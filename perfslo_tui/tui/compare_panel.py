"""The drill-down's live compare: "did my edit help?", measured side by side.

``c`` compares the working tree (uncommitted edits included) against HEAD,
``C`` against the baseline's commit: :mod:`perfslo_tui.actions.compare` runs
in a thread worker, its progress comes back as messages, ``x`` (or leaving
the drill-down) cancels it. The panel shows what is compared (the working tree against HEAD or the
baseline's commit), how far the comparison is (pairs done, seconds), and the
SLO's estimate with its 95 % interval drawn against the ± tolerance band,
updating as pairs come in until the decision settles. The text is built by
pure functions (:func:`compare_text`, :func:`interval_gauge`) so it can be
checked without a screen.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.widgets import Static

from perfslo_tui.actions.bench import supports_single_slo
from perfslo_tui.actions.compare import (
    CompareCancelled,
    CompareError,
    CompareProgress,
    CompareResult,
    compare,
    describe,
    resolve_target,
)
from perfslo_tui.actions.worktree import WorktreeError, same_tree
from perfslo_tui.text import printable, short_commit
from perfslo_tui.tui.messages import CompareFinished, CompareProgressed
from perfslo_tui.verdict.ab import DEFAULT_MAX_PAIRS, ABDecision, ABVerdict

if TYPE_CHECKING:
    from textual.screen import Screen

    from perfslo_tui.tui.app import PerfSLOApp

    _Base = Screen[None]
else:
    _Base = object

VERDICT_STYLE = {
    ABVerdict.REGRESSED: "bold red",
    ABVerdict.IMPROVED: "bold green",
    ABVerdict.SAME: "bold green",
    ABVerdict.UNKNOWN: "bold yellow",
}
GAUGE_WIDTH = 41
# The gauge spans at least ±3 tolerances and at most half to twice the time (on the
# log scale, so that a change and its inverse sit symmetrically): wider intervals run off its ends.
GAUGE_MIN_SPAN = 3.0
GAUGE_MAX_SPAN = 1.0


def interval_gauge(decision: ABDecision, width: int = GAUGE_WIDTH) -> Text:
    """A one-line drawing of the interval against zero and the ± tolerance band.

    ``░`` is the band of "same", ``│`` zero, ``━`` the interval (``◂``/``▸``
    where it runs off the scale) and ``●`` the estimate.
    """
    width = max(width, 11)
    tolerance = math.log1p(decision.tolerance)
    low = math.log1p(decision.ci_low) if decision.ci_low > -1 else -math.inf
    high = math.log1p(decision.ci_high) if math.isfinite(decision.ci_high) else math.inf
    centre = math.log1p(decision.change)
    span = max(GAUGE_MIN_SPAN * tolerance, abs(centre) * 1.2)
    if math.isfinite(low) and math.isfinite(high):
        span = max(span, abs(low), abs(high))
    span = min(span, math.log1p(GAUGE_MAX_SPAN))

    def column(value: float) -> int:
        return round((max(-span, min(span, value)) + span) / (2 * span) * (width - 1))

    cells = ["─"] * width
    styles = ["dim"] * width
    for i in range(column(-tolerance), column(tolerance) + 1):
        cells[i], styles[i] = "░", "green"
    zero = column(0.0)
    cells[zero], styles[zero] = "│", "bold"
    style = VERDICT_STYLE[decision.verdict] if decision.settled else "bold cyan"
    if decision.pairs >= 3 and math.isfinite(high):
        first, last = column(low), column(high)
        for i in range(first, last + 1):
            cells[i], styles[i] = "━", style
        if low < -span:
            cells[0] = "◂"
        if high > span:
            cells[-1] = "▸"
    if decision.pairs:
        dot = column(centre)
        cells[dot], styles[dot] = "●", style
    gauge = Text(no_wrap=True)
    gauge.append(f"{math.expm1(-span):+.0%} ", style="dim")
    for cell, cell_style in zip(cells, styles, strict=True):
        gauge.append(cell, style=cell_style)
    gauge.append(f" {math.expm1(span):+.0%}", style="dim")
    return gauge


def compare_text(
    slo: str,
    title: str,
    progress: CompareProgress | None = None,
    result: CompareResult | None = None,
    width: int = GAUGE_WIDTH,
) -> Text:
    """The panel's content: the title line, the estimate line and the gauge.

    Args:
        slo: The drill-down's SLO.
        title: What is compared (``working tree vs HEAD 1a2b3c4``).
        progress: The latest progress while measuring.
        result: The result once finished (wins over ``progress``).
        width: The gauge's width in cells.
    """
    head = Text(no_wrap=True, overflow="ellipsis")
    head.append("compare ", style="bold")
    head.append(printable(title, 80))
    decision: ABDecision | None = None
    if result is not None:
        decision = result.decisions.get(slo)
        head.append(f" · {result.pairs} pairs in {result.elapsed:.0f}s", style="dim")
    elif progress is not None:
        decision = progress.decisions.get(slo)
        head.append(
            f" · pair {progress.pairs_done}/{progress.max_pairs} · {progress.elapsed:.0f}s", style="dim"
        )
        if progress.status not in ("measuring", "settled"):
            # "pair 3: running BASE" → "running BASE": the pair is already in the line.
            stage = progress.status
            if stage.startswith("pair "):
                stage = stage.split(": ", 1)[-1]
            head.append(f" · {printable(stage, 60)}", style="dim")
        head.append(" · x cancels", style="dim")
    lines = [head]
    if decision is None:
        lines.append(Text("waiting for the first pair…", style="dim"))
        return Text("\n").join(lines)
    estimate = Text(no_wrap=False)
    estimate.append(printable(slo, 40), style="bold")
    estimate.append("  ")
    if result is not None or decision.settled:
        estimate.append(printable(decision.message, 200), style=VERDICT_STYLE[decision.verdict])
        if decision.action:
            estimate.append(f"; {decision.action}", style="dim")
    else:
        estimate.append(printable(describe(decision), 120), style="cyan")
    lines.append(estimate)
    lines.append(interval_gauge(decision, width))
    return Text("\n").join(lines)


def compare_title(against: str, base_commit: str) -> str:
    """``working tree vs HEAD 1a2b3c4`` or ``working tree vs baseline 1a2b3c4``."""
    return f"working tree vs {against} {short_commit(base_commit)}".rstrip()


class ComparePanel(Static):
    """The live compare in the drill-down (hidden until one starts)."""

    def show_text(self, text: Text) -> None:
        """Show the panel with ``text``."""
        self.display = True
        self.update(text)


class LiveCompare(_Base):
    """The drill-down's compare: keys, worker and panel (mixed into the drill-down screen).

    The screen composes a :class:`ComparePanel` (``#compare``) and a
    ``#detail-status`` line, has ``slo_name`` and ``perf_app``, and calls
    :meth:`init_compare` in its constructor.
    """

    slo_name: str

    @property
    def perf_app(self) -> PerfSLOApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def init_compare(self) -> None:
        """No compare yet."""
        # Set by x, Esc or leaving the screen; done when the worker has cleaned up.
        self.compare_cancel: threading.Event | None = None
        self.compare_done = threading.Event()
        self.compare_done.set()
        self.compare_against = "HEAD"
        self.compare_title = ""
        self.compare_outcome: CompareFinished | None = None

    @property
    def comparing(self) -> bool:
        """True while a compare runs (or still cleans up after a cancel)."""
        return not self.compare_done.is_set()

    def compare_status(self, text: str, style: str) -> None:
        """One line on the drill-down's status line."""
        self.query_one("#detail-status", Static).update(Text(printable(text, 300), style=style))

    def action_compare(self, against: str) -> None:
        """Compare the working tree against ``HEAD`` or the ``baseline``'s commit, in a worker."""
        app = self.perf_app
        if self.comparing:
            self.compare_status("a compare is already running (x cancels it)", "yellow")
            return
        if app.runner is not None and app.runner.running:
            self.compare_status("the bench command is running: wait for it, or x cancels it", "yellow")
            return
        if not app.config.bench_command:
            where = app.config.path or "the config"
            self.compare_status(f"{where}: no bench_command configured (compare runs it)", "red")
            return
        base = "HEAD"
        if against == "baseline":
            baseline = app.evaluation.baseline if app.evaluation is not None else None
            if baseline is None:
                self.compare_status("no baseline yet: b makes one (c compares against HEAD)", "yellow")
                return
            base = baseline.commit
        self.compare_cancel = threading.Event()
        self.compare_done.clear()
        self.compare_outcome = None
        self.compare_against = against
        self.compare_title = compare_title(against, base if against == "baseline" else "")
        self.compare_status("", "")
        self.query_one(ComparePanel).show_text(compare_text(self.slo_name, self.compare_title))
        self._compare_worker(base, against, self.compare_cancel)

    def action_cancel(self) -> None:
        """Cancel the running compare, or else the app's running bench command."""
        if self.comparing:
            self.stop_compare()
            self.compare_status("cancelling the compare…", "yellow")
            return
        self.perf_app.action_cancel_run()

    def stop_compare(self) -> None:
        """Ask the running compare to stop (its worker removes the worktrees and posts the end)."""
        if self.compare_cancel is not None:
            self.compare_cancel.set()

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def _compare_worker(self, base: str, against: str, cancel: threading.Event) -> None:
        config = self.perf_app.config
        outcome: CompareFinished
        try:
            target = resolve_target(config, base, working_tree=True)
            if against == "HEAD" and same_tree(target.checkout, target.base_commit, target.head_commit):
                outcome = CompareFinished(
                    None, "no uncommitted changes: the working tree is HEAD (C compares it with the baseline)"
                )
            else:
                self._post_progress(
                    CompareProgress(
                        0,
                        DEFAULT_MAX_PAIRS,
                        {},
                        0.0,
                        None,
                        "checking out",
                        target.base_commit,
                        target.head_commit,
                    )
                )
                narrow = self.slo_name if supports_single_slo(config) else None
                result = compare(
                    config,
                    base,
                    target=target,
                    slo=narrow,
                    only=[self.slo_name],
                    progress=self._post_progress,
                    cancel=cancel,
                )
                outcome = CompareFinished(result)
        except (CompareCancelled, KeyboardInterrupt):
            outcome = CompareFinished(None, cancelled=True)
        except (CompareError, WorktreeError) as exc:
            outcome = CompareFinished(None, str(exc))
        finally:
            self.compare_done.set()
        self.post_message(outcome)

    def _post_progress(self, progress: CompareProgress) -> None:
        self.post_message(CompareProgressed(progress))

    def on_compare_progressed(self, message: CompareProgressed) -> None:
        """A pair came in (or a stage began): redraw the estimate."""
        if self.compare_outcome is not None or not self.is_attached:
            return
        progress = message.progress
        if progress.base_commit:
            self.compare_title = compare_title(self.compare_against, progress.base_commit)
        text = compare_text(self.slo_name, self.compare_title, progress=progress, width=self._gauge_width())
        self.query_one(ComparePanel).show_text(text)

    def on_compare_finished(self, message: CompareFinished) -> None:
        """The compare ended: show its decision, or say why it did not."""
        self.compare_outcome = message
        if not self.is_attached:
            return
        panel = self.query_one(ComparePanel)
        if message.result is not None:
            result, width = message.result, self._gauge_width()
            panel.show_text(compare_text(self.slo_name, self.compare_title, result=result, width=width))
            self.compare_status(
                "compare finished: its runs were measured in temporary worktrees, not kept", "dim"
            )
        elif message.cancelled:
            cancelled = f"compare {self.compare_title}: cancelled; worktrees removed"
            panel.show_text(Text(printable(cancelled, 200), style="yellow"))
            self.compare_status("", "")
        else:
            panel.display = False
            self.compare_status(f"✗ compare: {message.error}", "red")

    def _gauge_width(self) -> int:
        return max(21, min(61, self.size.width - 12))

    def on_unmount(self) -> None:
        """Leaving the drill-down stops its compare."""
        self.stop_compare()

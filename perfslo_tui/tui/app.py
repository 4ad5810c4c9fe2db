"""``perfslo-tui``: the live monitor of a project's performance SLOs.

Data flows one way: the artifacts folder → :class:`~perfslo_tui.runs.store.RunStore`
(a :class:`~perfslo_tui.runs.history.RunHistory`) →
:func:`~perfslo_tui.verdict.engine.evaluate` (an
:class:`~perfslo_tui.verdict.model.Evaluation`) → the views. The refresh and
the evaluation run in a thread worker; a watchfiles watcher hands it the
names of the files that changed, and a burst of changes is coalesced into at
most one more refresh, never queued. A refresh that only added runs
re-evaluates only the SLOs they measured. The bench command runs as a
subprocess in its own process group; its new run reaches the screen through
the watched folder like any other.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.reactive import var
from textual.widgets import Footer, Input, Log, Static
from textual.worker import Worker, WorkerState, get_current_worker

from perfslo_tui.actions.baseline import establish_baseline, plan_baseline
from perfslo_tui.actions.bench import BenchCommandError, build_command, command_env
from perfslo_tui.actions.next_step import next_step
from perfslo_tui.config import Config, ConfigError, load_config
from perfslo_tui.runs.files import ArtifactError
from perfslo_tui.runs.history import RunHistory
from perfslo_tui.runs.machine import MachineError
from perfslo_tui.runs.pg import SharedHistoryError
from perfslo_tui.runs.selection import ALL, LATEST, HistoryLoader, describe_choice, open_loader
from perfslo_tui.text import printable, short_commit
from perfslo_tui.tui.card_lines import row_header
from perfslo_tui.tui.config_watch import watch_config
from perfslo_tui.tui.layout import VIEWS, Layout, choose_layout, row_columns
from perfslo_tui.tui.messages import (
    BaselineDone,
    CommandFinished,
    CommandOutput,
    ConfigReloaded,
    SharedRun,
    SharedStatus,
    StoreUpdated,
    WatchState,
)
from perfslo_tui.tui.runner import CommandRunner
from perfslo_tui.tui.screens import ConfirmScreen, DetailScreen, HelpScreen, baseline_question
from perfslo_tui.tui.shared import SharedBar
from perfslo_tui.tui.watcher import watch_folder
from perfslo_tui.tui.widgets import ErrorsPanel, HeaderBar, RegressionPanel, SLOCard
from perfslo_tui.verdict.engine import evaluate
from perfslo_tui.verdict.model import METRIC_LABELS, Evaluation, SLOResult

SORTS = ("status", "name", "budget")
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
OUTPUT_LINES = 5000
# The samples of this many latest runs of a shared history reach the monitor (and
# of as many of the baseline's commit): the evaluation reads ~60 per series, the
# drill-down the latest 15; new runs arrive with theirs.
MONITOR_SAMPLES = 500
DAY_MS = 86_400_000


def monitor_loader(config: Config, machine: str | None = None) -> HistoryLoader:
    """The monitor's history: the shared history when configured, else the artifacts folder.

    Raises:
        SharedHistoryError: A shared history is configured but cannot be used.
    """
    import os

    return open_loader(
        config.artifacts_dir,
        config.history_url,
        os.environ,
        choice=machine or LATEST,
        window_ms=config.trend_days * DAY_MS,
        recent_samples=MONITOR_SAMPLES,
    )


def _sort_key(mode: str) -> Callable[[SLOCard], tuple[object, ...]]:
    def by_status(card: SLOCard) -> tuple[object, ...]:
        r = card.result
        if r is None:
            return (0, 0.0, card.slo_name)
        pct = r.budget.percent_of_budget if r.budget else -1.0
        return (-r.rank, -pct, card.slo_name)

    def by_name(card: SLOCard) -> tuple[object, ...]:
        return (card.slo_name,)

    def by_budget(card: SLOCard) -> tuple[object, ...]:
        r = card.result
        pct = r.budget.percent_of_budget if r is not None and r.budget else -1.0
        return (-pct, card.slo_name)

    return {"status": by_status, "name": by_name, "budget": by_budget}[mode]


class CardsScroll(VerticalScroll):
    """The card area: a new size lays the cards out again."""

    def on_resize(self) -> None:
        """The overview chooses the card size for the space it has now."""
        self.app.call_after_refresh(self.app._layout_cards)  # type: ignore[attr-defined]


class FilterInput(Input):
    """The ``/`` filter box: Esc clears and closes it."""

    BINDINGS = [Binding("escape", "close", "Clear filter")]

    def action_close(self) -> None:
        """Clear the filter and hide the box."""
        self.value = ""
        self.app.call_later(self.app.action_close_filter)  # type: ignore[attr-defined]


class PerfSLOApp(App[int]):
    """The live SLO monitor.

    Args:
        config: The project's config (artifacts folder, SLOs, bench command).
        now: The clock (seconds since the epoch) for ages on screen; tests
            freeze it.
        watch: Start the watchfiles watcher (tests of static screens turn it off).
        loader: Where the runs come from (default: the shared history when
            one is configured, else the artifacts folder).
    """

    CSS_PATH = "app.tcss"
    TITLE = "perfslo"
    # The cards are mounted after the first load; focus goes there, not to the hidden filter.
    AUTO_FOCUS = None
    # Every command has a key (see ?); the palette's footer slot is better spent on them.
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Keys"),
        Binding("escape", "clear_filter", "Clear filter"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("v", "cycle_view", "View"),
        Binding("r", "rerun", "Re-run"),
        Binding("x", "cancel_run", "Cancel"),
        Binding("o", "toggle_log", "Output"),
        Binding("b", "baseline", "Baseline"),
        Binding("m", "cycle_metric", "Metric", show=False),
        Binding("M", "cycle_machine", "Machine", show=False),
    ]

    # What the screen shows; each change redraws what depends on it (watch_ methods).
    history: var[RunHistory | None] = var(None, init=False)
    evaluation: var[Evaluation | None] = var(None, init=False)
    missing_dir = var(False, init=False)
    watching = var(False, init=False)
    sort_mode = var(SORTS[0], init=False)
    view_mode = var(VIEWS[0], init=False)
    filter_text = var("", init=False)
    session_run_id: var[str | None] = var(None, init=False)
    # Which metric the cards show: time, or instruction counts / peak memory
    # for the SLOs that measure them.
    metric = var("time", init=False)
    config_error = var("", init=False)

    def __init__(
        self,
        config: Config,
        now: Callable[[], float] = time.time,
        watch: bool = True,
        config_file: Path | None = None,
        config_start: Path | None = None,
        artifacts_override: Path | None = None,
        loader: HistoryLoader | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.now = now
        self.watch_enabled = watch
        # How the config was found, to find it again when it changes on disk.
        self.config_file = config_file
        self.config_start = config_start or config.root
        self.artifacts_override = artifacts_override
        self.layout_choice = Layout("cards", 2, 12)
        self.hidden_count = 0
        self.output_lines: list[str] = []
        self.store = loader if loader is not None else monitor_loader(config)
        self._stop_listen = threading.Event()
        # A machine the user picked (M), applied by the refresh worker.
        self._machine_request: str | None = None
        self.cards: dict[str, SLOCard] = {}
        self.updates = 0
        self.runner: CommandRunner | None = None
        self.last_outcome_text: Text | None = None
        self._run_started = 0.0
        self._spin = 0
        self._stop_watch = asyncio.Event()
        self._refresh_lock = threading.Lock()
        self._refresh_running = False
        # What the next refresh must look at: file names from the watcher,
        # or None for the whole folder (start, re-arm, a re-run that ended).
        self._pending: set[str] | None = None
        self._queued = False
        self._evaluated: Evaluation | None = None
        self._seq = 0
        self._stop_config_watch = asyncio.Event()
        # (SLO, metric) whose target was met in this session: celebrated once.
        self.celebrated: set[tuple[str, str]] = set()

    @property
    def errors(self) -> dict[Path, str]:
        """Files that could not be used, as last loaded."""
        return dict(self.history.errors) if self.history is not None else {}

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        """Header, filter, the card grid, the panels, the log, the status line, the footer."""
        yield HeaderBar(now=lambda: self.now(), id="header")
        yield SharedBar(id="shared")
        yield FilterInput(placeholder="filter SLOs by name", id="filter", classes="hidden")
        with Horizontal(id="body"):
            with Vertical(id="main"):
                yield Static(id="empty", classes="hidden")
                yield Static(id="list-header", classes="hidden")
                with CardsScroll(id="cards-scroll"):
                    yield Container(id="cards")
                yield Static(id="hidden-note", classes="hidden")
            with Vertical(id="side"):
                with VerticalScroll(id="regressions-box"):
                    yield RegressionPanel(id="regressions")
                with VerticalScroll(id="errors-box", classes="hidden"):
                    yield ErrorsPanel(id="errors")
        yield Log(id="log", max_lines=5000, classes="hidden")
        yield Static(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """Load the folder, start the watchers and the header clock."""
        self.query_one("#regressions-box").border_title = "regressions vs baseline"
        self.query_one("#errors-box").border_title = "load errors"
        self.query_one("#log").border_title = "bench command output (o hides)"
        self._update_header()
        self.query_one(SharedBar).display = False
        live = self.store.live_source()
        if live is not None:
            self._listen(live)  # before the first load: no run can fall in between
        self.request_refresh()
        if self.watch_enabled:
            if live is None:  # the shared history's listener tells of new runs instead
                self._watch()
            self._watch_config()
        self.set_interval(1.0, self._tick)
        scroll = self.query_one("#cards-scroll", VerticalScroll)
        self.watch(scroll, "scroll_y", lambda _y: self._update_hidden_note(), init=False)

    def on_resize(self, event: Resize) -> None:
        """Lay the cards out again for the new size."""
        self.call_after_refresh(self._layout_cards)

    def _layout_cards(self) -> None:
        """Fit every SLO when possible: the card size and columns, or one line each (tui/layout.py)."""
        scroll = self.query_one("#cards-scroll", VerticalScroll)
        grid = self.query_one("#cards", Container)
        header = self.query_one("#list-header", Static)
        width, height = scroll.size
        if not width:
            return
        visible = [card for card in self.cards.values() if card.display]
        # The list's column titles take a line of the card area.
        choice = choose_layout(len(visible), width, height, self.view_mode)
        if choice.rows and header.has_class("hidden"):
            height -= 1
        elif not choice.rows and not header.has_class("hidden"):
            height += 1
        choice = choose_layout(len(visible), width, height, self.view_mode)
        self.layout_choice = choice
        columns = None
        if choice.rows:
            longest = max((len(printable(c.slo_name, 200)) for c in visible), default=8)
            # Grid padding 1 + card padding 1 on each side, and room for a scrollbar.
            columns = row_columns(width - 6, longest)
            header.update(row_header(columns))
        header.set_class(not choice.rows, "hidden")
        for card in self.cards.values():
            card.set_row_columns(columns)
        grid.set_class(choice.rows, "-rows")
        if grid.styles.grid_size_columns != choice.columns:
            grid.styles.grid_size_columns = choice.columns
        grid.styles.grid_rows = str(choice.height)
        self.call_after_refresh(self._update_hidden_note)

    def _update_hidden_note(self) -> None:
        """Say how many SLOs are off screen, and how to see them."""
        scroll = self.query_one("#cards-scroll", VerticalScroll)
        note = self.query_one("#hidden-note", Static)
        top = scroll.scroll_y
        bottom = top + scroll.scrollable_content_region.height
        above = below = 0
        for card in self.visible_cards():
            region = card.virtual_region
            if region.y < top:
                above += 1
            elif region.y + region.height > bottom:
                below += 1
        self.hidden_count = above + below
        if not self.hidden_count:
            note.set_class(True, "hidden")
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        parts = []
        if above:
            parts.append(f"▲ {above} above")
        if below:
            parts.append(f"▼ {below} below")
        noun = "SLO" if self.hidden_count == 1 else "SLOs"
        text.append(f"{self.hidden_count} more {noun} ({', '.join(parts)}): ", style="bold yellow")
        upcoming = VIEWS[(VIEWS.index(self.view_mode) + 1) % len(VIEWS)]
        hint = "↑↓ scroll, / filters"
        if not self.layout_choice.rows:
            hint = f"↑↓ scroll, v {upcoming} view, / filters"
        text.append(hint, style="dim")
        note.update(text)
        note.set_class(False, "hidden")

    def _tick(self) -> None:
        # The header lives on the base screen; while a drill-down, help or
        # modal is on top (or before compose), there is nothing to tick.
        for header in self.screen_stack[0].query(HeaderBar) if self.screen_stack else ():
            header.tick()

    def _folder_label(self) -> str:
        if self.history is not None and self.history.shared is not None:
            return self.history.shared
        folder = self.config.artifacts_dir
        try:
            return str(folder.relative_to(self.config.root)) + "/"
        except ValueError:
            return str(folder) + "/"

    def _extra_line(self) -> str:
        parts = [f"watching {printable(self._folder_label(), 60)}" if self.watching else self._folder_label()]
        age = self.evaluation.baseline_age if self.evaluation is not None else None
        if age is not None and age.stale:
            # The first line is full at 80 columns: a stale baseline is said here too.
            parts.insert(0, f"⚠ {age.brief}: b re-establishes it")
        parts.append(f"sort: {self.sort_mode}")
        parts.append(f"view: {self.view_mode}")
        if self.metric != "time":
            parts.append(f"showing {METRIC_LABELS[self.metric]} (m)")
        if self.filter_text:
            parts.append(f"filter: {printable(self.filter_text, 30)}")
        if self.session_run_id is not None:
            parts.append(f"session since {printable(self.session_run_id, 60)}")
        return " · ".join(parts)

    def watch_sort_mode(self) -> None:
        """A new sort order: move the cards, say so in the header."""
        self._apply_sort()
        self._update_header()

    def watch_view_mode(self) -> None:
        """Another view: lay the overview out again."""
        self._layout_cards()
        self._update_header()

    def watch_filter_text(self) -> None:
        """A new filter: show the matching cards and panel rows, say so in the header."""
        self._apply_filter()
        self._update_header()
        self.query_one(RegressionPanel).show(self.evaluation, self.filter_text)
        self.refresh_bindings()

    def watch_evaluation(self) -> None:
        """A new evaluation: the header's verdict and the regression panel follow it."""
        self._update_header()
        self.query_one(RegressionPanel).show(self.evaluation, self.filter_text)

    def watch_config_error(self) -> None:
        """An edit made the config invalid (or valid again)."""
        self._update_header()

    def watch_metric(self) -> None:
        """Another metric: every card shows it where its SLO measures it."""
        if self.evaluation is not None:
            for slo_result in self.evaluation.slos:
                card = self.cards.get(slo_result.name)
                if card is not None:
                    shown = self.shown(slo_result)
                    card.set_result(shown, stale=shown.stale)
        for screen in self.screen_stack:
            if isinstance(screen, DetailScreen):
                screen.data_changed()
        self._update_header()

    def shown(self, result: SLOResult) -> SLOResult:
        """The result of the metric on screen, or the SLO's default one when it does not measure it."""
        return result.for_metric(self.metric) or result

    def action_cycle_metric(self) -> None:
        """Show the next metric that some SLO measures (time → instructions → peak memory)."""
        ev = self.evaluation
        measured = {r.metric for r in ev.all_results if r.stats is not None} if ev is not None else set()
        present = ["time", *(m for m in ("instructions", "peak_memory") if m in measured)]
        if len(present) == 1:
            self.notify("only time is measured: no SLO has instruction counts or peak memory")
            return
        index = present.index(self.metric) if self.metric in present else -1
        self.metric = present[(index + 1) % len(present)]

    def watch_watching(self) -> None:
        """The watcher started or stopped watching the folder."""
        self._update_header()

    def watch_missing_dir(self) -> None:
        """The artifacts folder vanished or appeared."""
        self._update_header()

    def watch_session_run_id(self) -> None:
        """The session's reference run was chosen."""
        self._update_header()

    def _update_header(self) -> None:
        banner = ""
        if self.config_error:
            banner = f"✗ {printable(self.config_error, 300)} (still using the last good config)"
        elif self.missing_dir:
            banner = (
                f"artifacts folder {printable(str(self.config.artifacts_dir), 80)} does not exist: "
                "waiting for it to appear (press r to run the benchmarks)"
            )
        self.query_one(HeaderBar).show(self.evaluation, extra=self._extra_line(), banner=banner)

    # ------------------------------------------------------ data refresh

    def request_refresh(self, names: set[str] | None = None) -> None:
        """Refresh the store and re-evaluate, in a worker; coalesces bursts.

        Args:
            names: The file names that changed (from the watcher); None looks
                at the whole folder.
        """
        with self._refresh_lock:
            if self._pending is not None:
                if names is None:
                    self._pending = None
                else:
                    self._pending |= names
            if self._refresh_running:
                # The running worker goes round once more; never a queue.
                self._queued = True
                return
            self._refresh_running = True
        self._refresh_worker()

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def _refresh_worker(self) -> None:
        worker = get_current_worker()
        try:
            while not worker.is_cancelled:
                with self._refresh_lock:
                    names, self._pending = self._pending, set()
                    self._queued = False
                self._refresh_once(names)
                with self._refresh_lock:
                    if not self._queued:
                        self._refresh_running = False
                        return
        finally:
            with self._refresh_lock:
                self._refresh_running = False

    def _refresh_once(self, names: set[str] | None) -> None:
        """Runs in the worker thread: refresh, evaluate, post the new state."""
        request, self._machine_request = self._machine_request, None
        if request is not None:
            self.store.select_machine(request)
        try:
            history = self.store.refresh(names)
        except OSError as exc:  # an unexpected I/O failure must not kill the monitor
            self.store.errors[self.config.artifacts_dir] = f"cannot refresh: {exc}"
            history = self.store.history()
        except (SharedHistoryError, MachineError) as exc:
            # What is on screen stays; the bar says why it is not current.
            self.post_message(SharedStatus(f"cannot refresh: {exc}", False))
            return
        session = self.session_run_id if request is None else None
        if session is None and history.latest is not None:
            # The session's reference: the latest run at first load (or the first to arrive).
            session = history.latest.run_id
        # The worker's own last result, not the screen's: a newer state may
        # have replaced an older one on its way to the screen.
        evaluation = evaluate(history, self.config, session_run_id=session, previous=self._evaluated)
        self._evaluated = evaluation
        self._seq += 1
        self.post_message(StoreUpdated(history, evaluation, self._seq))

    async def on_store_updated(self, message: StoreUpdated) -> None:
        """Apply a new evaluation: update only the cards whose result changed."""
        first = self.evaluation is None
        self.history = message.history
        self.evaluation = message.evaluation
        self.session_run_id = message.evaluation.session_run_id
        self.missing_dir = message.history.missing_dir
        self.query_one(SharedBar).show(message.history)
        self.updates += 1
        grid = self.query_one("#cards", Container)
        names = [r.name for r in message.evaluation.slos]
        new_cards: list[SLOCard] = []
        for slo_result in message.evaluation.slos:
            result = self.shown(slo_result)
            # A stale result is an SLO the latest run did not measure (a
            # one-SLO re-run): the evaluation carries its last measurement.
            stale = result.stale
            card = self.cards.get(result.name)
            if card is None:
                card = SLOCard(result.name, result, stale=stale)
                self.cards[result.name] = card
                new_cards.append(card)
            elif card.set_result(result, stale=stale) and not first:
                card.flash()
        for name in [n for n in self.cards if n not in names]:
            self.cards.pop(name).remove()
        if new_cards:
            await grid.mount(*new_cards)
            if not first:
                for card in new_cards:
                    card.flash()
        self._apply_filter()
        self._apply_sort()
        self._layout_cards()
        self._update_empty()
        errors = dict(message.history.errors)
        self.query_one("#errors-box").set_class(not errors, "hidden")
        self.query_one(ErrorsPanel).show(errors, self.config.artifacts_dir)
        for screen in self.screen_stack:
            if isinstance(screen, DetailScreen):
                screen.data_changed()
        self._celebrate_targets(message.evaluation, announce=not first)
        if first and self.screen is self.screen_stack[0]:
            # After the cards are laid out: focusing scrolls to the focused
            # card, and a layout still pending would move it again.
            self.call_after_refresh(self._show_top)

    def _update_empty(self) -> None:
        """With nothing to show yet, say what is missing and what fixes it (actions/next_step.py)."""
        box = self.query_one("#empty", Static)
        step = next_step(self.config, self.history)
        if step is None:
            box.set_class(True, "hidden")
            return
        text = Text()
        text.append("Nothing to show yet\n", style="bold")
        text.append(printable(step.missing, 300), style="yellow")
        text.append("\n→ ")
        if step.key is not None:
            text.append(f"press {step.key}", style="bold cyan")
        else:
            text.append(f"run `{step.fix}` in a terminal", style="bold cyan")
            text.append(" (this monitor picks up the config when it is written)", style="dim")
        box.update(text)
        box.set_class(False, "hidden")

    def _celebrate_targets(self, evaluation: Evaluation, announce: bool) -> None:
        """A notification the first time a run confirms a target (once per SLO and metric).

        Targets already met when the monitor opens are not news: they are
        only remembered.
        """
        for result in evaluation.all_results:
            progress = result.target_progress
            key = (result.name, result.metric)
            if progress is None or not progress.newly_met or key in self.celebrated:
                continue
            self.celebrated.add(key)
            if announce:
                text = f"{printable(result.display_name, 60)}: {progress.celebration}"
                self.notify(text, title="target met", timeout=12)

    def _show_top(self) -> None:
        """Focus the first card and show the grid from its top."""
        self._focus_first()
        self.query_one("#cards-scroll", VerticalScroll).scroll_home(animate=False)

    def _focus_first(self) -> None:
        if not isinstance(self.focused, SLOCard) or not self.focused.display:
            visible = self.visible_cards()
            if visible:
                visible[0].focus()

    # ------------------------------------------------------------ watcher

    @work(exclusive=True, group="watch", exit_on_error=False)
    async def _watch(self) -> None:
        await watch_folder(
            self.config.artifacts_dir,
            self._stop_watch,
            self.request_refresh,
            self._post_watch_state,
        )

    def _post_watch_state(self, watching: bool) -> None:
        self.post_message(WatchState(watching))

    def on_watch_state(self, message: WatchState) -> None:
        """Show whether the folder is being watched."""
        self.watching = message.watching

    # ------------------------------------------------------- config reload

    def _config_folder(self) -> Path:
        if self.config_file is not None:
            return self.config_file.parent
        if self.config.path is not None:
            return self.config.path.parent
        return self.config_start

    @work(exclusive=True, group="config-watch", exit_on_error=False)
    async def _watch_config(self) -> None:
        names = [self.config_file.name] if self.config_file is not None else None
        folder = self._config_folder()
        if names is None:
            await watch_config(folder, self._stop_config_watch, self._reload_config)
        else:
            await watch_config(folder, self._stop_config_watch, self._reload_config, names)

    @work(thread=True, exclusive=True, group="config", exit_on_error=False)
    def _reload_config(self) -> None:
        """Read the config again (a thread: it is file I/O); the app applies it."""
        try:
            config = load_config(self.config_file, start=self.config_start)
        except ConfigError as exc:
            self.post_message(ConfigReloaded(None, str(exc)))
            return
        if self.artifacts_override is not None:
            config = config.with_artifacts_dir(self.artifacts_override)
        self.post_message(ConfigReloaded(config, ""))

    def on_config_reloaded(self, message: ConfigReloaded) -> None:
        """Use the new config; an invalid one is reported and the last good one kept."""
        if message.config is None:
            self.config_error = message.error
            self._set_status(Text(f"✗ config not reloaded: {printable(message.error, 300)}", style="red"))
            return
        self.config_error = ""
        config, old = message.config, self.config
        if config == old:
            return
        self.config = config
        if config.artifacts_dir != old.artifacts_dir or config.history_url != old.history_url:
            self._switch_history(config)
        old_folder = old.path.parent if old.path else self.config_start
        if self.watch_enabled and self._config_folder() != old_folder:
            self._stop_config_watch.set()
            self._stop_config_watch = asyncio.Event()
            self._watch_config()
        where = printable(str(config.path), 200) if config.path else "defaults (no config file)"
        self._set_status(Text(f"✓ config reloaded from {where}", style="green"))
        self.refresh_bindings()
        self.request_refresh()

    def _switch_history(self, config: Config) -> None:
        """Read the history the new config names (another folder, or the shared history came or went)."""
        try:
            loader = monitor_loader(config, self.store.choice)
        except SharedHistoryError as exc:
            self.config_error = str(exc)
            self._set_status(Text(f"✗ history not switched: {printable(str(exc), 300)}", style="red"))
            return
        self.store.close()
        self.store = loader
        self._evaluated = None
        self._stop_listen.set()
        self._stop_listen = threading.Event()
        self._stop_watch.set()
        self._stop_watch = asyncio.Event()
        live = loader.live_source()
        if live is not None:
            self._listen(live)
        elif self.watch_enabled:
            self._watch()

    # ------------------------------------------------------ shared history

    @work(thread=True, exclusive=True, group="listen", exit_on_error=False)
    def _listen(self, url: str) -> None:
        """LISTEN to the shared history (its own connection) until quit; reconnects by itself."""
        from perfslo_tui.runs.pg.history import PgHistory, RunEvent

        def arrived(event: RunEvent) -> None:
            if event.run is not None:
                self.post_message(SharedRun(event.run.machine, event.run.run_id))
            else:
                self.post_message(SharedRun(None, None))

        def status(text: str, ok: bool) -> None:
            self.post_message(SharedStatus(text, ok))

        try:
            with PgHistory(url) as listener:
                listener.listen(arrived, self._stop_listen, status)
        except SharedHistoryError as exc:
            status(f"not live: {exc}", False)

    def on_shared_status(self, message: SharedStatus) -> None:
        """The listener is live, lost, or back: say so; once back, catch up."""
        bar = self.query_one(SharedBar)
        was_ok = bar.ok
        bar.set_status(message.text, message.ok)
        if message.ok and not was_ok:
            self.notify(printable(message.text, 200))
            self.request_refresh()
        elif not message.ok and was_ok:
            self.notify(printable(message.text, 200), severity="warning")

    def on_shared_run(self, message: SharedRun) -> None:
        """A run (or a baseline) arrived: refresh when it concerns the machine shown."""
        shown = self.history.machine if self.history is not None else None
        if message.machine is None or shown is None or message.machine == shown:
            self.request_refresh()
        else:
            self.query_one(SharedBar).count_elsewhere()

    def action_cycle_machine(self) -> None:
        """Show the next machine of the history (the last choice mixes all of them)."""
        history = self.history
        if history is None or not history.machines:
            self.notify("no runs yet")
            return
        order = [*history.machines, ALL]
        current = history.machine if history.machine is not None else ALL
        if len(order) == 2 and current != ALL:
            self.notify(f"only one machine in this history: {describe_choice(current, history.machines)}")
            return
        choice = order[(order.index(current) + 1) % len(order)] if current in order else order[0]
        self._machine_request = choice
        self.query_one(SharedBar).reset_elsewhere()
        self.notify(f"showing {printable(describe_choice(choice, history.machines), 120)}")
        self.request_refresh()

    # --------------------------------------------------- cards: navigation

    def visible_cards(self) -> list[SLOCard]:
        """The cards shown (filter applied), in grid order."""
        grid = self.query_one("#cards", Container)
        return [c for c in grid.children if isinstance(c, SLOCard) and c.display]

    @on(SLOCard.Move)
    def _move(self, message: SLOCard.Move) -> None:
        cards = self.visible_cards()
        if message.card not in cards:
            return
        index = cards.index(message.card)
        top = cards[0].virtual_region.y
        columns = max(1, sum(1 for c in cards if c.virtual_region.y == top))
        target = index + message.dx + message.dy * columns
        if 0 <= target < len(cards):
            cards[target].focus()
            cards[target].scroll_visible(animate=False)

    @on(SLOCard.Open)
    def _open(self, message: SLOCard.Open) -> None:
        self.push_screen(DetailScreen(message.name))

    def action_cycle_sort(self) -> None:
        """Next sort order: status → name → % of budget."""
        self.sort_mode = SORTS[(SORTS.index(self.sort_mode) + 1) % len(SORTS)]

    def _apply_sort(self) -> None:
        grid = self.query_one("#cards", Container)
        current = [c for c in grid.children if isinstance(c, SLOCard)]
        wanted = sorted(current, key=_sort_key(self.sort_mode))
        if wanted == current:
            return
        for index, card in enumerate(wanted):
            if grid.children[index] is not card:
                grid.move_child(card, before=index)

    def action_filter(self) -> None:
        """Open the filter box."""
        box = self.query_one("#filter", FilterInput)
        box.remove_class("hidden")
        box.focus()

    def action_clear_filter(self) -> None:
        """Esc on the overview: clear a kept filter."""
        self.query_one("#filter", FilterInput).value = ""
        self.filter_text = ""

    def action_cycle_view(self) -> None:
        """Next view: auto (fit every SLO) → list (one line each) → cards (full cards)."""
        self.view_mode = VIEWS[(VIEWS.index(self.view_mode) + 1) % len(VIEWS)]

    def action_close_filter(self) -> None:
        """Hide the filter box (the filter stays unless it was cleared)."""
        self.query_one("#filter", FilterInput).add_class("hidden")
        self._apply_filter()
        self._focus_first()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.action_close_filter()

    def _apply_filter(self) -> None:
        needle = self.filter_text.lower()
        for card in self.cards.values():
            card.display = needle in card.slo_name.lower()
        self.call_after_refresh(self._layout_cards)

    # ---------------------------------------------------------- re-run

    def action_rerun(self, slo: str | None = None) -> None:
        """Run the bench command as written; one SLO goes in ``PERFSLO_SLO`` (and ``{slo}``)."""
        if self.runner is not None and self.runner.running:
            self.notify("the bench command is already running (x cancels it)", severity="warning")
            return
        if not self.config.bench_command:
            step = next_step(self.config, None)
            if self.config.path is None and step is not None:
                self._set_status(Text(f"✗ {step.missing}: run `{step.fix}`", style="red"))
            else:
                where = self.config.path.name if self.config.path else "the config"
                message = f"✗ no bench_command in {where}: add one (perfslo init proposes one)"
                self._set_status(Text(message, style="red"))
            return
        try:
            command = build_command(self.config, slo)
        except BenchCommandError as exc:
            self._set_status(Text(f"✗ {exc}", style="red"))
            return
        runner = CommandRunner(command, self.config.root, command_env(self.config, slo))
        self.runner = runner
        shown = f"PERFSLO_SLO={printable(slo, 80)} " if slo is not None else ""
        self.output_lines = [f"$ {shown}{printable(command, 500)}"]
        log = self.query_one("#log", Log)
        log.clear()
        log.write_lines(self.output_lines)
        for screen in self._detail_screens():
            screen.output_started(self.output_lines)
        self._show_log(True)
        self.refresh_bindings()
        self._run_started = time.monotonic()
        self._spin_timer = self.set_interval(0.1, self._spin_status)
        self._spin_status()
        self._run_command(runner)

    @work(exclusive=True, group="bench", exit_on_error=False)
    async def _run_command(self, runner: CommandRunner) -> None:
        try:
            outcome = await runner.run(self._post_output)
        except asyncio.CancelledError:
            runner.kill()
            raise
        self.post_message(CommandFinished(outcome))

    def _post_output(self, lines: list[str]) -> None:
        self.post_message(CommandOutput(lines))

    def _spin_status(self) -> None:
        runner = self.runner
        if runner is None or (not runner.running and self._spin > 0):
            return
        self._spin += 1
        elapsed = time.monotonic() - self._run_started
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{SPINNER[self._spin % len(SPINNER)]} running ", style="bold cyan")
        text.append(printable(runner.command, 80))
        text.append(f"  {elapsed:.0f}s  x cancels, o shows/hides output", style="dim")
        self._set_status(text)

    def _detail_screens(self) -> list[DetailScreen]:
        return [screen for screen in self.screen_stack if isinstance(screen, DetailScreen)]

    def on_command_output(self, message: CommandOutput) -> None:
        """Append the command's output to the log panels (the overview's and a drill-down's)."""
        self.output_lines.extend(message.lines)
        del self.output_lines[:-OUTPUT_LINES]
        self.query_one("#log", Log).write_lines(message.lines)
        for screen in self._detail_screens():
            screen.output(message.lines)

    def on_command_finished(self, message: CommandFinished) -> None:
        """Show how the command ended; on failure, its exit code and tail."""
        outcome = message.outcome
        timer = getattr(self, "_spin_timer", None)
        if timer is not None:
            timer.stop()
        lines: list[str]
        if outcome.ok:
            text = Text("✓ bench command finished (exit 0): its runs arrive via the folder", style="green")
            lines = ["[perfslo] exit 0"]
        else:
            word = "cancelled" if outcome.cancelled else "failed"
            text = Text(no_wrap=True, overflow="ellipsis")
            text.append(f"✗ bench command {word}, exit {outcome.returncode}", style="bold red")
            tail = [line for line in outcome.tail if line.strip()]
            if tail:
                text.append(": ")
                text.append(tail[-1])
                lines = [f"[perfslo] {word}, exit {outcome.returncode}; last lines:"]
                lines += [f"  {line}" for line in tail[-5:]]
            else:
                lines = [f"[perfslo] {word}, exit {outcome.returncode} (it printed nothing)"]
                text.append(" (it printed nothing)", style="dim")
            self._show_log(True)
        self.output_lines.extend(lines)
        self.query_one("#log", Log).write_lines(lines)
        for screen in self._detail_screens():
            screen.output(lines)
        self.last_outcome_text = text
        self._set_status(text)
        self.refresh_bindings()
        # The new run arrives through the watcher; a refresh here also covers
        # a session without a watcher (tests of static screens).
        self.request_refresh()

    def action_cancel_run(self) -> None:
        """Cancel the running bench command (the whole process group)."""
        if self.runner is not None and self.runner.running:
            self.runner.cancel()
            self._set_status(Text("cancelling the bench command…", style="yellow"))
        else:
            self.notify("no bench command is running")

    def action_toggle_log(self) -> None:
        """Show or hide the bench command's output (in the drill-down: its own panel)."""
        if isinstance(self.screen, DetailScreen):
            self.screen.toggle_output()
            return
        self._show_log(self.query_one("#log", Log).has_class("hidden"))

    def _show_log(self, visible: bool) -> None:
        self.query_one("#log", Log).set_class(not visible, "hidden")
        # On a short terminal the output takes the regression panel's place.
        self.screen_stack[0].set_class(visible, "-log-open")

    def _set_status(self, text: Text) -> None:
        self.query_one("#status", Static).update(text)
        for screen in self._detail_screens():
            screen.set_status(text)

    # --------------------------------------------------------- baseline

    def action_baseline(self) -> None:
        """Make the latest run the baseline, after a confirmation."""
        self.ask_baseline(None)

    def ask_baseline(self, run_id: str | None) -> None:
        """Ask to make ``run_id`` (default: the latest run) the baseline."""
        ev = self.evaluation
        if run_id is None:
            if ev is None or ev.run is None:
                self.notify("no run to make the baseline from", severity="warning")
                return
            run_id = ev.run.run_id
        info = self.history.run(run_id) if self.history is not None else None
        commit = info.commit if info is not None else "?"
        measured = self.history.measured(run_id) if self.history is not None else set()
        plan = plan_baseline(measured, self.history.baseline if self.history is not None else None)
        question = baseline_question(
            run_id, short_commit(commit), plan, shared=self.store.live_source() is not None
        )
        chosen = run_id

        def answered(yes: bool | None) -> None:
            if yes:
                self._establish(chosen)

        self.push_screen(ConfirmScreen(question), answered)

    @work(thread=True, exclusive=True, group="baseline", exit_on_error=False)
    def _establish(self, run_id: str) -> None:
        try:
            live = self.store.live_source()
            if live is not None:
                from perfslo_tui.actions.baseline import establish_shared_baseline
                from perfslo_tui.runs.pg.history import PgHistory

                # The baseline of the run's machine, in the shared history (its own connection).
                with PgHistory(live) as history:
                    run, carried = establish_shared_baseline(history, run_id)
            else:
                path = self.config.artifacts_dir / run_id
                _path, _kept, run, carried = establish_baseline(self.config, path)
        except (ArtifactError, OSError, ValueError, SharedHistoryError) as exc:
            self.post_message(BaselineDone(f"✗ baseline not set: {printable(str(exc), 200)}", False))
            return
        text = f"✓ baseline set from {printable(run.run_id, 80)}"
        if carried:
            text += f"; {len(carried)} SLO(s) not in it kept their baseline"
        self.post_message(BaselineDone(text, True))

    def on_baseline_done(self, message: BaselineDone) -> None:
        """Report the baseline result and reload."""
        self._set_status(Text(message.text, style="green" if message.ok else "red"))
        self.request_refresh()

    # ------------------------------------------------------------- misc

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show only keys that do something here: overview keys on the overview, Esc with a filter."""
        overview = len(self.screen_stack) <= 1
        if action in ("filter", "cycle_sort", "cycle_view") and not overview:
            return False
        if action == "clear_filter":
            return overview and bool(self.filter_text)
        if action == "cancel_run":
            return self.runner is not None and self.runner.running
        return True

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that failed says so on the status line instead of vanishing."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self._set_status(Text(f"✗ internal error in {event.worker.name}: {error!r}", style="bold red"))

    def action_help(self) -> None:
        """Show every key."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Quit cleanly: stop the watcher, kill a running command."""
        self._stop_everything()
        self.exit(0)

    def _stop_everything(self) -> None:
        self._stop_watch.set()
        self._stop_config_watch.set()
        self._stop_listen.set()
        if self.runner is not None:
            self.runner.kill()
        for screen in self.screen_stack:
            if isinstance(screen, DetailScreen):
                screen.stop_compare()  # its worker removes the worktrees before the process exits

    def on_unmount(self) -> None:
        """Belt and braces for exits that bypass ``q``."""
        self._stop_everything()
        self.store.close()

    def result(self, name: str) -> SLOResult | None:
        """The current result of one SLO in the metric on screen (for tests and the drill-down)."""
        found = self.evaluation.result(name) if self.evaluation is not None else None
        return self.shown(found) if found is not None else None


def prepare(args: argparse.Namespace) -> tuple[PerfSLOApp | None, str | None]:
    """The app for parsed ``perfslo-tui`` arguments, or the one-line error (config, shared history)."""
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return None, str(exc)
    artifacts = args.artifacts.resolve() if args.artifacts is not None else None
    if artifacts is not None:
        config = config.with_artifacts_dir(artifacts)
    config_file = args.config.resolve() if args.config is not None else None
    try:
        loader = monitor_loader(config, getattr(args, "machine", None))
        if loader.live_source() is not None:
            # A wrong URL, password or database is one line now, not a screen that never fills.
            loader.refresh()
    except (SharedHistoryError, MachineError) as exc:
        return None, printable(str(exc), 1000)
    app = PerfSLOApp(
        config, config_file=config_file, config_start=Path.cwd(), artifacts_override=artifacts, loader=loader
    )
    return app, None


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``perfslo-tui`` without the early first line (see ``tui/launch.py``)."""
    from perfslo_tui.tui.launch import build_parser

    app, error = prepare(build_parser().parse_args(argv))
    if app is None:
        print(f"perfslo-tui: {error}", file=sys.stderr)
        return 2
    return app.run() or 0


if __name__ == "__main__":
    sys.exit(main())

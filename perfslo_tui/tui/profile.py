"""The profile screen: where one SLO's time goes, and what changed since the baseline.

Reached with ``p`` from the drill-down. It profiles the SLO right away in a
thread worker (:func:`perfslo_tui.actions.profile.profile_slo`: the harness
under cProfile, or the SLO's ``profile_command``), with a spinner and the
elapsed time; ``x`` or leaving cancels (the profiler's process group is
stopped, its temporary folder removed). Three tabs show the result:

* **hot spots**: functions by self time, with total time and calls;
* **call tree**: the calls from the top, each node's share of the total, the
  hottest path opened;
* **diff**: against a profile of the baseline's commit (``d``): a kept one,
  or one made on demand in a temporary worktree; functions by their
  contribution to the change of the total.

Workers never touch widgets: they post :class:`~perfslo_tui.tui.messages.ProfileProgress`
and :class:`~perfslo_tui.tui.messages.ProfileFinished`.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane, Tree
from textual.widgets.tree import TreeNode

from perfslo_tui.actions.bisect import suggested_command
from perfslo_tui.actions.profile import ProfilingError, profile_at_commit, profile_slo
from perfslo_tui.profiles.diff import ProfileDiff
from perfslo_tui.profiles.model import CallNode, Profile, ProfileError
from perfslo_tui.profiles.store import KeptComparison, ProfileRecord, compare_records, latest_profile
from perfslo_tui.text import printable, short_commit
from perfslo_tui.tui.messages import ProfileFinished, ProfileProgress
from perfslo_tui.tui.widgets import safe
from perfslo_tui.verdict.model import SLOResult

if TYPE_CHECKING:
    from perfslo_tui.tui.app import PerfSLOApp

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
HOT_ROWS = 200
DIFF_ROWS = 200
# The call tree opens the hottest path down to nodes of at least this share.
OPEN_SHARE = 0.05


class ProfileScreen(Screen[None]):
    """One SLO's profile: hot spots, call tree and the diff against the baseline's commit.

    Args:
        slo_name: The SLO.
        run_id: The run the profile goes with (the SLO's latest), if any.
    """

    CSS_PATH = "profile.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("x", "cancel", "Cancel"),
        Binding("p", "profile", "Profile again"),
        Binding("d", "diff", "Diff vs baseline"),
        Binding("1", "tab('hot')", "Hot spots", show=False),
        Binding("2", "tab('tree')", "Call tree", show=False),
        Binding("3", "tab('diff')", "Diff", show=False),
        Binding("r", "rerun", "Re-run", show=False),
    ]

    def __init__(self, slo_name: str, run_id: str | None = None) -> None:
        super().__init__()
        self.slo_name = slo_name
        self.run_id = run_id
        self.record: ProfileRecord | None = None
        self.profile: Profile | None = None
        self.comparison: KeptComparison | None = None
        self.busy: str | None = None  # "profile" or "baseline" while a worker runs
        self._profile_status: Text | None = None  # the status line of the profile shown
        self.status_text = Text()
        self._cancel = threading.Event()
        self._started = 0.0
        self._spin = 0
        self._activity = ""

    @property
    def perf_app(self) -> PerfSLOApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        """Title, status, the three tabs, footer."""
        yield Static(id="profile-title")
        yield Static(id="profile-status")
        with TabbedContent(initial="hot", id="profile-tabs"):
            with TabPane("1 hot spots", id="hot"):
                yield DataTable(id="hot-table", cursor_type="row", zebra_stripes=True)
            with TabPane("2 call tree", id="tree"):
                yield Tree("all", id="call-tree")
            with TabPane("3 diff vs baseline", id="diff"), Vertical():
                yield Static(id="diff-summary")
                yield DataTable(id="diff-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        """Columns, title, and profile right away."""
        hot = self.query_one("#hot-table", DataTable)
        for label in ("self", "self %", "total", "total %", "calls", "function", "where"):
            hot.add_column(label)
        diff = self.query_one("#diff-table", DataTable)
        for label in ("of total", "function", "before ms/call", "after ms/call", "own change", "where"):
            diff.add_column(label, key=label)
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append("profile  ", style="bold")
        title.append(printable(self.slo_name, 80), style="bold")
        self.query_one("#profile-title", Static).update(title)
        self._show_diff_hint()
        self.set_interval(0.1, self._tick)
        self.action_profile()

    # ------------------------------------------------------------------ actions

    def action_back(self) -> None:
        """Back to the drill-down (a running profile is cancelled)."""
        self._cancel.set()
        self.app.pop_screen()

    def action_cancel(self) -> None:
        """Cancel the running profile."""
        if self.busy is None:
            self._set_status(Text("nothing is running", style="dim"))
            return
        self._cancel.set()
        self._set_status(Text("cancelling…", style="yellow"))

    def action_rerun(self) -> None:
        """A bench run now would share the machine with the profiler: refused while profiling."""
        if self.busy is not None:
            self._set_status(Text("profiling is measuring on this machine (x cancels it)", style="yellow"))
            return
        self.perf_app.action_rerun(self.slo_name)

    def action_tab(self, tab: str) -> None:
        """Show a tab."""
        self.query_one("#profile-tabs", TabbedContent).active = tab

    def action_profile(self) -> None:
        """Profile the SLO now, in the checkout as it is."""
        if self.busy is not None:
            self._set_status(Text("already profiling (x cancels it)", style="yellow"))
            return
        runner = self.perf_app.runner
        if runner is not None and runner.running:
            self._set_status(Text("the bench command is running: profile when it ends", style="yellow"))
            return
        self._start("profile", "profiling")
        self._profile_worker()

    def action_diff(self) -> None:
        """Diff against the baseline's commit: a kept profile of it, or one made in a worktree."""
        self.action_tab("diff")
        if self.busy is not None:
            self._set_status(Text("wait for the running profile (x cancels it)", style="yellow"))
            return
        if self.record is None:
            self._set_status(Text("no profile yet: p profiles the SLO", style="yellow"))
            return
        commit = self._baseline_commit()
        if commit is None:
            self._set_status(Text("no baseline with a commit: b makes one in the drill-down", style="yellow"))
            return
        kept = latest_profile(self.perf_app.config.artifacts_dir, self.slo_name, commit, include_dirty=False)
        if kept is not None and kept.path != self.record.path:
            self._compare(kept)
            return
        self._start("baseline", f"profiling the baseline's commit {short_commit(commit)} in a worktree")
        self._baseline_worker(commit)

    # ------------------------------------------------------------------ workers

    def _start(self, kind: str, activity: str) -> None:
        self.busy = kind
        self._cancel = threading.Event()
        self._started = time.monotonic()
        self._activity = activity
        self._tick()

    @work(thread=True, exclusive=True, group="profile", exit_on_error=False)
    def _profile_worker(self) -> None:
        cancel = self._cancel
        try:
            outcome = profile_slo(
                self.perf_app.config,
                self.slo_name,
                run_id=self.run_id,
                cancel=cancel,
                progress=self._post_progress,
            )
        except ProfilingError as exc:
            self.post_message(ProfileFinished("profile", None, str(exc), cancel.is_set()))
            return
        self.post_message(ProfileFinished("profile", outcome.record, None, False, outcome.profile))

    @work(thread=True, exclusive=True, group="profile", exit_on_error=False)
    def _baseline_worker(self, commit: str) -> None:
        cancel = self._cancel
        baseline = self._baseline_run_id()
        try:
            outcome = profile_at_commit(
                self.perf_app.config,
                self.slo_name,
                commit,
                run_id=baseline,
                cancel=cancel,
                progress=self._post_progress,
            )
        except ProfilingError as exc:
            self.post_message(ProfileFinished("baseline", None, str(exc), cancel.is_set()))
            return
        self.post_message(ProfileFinished("baseline", outcome.record, None, False, outcome.profile))

    @work(thread=True, exclusive=True, group="profile-diff", exit_on_error=False)
    def _compare(self, before: ProfileRecord) -> None:
        after = self.record
        if after is None:
            return
        try:
            comparison = compare_records(before, after)
        except ProfileError as exc:
            self.post_message(ProfileFinished("diff", None, str(exc), False))
            return
        self.post_message(ProfileFinished("diff", before, None, False, comparison=comparison))

    def _post_progress(self, text: str) -> None:
        self.post_message(ProfileProgress(text))

    @on(ProfileProgress)
    def _progress(self, message: ProfileProgress) -> None:
        self._activity = message.text
        self._tick()

    @on(ProfileFinished)
    def _finished(self, message: ProfileFinished) -> None:
        if message.kind in ("profile", "baseline"):
            self.busy = None
        if message.error is not None:
            if message.cancelled:
                self._set_status(Text("cancelled: nothing kept, temporary folders removed", style="yellow"))
            else:
                self._set_status(safe("✗ " + message.error, 400, "bold red"))
            return
        if message.kind == "profile" and message.record is not None and message.profile is not None:
            self.record, self.profile = message.record, message.profile
            self._show_profile(message.record, message.profile)
            commit = self._baseline_commit()
            kept = None
            if commit is not None:
                config = self.perf_app.config
                kept = latest_profile(config.artifacts_dir, self.slo_name, commit, include_dirty=False)
            if kept is not None and kept.path != message.record.path:
                self._compare(kept)
        elif message.kind == "baseline" and message.record is not None:
            self._compare(message.record)
        elif message.kind == "diff" and message.comparison is not None:
            self.comparison = message.comparison
            self._show_diff(message.comparison)

    # ------------------------------------------------------------------ drawing

    def _tick(self) -> None:
        if self.busy is None:
            return
        self._spin += 1
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{SPINNER[self._spin % len(SPINNER)]} ", style="bold cyan")
        text.append(printable(self._activity, 200))
        text.append(f"  {time.monotonic() - self._started:.1f}s  x cancels", style="dim")
        self._set_status(text)

    def _set_status(self, text: Text) -> None:
        self.status_text = text
        self.query_one("#profile-status", Static).update(text)

    def _show_profile(self, record: ProfileRecord, profile: Profile) -> None:
        per_call = record.calls > 1 and profile.unit == "s"
        status = Text(no_wrap=True, overflow="ellipsis")
        status.append("✓ ", style="green")
        status.append(f"{record.label}: {record.calls} call(s) profiled in {record.wall_s:.1f}s")
        status.append(f"  {printable(record.profiler, 60)} · {record.format}", style="dim")
        if profile.sampled:
            status.append("  sampled: times are estimates", style="dim")
        self._profile_status = status
        self._set_status(status)
        unit = "ms/call" if per_call else ("ms" if profile.unit == "s" else "samples")
        table = self.query_one("#hot-table", DataTable)
        table.clear(columns=True)
        for label in (f"self {unit}", "self %", f"total {unit}", "total %", "calls", "function", "where"):
            table.add_column(label)
        for stat in profile.top(HOT_ROWS):
            frame = stat.frame
            table.add_row(
                Text(_amount(stat.self_s, profile.unit, record.calls), justify="right"),
                Text(f"{profile.share(stat.self_s):.1%}", justify="right"),
                Text(_amount(stat.total_s, profile.unit, record.calls), justify="right"),
                Text(f"{profile.share(stat.total_s):.1%}", justify="right"),
                Text(str(stat.calls) if stat.calls else "-", justify="right"),
                safe(frame.name, 60),
                safe(frame.location, 80, "dim"),
            )
        self._show_tree(profile)

    def _show_tree(self, profile: Profile) -> None:
        tree = self.query_one("#call-tree", Tree)
        tree.clear()
        tree.root.set_label(Text(f"all  {_tree_amount(profile.total_s, profile.unit)}"))
        tree.root.data = profile.root
        self._grow(tree.root, profile.root, profile)
        tree.root.expand()
        # Open the hot path: the slowest child, while it holds a fair share.
        node: TreeNode[CallNode] = tree.root
        while node.children:
            hottest = node.children[0]
            data = hottest.data
            if data is None or profile.share(data.total_s) < OPEN_SHARE:
                break
            self._grow(hottest, data, profile)
            hottest.expand()
            node = hottest

    def _grow(self, parent: TreeNode[CallNode], call: CallNode, profile: Profile) -> None:
        if parent.children or not call.children:
            return
        for child in call.children:
            parent.add(_tree_label(child, profile), data=child, allow_expand=bool(child.children))

    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[CallNode]) -> None:
        if self.profile is not None and event.node.data is not None:
            self._grow(event.node, event.node.data, self.profile)

    def _show_diff_hint(self) -> None:
        summary = Text("d compares with a profile of the baseline's commit (kept, or made in a worktree)")
        summary.stylize("dim")
        self.query_one("#diff-summary", Static).update(summary)

    def _show_diff(self, comparison: KeptComparison) -> None:
        diff: ProfileDiff = comparison.diff
        summary = Text()
        summary.append(f"{comparison.before.label} → {comparison.after.label}: ", style="bold")
        if diff.unit == "s":
            change = diff.total_change
            style = "red" if change > 0 else "green"
            summary.append(f"the profile's total {change:+.1%}", style=f"bold {style}")
            summary.append("  (per benchmark call; rows by their part of that change)", style="dim")
            amounts = ("before ms/call", "after ms/call")
        else:
            # Sample counts say where the time went, not how much there was: no total to compare.
            summary.append("shares of the samples", style="bold")
            summary.append("  (a sampling profile; rows by how much their share moved)", style="dim")
            amounts = ("before share", "after share")
        self.query_one("#diff-summary", Static).update(summary)
        table = self.query_one("#diff-table", DataTable)
        table.clear(columns=True)
        for label in ("of total", "function", *amounts, "own change", "where"):
            table.add_column(label, key=label)
        for row in diff.top(DIFF_ROWS):
            own = row.verb if row.verb in ("new", "gone") else f"{row.relative:+.0%}"
            table.add_row(
                Text(
                    f"{row.contribution:+.1%}",
                    style="red" if row.contribution > 0 else "green",
                    justify="right",
                ),
                safe(row.name, 60),
                Text(_diff_amount(row.before_s, diff.unit), justify="right"),
                Text(_diff_amount(row.after_s, diff.unit), justify="right"),
                Text(own, justify="right"),
                safe(row.file, 80, "dim"),
            )
        if self.busy is None:
            # From the profile's own line: the status may still hold the baseline worker's last
            # progress, and a second diff (d again) must not repeat the note.
            status = (self._profile_status or self.status_text).copy()
            status.append(f"  · 3: diff vs {comparison.before.label}", style="cyan")
            self._set_status(status)

    def _baseline_commit(self) -> str | None:
        evaluation = self.perf_app.evaluation
        baseline = evaluation.baseline if evaluation is not None else None
        if baseline is None or not baseline.commit or baseline.commit == "unknown":
            return None
        return baseline.commit

    def _baseline_run_id(self) -> str | None:
        evaluation = self.perf_app.evaluation
        baseline = evaluation.baseline if evaluation is not None else None
        if baseline is None or not baseline.source_run:
            return None
        return baseline.source_run.removesuffix(".json")


def _amount(seconds: float, unit: str, calls: int) -> str:
    if unit != "s":
        return f"{seconds:.0f}"
    ms = seconds * 1e3 / max(calls, 1)
    return f"{ms:.4f}" if ms < 0.01 else f"{ms:.3f}" if ms < 10 else f"{ms:.1f}"


def _tree_amount(seconds: float, unit: str) -> str:
    return f"{seconds * 1e3:.1f} ms" if unit == "s" else f"{seconds:.0f} samples"


def _diff_amount(value: float, unit: str) -> str:
    if unit == "share":
        return f"{value:.1%}"
    ms = value * 1e3
    return f"{ms:.4f}" if ms < 0.01 else f"{ms:.3f}"


def _tree_label(node: CallNode, profile: Profile) -> Text:
    label = Text(no_wrap=True, overflow="ellipsis")
    share = profile.share(node.total_s)
    style = "bold red" if share >= 0.25 else "yellow" if share >= 0.05 else ""
    label.append(f"{share:6.1%} ", style=style)
    label.append(printable(node.frame.name, 60))
    if node.self_s > 0 and node.children:
        label.append(f"  self {profile.share(node.self_s):.1%}", style="dim")
    if node.calls:
        label.append(f"  ×{node.calls}", style="dim")
    if node.frame.location:
        label.append(f"  {printable(node.frame.location, 60)}", style="dim")
    return label


def bisect_hint(result: SLOResult) -> str | None:
    """The ``perfslo bisect`` command for a regression step found in the history, or None.

    GOOD is the commit of the last run before the step with another commit
    than the step's (BAD): runs at the step's own commit would make the range
    empty. None for an improvement, an unknown commit, or no such run.
    """
    step = result.step
    if step is None or step.change <= 0 or not _known(step.commit):
        return None
    before: str | None = None
    for point in result.trend:
        if point.run_id == step.run_id:
            break
        if _known(point.commit) and point.commit != step.commit:
            before = point.commit
    if before is None:
        return None
    return suggested_command(result.name, before, step.commit)


def _known(commit: str) -> bool:
    return bool(commit) and commit != "unknown"

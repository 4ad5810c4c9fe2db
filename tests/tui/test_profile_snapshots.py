"""Snapshots of the profile screen (p in the drill-down): hot spots and the diff vs the baseline's commit.

The screen is driven through its real message handlers with profiles read by
the real reader from fixed collapsed-stack files (a sampling profiler's
output): the same path a profile worker takes, without the timing noise a
live profile would put in a snapshot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_snapshots import fixed_history
from textual.pilot import Pilot
from textual.widgets import DataTable
from tuihelpers import loaded, make_app, wait_for

from perfslo_tui.profiles.store import ProfileRecord, compare_records
from perfslo_tui.tui.messages import ProfileFinished
from perfslo_tui.tui.profile import ProfileScreen
from perfslo_tui.tui.screens import DetailScreen
from tests.conftest import RunWriter

SLO = "transpile-function"
BASE = "1a2b3c4d5e" * 4
HEAD = "9f8e7d6c5b" * 4
# Sample counts per stack: HEAD spends most of its new time in tokenize.
BEFORE = "main;transpile;tokenize 400\nmain;transpile;emit 300\nmain;transpile;emit;quote 50\nmain;load 250\n"
AFTER = "main;transpile;tokenize 700\nmain;transpile;emit 310\nmain;transpile;emit;quote 40\nmain;load 250\n"


def record(folder: Path, commit: str, text: str, made_ms: int) -> ProfileRecord:
    name = f"prof-{commit[:7]}-{made_ms}-{SLO}.folded"
    (folder / name).write_text(text)
    return ProfileRecord(
        slo=SLO,
        commit=commit,
        dirty=False,
        made_ms=made_ms,
        profiler="py-spy (bench command)",
        format="collapsed",
        file=name,
        calls=1,
        reference_ms=None,
        wall_s=2.5,
        root="",
        run_id=None,
        folder=folder,
    )


def drive(project: Path, tab: str) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = await loaded(pilot)
        app.cards[SLO].focus()
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("p")
        screen = app.screen
        assert isinstance(screen, ProfileScreen)
        # No bench command in this project: the live profile ends at once; the fixed one replaces it.
        await wait_for(pilot, lambda: screen.busy is None)
        folder = project / "profiles-fixed"
        folder.mkdir()
        before = record(folder, BASE, BEFORE, 1_790_000_000_000)
        after = record(folder, HEAD, AFTER, 1_790_000_600_000)
        screen.post_message(ProfileFinished("profile", after, None, False, after.read()))
        await wait_for(pilot, lambda: screen.record is not None)
        if tab == "diff":
            screen.post_message(
                ProfileFinished("diff", before, None, False, comparison=compare_records(before, after))
            )
            await wait_for(pilot, lambda: screen.comparison is not None)
            # State first: a sampling profile's diff is in shares, never in ms per call.
            table = screen.query_one("#diff-table", DataTable)
            labels = [str(column.label) for column in table.columns.values()]
            assert labels[2:4] == ["before share", "after share"], labels
            assert str(table.get_row_at(0)[1]) == "tokenize"
            await pilot.press("3")
        await wait_for(pilot, lambda: screen.query_one("#hot-table", DataTable).row_count > 0)
        await pilot.pause(0.1)

    return run_before


def test_profile_hot_spots_snapshot(snap_compare: Any, project: Path, write: RunWriter) -> None:
    fixed_history(project, write)
    app = make_app(project, watch=False)
    assert snap_compare(app, terminal_size=(120, 40), run_before=drive(project, "hot"))


def test_profile_diff_snapshot_80x24(snap_compare: Any, project: Path, write: RunWriter) -> None:
    fixed_history(project, write)
    app = make_app(project, watch=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=drive(project, "diff"))

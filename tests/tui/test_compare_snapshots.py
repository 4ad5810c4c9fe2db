"""Snapshots of the drill-down's compare panel: measuring, and settled (fixed data, 120×40 and 80×24).

The panel is driven through its real message handlers with decisions made by
the real rule from fixed pair differences: the same path a compare's worker
takes, without the timing noise a live compare would put in a snapshot.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from test_snapshots import fixed_history
from textual.pilot import Pilot
from textual.widgets import DataTable
from tuihelpers import loaded, make_app, wait_for

from perfslo_tui.actions.compare import CompareProgress, CompareResult
from perfslo_tui.tui.messages import CompareFinished, CompareProgressed
from perfslo_tui.tui.screens import DetailScreen
from perfslo_tui.verdict.ab import decide
from tests.conftest import RunWriter

SLO = "transpile-function"
BASE = "1a2b3c4d5e" * 4
HEAD = "9f8e7d6c5b" * 4
# Pair differences of an edit that made the SLO about 12 % faster.
DIFFERENCES = [math.log(v) for v in (0.87, 0.89, 0.88, 0.86, 0.90, 0.88, 0.87, 0.89)]


def drive(finished: bool) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = await loaded(pilot)
        app.cards[SLO].focus()
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        await wait_for(pilot, lambda: screen.query_one("#runs", DataTable).row_count == 6)
        screen.compare_against = "HEAD"
        measuring = decide(DIFFERENCES[:3], tolerance=0.05)
        progress = CompareProgress(3, 20, {SLO: measuring}, 9.4, ("head", "base"), "measuring", BASE, HEAD)
        screen.post_message(CompareProgressed(progress))
        if finished:
            settled = decide(DIFFERENCES, tolerance=0.05)
            result = CompareResult(BASE, HEAD, "working tree", {SLO: settled}, 8, 24.6)
            screen.post_message(CompareFinished(result))
        await pilot.pause(0.1)

    return run_before


def test_compare_measuring_snapshot(snap_compare: Any, project: Path, write: RunWriter) -> None:
    fixed_history(project, write)
    app = make_app(project, watch=False)
    assert snap_compare(app, terminal_size=(120, 40), run_before=drive(finished=False))


def test_compare_settled_snapshot_80x24(snap_compare: Any, project: Path, write: RunWriter) -> None:
    fixed_history(project, write)
    app = make_app(project, watch=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=drive(finished=True))

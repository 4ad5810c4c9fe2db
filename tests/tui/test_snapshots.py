"""Snapshots of the overview, the drill-down and the help: fixed data, frozen clock, fixed size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable
from tuihelpers import BASE_MS, HOUR_MS, loaded, make_app, wait_for

from perfslo_tui.actions.baseline import establish_baseline
from perfslo_tui.config import load_config
from perfslo_tui.tui.screens import DetailScreen
from tests.conftest import SEED_MOCK_TIMINGS, RunWriter


def fixed_history(project: Path, write: RunWriter) -> None:
    """Six runs an hour apart, a baseline from the first, a slow rise in transpile-function."""
    for i in range(6):
        values = {
            name: value * (1 + 0.004 * ((i * 7 + j) % 5))
            for j, (name, value) in enumerate(SEED_MOCK_TIMINGS.items())
        }
        values["transpile-function"] = 1.1 + 0.03 * i
        write(values, ts_ms=BASE_MS - 2 * HOUR_MS + i * HOUR_MS // 2, commit=f"{i + 10:x}" * 20, spread=0.03)
    config = load_config(start=project)
    first = sorted((project / "artifacts").glob("perf-*.json"))[0]
    establish_baseline(config, first)


async def _loaded(pilot: Pilot[Any]) -> None:
    await loaded(pilot)
    await pilot.pause(0.1)


def test_overview_snapshot(snap_compare: Any, project: Path, write: RunWriter) -> None:
    fixed_history(project, write)
    assert snap_compare(make_app(project, watch=False), terminal_size=(120, 40), run_before=_loaded)


def test_overview_snapshot_80x24(snap_compare: Any, project: Path, write: RunWriter) -> None:
    fixed_history(project, write)
    assert snap_compare(make_app(project, watch=False), terminal_size=(80, 24), run_before=_loaded)


def test_drill_down_snapshot(snap_compare: Any, project: Path, write: RunWriter) -> None:
    fixed_history(project, write)

    async def open_detail(pilot: Pilot[Any]) -> None:
        app = await loaded(pilot)
        app.cards["transpile-function"].focus()
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        await wait_for(pilot, lambda: screen.query_one("#runs", DataTable).row_count == 6)
        await pilot.pause(0.1)

    assert snap_compare(make_app(project, watch=False), terminal_size=(120, 40), run_before=open_detail)


def test_help_snapshot(snap_compare: Any, project: Path, write: RunWriter) -> None:
    fixed_history(project, write)

    async def open_help(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.1)

    assert snap_compare(make_app(project, watch=False), terminal_size=(120, 40), run_before=open_help)

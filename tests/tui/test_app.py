"""Pilot tests of the live monitor on real files: overview, navigation, live updates, errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import DataTable, Static
from tuihelpers import BASE_MS, HOUR_MS, anyio_backend, loaded, make_app, wait_for
from watchfiles import Change

from perfslo_tui.config import load_config
from perfslo_tui.runs.store import load_table
from perfslo_tui.tui.screens import ConfirmScreen, DetailScreen, HelpScreen
from perfslo_tui.tui.watcher import ArtifactsFilter
from perfslo_tui.tui.widgets import ErrorsPanel, HeaderBar, RegressionPanel, SLOCard
from perfslo_tui.verdict.engine import evaluate
from perfslo_tui.verdict.rules import BudgetStatus
from tests.conftest import SEED_MOCK_TIMINGS, RunWriter

SIZE = (120, 40)
pytestmark = pytest.mark.anyio
__all__ = ["anyio_backend"]


def text_of(renderable: object, width: int = 120) -> str:
    """What a renderable shows, as plain text."""
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def history(write: RunWriter, runs: int = 3) -> None:
    """A few runs of the seed's mock timings, an hour apart."""
    for i in range(runs):
        values = {name: value * (1 + 0.01 * i) for name, value in SEED_MOCK_TIMINGS.items()}
        write(values, ts_ms=BASE_MS + i * HOUR_MS, commit=f"{i + 1:x}" * 40, spread=0.02)


async def test_overview_shows_the_same_evaluation_as_the_gate(project: Path, write: RunWriter) -> None:
    history(write)
    config = load_config(start=project)
    store = load_table(config.artifacts_dir)
    expected = evaluate(store.history(), config)
    app = make_app(project, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert app.evaluation is not None
        assert app.evaluation.verdict is expected.verdict
        assert set(app.cards) == set(config.slos)
        for result in expected.slos:
            card = app.cards[result.name]
            assert card.result is not None
            assert card.result.status is result.status
            assert card.result.value_ms == result.value_ms
        objects = app.cards["transpile-objects"]
        assert objects.result is not None and objects.result.status is BudgetStatus.VIOLATION
        assert objects.has_class("-violation")
        shown = text_of(objects.render(), 40)
        assert "transpile-objects" in shown and "VIOLATION" in shown and "budget 1.15ms" in shown
        header = text_of(app.query_one(HeaderBar).build())
        assert expected.verdict.value in header
        assert "3 runs" in header
        assert "3333333" in header and "main" in header and "3h ago" in header
        assert "no baseline" in text_of(app.query_one(RegressionPanel).shown)
        # Sorted by status: the worst card comes first and has the focus.
        first = app.visible_cards()[0]
        assert first.result is not None and first.result.violation
        assert app.focused is first


async def test_navigation_drill_down_and_back(project: Path, write: RunWriter) -> None:
    history(write)
    app = make_app(project, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        cards = app.visible_cards()
        assert app.focused is cards[0]
        await pilot.press("l")
        assert app.focused is cards[1]
        await pilot.press("right")
        assert app.focused is cards[2]
        await pilot.press("h")
        assert app.focused is cards[1]
        columns = sum(1 for c in cards if c.virtual_region.y == cards[0].virtual_region.y)
        assert 1 < columns < len(cards)
        await pilot.press("j")
        assert app.focused is cards[1 + columns]
        await pilot.press("up")
        assert app.focused is cards[1]
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        assert screen.slo_name == cards[1].slo_name
        table = screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        # Newest first, each row judged by the evaluation of its own run.
        assert [info.commit[:7] for info, _ in screen.recent] == ["3333333", "2222222", "1111111"]
        assert all(result is not None for _, result in screen.recent)
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)
        assert app.focused is cards[1]
        # The mouse: a click focuses a card, a second click opens it.
        await pilot.click(cards[2])
        assert app.focused is cards[2]
        await pilot.click(cards[2])
        assert isinstance(app.screen, DetailScreen) and app.screen.slo_name == cards[2].slo_name
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, DetailScreen)


async def test_filter_and_sort(project: Path, write: RunWriter) -> None:
    history(write)
    app = make_app(project, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("slash")
        await pilot.press(*"lua")
        assert [c.slo_name for c in app.visible_cards()] == ["lua-emit-simple", "lua-emit-complex"] or sorted(
            c.slo_name for c in app.visible_cards()
        ) == ["lua-emit-complex", "lua-emit-simple"]
        await pilot.press("enter")
        assert len(app.visible_cards()) == 2
        assert isinstance(app.focused, SLOCard) and "lua" in app.focused.slo_name
        await pilot.press("slash", "escape")
        assert len(app.visible_cards()) == 7
        assert app.sort_mode == "status"
        await pilot.press("s")
        assert app.sort_mode == "name"
        await pilot.pause()
        names = [c.slo_name for c in app.visible_cards()]
        assert names == sorted(names)
        await pilot.press("s")
        assert app.sort_mode == "budget"
        await pilot.pause()
        percents = [
            c.result.budget.percent_of_budget for c in app.visible_cards() if c.result and c.result.budget
        ]
        assert percents == sorted(percents, reverse=True)


async def test_new_file_reaches_its_card_and_session_change(project: Path, write: RunWriter) -> None:
    history(write)
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: app.watching)
        session_run = app.session_run_id
        assert session_run is not None and session_run.startswith("perf-3333333")
        card = app.cards["transpile-simple"]
        values = {name: value * 1.02 for name, value in SEED_MOCK_TIMINGS.items()}
        values["transpile-simple"] = 0.6
        write(values, ts_ms=BASE_MS + 4 * HOUR_MS, commit="4" * 40, spread=0.02)
        await wait_for(pilot, lambda: card.result is not None and card.result.value_ms == 0.6)
        assert card.has_class("-flash")
        assert card.result is not None and card.result.vs_session is not None
        assert card.result.vs_session.reference_run_id == session_run
        assert card.result.vs_session.change < -0.2
        assert app.session_run_id == session_run
        # A run file deleted goes away too.
        for path in (project / "artifacts").glob("perf-4444444-*.json"):
            path.unlink()
        await wait_for(pilot, lambda: card.result is not None and card.result.value_ms != 0.6)


async def test_only_changed_and_visible_cards_render(project: Path, write: RunWriter) -> None:
    names = [f"slo-{i:02d}" for i in range(50)]
    write({name: 1.0 + i / 100 for i, name in enumerate(names)}, ts_ms=BASE_MS, commit="1" * 40, spread=0.01)
    app = make_app(project, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.pause(0.1)
        rendered = {name: c.renders for name, c in app.cards.items()}
        on_screen = [name for name, count in rendered.items() if count]
        # Only what is on screen was drawn: 57 SLOs do not fit in 40 rows, even one line each.
        assert app.layout_choice.rows
        assert 0 < len(on_screen) < 40
        # And what does not fit says how many it is (the note's own line may hide one drawn row).
        assert 0 <= app.hidden_count - (len(app.cards) - len(on_screen)) <= 1
        note = str(app.query_one("#hidden-note").render())
        assert f"{app.hidden_count} more SLOs (▼ {app.hidden_count} below)" in note
        # A refresh that changes nothing draws nothing.
        updates = app.updates
        app.request_refresh()
        await wait_for(pilot, lambda: app.updates > updates)
        await pilot.pause(0.1)
        assert {name: c.renders for name, c in app.cards.items()} == rendered
        # Scrolling a card into view draws it.
        last = app.visible_cards()[-1]
        assert last.renders == 0
        last.focus()
        last.scroll_visible(animate=False)
        await wait_for(pilot, lambda: last.renders > 0)


async def test_burst_of_files_is_coalesced(project: Path, write: RunWriter) -> None:
    history(write, runs=1)
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: app.watching)
        for i in range(30):
            write({"transpile-simple": 0.5 + i * 0.001}, ts_ms=BASE_MS + (i + 1) * 60_000, commit=f"{i:040x}")
        await wait_for(pilot, lambda: app.evaluation is not None and app.evaluation.run_count == 31)
        value = app.cards["transpile-simple"].result
        assert value is not None and abs((value.value_ms or 0) - 0.529) < 1e-9


async def test_bad_file_goes_to_the_errors_panel(project: Path, write: RunWriter) -> None:
    history(write)
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: app.watching)
        errors_box = app.query_one("#errors-box")
        assert errors_box.has_class("hidden")
        bad = project / "artifacts" / "perf-badbad0-1795000000001.json"
        bad.write_text('{"metadata": ')
        await wait_for(pilot, lambda: bad in app.errors)
        assert not errors_box.has_class("hidden")
        shown = text_of(app.query_one(ErrorsPanel).shown)
        assert "perf-badbad0-1795000000001.json" in shown
        assert app.errors[bad] in " ".join(shown.split()) or app.errors[bad][:30] in shown
        # The good runs still show.
        assert app.evaluation is not None and app.evaluation.run_count == 3
        assert all(c.result is not None and c.result.stats is not None for c in app.cards.values())
        bad.unlink()
        await wait_for(pilot, lambda: not app.errors)
        assert errors_box.has_class("hidden")


async def test_folder_deleted_and_recreated(project: Path, write: RunWriter) -> None:
    history(write)
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: app.watching)
        shutil.rmtree(project / "artifacts")
        await wait_for(pilot, lambda: app.missing_dir)
        header = text_of(app.query_one(HeaderBar).build(), 200)
        assert "does not exist" in header and "waiting for it" in header
        assert app.evaluation is not None and app.evaluation.run_count == 0
        (project / "artifacts").mkdir()
        await wait_for(pilot, lambda: not app.missing_dir)
        write({"transpile-simple": 0.7}, ts_ms=BASE_MS + 9 * HOUR_MS, commit="9" * 40)
        await wait_for(pilot, lambda: app.evaluation is not None and app.evaluation.run_count == 1)
        result = app.result("transpile-simple")
        assert result is not None and result.value_ms == 0.7
        assert "does not exist" not in text_of(app.query_one(HeaderBar).build(), 200)


async def test_folder_missing_at_start(project: Path, write: RunWriter) -> None:
    shutil.rmtree(project / "artifacts")
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.evaluation is not None and app.missing_dir)
        assert all(c.result is not None and c.result.stats is None for c in app.cards.values())
        write({"transpile-simple": 0.8}, ts_ms=BASE_MS, commit="8" * 40)
        await wait_for(pilot, lambda: app.evaluation is not None and app.evaluation.run_count == 1)
        # The first run to arrive is the session's reference.
        assert app.session_run_id is not None and app.session_run_id.startswith("perf-8888888")


async def test_baseline_key_asks_first(project: Path, write: RunWriter) -> None:
    history(write)
    baseline = project / "artifacts" / ".perf-baseline.json"
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("b")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.pause(0.1)
        assert not baseline.exists()
        await pilot.press("b")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: app.evaluation is not None and app.evaluation.baseline is not None)
        assert baseline.exists()
        assert app.evaluation.baseline is not None
        assert app.evaluation.baseline.commit.startswith("3333333")
        assert "baseline 3333333" in text_of(app.query_one(HeaderBar).build(), 200)
        # In the drill-down, b uses the selected run.
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        table = screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        await pilot.press("down", "down")
        assert screen.selected_run_id() is not None and screen.selected_run_id().startswith("perf-1111111")
        await pilot.press("b", "y")
        await wait_for(
            pilot,
            lambda: (
                app.evaluation is not None
                and app.evaluation.baseline is not None
                and app.evaluation.baseline.commit.startswith("1111111")
            ),
        )
        assert list((project / "artifacts" / "baselines").glob("*.json"))


async def test_markup_in_names_is_shown_literally(project: Path, write: RunWriter) -> None:
    name = "[bold red]x[/]"
    write({name: 1.0, "transpile-simple": 0.8}, ts_ms=BASE_MS, commit="[red]c[/]", spread=0.01)
    bad = project / "artifacts" / "perf-[b]x[_b]-1795000000002.json"
    bad.write_text("not json [bold]boom[/bold]")
    app = make_app(project, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert name in app.cards
        card = app.cards[name]
        assert name in text_of(card.render(), 60)
        assert name in text_of(app.query_one(RegressionPanel).shown, 120)
        # The commit is cut to 7 characters, literally: "[red]c[".
        assert "latest [red]c[/] on main" in text_of(app.query_one(HeaderBar).build(), 200)
        assert "perf-[b]x[_b]-1795000000002.json" in text_of(app.query_one(ErrorsPanel).shown, 200)
        card.focus()
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        assert name in text_of(screen.title_text, 120)


def test_config_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "perfslo.toml"
    bad.write_text("[slos.x]\nbudget = -1\n")
    done = subprocess.run(
        [sys.executable, "-m", "perfslo_tui.tui.app", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "budget" in lines[0]


def test_watch_filter_keeps_run_files_and_the_folder_path_only(tmp_path: Path) -> None:
    folder = tmp_path / "artifacts"
    keep = ArtifactsFilter(folder)
    assert keep(Change.added, str(folder / "perf-abc-1.json"))
    assert keep(Change.modified, str(folder / ".perf-baseline.json"))
    assert not keep(Change.added, str(folder / ".perf-abc-1.json.k2j3.tmp"))
    assert not keep(Change.added, str(tmp_path / "other.json"))
    assert not keep(Change.added, str(folder / "baselines" / "old.json"))
    # The folder itself and its ancestors: the watch must be re-armed.
    assert keep(Change.deleted, str(folder))
    assert keep(Change.deleted, str(tmp_path))
    assert not keep(Change.added, str(tmp_path / "artifacts-old"))


async def test_a_confirmed_slowdown_warns_with_its_streak_in_the_panel(
    project: Path, write: RunWriter
) -> None:
    from perfslo_tui.actions.baseline import establish_baseline

    (project / "perfslo.toml").write_text("confirm_runs = 3\n\n[slos.parse]\nbudget = 5.0\n")
    last = None
    for i in range(6):
        offset = 1 + 0.005 * ((i * 37 % 11) - 5) / 5
        values = [0.80 * offset * (1 + 0.004 * ((k % 7) - 3)) for k in range(21)]
        last = write({"parse": values}, ts_ms=BASE_MS + i * HOUR_MS, commit="1" * 40)
    establish_baseline(load_config(start=project), last)
    for i in range(3):  # +7.5 %: past the tolerance, under the +10 % regression threshold
        values = [0.86 * (1 + 0.004 * (((k + i) % 7) - 3)) for k in range(21)]
        write({"parse": values}, ts_ms=BASE_MS + (10 + i) * HOUR_MS, commit="2" * 40)
    app = make_app(project, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert app.evaluation is not None
        result = app.evaluation.result("parse")
        assert result is not None and result.confirmed_slowdown is not None and not result.blocking
        assert app.evaluation.verdict.value == "WARNING"
        line = next(x for x in text_of(app.query_one(RegressionPanel).shown).splitlines() if "parse" in x)
        assert "⚠" in line and "3/3" in line and "❌" not in line
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        analysis = app.screen.query_one("#analysis", Static)
        shown = " ".join(text_of(analysis.render(), 400).split())
        assert "a warning (investigate); it blocks past +10.0%" in shown
        assert "confirmed (3/3 runs)" in shown

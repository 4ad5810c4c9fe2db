"""The monitor on a first day: nothing there yet, a config edited while it runs, a bench
command with shell syntax re-run whole and for one SLO, its output in the drill-down,
and a baseline made from a partial run.

Real files, real subprocesses, the real app driven by Pilot; state is asserted first.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from textual.widgets import Log
from tuihelpers import BASE_MS, PYTHON, anyio_backend, bench_script, loaded, make_app, wait_for

from perfslo_tui.config import load_config
from perfslo_tui.runs.files import read_baseline, read_run
from perfslo_tui.tui.app import PerfSLOApp
from perfslo_tui.tui.screens import ConfirmScreen, DetailScreen
from tests.conftest import SEED_CONFIG, SEED_MOCK_TIMINGS, RunWriter

SIZE = (120, 40)
pytestmark = pytest.mark.anyio
__all__ = ["anyio_backend"]


def text(widget: object) -> str:
    return str(widget.render())  # type: ignore[attr-defined]


def configure(project: Path, command: str) -> None:
    path = project / "perfslo.toml"
    body = re.sub(r"^bench_command = .*\n", "", path.read_text(), flags=re.M)
    path.write_text(f"bench_command = {json.dumps(command)}\n" + body)


def env_bench_script(project: Path) -> Path:
    """The test bench script, narrowed by $PERFSLO_SLO instead of arguments."""
    script = bench_script(project)
    body = script.read_text().replace(
        "chosen = sys.argv[1:] or NAMES",
        "chosen = [os.environ['PERFSLO_SLO']] if os.environ.get('PERFSLO_SLO') else NAMES",
    )
    script.write_text(body)
    return script


async def test_an_empty_folder_says_what_is_missing_and_picks_up_the_new_config(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    app = PerfSLOApp(load_config(start=root), now=lambda: BASE_MS / 1000)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.evaluation is not None)
        empty = app.query_one("#empty")
        await wait_for(pilot, lambda: not empty.has_class("hidden"))
        shown = text(empty)
        assert f"no perfslo config in {root}" in shown and "run `perfslo init` in a terminal" in shown
        header = app.query_one("#header")
        assert "no runs yet" in text(header) and "PASSED" not in text(header)
        await pilot.press("r")
        assert "run `perfslo init`" in text(app.query_one("#status"))
        # perfslo init in another terminal: the monitor reads the new config.
        (root / "perfslo.toml").write_text('bench_command = "true"\n' + SEED_CONFIG)
        await wait_for(pilot, lambda: app.config.path == root / "perfslo.toml", timeout=15)
        await wait_for(pilot, lambda: set(app.cards) == set(SEED_MOCK_TIMINGS), timeout=15)
        await wait_for(
            pilot, lambda: "no runs in artifacts/ yet" in text(empty) or "does not exist" in text(empty)
        )
        assert "press r to run the bench command" in text(empty)


async def test_an_edited_config_is_used_and_a_broken_edit_keeps_the_last_good_one(
    project: Path, write: RunWriter
) -> None:
    write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS, commit="1" * 40)
    configure(project, "echo first-command")
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert app.config.bench_command == "echo first-command"
        configure(project, "echo second-command")
        await wait_for(pilot, lambda: app.config.bench_command == "echo second-command", timeout=15)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.last_outcome_text is not None, timeout=15)
        assert "second-command" in "\n".join(app.output_lines)
        # A broken edit: the error is shown, the last good config stays in use.
        good = app.config
        path = project / "perfslo.toml"
        path.write_text(path.read_text().replace("budget = 0.85", "budget = -1"))
        await wait_for(pilot, lambda: bool(app.config_error), timeout=15)
        assert app.config is good
        header = text(app.query_one("#header"))
        assert "budget: must be > 0, got -1" in header and "still using the last good config" in header
        # Fixed again: the error goes away.
        path.write_text(path.read_text().replace("budget = -1", "budget = 0.9"))
        await wait_for(pilot, lambda: not app.config_error, timeout=15)
        await wait_for(pilot, lambda: app.config.slos["transpile-simple"].budget_ms == 0.9)
        await wait_for(pilot, lambda: app.result("transpile-simple").config.budget_ms == 0.9)  # type: ignore[union-attr]


async def test_shell_syntax_survives_a_full_and_a_one_slo_rerun_with_output_in_the_drill_down(
    project: Path, write: RunWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS, commit="1" * 40, spread=0.02)
    script = env_bench_script(project)
    log = project / "bench.log"
    configure(project, f"echo start > {log} && {PYTHON} {script} 2>&1 | tee -a {log}")
    monkeypatch.setenv("TEST_BENCH_VALUE", "0.5")
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: app.watching)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.last_outcome_text is not None, timeout=30)
        assert "exit 0" in str(app.last_outcome_text)
        assert log.read_text().startswith("start\n")
        await wait_for(pilot, lambda: app.evaluation is not None and app.evaluation.run_count == 2)
        full = sorted((project / "artifacts").glob("perf-*.json"))[-1]
        assert set(read_run(full).samples) == set(SEED_MOCK_TIMINGS)

        # The drill-down: r runs only this SLO, through PERFSLO_SLO; its output shows there.
        monkeypatch.setenv("TEST_BENCH_VALUE", "0.7")
        app.last_outcome_text = None
        app.cards["lua-emit-simple"].focus()
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        assert "Re-run SLO" in " ".join(k.description for k in screen.query("FooterKey"))  # type: ignore[attr-defined]
        await pilot.press("r")
        detail_log = screen.query_one("#detail-log", Log)
        await wait_for(
            pilot, lambda: "benchmarking lua-emit-simple" in "\n".join(detail_log.lines), timeout=30
        )
        assert not detail_log.has_class("hidden")
        assert detail_log.lines[0].startswith("$ PERFSLO_SLO=lua-emit-simple echo start")
        await wait_for(pilot, lambda: app.last_outcome_text is not None, timeout=30)
        assert "exit 0" in text(screen.query_one("#detail-status"))
        await wait_for(pilot, lambda: app.evaluation is not None and app.evaluation.run_count == 3)
        one = sorted((project / "artifacts").glob("perf-*.json"))[-1]
        assert set(read_run(one).samples) == {"lua-emit-simple"}
        # o hides and shows it there.
        await pilot.press("o")
        assert detail_log.has_class("hidden")
        await pilot.press("o")
        assert not detail_log.has_class("hidden")

        # b on the selected run: with no baseline yet there is nothing to keep.
        chosen = screen.selected_run_id()
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        question = confirm.question.plain
        assert question.startswith(f"Make run {chosen} (commit b0b0b0b) the baseline?")
        assert "Not in this run" not in question  # no baseline yet: nothing to keep
        await pilot.press("y")
        await wait_for(pilot, lambda: (project / "artifacts" / ".perf-baseline.json").exists())


async def test_a_baseline_from_a_partial_run_keeps_the_others_and_says_so(
    project: Path, write: RunWriter
) -> None:
    full = write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS, commit="a" * 40)
    config = load_config(start=project)
    from perfslo_tui.actions.baseline import establish_baseline

    establish_baseline(config, full)
    write({"lua-emit-simple": 0.3}, ts_ms=BASE_MS + 60_000, commit="b" * 40)
    app = make_app(project, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        question = confirm.question.plain
        assert "From this run: 1 SLO(s): lua-emit-simple" in question
        assert (
            "Not in this run, kept from the baseline at aaaaaaa: ir-parse-complex, ir-parse-simple"
            in question
        )
        await pilot.press("y")
        await wait_for(pilot, lambda: "baseline set from" in text(app.query_one("#status")))
        assert "6 SLO(s) not in it kept their baseline" in text(app.query_one("#status"))
        baseline = read_baseline(project / "artifacts" / ".perf-baseline.json")
        assert baseline is not None and set(baseline.medians) == set(SEED_MOCK_TIMINGS)
        # The regression panel has a baseline for every SLO.
        await wait_for(
            pilot,
            lambda: (
                app.evaluation is not None
                and app.evaluation.baseline is not None
                and app.evaluation.baseline.commit == "b" * 40
            ),
        )
        assert all(r.vs_baseline is not None for r in app.evaluation.slos)  # type: ignore[union-attr]


async def test_cancel_with_no_output_says_so(project: Path, write: RunWriter) -> None:
    write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS, commit="1" * 40)
    configure(project, "sleep 60")
    app = make_app(project, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert "  1 run  latest" in text(app.query_one("#header"))  # not "1 runs"
        assert "Cancel" not in " ".join(k.description for k in app.screen.query("FooterKey"))  # type: ignore[attr-defined]
        await pilot.press("r")
        await wait_for(pilot, lambda: app.runner is not None and app.runner.running)
        await pilot.pause(0.1)
        assert "Cancel" in " ".join(k.description for k in app.screen.query("FooterKey"))  # type: ignore[attr-defined]
        await pilot.press("x")
        await wait_for(pilot, lambda: app.last_outcome_text is not None, timeout=15)
        assert app.output_lines[-1] == "[perfslo] cancelled, exit -15 (it printed nothing)"
        assert "last lines:" not in "\n".join(app.query_one("#log", Log).lines)


async def test_dirty_runs_are_marked_in_the_recent_runs(project: Path, write: RunWriter) -> None:
    import orjson

    clean = write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS, commit="1" * 40)
    dirty = write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS + 60_000, commit="2" * 40)
    document = orjson.loads(dirty.read_bytes())
    document["metadata"]["dirty"] = True
    dirty.write_bytes(orjson.dumps(document))
    app = make_app(project, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.cards["transpile-simple"].focus()
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        table = screen.query_one("#runs")
        await wait_for(pilot, lambda: table.row_count == 2)  # type: ignore[attr-defined]
        cells = {str(table.get_row(key)[0]) for key in (dirty.name, clean.name)}  # type: ignore[attr-defined]
        assert cells == {"2222222*", "1111111"}
        assert "* dirty" in str(screen.query_one("#runs-box").border_title)

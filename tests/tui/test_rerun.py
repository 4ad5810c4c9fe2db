"""The one-key re-run: a real bench command in a real subprocess, through the watched folder."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.widgets import Log
from tuihelpers import (
    BASE_MS,
    PYTHON,
    anyio_backend,
    bench_script,
    loaded,
    make_app,
    set_bench_command,
    wait_for,
)

from perfslo_tui.tui.screens import DetailScreen
from tests.conftest import SEED_MOCK_TIMINGS, RunWriter

SIZE = (120, 40)
pytestmark = pytest.mark.anyio
__all__ = ["anyio_backend"]


def log_text(app: object) -> str:
    return "\n".join(app.query_one("#log", Log).lines)  # type: ignore[attr-defined]


def status_text(app: object) -> str:
    return str(app.query_one("#status").render())  # type: ignore[attr-defined]


async def test_rerun_all_then_one_slo(
    project: Path, write: RunWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS, commit="1" * 40, spread=0.02)
    script = bench_script(project)
    set_bench_command(project, f"{PYTHON} {script} --slo {{slo}}")
    # The script takes SLO names as arguments; "--slo" is dropped with the
    # placeholder for a full run, so make it harmless for a one-SLO run too.
    text = script.read_text().replace(
        "chosen = sys.argv[1:]", "chosen = [a for a in sys.argv[1:] if a != '--slo']"
    )
    script.write_text(text)
    monkeypatch.setenv("TEST_BENCH_VALUE", "0.5")
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: app.watching)
        await pilot.press("r")
        log = app.query_one("#log", Log)
        assert not log.has_class("hidden")
        assert app.runner is not None
        await wait_for(pilot, lambda: app.runner is not None and not app.runner.running, timeout=30)
        await wait_for(pilot, lambda: app.last_outcome_text is not None)
        assert "exit 0" in str(app.last_outcome_text)
        assert "benchmarking transpile-simple" in log_text(app)
        # The new run arrives through the folder: every card shows 0.5 ms.
        await wait_for(pilot, lambda: app.evaluation is not None and app.evaluation.run_count == 2)
        assert all(
            c.result is not None and c.result.value_ms == pytest.approx(0.5) for c in app.cards.values()
        )
        # o hides and shows the output.
        await pilot.press("o")
        assert log.has_class("hidden")
        await pilot.press("o")
        assert not log.has_class("hidden")

        # In the drill-down, r runs only that SLO.
        monkeypatch.setenv("TEST_BENCH_VALUE", "0.7")
        app.cards["lua-emit-simple"].focus()
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("r")
        await wait_for(
            pilot, lambda: app.evaluation is not None and app.evaluation.run_count == 3, timeout=30
        )
        assert "--slo lua-emit-simple" in log_text(app).splitlines()[0]
        assert "benchmarking lua-emit-simple" in log_text(app)
        result = app.result("lua-emit-simple")
        assert result is not None and result.value_ms == pytest.approx(0.7)
        # The other cards keep their last measured values, marked as such.
        other = app.cards["transpile-simple"]
        await wait_for(pilot, lambda: other.stale)
        assert other.result is not None and other.result.value_ms == pytest.approx(0.5)
        assert app.cards["lua-emit-simple"].stale is False
        await wait_for(pilot, lambda: app.runner is not None and not app.runner.running, timeout=30)


async def test_failing_command_shows_exit_code_and_tail(project: Path, write: RunWriter) -> None:
    write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS, commit="1" * 40)
    script = project / "fail.py"
    script.write_text(
        "import sys\nfor i in range(30):\n    print('line', i)\nprint('boom: no such fixture')\nsys.exit(3)\n"
    )
    set_bench_command(project, f"{PYTHON} {script}")
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.last_outcome_text is not None, timeout=30)
        shown = str(app.last_outcome_text)
        assert "exit 3" in shown and "boom: no such fixture" in shown
        assert "exit 3" in status_text(app)
        log = log_text(app)
        assert "line 29" in log and "failed, exit 3" in log
        assert not app.query_one("#log").has_class("hidden")
        # The monitor keeps going: the cards still show the old run.
        assert app.evaluation is not None and app.evaluation.run_count == 1


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in "ZX"


async def test_cancel_kills_a_hanging_command_and_its_children(project: Path, write: RunWriter) -> None:
    write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS, commit="1" * 40)
    pid_file = project / "child.pid"
    script = project / "hang.py"
    script.write_text(
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(120)\n"
    )
    set_bench_command(project, f"{PYTHON} {script}")
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: "started" in log_text(app) and pid_file.exists(), timeout=30)
        child = int(pid_file.read_text())
        assert _alive(child)
        assert app.runner is not None and app.runner.running
        assert "running" in status_text(app)
        await pilot.press("x")
        await wait_for(pilot, lambda: app.last_outcome_text is not None, timeout=15)
        assert "cancelled" in str(app.last_outcome_text)
        await wait_for(pilot, lambda: not _alive(child), timeout=10)


async def test_quit_kills_a_running_command(project: Path, write: RunWriter) -> None:
    write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS, commit="1" * 40)
    script = project / "hang.py"
    script.write_text("import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(120)\n")
    set_bench_command(project, f"exec {PYTHON} {script}")
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: any(line.strip().isdigit() for line in log_text(app).splitlines()))
        pid = next(int(line) for line in log_text(app).splitlines() if line.strip().isdigit())
        assert _alive(pid)
        await pilot.press("q")
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


async def test_no_bench_command_is_a_clear_message(project: Path, write: RunWriter) -> None:
    write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS, commit="1" * 40)
    app = make_app(project, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("r")
        assert "no bench_command in perfslo.toml: add one (perfslo init proposes one)" in status_text(app)
        assert app.runner is None

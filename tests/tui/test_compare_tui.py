"""The drill-down's compare (c / C): a real git repository, a real bench command, the real app."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from tuihelpers import anyio_backend, loaded, wait_for

from perfslo_tui.config import load_config
from perfslo_tui.tui.app import PerfSLOApp
from perfslo_tui.tui.compare_panel import ComparePanel
from perfslo_tui.tui.screens import DetailScreen
from perfslo_tui.verdict.ab import ABVerdict
from tests.gitrepo import WORK, fingerprint, git, make_repo

SIZE = (120, 40)
pytestmark = pytest.mark.anyio
__all__ = ["anyio_backend"]


def bench_once(repo: Path, commit: str | None = None) -> None:
    """One run into the project's artifacts folder, as the user's bench command makes it."""
    env = {**os.environ, "PERFSLO_COMMIT": commit or git(repo, "rev-parse", "HEAD")}
    subprocess.run([sys.executable, "bench.py"], cwd=repo, env=env, check=True)


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HEAD does three times BASE's work; one run at HEAD in artifacts/; TMPDIR of the test's own."""
    root = make_repo(tmp_path / "repo")
    bench_once(root)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return root


def panel_text(screen: DetailScreen) -> str:
    return str(screen.query_one(ComparePanel).render())


def status_text(screen: DetailScreen) -> str:
    return str(screen.query_one("#detail-status").render())


async def open_drill_down(pilot: object, app: PerfSLOApp) -> DetailScreen:
    await loaded(pilot)  # type: ignore[arg-type]
    app.cards["work"].focus()
    await pilot.press("enter")  # type: ignore[attr-defined]
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    return screen


async def test_c_compares_the_edited_working_tree_against_head_live(repo: Path) -> None:
    (repo / "work.py").write_text(WORK.format(n=20000))  # uncommitted: a third of HEAD's work
    before = fingerprint(repo)
    app = PerfSLOApp(load_config(repo / "perfslo.toml"), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_drill_down(pilot, app)
        panel = screen.query_one(ComparePanel)
        assert not panel.display  # nothing until a compare starts
        await pilot.press("c")
        assert screen.comparing and panel.display
        # The estimate shows while pairs come in, before the decision settles.
        await wait_for(pilot, lambda: "pair 1/40" in panel_text(screen), timeout=60)
        assert "compare working tree vs HEAD " in panel_text(screen) and "x cancels" in panel_text(screen)
        await wait_for(pilot, lambda: screen.compare_outcome is not None, timeout=120)
        outcome = screen.compare_outcome
        assert outcome is not None and outcome.result is not None, outcome
        decision = outcome.result.decisions["work"]
        assert decision.verdict is ABVerdict.IMPROVED, decision.message
        text = panel_text(screen)
        assert "work  improved −" in text or "work  improved -" in text
        assert "95% CI" in text and "●" in text and "x cancels" not in text
        assert not screen.comparing
    assert fingerprint(repo) == before
    assert list(Path(tempfile.gettempdir()).iterdir()) == []


async def test_x_cancels_a_running_compare_and_removes_the_worktrees(repo: Path) -> None:
    (repo / "perfslo.toml").write_text(
        (repo / "perfslo.toml").read_text().replace("bench.py", "bench.py && sleep 30")
    )
    git(repo, "commit", "-q", "-am", "a slow bench")
    (repo / "work.py").write_text(WORK.format(n=20000))
    before = fingerprint(repo)
    app = PerfSLOApp(load_config(repo / "perfslo.toml"), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_drill_down(pilot, app)
        await pilot.press("c")
        await wait_for(pilot, lambda: "running BASE" in panel_text(screen), timeout=60)
        # While it measures, a re-run would compete with it: refused.
        await pilot.press("r")
        assert "a compare is measuring on this machine" in status_text(screen)
        assert app.runner is None
        await pilot.press("x")
        await wait_for(pilot, lambda: screen.compare_outcome is not None, timeout=20)
        assert screen.compare_outcome is not None and screen.compare_outcome.cancelled
        assert "cancelled; worktrees removed" in panel_text(screen)
        assert not screen.comparing
    assert fingerprint(repo) == before
    assert list(Path(tempfile.gettempdir()).iterdir()) == []


async def test_leaving_the_drill_down_stops_its_compare(repo: Path) -> None:
    (repo / "perfslo.toml").write_text(
        (repo / "perfslo.toml").read_text().replace("bench.py", "bench.py && sleep 30")
    )
    git(repo, "commit", "-q", "-am", "a slow bench")
    (repo / "work.py").write_text(WORK.format(n=20000))
    app = PerfSLOApp(load_config(repo / "perfslo.toml"), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_drill_down(pilot, app)
        await pilot.press("c")
        await wait_for(pilot, lambda: "running BASE" in panel_text(screen), timeout=60)
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)
        await wait_for(pilot, lambda: not screen.comparing, timeout=20)
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert list(Path(tempfile.gettempdir()).iterdir()) == []


async def test_a_clean_tree_has_nothing_to_compare_against_head(repo: Path) -> None:
    app = PerfSLOApp(load_config(repo / "perfslo.toml"), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_drill_down(pilot, app)
        await pilot.press("c")
        await wait_for(pilot, lambda: screen.compare_outcome is not None, timeout=30)
        assert "✗ compare: no uncommitted changes: the working tree is HEAD" in status_text(screen)
        assert not screen.query_one(ComparePanel).display
        # Without a baseline, C says how to make one.
        await pilot.press("C")
        assert "no baseline yet: b makes one" in status_text(screen)


async def test_shift_c_compares_against_the_baselines_commit(repo: Path) -> None:
    # The baseline: a run at the base commit (a third of HEAD's work).
    bench_once(repo, git(repo, "rev-parse", "base"))
    latest = max((repo / "artifacts").glob("perf-*.json"), key=lambda p: p.stat().st_mtime_ns)
    done = subprocess.run(
        [sys.executable, "-m", "perfslo_tui", "baseline", "--establish", "--run", str(latest)],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    app = PerfSLOApp(load_config(repo / "perfslo.toml"), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_drill_down(pilot, app)
        await pilot.press("C")
        base = git(repo, "rev-parse", "base")
        await wait_for(pilot, lambda: f"vs baseline {base[:7]}" in panel_text(screen), timeout=60)
        await wait_for(pilot, lambda: screen.compare_outcome is not None, timeout=120)
        outcome = screen.compare_outcome
        assert outcome is not None and outcome.result is not None, outcome
        assert outcome.result.base_commit == base
        assert outcome.result.decisions["work"].verdict is ABVerdict.REGRESSED
        assert "work  regressed +" in panel_text(screen)


async def test_a_failing_compare_is_one_line_on_the_status_line(repo: Path) -> None:
    (repo / "perfslo.toml").write_text('bench_setup = "exit 7"\n' + (repo / "perfslo.toml").read_text())
    git(repo, "commit", "-q", "-am", "a failing setup")
    (repo / "work.py").write_text(WORK.format(n=20000))
    app = PerfSLOApp(load_config(repo / "perfslo.toml"), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_drill_down(pilot, app)
        await pilot.press("c")
        await wait_for(pilot, lambda: screen.compare_outcome is not None, timeout=60)
        status = status_text(screen)
        assert status.startswith("✗ compare: BASE: bench setup failed (exit 7) in ")
        assert "\n" not in status
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1

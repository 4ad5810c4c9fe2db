"""The profile screen (p in the drill-down, d the diff): a real harness project in git, the real app."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from textual.widgets import DataTable
from tuihelpers import anyio_backend, loaded, wait_for

from perfslo_tui.config import load_config
from perfslo_tui.tui.app import PerfSLOApp
from perfslo_tui.tui.profile import ProfileScreen
from perfslo_tui.tui.screens import DetailScreen
from tests.test_profile_command import git, make_project

SIZE = (100, 34)
pytestmark = pytest.mark.anyio
__all__ = ["anyio_backend"]


def bench(root: Path, commit: str) -> None:
    """One run of the harness benchmark, recorded as made at ``commit``."""
    env = {**os.environ, "PERFSLO_COMMIT": commit, "PERF_ITERATIONS": "20"}
    subprocess.run([sys.executable, "bench.py"], cwd=root, env=env, check=True)


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HEAD's b() does 30 % more work than at HEAD~1; the baseline is a run at HEAD~1, then one at HEAD."""
    root = make_project(tmp_path / "p")
    bench(root, git(root, "rev-parse", "HEAD~1"))
    done = subprocess.run(
        [sys.executable, "-m", "perfslo_tui", "baseline", "--establish"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    bench(root, git(root, "rev-parse", "HEAD"))
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return root


def status(screen: ProfileScreen) -> str:
    return screen.status_text.plain


async def test_p_profiles_and_d_diffs_against_the_baselines_commit(project: Path) -> None:
    app = PerfSLOApp(load_config(project / "perfslo.toml"), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.cards["work"].focus()
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("p")
        screen = app.screen
        assert isinstance(screen, ProfileScreen)
        await wait_for(pilot, lambda: screen.record is not None or "✗" in status(screen), timeout=120)
        assert screen.record is not None, status(screen)
        assert status(screen).startswith("✓ ") and "cProfile (perfslo harness)" in status(screen)
        hot = screen.query_one("#hot-table", DataTable)
        names = {str(hot.get_row_at(i)[5]) for i in range(hot.row_count)}
        assert {"a", "b", "c"} <= names

        await pilot.press("d")  # no kept profile of HEAD~1 yet: one is made in a worktree
        await wait_for(pilot, lambda: screen.comparison is not None or "✗" in status(screen), timeout=180)
        comparison = screen.comparison
        assert comparison is not None, status(screen)
        assert comparison.diff.changes[0].name == "b"  # the function that got 30 % more work
        # The profile's own line and the note: not the baseline worker's last progress line.
        assert status(screen).startswith("✓ ") and status(screen).count("3: diff vs") == 1, status(screen)
        assert screen.query_one("#profile-tabs").active == "diff"

        await pilot.press("1")
        await pilot.press("d")  # the kept profile now: diffed again at once, the note not repeated
        await wait_for(pilot, lambda: screen.comparison is not comparison, timeout=60)
        assert screen.query_one("#profile-tabs").active == "diff"
        assert status(screen).startswith("✓ ") and status(screen).count("3: diff vs") == 1, status(screen)
        await pilot.press("escape")
        assert isinstance(app.screen, DetailScreen)
    assert len(git(project, "worktree", "list").splitlines()) == 1
    assert git(project, "status", "--porcelain") == ""
    assert len(list((project / "artifacts" / "profiles").glob("*.pstats"))) == 2

"""``perfslo bisect``: on real git repositories, with real bench runs in worktrees."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.bisect_search import make_history
from benchmarks.shared import git
from perfslo_tui.actions.bisect import BisectError, bisect
from perfslo_tui.config import load_config
from tests.conftest import run_cli
from tests.gitrepo import BENCH, WORK, fingerprint, make_repo


def state(repo: Path) -> tuple[str, str, str]:
    return (
        git(repo, "rev-parse", "HEAD"),
        git(repo, "status", "--porcelain", "--untracked-files=all"),
        git(repo, "worktree", "list", "--porcelain"),
    )


@pytest.mark.slow
def test_bisect_names_the_culprit_and_skips_a_commit_whose_setup_fails(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    ids = make_history(
        root, 6, culprit=5, step=1.0, broken=3, setup="bench_setup = 'test ! -e {worktree}/BROKEN'"
    )
    before = state(root)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = run_cli(
        "bisect", ids[0][:10], "HEAD", "--slo", "work", cwd=root, env={"TMPDIR": str(scratch)}, timeout=900
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.startswith(f"first bad commit for work: {ids[5][:12]} (#5 of 6)  commit 5: more work")
    assert "the slowdown: GOOD" in out and "regressed +" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  #")}
    assert "skipped" in rows["#3"] and "C3: bench setup failed (exit 1)" in rows["#3"]
    assert "bad" in rows["#5"] and "vs GOOD" in rows["#5"] and "95% CI" in rows["#5"]
    assert "good" in rows["#4"] and "good" in rows["#2"]
    assert "next: perfslo profile work --at" in out
    # Progress went to stderr as it happened; the user's checkout and worktrees are as they were.
    assert "testing " in done.stderr and "pair 1" in done.stderr
    assert state(root) == before
    assert list(scratch.iterdir()) == []


@pytest.mark.slow
def test_ctrl_c_mid_bisect_removes_the_worktrees(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    ids = make_history(root, 4, culprit=2, step=1.0)
    before = state(root)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "perfslo_tui.commands.cli", "bisect", ids[0], ids[-1], "--slo", "work"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + 300
    for line in process.stderr:
        seen.append(line)
        if "pair 2" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 2, "".join(seen) + err
    last = err.strip().splitlines()[-1]
    assert last.startswith("perfslo: bisect interrupted (Ctrl-C) after")
    assert "worktrees removed" in last and "Traceback" not in err
    assert state(root) == before
    assert list(scratch.iterdir()) == []


def test_bad_ranges_are_one_line_each(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    ids = make_history(root, 2, culprit=2, step=1.0)
    git(root, "checkout", "-q", "-b", "side", ids[1])
    (root / "NOTES.md").write_text("side\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "side")
    side = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", "main")
    cases = [
        ((side, "main"), "is not an ancestor of BAD main"),
        (("main", ids[0]), "is not an ancestor of BAD"),
        (("main", "main"), "GOOD and BAD are the same commit"),
        (("nope", "main"), "GOOD 'nope' is not a commit"),
    ]
    for (good, bad), problem in cases:
        done = run_cli("bisect", good, bad, "--slo", "work", cwd=root, timeout=900)
        assert done.returncode == 2, done.stderr
        assert problem in done.stderr.strip().splitlines()[-1], done.stderr
        assert "Traceback" not in done.stderr
    done = run_cli("bisect", ids[0], "main", "--slo", "work", "--max-pairs", "1", cwd=root, timeout=900)
    assert done.returncode == 2 and "--max-pairs must be at least" in done.stderr
    assert len(git(root, "worktree", "list").splitlines()) == 1


def test_no_slowdown_between_good_and_bad_is_not_bisected(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    ids = make_history(root, 2, culprit=99)  # no commit changes the work
    args = ("bisect", ids[0], ids[-1], "--slo", "work", "--format", "json", "--max-pairs", "6")
    done = run_cli(*args, cwd=root, timeout=900)
    data = json.loads(done.stdout)
    assert done.returncode in (1, 3), done.stderr
    assert data["culprit"] is None and data["tested"] == []
    assert data["step"]["verdict"] in ("same", "unknown", "improved")
    assert len(git(root, "worktree", "list").splitlines()) == 1


def test_a_bench_command_that_loads_the_checkouts_code_is_refused(tmp_path: Path) -> None:
    # PYTHONPATH hidden inside the bench command: every worktree would measure the checkout's
    # code. Only the files the first pair loaded show it.
    repo = make_repo(tmp_path / "repo")
    (repo / "src" / "pkg").mkdir(parents=True)
    (repo / "src" / "pkg" / "__init__.py").write_text(WORK.format(n=20000))
    (repo / "bench.py").write_text(BENCH.replace("from work import work", "from pkg import work"))
    (repo / "perfslo.toml").write_text(
        f'bench_command = "PYTHONPATH={repo / "src"}:$PYTHONPATH {sys.executable} bench.py"\n'
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "src layout")
    (repo / "src" / "pkg" / "__init__.py").write_text(WORK.format(n=60000))
    git(repo, "commit", "-q", "-am", "three times the work")
    before = fingerprint(repo)
    with pytest.raises(BisectError) as caught:
        bisect(load_config(repo / "perfslo.toml"), "HEAD~1", "HEAD", "work", max_pairs=4)
    message = str(caught.value)
    assert message.startswith("same code in every worktree: GOOD loaded ")
    assert str(repo / "src" / "pkg" / "__init__.py") in message and "from your checkout" in message
    assert fingerprint(repo) == before


@pytest.mark.slow
def test_the_bisect_benchmark_runs_in_quick_mode() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bisect_search", "--quick", "--no-hog"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    assert "perfslo bisect: right in" in done.stdout
    assert "plain binary search (single runs): right in" in done.stdout
    assert "wall time ratio" in done.stdout


def test_the_help_and_the_next_step_name_the_real_pair_budget() -> None:
    from perfslo_tui.actions.bisect import BisectResult
    from perfslo_tui.commands.bisect_cmd import render_text
    from perfslo_tui.verdict.ab import DEFAULT_MAX_PAIRS, ABDecision, ABVerdict

    shown = run_cli("bisect", "--help")
    assert shown.returncode == 0
    assert f"(default: {DEFAULT_MAX_PAIRS})" in " ".join(shown.stdout.split())
    # Commits left undecided: the next command asks for twice the pairs this bisect spent on each.
    step = ABDecision(ABVerdict.REGRESSED, 12, 0.3, 0.2, 0.4, 0.05, 0.1, True)
    commits = ("a" * 40, "b" * 40)
    result = BisectResult("work", "1" * 40, "b" * 40, commits, step, None, candidates=commits)
    assert render_text(result, 40).rstrip().endswith("--max-pairs 80")
    assert render_text(result, 64).rstrip().endswith("--max-pairs 128")

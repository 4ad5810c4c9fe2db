"""`perfslo compare` end to end: the real CLI in a subprocess on a real git repository."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.gitrepo import WORK, fingerprint, git, make_repo


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """HEAD's work() does three times BASE's (tag ``base``)."""
    return make_repo(tmp_path / "repo")


@pytest.fixture()
def tmpdir_env(tmp_path: Path) -> dict[str, str]:
    """A TMPDIR of the test's own, to see that compare leaves nothing behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    return {"TMPDIR": str(folder)}


def test_a_regression_exits_1_with_the_interval_and_progress_on_stderr(
    repo: Path, tmpdir_env: dict[str, str]
) -> None:
    before = fingerprint(repo)
    result = run_cli("compare", "base", "--max-pairs", "12", cwd=repo, env=tmpdir_env)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("compare BASE base (") and " vs HEAD (" in lines[0]
    assert lines[1].startswith("  ❌ work: regressed +") and "(95% CI +" in lines[1]
    assert lines[-1] == "verdict: REGRESSED (exit 1)"
    err = result.stderr.splitlines()
    assert err[0].startswith("perfslo compare: BASE base (") and err[0].endswith("up to 12 pairs")
    assert any(line.startswith("  checking out HEAD ") for line in err)
    assert any(line.startswith("  pair  1/12 ") and "work +" in line for line in err)
    assert fingerprint(repo) == before
    assert list(Path(tmpdir_env["TMPDIR"]).iterdir()) == []


def test_json_format_and_the_same_code_exits_0(repo: Path) -> None:
    # BASE and HEAD are the same commit: same, once the interval fits in the tolerance.
    (repo / "perfslo.toml").write_text(
        (repo / "perfslo.toml").read_text().replace("tolerance = 0.05", "tolerance = 0.25")
    )
    git(repo, "commit", "-q", "-am", "a wide tolerance")
    result = run_cli("compare", "HEAD", "HEAD", "--format", "json", "--quiet", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert document["verdict"] == "same" and document["exit_code"] == 0
    assert document["base"]["commit"] == document["head"]["commit"] == git(repo, "rev-parse", "HEAD")
    work = document["slos"]["work"]
    assert work["verdict"] == "same" and work["settled"] is True and work["tolerance"] == 0.25
    assert -0.25 < work["ci_low"] <= work["change"] <= work["ci_high"] < 0.25
    assert work["pairs"] >= 4 and work["message"].startswith("same: ")


def test_the_working_tree_is_measured_with_its_uncommitted_edit(repo: Path) -> None:
    (repo / "work.py").write_text(WORK.format(n=20000))  # back to BASE's work: faster than HEAD
    result = run_cli("compare", "HEAD", "--working-tree", "--max-pairs", "12", "--quiet", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " vs working tree: " in result.stdout.splitlines()[0]
    assert "✅ work: improved −" in result.stdout or "✅ work: improved -" in result.stdout


def test_an_unknown_exits_3_and_says_what_would_settle_it(repo: Path) -> None:
    # Each HEAD process does a random amount of work (±40 %): four pairs cannot settle that.
    (repo / "work.py").write_text(
        "import random\n\nN = random.randint(12000, 28000)\n\n\n"
        "def work():\n    return sum(i * i for i in range(N))\n"
    )
    git(repo, "commit", "-q", "-am", "a random amount of work per process")
    result = run_cli("compare", "base", "--max-pairs", "4", "--quiet", cwd=repo)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "  ⚠️ work: unknown: " in result.stdout or "  ⚠️ work: inconclusive: " in result.stdout
    assert "verdict: UNKNOWN (exit 3)" in result.stdout
    if "pairs would settle it" in result.stdout:  # and the command line that would
        assert "     → run again with --max-pairs " in result.stdout
    else:
        assert "more than 200 pairs would be needed at this noise" in result.stdout
        assert "     → stabilise the machine or the benchmark" in result.stdout


def test_a_time_budget_ends_the_compare_with_what_it_has(repo: Path) -> None:
    (repo / "work.py").write_text(
        "import random\n\nN = random.randint(12000, 28000)\n\n\n"
        "def work():\n    return sum(i * i for i in range(N))\n"
    )
    git(repo, "commit", "-q", "-am", "a random amount of work per process")
    result = run_cli("compare", "base", "--max-time", "0.5", "--format", "json", "--quiet", cwd=repo)
    assert result.returncode == 3, result.stdout + result.stderr
    document = json.loads(result.stdout)
    work = document["slos"]["work"]
    # The budget ran out after the first pair; the minimum of 4 pairs is still measured.
    assert document["pairs"] == 4 and work["settled"] is True and work["verdict"] == "unknown"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["no-such-branch"], "perfslo: BASE 'no-such-branch' is not a commit in "),
        (["base", "nope"], "perfslo: HEAD 'nope' is not a commit in "),
        (["base", "--max-pairs", "2"], "perfslo: --max-pairs must be at least 4, got 2"),
        (["base", "HEAD", "--working-tree"], "perfslo: give HEAD or --working-tree, not both"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(repo: Path, args: list[str], expected: str) -> None:
    before = fingerprint(repo)
    result = run_cli("compare", *args, cwd=repo)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1, result.stderr
    assert fingerprint(repo) == before


def test_a_dirty_tree_is_one_line_and_exit_2(repo: Path) -> None:
    (repo / "work.py").write_text(WORK.format(n=1))
    before = fingerprint(repo)
    result = run_cli("compare", "base", cwd=repo)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "uncommitted changes in 1 tracked file(s) (work.py) would not be measured" in result.stderr
    assert "--working-tree" in result.stderr
    assert fingerprint(repo) == before
    # --allow-dirty measures the commit, as asked.
    allowed = run_cli("compare", "base", "--allow-dirty", "--max-pairs", "12", "--quiet", cwd=repo)
    assert allowed.returncode == 1, allowed.stdout + allowed.stderr


def test_a_failing_setup_is_one_line_exit_2_and_leaves_nothing(
    repo: Path, tmpdir_env: dict[str, str]
) -> None:
    (repo / "perfslo.toml").write_text(
        "bench_setup = \"echo installing && echo 'npm ERR! missing lockfile' >&2 && exit 3\"\n"
        + (repo / "perfslo.toml").read_text()
    )
    git(repo, "commit", "-q", "-am", "a setup")
    before = fingerprint(repo)
    result = run_cli("compare", "base", cwd=repo, env=tmpdir_env)
    assert result.returncode == 2
    last = result.stderr.splitlines()[-1]
    assert last.startswith("perfslo: BASE: bench setup failed (exit 3) in ")
    assert last.endswith("npm ERR! missing lockfile")
    assert fingerprint(repo) == before
    assert list(Path(tmpdir_env["TMPDIR"]).iterdir()) == []


def test_a_worktree_that_cannot_be_made_is_one_line_exit_2(repo: Path, tmpdir_env: dict[str, str]) -> None:
    # git keeps its worktrees' admin folders in .git/worktrees: a file there stops `worktree add`.
    blocker = repo / ".git" / "worktrees"
    blocker.write_text("not a folder")
    try:
        result = run_cli("compare", "base", cwd=repo, env=tmpdir_env)
    finally:
        blocker.unlink()
    assert result.returncode == 2
    last = result.stderr.splitlines()[-1]  # after the progress lines: one line naming the problem
    assert last.startswith("perfslo: cannot make a worktree of ")
    assert last.endswith("could not create leading directories of '.git/worktrees/base': Not a directory")
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert list(Path(tmpdir_env["TMPDIR"]).iterdir()) == []


def test_ctrl_c_is_one_line_exit_2_with_the_worktrees_removed(repo: Path, tmpdir_env: dict[str, str]) -> None:
    # A bench command that takes a while, so Ctrl-C lands while it runs.
    (repo / "perfslo.toml").write_text(
        (repo / "perfslo.toml").read_text().replace("bench.py", "bench.py && sleep 30")
    )
    git(repo, "commit", "-q", "-am", "a slow bench")
    before = fingerprint(repo)
    process = subprocess.Popen(
        [sys.executable, "-m", "perfslo_tui", "compare", "base"],
        cwd=repo,
        env={**os.environ, **tmpdir_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            seen.append(line)
            if line.startswith("  checking out HEAD"):
                break
        # Wait until the first bench run is under way (its run folder has a file in it).
        runs = list(Path(tmpdir_env["TMPDIR"]).glob("perfslo-compare-*/runs-base"))
        while time.monotonic() < deadline and not (runs and any(runs[0].iterdir())):
            time.sleep(0.05)
            runs = list(Path(tmpdir_env["TMPDIR"]).glob("perfslo-compare-*/runs-base"))
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 2, (seen, err)
    assert out == ""
    last = err.splitlines()[-1]
    assert last.startswith("perfslo: compare interrupted (Ctrl-C) after ")
    assert last.endswith("worktrees removed, nothing written, your checkout untouched")
    assert fingerprint(repo) == before
    assert list(Path(tmpdir_env["TMPDIR"]).iterdir()) == []
    assert not (repo / "artifacts").exists()  # compare never writes into the project's folder


def test_no_bench_command_is_one_line(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    (root / "perfslo.toml").write_text("[slos.work]\nbudget = 50\n")
    git(root, "commit", "-q", "-am", "no bench command")
    result = run_cli("compare", "base", cwd=root)
    assert result.returncode == 2
    assert (
        result.stderr == f"perfslo: {root / 'perfslo.toml'}: no bench_command configured (compare runs it)\n"
    )

"""``perfslo check --confirm``: a suspected regression settled by an interleaved compare, end to end.

A real git repository with a tiny bench command; the baseline is established
from a run at the BASE commit; the candidate run is measured at HEAD.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfslo_tui.runs.files import is_run_file_name
from tests.conftest import run_cli
from tests.gitrepo import WORK, fingerprint, git, make_repo


def bench(repo: Path, scale: float = 1.0) -> Path:
    """Run the project's bench at the checked-out commit; optionally scale the run's samples.

    A scaled run stands for one measured while the machine was slow: the
    code is what it is, the numbers are not.
    """
    commit = git(repo, "rev-parse", "HEAD")
    before = set((repo / "artifacts").glob("perf-*.json")) if (repo / "artifacts").exists() else set()
    subprocess.run(
        [sys.executable, "bench.py"], cwd=repo, env={**os.environ, "PERFSLO_COMMIT": commit}, check=True
    )
    [path] = set((repo / "artifacts").glob("perf-*.json")) - before
    if scale != 1.0:
        document = json.loads(path.read_text())
        body = document["slos"]["work"]
        body["samples"] = [v * scale for v in body["samples"]]
        path.write_text(json.dumps(document))
    return path


def project(tmp_path: Path, head_work: str, candidate_scale: float = 1.0, tolerance: float = 0.05) -> Path:
    """History and baseline at BASE, then the candidate run at HEAD (``head_work`` is HEAD's work.py)."""
    repo = make_repo(tmp_path / "repo", base_n=20000, head_n=20000, budget=500, tolerance=tolerance)
    (repo / "work.py").write_text(head_work)
    git(repo, "commit", "-q", "--allow-empty", "-am", "HEAD")
    git(repo, "checkout", "-q", "base")
    for _ in range(3):
        bench(repo)
    result = run_cli("baseline", "--establish", cwd=repo)
    assert result.returncode == 0, result.stderr
    git(repo, "checkout", "-q", "main")
    bench(repo, candidate_scale)
    return repo


def run_files(repo: Path) -> list[str]:
    return sorted(p.name for p in (repo / "artifacts").iterdir() if is_run_file_name(p.name))


def test_a_real_regression_is_confirmed_by_compare_and_fails(tmp_path: Path) -> None:
    repo = project(tmp_path, WORK.format(n=60000))
    before, runs = fingerprint(repo), run_files(repo)
    result = run_cli("check", "--confirm", "3", cwd=repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "confirming by an interleaved compare of the baseline's commit" in result.stderr
    assert "perfslo: re-run " not in result.stderr  # no consecutive re-runs were needed
    out = result.stdout
    assert "❌ FAILED" in out
    assert "confirmed by interleaved compare (" in out
    assert "interleaved compare, HEAD " in out and ": regressed +" in out
    # The compare's runs live in its worktrees: the project's history and checkout are as they were.
    assert run_files(repo) == runs
    assert fingerprint(repo) == before


def test_a_slow_run_of_unchanged_code_is_cleared_by_compare(tmp_path: Path) -> None:
    # A tolerance this tiny bench can show on a busy machine in 40 pairs (its pair noise is
    # ~4 %, and runs of 30 samples of ~1.5 ms often hold a change of the machine's speed).
    repo = project(tmp_path, WORK.format(n=20000) + "# a comment\n", candidate_scale=1.6, tolerance=0.15)
    result = run_cli("check", "--confirm", "3", "--format", "json", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    [work] = document["slos"]
    assert work["vs_baseline"]["change"] > 0.3  # the run itself looked far slower
    ab = work["ab_confirmation"]
    assert ab["verdict"] == "same", ab
    assert -0.15 < ab["ci_low"] <= ab["change"] <= ab["ci_high"] < 0.15
    assert ab["head"].startswith("HEAD ") and ab["base_commit"] == git(repo, "rev-parse", "base")
    assert work["blocking"] is False and work["warning"] is False
    assert document["verdict"] == "PASSED"
    assert any("cleared by interleaved compare" in m for m in work["messages"])


def test_a_compare_that_cannot_settle_warns_with_the_action(tmp_path: Path) -> None:
    # Each HEAD process does a random amount of work (±40 %): 40 pairs cannot settle ±5 %.
    random_work = (
        "import random\n\nN = random.randint(12000, 28000)\n\n\ndef work():\n"
        "    return sum(i * i for i in range(N))\n"
    )
    # Scaled so that the candidate run looks slow whatever amount of work it drew (even the
    # least, 0.6× the baseline's): at 1.6 one run in 14 drew so little that it looked normal
    # and the gate passed without a compare.
    repo = project(tmp_path, random_work, candidate_scale=2.5)
    result = run_cli("check", "--confirm", "3", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "⚠️  WARNING" in out and "PASSED" not in out
    assert "not settled by interleaved compare (40 pairs" in out
    assert "run `perfslo compare " in out or "stabilise the machine or the benchmark" in out


def test_uncommitted_edits_are_measured_as_the_working_tree(tmp_path: Path) -> None:
    repo = project(tmp_path, WORK.format(n=20000) + "# a comment\n")
    (repo / "work.py").write_text(WORK.format(n=60000))  # uncommitted: three times the work
    bench(repo)
    result = run_cli("check", "--confirm", "3", cwd=repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "against working tree" in result.stderr, result.stderr
    assert "interleaved compare, working tree vs baseline" in result.stdout, result.stderr


def test_a_baseline_commit_outside_the_repository_falls_back_to_reruns(tmp_path: Path) -> None:
    repo = project(tmp_path, WORK.format(n=60000))
    baseline = repo / "artifacts" / ".perf-baseline.json"
    document = json.loads(baseline.read_text())
    document["commit"] = "f" * 40  # e.g. a baseline copied from another repository
    baseline.write_text(json.dumps(document))
    result = run_cli("check", "--confirm", "2", cwd=repo)
    assert f"the baseline's commit {'f' * 7} is not in this repository: confirming by re-running" in (
        result.stderr
    )
    assert "perfslo: re-run 1 of at most 4 (0 of 2 judged so far)" in result.stderr
    assert result.returncode == 1, result.stdout + result.stderr


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_the_reports_say_what_the_compare_decided(tmp_path: Path, fmt: str) -> None:
    repo = project(tmp_path, WORK.format(n=60000))
    result = run_cli("check", "--confirm", "3", "--format", fmt, cwd=repo)
    assert result.returncode == 1
    assert "confirmed by interleaved compare" in result.stdout
    assert "unconfirmed" not in result.stdout

"""``perfslo profile``: the harness in the checkout and at a commit, profile commands, every bad input."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from benchmarks.shared import git
from perfslo_tui.config import ConfigError, load_config
from tests.conftest import run_cli
from tests.test_profiles import WORKLOAD

BENCH = """\
from perfslo_tui.measure import PerfMeasurement
from workload import work

perf = PerfMeasurement()
perf.bench("work", work, iterations=30)
perf.write()
"""

# A benchmark without perfslo's harness, for profile commands (py-spy).
PLAIN = """\
import sys
from workload import work

for _ in range(300):
    work()
"""


def make_project(root: Path, extra_config: str = "") -> Path:
    """A git repository: commit 1 with equal a/b/c, commit 2 where b does 30 % more."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "workload.py").write_text(WORKLOAD)
    (root / "bench.py").write_text(BENCH)
    (root / "plain.py").write_text(PLAIN)
    (root / "perfslo.toml").write_text(
        f'bench_command = "{sys.executable} bench.py"\n{extra_config}\n[slos.work]\nbudget = 50\n'
    )
    (root / ".gitignore").write_text("__pycache__/\nartifacts/\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "equal")
    (root / "workload.py").write_text(WORKLOAD.replace('"B_EXTRA", "0"', '"B_EXTRA", "0.3"'))
    git(root, "commit", "-q", "-am", "b does more")
    return root


def test_profile_in_the_checkout_and_against_the_previous_commit(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    done = run_cli("profile", "work", "--against", "HEAD~1", "--top", "5", cwd=root, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("profile of work at ")
    assert "cProfile (perfslo harness)" in out
    diff_lines = out.split("diff: ", 1)[1].splitlines()
    assert " b (workload.py) " in diff_lines[1], out  # the function that got 30 % more work comes first
    profiles = sorted(p.name for p in (root / "artifacts" / "profiles").iterdir())
    assert len([p for p in profiles if p.endswith(".pstats")]) == 2
    assert len([p for p in profiles if p.endswith(".profile.json")]) == 2
    assert not list((root / "artifacts").glob("perf-*.json"))  # a profiled run is never kept as a run
    assert git(root, "status", "--porcelain") == ""
    assert len(git(root, "worktree", "list").splitlines()) == 1
    # The kept profile of HEAD~1 is reused the next time (no worktree needed).
    again = run_cli("profile", "work", "--against", "HEAD~1", cwd=root, timeout=600)
    assert again.returncode == 0 and "reusing the kept profile" in again.stderr


def test_a_py_spy_profile_command(tmp_path: Path) -> None:
    py_spy = Path(sys.executable).parent / "py-spy"
    command = f"{py_spy} record --format speedscope -r 250 -o {{output}} -- {sys.executable} plain.py"
    root = make_project(tmp_path / "p", f"profile_command = '{command}'")
    done = run_cli("profile", "work", "--top", "8", cwd=root, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "profile command:" in done.stdout and "(sampled:" in done.stdout
    assert " b  workload.py" in done.stdout
    kept = list((root / "artifacts" / "profiles").glob("*.speedscope.json"))
    assert len(kept) == 1


@pytest.mark.parametrize(
    ("profile_command", "problem"),
    [
        ("false {output}", "profile command exited 1"),
        ("no-such-profiler-xyz {output}", "exited 127"),
        ("true {output}", "the profile command wrote nothing at {output}"),
        ("echo junk > {output}", "not a profile perfslo can read"),
    ],
)
def test_a_profile_command_that_fails_or_writes_nothing_usable(
    tmp_path: Path, profile_command: str, problem: str
) -> None:
    root = make_project(tmp_path / "p", f"profile_command = '{profile_command}'")
    done = run_cli("profile", "work", cwd=root, timeout=600)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert problem in lines[-1] and lines[-1].startswith("perfslo: ")
    assert "Traceback" not in done.stderr
    if "127" in problem:
        assert "is the profiler installed and on PATH?" in lines[-1]
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("perfslo-profile-*/profile"))


def test_a_bench_command_without_the_harness_writes_no_profile(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    config = f'bench_command = "{sys.executable} plain.py"\n[slos.work]\nbudget = 50\n'
    (root / "perfslo.toml").write_text(config)
    done = run_cli("profile", "work", cwd=root, timeout=600)
    assert done.returncode == 2
    assert "the bench command wrote no profile of work" in done.stderr
    assert "set profile_command" in done.stderr


def test_a_command_benchmark_needs_a_profile_command(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    (root / "perfslo.toml").write_text('[slos.cli]\nbudget = 50\ncommand = "node app.js"\n')
    done = run_cli("profile", "cli", cwd=root, timeout=600)
    assert done.returncode == 2
    assert "cli is a command benchmark (node app.js): set profile_command" in done.stderr


def test_unreadable_file_and_bad_revision(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    bad = root / "bad.prof"
    bad.write_bytes(b"\x00\xffnot a profile")
    done = run_cli("profile", "work", "--file", str(bad), cwd=root, timeout=600)
    assert done.returncode == 2 and f"{bad}: not a profile perfslo can read" in done.stderr
    done = run_cli("profile", "work", "--at", "no-such-rev", cwd=root, timeout=600)
    assert done.returncode == 2 and "'no-such-rev' is not a commit" in done.stderr


def test_profile_command_must_name_its_output(tmp_path: Path) -> None:
    config = tmp_path / "perfslo.toml"
    config.write_text('profile_command = "py-spy record -- python x.py"\n')
    with pytest.raises(ConfigError, match="profile_command: must contain {output}"):
        load_config(config)
    config.write_text('[slos.a]\nbudget = 1\nprofile_command = "perf record -o {output} -- ./a"\n')
    assert load_config(config).slos["a"].profile_command == "perf record -o {output} -- ./a"

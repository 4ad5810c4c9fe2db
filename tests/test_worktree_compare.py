"""compare end to end on a real git repository: worktrees, ABBA runs, clean-up, bad input, same-code trap."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from perfslo_tui.actions.compare import CompareError, CompareProgress, compare
from perfslo_tui.actions.worktree import (
    WorktreeError,
    resolve_commit,
    snapshot_working_tree,
    temporary_worktree,
)
from perfslo_tui.config import load_config
from perfslo_tui.verdict.ab import ABVerdict
from tests.gitrepo import BENCH, WORK, fingerprint, git, make_repo


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A two-commit repository: HEAD's work() does three times BASE's work."""
    return make_repo(tmp_path / "repo")


def test_compare_finds_the_slowdown_and_leaves_the_checkout_untouched(repo: Path, tmp_path: Path) -> None:
    before = fingerprint(repo)
    seen: list[CompareProgress] = []
    temp = tmp_path / "temp"
    temp.mkdir()
    result = compare(
        load_config(repo / "perfslo.toml"), "base", max_pairs=12, progress=seen.append, temp_parent=temp
    )
    decision = result.decisions["work"]
    assert decision.verdict is ABVerdict.REGRESSED, decision.message
    assert decision.ci_low > 0.5  # three times the work: far beyond the noise
    assert result.base_commit == git(repo, "rev-parse", "base")
    assert result.head_commit == git(repo, "rev-parse", "HEAD")
    # ABBA order, one progress report per pair, runs alternating sides.
    after_pairs = [p for p in seen if p.status in ("measuring", "settled")]
    assert [p.pairs_done for p in after_pairs] == list(range(1, result.pairs + 1))
    assert [p.last_order for p in after_pairs[:2]] == [("base", "head"), ("head", "base")]
    assert after_pairs[-1].status == "settled"
    assert seen[0].status == f"checking out BASE {result.base_commit[:7]}"
    pair_two = [p.status for p in seen if p.status.startswith("pair 2:")]
    assert pair_two == ["pair 2: running HEAD", "pair 2: running BASE"]
    assert [(r.pair, r.side) for r in result.runs[:4]] == [(0, "base"), (0, "head"), (1, "head"), (1, "base")]
    assert all(len(r.samples["work"]) == 30 for r in result.runs)
    assert fingerprint(repo) == before
    assert list(temp.iterdir()) == []  # worktrees and run folders removed


def test_the_working_tree_with_uncommitted_edits_is_compared_against_head(repo: Path, tmp_path: Path) -> None:
    (repo / "work.py").write_text(WORK.format(n=20000))  # uncommitted: three times faster than HEAD
    (repo / "notes.txt").write_text("a new untracked file\n")
    before = fingerprint(repo)
    result = compare(load_config(repo / "perfslo.toml"), "HEAD", working_tree=True, max_pairs=12)
    assert result.head_label == "working tree"
    assert result.decisions["work"].verdict is ABVerdict.IMPROVED
    assert fingerprint(repo) == before
    # The snapshot holds the edit and the new file; HEAD's own tree is unchanged.
    snapshot = snapshot_working_tree(repo)
    assert git(repo, "show", f"{snapshot}:work.py") == WORK.format(n=20000).strip()
    assert git(repo, "show", f"{snapshot}:notes.txt") == "a new untracked file"
    assert git(repo, "show", "HEAD:work.py") == WORK.format(n=60000).strip()
    assert fingerprint(repo) == before


def test_a_dirty_tree_is_refused_when_head_would_not_include_it(repo: Path) -> None:
    (repo / "work.py").write_text(WORK.format(n=1))
    with pytest.raises(CompareError, match=r"in 1 tracked file\(s\) \(work.py\) would not be measured"):
        compare(load_config(repo / "perfslo.toml"), "base", max_pairs=4)


def test_base_that_is_not_a_commit_is_one_line(repo: Path) -> None:
    with pytest.raises(CompareError) as caught:
        compare(load_config(repo / "perfslo.toml"), "no-such-branch", max_pairs=4)
    message = str(caught.value)
    assert message.startswith("BASE 'no-such-branch' is not a commit in")
    assert "\n" not in message
    with pytest.raises(CompareError, match="BASE '--all' is not a commit"):
        compare(load_config(repo / "perfslo.toml"), "--all", max_pairs=4)


def test_a_failing_setup_is_one_line_and_the_worktrees_are_removed(repo: Path, tmp_path: Path) -> None:
    before = fingerprint(repo)
    temp = tmp_path / "temp"
    temp.mkdir()
    config = load_config(repo / "perfslo.toml")
    with pytest.raises(CompareError) as caught:
        compare(
            config,
            "base",
            max_pairs=4,
            bench_setup="test -d {worktree} && echo preparing"
            " && echo 'npm ERR! missing lockfile' >&2 && exit 3",
            temp_parent=temp,
        )
    message = str(caught.value)
    assert message.startswith("BASE: bench setup failed (exit 3) in ")
    assert message.endswith("npm ERR! missing lockfile")
    assert fingerprint(repo) == before
    assert list(temp.iterdir()) == []


def test_ctrl_c_during_compare_removes_the_worktrees_and_leaves_the_checkout(
    repo: Path, tmp_path: Path
) -> None:
    before = fingerprint(repo)
    temp = tmp_path / "temp"
    temp.mkdir()

    def interrupt(progress: CompareProgress) -> None:
        if progress.status == "pair 2: running HEAD":  # mid-comparison, with runs on disk
            assert list(temp.iterdir())  # the comparison's folder exists while it runs
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compare(load_config(repo / "perfslo.toml"), "base", max_pairs=6, progress=interrupt, temp_parent=temp)
    assert fingerprint(repo) == before
    assert list(temp.iterdir()) == []


def test_a_bench_command_that_writes_no_run_is_one_line(repo: Path) -> None:
    (repo / "perfslo.toml").write_text('bench_command = "true"\n')
    git(repo, "commit", "-q", "-am", "no runs")
    with pytest.raises(
        CompareError, match=r"BASE \([0-9a-f]{7}\): the bench command wrote no run file into PERFSLO_ARTI"
    ):
        compare(load_config(repo / "perfslo.toml"), "base", max_pairs=4)


def test_the_same_code_trap_pythonpath_into_the_checkout_is_refused(repo: Path) -> None:
    # src layout: bench.py imports pkg, which a PYTHONPATH entry resolves from the user's checkout.
    (repo / "src" / "pkg").mkdir(parents=True)
    (repo / "src" / "pkg" / "__init__.py").write_text(WORK.format(n=20000))
    (repo / "bench.py").write_text(BENCH.replace("from work import work", "from pkg import work"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "src layout")
    config = load_config(repo / "perfslo.toml")

    os.environ["PYTHONPATH"] = str(repo / "src")
    try:
        with pytest.raises(CompareError, match=r"same code on both sides: PYTHONPATH entry .*/src is inside"):
            compare(config, "HEAD~1", max_pairs=4)
    finally:
        del os.environ["PYTHONPATH"]

    # The same, hidden inside the bench command: seen in the files the first runs loaded.
    (repo / "perfslo.toml").write_text(
        f'bench_command = "PYTHONPATH={repo / "src"}:$PYTHONPATH {sys.executable} bench.py"\n'
    )
    git(repo, "commit", "-q", "-am", "hidden path")
    with pytest.raises(CompareError) as caught:
        compare(load_config(repo / "perfslo.toml"), "HEAD~1", max_pairs=4)
    message = str(caught.value)
    assert message.startswith("same code on both sides: BASE loaded ")
    assert str(repo / "src" / "pkg" / "__init__.py") in message
    assert "from your checkout" in message


def test_the_same_code_trap_node_modules_link_into_the_checkout_is_refused(repo: Path) -> None:
    (repo / "node_modules" / "lib").mkdir(parents=True)
    config = load_config(repo / "perfslo.toml")
    setup = f"ln -s {repo / 'node_modules'} {{worktree}}/node_modules"
    with pytest.raises(
        CompareError, match=r"same code on both sides: .*node_modules links to .* in your checkout"
    ):
        compare(config, "base", max_pairs=4, bench_setup=setup)


def test_a_worktree_that_cannot_be_made_is_one_line(repo: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "base").write_text("a file where the worktree should go")
    commit = resolve_commit(repo, "base")
    with pytest.raises(WorktreeError, match=r"cannot make a worktree of [0-9a-f]{12} at .*base"):
        with temporary_worktree(repo, commit, "base", blocked):
            pass
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_no_place_for_the_worktrees_is_one_line(repo: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(CompareError, match="cannot make a temporary folder in .*no-such-folder"):
        compare(load_config(repo / "perfslo.toml"), "base", max_pairs=4, temp_parent=missing)


def test_the_same_code_trap_an_editable_install_of_the_checkout_is_refused(
    repo: Path, tmp_path: Path
) -> None:
    # A src-layout package installed editable: a .pth file in the environment's site-packages
    # points at the checkout's src/, as `pip install -e .` does.
    (repo / "src" / "pkg").mkdir(parents=True)
    (repo / "src" / "pkg" / "__init__.py").write_text(WORK.format(n=20000))
    (repo / "bench.py").write_text(BENCH.replace("from work import work", "from pkg import work"))
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "__editable__.pkg-0.1.pth").write_text(str(repo / "src") + "\n")
    (repo / "perfslo.toml").write_text(f'bench_command = "{python} bench.py"\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "src layout")
    (repo / "src" / "pkg" / "__init__.py").write_text(WORK.format(n=60000))
    git(repo, "commit", "-q", "-am", "three times the work")
    before = fingerprint(repo)
    with pytest.raises(CompareError) as caught:
        compare(load_config(repo / "perfslo.toml"), "HEAD~1", max_pairs=4)
    message = str(caught.value)
    assert message.startswith("same code on both sides: BASE loaded ")
    assert str(repo / "src" / "pkg" / "__init__.py") in message and "editable install" in message
    assert fingerprint(repo) == before


def test_project_checkout_maps_the_config_and_runs_the_bench_command_there(
    repo: Path, tmp_path: Path
) -> None:
    from perfslo_tui.actions.worktree import project_checkout, scratch_folder

    config = load_config(repo / "perfslo.toml")
    commit = resolve_commit(repo, "base")
    # A setup that makes the worktree's own tool folder: it goes first on PATH.
    setup = "mkdir -p {worktree}/.venv/bin && echo prepared > {worktree}/setup-ran"
    with scratch_folder(parent=tmp_path) as parent:
        with project_checkout(config, commit, parent, "base", setup=setup) as side:
            assert side.worktree == parent / "base" and (side.worktree / "setup-ran").is_file()
            assert side.config.root == side.worktree and side.config.path == side.worktree / "perfslo.toml"
            assert side.artifacts == parent / "runs-base" and side.artifacts.is_dir()
            assert side.env["PERFSLO_COMMIT"] == commit and side.env["PERFSLO_SIDE"] == "base"
            assert side.env["PATH"].split(os.pathsep)[0] == str(side.worktree / ".venv" / "bin")
            assert (side.worktree / "work.py").read_text() == WORK.format(n=20000)
            first = side.run_bench()
            second = side.run_bench()
            assert len(first) == 1 and len(second) == 1 and first != second
            assert first[0].name.startswith(f"perf-{commit[:7]}-")
        assert not (parent / "base").exists()
        assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert not parent.exists()


def test_cancel_stops_a_running_bench_command_and_cleans_up(repo: Path, tmp_path: Path) -> None:
    import threading
    import time

    from perfslo_tui.actions.compare import CompareCancelled

    (repo / "perfslo.toml").write_text('bench_command = "sleep 60"\n')
    git(repo, "commit", "-q", "-am", "a slow bench")
    before = fingerprint(repo)
    temp = tmp_path / "temp"
    temp.mkdir()
    cancel = threading.Event()

    def cancel_once_running(progress: CompareProgress) -> None:
        if progress.status == "pair 1: running BASE":
            threading.Timer(0.5, cancel.set).start()

    began = time.monotonic()
    with pytest.raises(CompareCancelled, match="compare cancelled"):
        compare(
            load_config(repo / "perfslo.toml"),
            "base",
            max_pairs=4,
            progress=cancel_once_running,
            cancel=cancel,
            temp_parent=temp,
        )
    assert time.monotonic() - began < 30  # the 60 s command was stopped, not waited for
    assert list(temp.iterdir()) == []
    assert fingerprint(repo) == before


def test_cancel_stops_a_running_bench_setup(repo: Path, tmp_path: Path) -> None:
    import threading
    import time

    from perfslo_tui.actions.compare import CompareCancelled

    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    temp = tmp_path / "temp"
    temp.mkdir()
    began = time.monotonic()
    with pytest.raises(CompareCancelled):
        compare(
            load_config(repo / "perfslo.toml"),
            "base",
            max_pairs=4,
            bench_setup="sleep 60",
            cancel=cancel,
            temp_parent=temp,
        )
    assert time.monotonic() - began < 30
    assert list(temp.iterdir()) == []


def test_only_names_slos_the_runs_must_measure(repo: Path) -> None:
    expected = r"^parse: not measured by both BASE and HEAD runs \(BASE: work; HEAD: work\)"
    with pytest.raises(CompareError, match=expected):
        compare(load_config(repo / "perfslo.toml"), "base", max_pairs=4, only=["parse"])


NODE_BENCH = """\
const fs = require('fs');
const path = require('path');
const { work } = require('worklib');
const samples = [];
for (let s = 0; s < 30; s++) {
  const t0 = process.hrtime.bigint();
  work();
  samples.push(Math.max(Number(process.hrtime.bigint() - t0), 1) / 1e6);
}
const dir = process.env.PERFSLO_ARTIFACTS;
fs.mkdirSync(dir, { recursive: true });
const ms = Date.now();
const commit = process.env.PERFSLO_COMMIT || 'unknown';
fs.writeFileSync(path.join(dir, `perf-${commit.slice(0, 7)}-${ms}.json`), JSON.stringify({
  schema_version: 1,
  metadata: { timestamp: new Date(ms).toISOString(), timestamp_unix: ms, commit, source: 'node' },
  slos: { work: { unit: 'ms', samples } },
}));
"""


def test_the_same_code_trap_a_node_module_loaded_from_the_checkout_is_refused(repo: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: this test needs node >= 18 on PATH (scripts/test.sh installs it)")
    (repo / "lib").mkdir()
    (repo / "lib" / "worklib.js").write_text(
        "exports.work = () => { let t = 0; for (let i = 0; i < 20000; i++) t += i * i; return t; };\n"
    )
    (repo / "bench.js").write_text(NODE_BENCH)
    # NODE_PATH hidden inside the bench command, pointing at the user's checkout.
    (repo / "perfslo.toml").write_text(f'bench_command = "NODE_PATH={repo / "lib"} {node} bench.js"\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "node bench")
    library = repo / "lib" / "worklib.js"
    library.write_text(library.read_text().replace("20000", "60000"))
    git(repo, "commit", "-q", "-am", "three times the work")
    with pytest.raises(CompareError) as caught:
        compare(load_config(repo / "perfslo.toml"), "HEAD~1", max_pairs=4)
    message = str(caught.value)
    assert message.startswith(f"same code on both sides: BASE loaded {repo / 'lib' / 'worklib.js'}")
    # With the path inside the worktree instead, the same bench is measured honestly.
    (repo / "perfslo.toml").write_text(f'bench_command = "NODE_PATH=lib {node} bench.js"\n')
    git(repo, "commit", "-q", "-am", "relative NODE_PATH")
    result = compare(load_config(repo / "perfslo.toml"), "HEAD~2", max_pairs=12)
    assert result.decisions["work"].verdict is ABVerdict.REGRESSED, result.decisions["work"].message

"""Does ``perfslo bisect`` name the right commit under load, and what does it cost?

A real git repository of N commits (default 32) holds a benchmark measured
with perfslo's harness (``PerfMeasurement.bench``, with its reference
workload). Every commit changes something that costs nothing (a constant,
a comment, another file); one commit, chosen at random per trial, makes the
SLO's work 15 % larger. A CPU hog runs on one of the two cores throughout.

Per trial both searches run on the same repository:

* ``perfslo bisect GOOD BAD --slo work`` (the real CLI, in a subprocess);
* a plain binary search with single runs, as ``asv find`` does: one bench
  run per tested commit (in a worktree, the same bench command), the commit
  called bad when its median is nearer BAD's single run than GOOD's.

It prints, per trial, which commit each named and their wall times, then how
often each was right::

    python -m benchmarks.bisect_search              # 10 trials, 32 commits, +15 %, a CPU hog
    python -m benchmarks.bisect_search --quick      # 1 trial, 8 commits (what the test runs)
    python -m benchmarks.bisect_search --no-hog     # on an idle machine
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.shared import cpu_hog, git

WORK = '''\
"""The benchmark's workload (commit {index})."""

VERSION = {index}
N = {n}


def work() -> int:
    total = 0
    for i in range(N):
        total += (i * i) % 7
    return total
'''

BENCH = """\
from perfslo_tui.measure import PerfMeasurement
from work import work

perf = PerfMeasurement()
perf.bench("work", work, iterations=40)
perf.write()
"""

BASE_N = 6000
STEP = 0.15


def make_history(
    root: Path, commits: int, culprit: int, step: float = STEP, broken: int | None = None, setup: str = ""
) -> list[str]:
    """An initial commit, then ``commits`` more; commit ``culprit`` (1-based) adds ``step`` work.

    Every other commit changes something that costs nothing (a constant, NOTES.md).

    Args:
        root: the repository's folder (made here).
        commits: how many commits follow the initial one.
        culprit: the commit that makes ``work()`` slower (none when past ``commits``).
        step: how much more work it does (0.15: +15 %; 1.0: twice the work).
        broken: a commit that holds a file ``BROKEN`` (gone again from the next one),
            for a ``bench_setup`` that fails there.
        setup: more lines of ``perfslo.toml`` before ``[slos.work]``.

    Returns:
        Every commit id, the initial one (GOOD) first, BAD last.
    """
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    (root / "bench.py").write_text(BENCH)
    (root / "perfslo.toml").write_text(
        f'bench_command = "{sys.executable} bench.py"\n{setup}\n[slos.work]\nbudget = 50\ntolerance = 0.05\n'
    )
    (root / ".gitignore").write_text("__pycache__/\nartifacts/\n")
    (root / "work.py").write_text(WORK.format(index=0, n=BASE_N))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    ids = [git(root, "rev-parse", "HEAD")]
    n = BASE_N
    marker = root / "BROKEN"
    for index in range(1, commits + 1):
        if index == culprit:
            n = round(BASE_N * (1 + step))
            message = f"commit {index}: more work"
        else:
            message = f"commit {index}: rename a constant"
        (root / "work.py").write_text(WORK.format(index=index, n=n))
        (root / "NOTES.md").write_text(f"note {index}\n")
        if index == broken:
            marker.write_text("setup fails here\n")
        else:
            marker.unlink(missing_ok=True)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", message)
        ids.append(git(root, "rev-parse", "HEAD"))
    return ids


def perfslo_bisect(repo: Path, good: str, bad: str) -> tuple[str | None, float, int, dict[str, object]]:
    """Run the real CLI; returns (culprit, seconds, exit code, JSON)."""
    began = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "perfslo_tui.commands.cli",
            "bisect",
            good,
            bad,
            "--slo",
            "work",
            "--format",
            "json",
            "--quiet",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - began
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError:
        data = {"error": done.stderr.strip()[-300:]}
    return data.get("culprit"), seconds, done.returncode, data  # type: ignore[return-value]


def single_run_median(repo: Path, commit: str, scratch: Path) -> float:
    """One bench run at ``commit`` in a fresh worktree: the median of its samples (ms)."""
    tree = scratch / f"wt-{commit[:8]}"
    artifacts = scratch / f"runs-{commit[:8]}"
    git(repo, "worktree", "add", "-q", "--detach", str(tree), commit)
    try:
        env = {**os.environ, "PERFSLO_ARTIFACTS": str(artifacts)}
        subprocess.run([sys.executable, "bench.py"], cwd=tree, env=env, check=True, capture_output=True)
        run = json.loads(next(artifacts.glob("perf-*.json")).read_text())
        return float(statistics.median(run["slos"]["work"]["samples"]))
    finally:
        git(repo, "worktree", "remove", "--force", str(tree))
        for path in artifacts.glob("*"):
            path.unlink()
        with contextlib.suppress(OSError):
            artifacts.rmdir()


def plain_bisect(repo: Path, ids: list[str]) -> tuple[str, float, int]:
    """Binary search with one run per commit; returns (culprit, seconds, runs)."""
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="plain-bisect-") as scratch:
        folder = Path(scratch)
        good_level = single_run_median(repo, ids[0], folder)
        bad_level = single_run_median(repo, ids[-1], folder)
        runs = 2
        low, high = 0, len(ids) - 1
        while high - low > 1:
            middle = (low + high) // 2
            level = single_run_median(repo, ids[middle], folder)
            runs += 1
            if abs(level - bad_level) < abs(level - good_level):
                high = middle
            else:
                low = middle
    return ids[high], time.monotonic() - began, runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--commits", type=int, default=32)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-hog", action="store_true", help="no CPU hog on the second core")
    parser.add_argument("--quick", action="store_true", help="1 trial, 8 commits")
    args = parser.parse_args(argv)
    trials, commits = (1, 8) if args.quick else (args.trials, args.commits)
    rng = random.Random(args.seed)
    hog = not args.no_hog
    print(
        f"bisect benchmark: {trials} trial(s), {commits} commits, one adds +{STEP:.0%} work;"
        f" CPU hog on one core: {'yes' if hog else 'no'}; load {os.getloadavg()[0]:.1f}"
    )
    right = plain_right = 0
    times: list[float] = []
    plain_times: list[float] = []
    runs_used: list[int] = []
    with cpu_hog(hog):
        for trial in range(trials):
            culprit_index = rng.randint(1, commits)
            with tempfile.TemporaryDirectory(prefix="bisect-bench-") as scratch:
                repo = Path(scratch) / "repo"
                ids = make_history(repo, commits, culprit_index)
                truth = ids[culprit_index]
                named, seconds, code, data = perfslo_bisect(repo, ids[0], ids[-1])
                plain, plain_seconds, plain_runs = plain_bisect(repo, ids)
            ok = named == truth
            plain_ok = plain == truth
            right += ok
            plain_right += plain_ok
            times.append(seconds)
            plain_times.append(plain_seconds)
            runs = int(data.get("runs", 0)) if isinstance(data.get("runs"), int) else 0
            runs_used.append(runs)
            where = f"#{ids.index(named)}" if named in ids else str(named or "none")
            verdict = "right" if ok else "WRONG"
            plain_verdict = "right" if plain_ok else "WRONG"
            print(
                f"trial {trial + 1}: culprit #{culprit_index}; perfslo bisect named {where} ({verdict},"
                f" exit {code}, {runs} runs, {seconds:.0f}s); plain binary search named"
                f" #{ids.index(plain)} ({plain_verdict}, {plain_runs} runs, {plain_seconds:.0f}s)",
                flush=True,
            )
            if code not in (0, 3) and "error" in data:
                print(f"  perfslo bisect failed: {data['error']}")
    print(
        f"perfslo bisect: right in {right} of {trials}, median {statistics.median(times):.0f}s,"
        f" median {statistics.median(runs_used):.0f} bench runs"
    )
    print(
        f"plain binary search (single runs): right in {plain_right} of {trials},"
        f" median {statistics.median(plain_times):.0f}s"
    )
    ratio = statistics.median(times) / statistics.median(plain_times)
    print(f"wall time ratio (perfslo / plain, medians): {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

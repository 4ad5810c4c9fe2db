"""How long a profile takes to appear, against the benchmark's own run (the Python profiler).

A small real project (a git repository with perfslo's harness,
``PerfMeasurement.bench``) has two SLOs of about a millisecond each:

* ``loop``: one function running a tight arithmetic loop (few calls: the
  profiler's best case);
* ``calls``: the same work split into many tiny function calls (cProfile
  pays per call: its worst case).

For each SLO, alternately, the wall time of

* ``perfslo bench --slo SLO``: the benchmark's own run (what ``r`` in the
  drill-down runs), and
* ``perfslo profile SLO``: the benchmark under cProfile in the harness, the
  profile read and kept, its hot spots printed (``p`` in the drill-down runs
  the same action in a worker),

both whole processes from start to exit. It prints each pair, the medians,
the ratio (goal: the profile in ≤ 2× the run's time), and cProfile's own
slowdown of the profiled calls (the profile's CPU time per call over the
run's median per call)::

    python -m benchmarks.profile_overhead            # 7 pairs per SLO, 100 samples a run
    python -m benchmarks.profile_overhead --quick    # 1 pair of one SLO, 20 samples (what the test runs)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from perfslo_tui.profiles.store import latest_profile  # noqa: E402

WORK = '''\
"""Two ways to do the same work."""

N = 4000


def loop():
    total = 0
    for i in range(N):
        total += (i * i) % 7
    return total


def square(i):
    return i * i


def modulo(x):
    return x % 7


def step(total, i):
    return total + modulo(square(i))


def calls():
    total = 0
    for i in range(N // 4):
        total = step(total, i)
    return total
'''

BENCH = """\
from perfslo_tui.measure import PerfMeasurement
from work import calls, loop

perf = PerfMeasurement()
perf.bench("loop", loop)
perf.bench("calls", calls)
perf.write()
"""

CONFIG = """\
bench_command = "{python} bench.py"

[slos.loop]
budget = 50

[slos.calls]
budget = 50
"""


def make_project(root: Path) -> None:
    """A git repository with the harness benchmark of two SLOs."""
    root.mkdir(parents=True)
    (root / "work.py").write_text(WORK)
    (root / "bench.py").write_text(BENCH)
    (root / "perfslo.toml").write_text(CONFIG.format(python=sys.executable))
    (root / ".gitignore").write_text("__pycache__/\nartifacts/\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
        subprocess.run(["git", "-c", "user.email=b@b", "-c", "user.name=bench", *args], cwd=root, check=True)


def timed(root: Path, env: dict[str, str], *args: str) -> float:
    """Wall seconds of one ``perfslo`` process (it must succeed)."""
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "perfslo_tui.commands.cli", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - began
    if done.returncode != 0:
        raise SystemExit(f"perfslo {' '.join(args)} failed: {done.stderr.strip()[-400:]}")
    return seconds


def latest_run_median(artifacts: Path, slo: str) -> float:
    """The newest run's median for ``slo`` (ms per call)."""
    newest = max(artifacts.glob("perf-*.json"), key=lambda p: p.stat().st_mtime_ns)
    return float(json.loads(newest.read_text())["slos"][slo]["stats"]["median"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=7, help="run/profile pairs per SLO")
    parser.add_argument("--iterations", type=int, default=100, help="PERF_ITERATIONS (samples a run)")
    parser.add_argument("--quick", action="store_true", help="1 pair of one SLO, 20 samples")
    args = parser.parse_args(argv)
    pairs, iterations = (1, 20) if args.quick else (args.pairs, args.iterations)
    slos = ["calls"] if args.quick else ["loop", "calls"]
    print(
        f"profile overhead: {pairs} pair(s) per SLO, {iterations} samples a run;"
        f" load {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)",
        flush=True,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFSLO_")}
    env["PERF_ITERATIONS"] = str(iterations)
    with tempfile.TemporaryDirectory(prefix="profile-overhead-") as scratch:
        root = Path(scratch) / "proj"
        make_project(root)
        artifacts = root / "artifacts"
        for slo in slos:
            runs: list[float] = []
            profiles: list[float] = []
            slowdowns: list[float] = []
            for index in range(pairs):
                # Alternate which goes first, so a drift of the machine's load hits both alike.
                order = ("run", "profile") if index % 2 == 0 else ("profile", "run")
                for kind in order:
                    if kind == "run":
                        runs.append(timed(root, env, "bench", "--slo", slo))
                        median_ms = latest_run_median(artifacts, slo)
                    else:
                        profiles.append(timed(root, env, "profile", slo, "--quiet", "--top", "5"))
                record = latest_profile(artifacts, slo)
                assert record is not None
                profiled_ms = record.read().total_s * 1e3 / record.calls
                slowdowns.append(profiled_ms / median_ms)
                print(
                    f"  {slo} pair {index + 1}: run {runs[-1]:.2f}s, profile {profiles[-1]:.2f}s"
                    f" ({profiles[-1] / runs[-1]:.2f}x); profiled call {profiled_ms:.3f} ms CPU vs run"
                    f" median {median_ms:.3f} ms ({slowdowns[-1]:.2f}x)",
                    flush=True,
                )
            run_s, profile_s = statistics.median(runs), statistics.median(profiles)
            print(
                f"{slo}: run {run_s:.2f}s, profile {profile_s:.2f}s (medians of {pairs}):"
                f" profile/run {profile_s / run_s:.2f}x (goal <= 2x);"
                f" cProfile slows the profiled calls {statistics.median(slowdowns):.2f}x",
                flush=True,
            )
    print(f"load at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

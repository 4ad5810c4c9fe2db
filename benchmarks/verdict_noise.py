"""Which run level is steadiest on this machine? The measurement behind perfslo's noise model.

Back-to-back runs of the same pure-Python function (the verdict benchmark's
workload), each 100 samples with the reference workload paired, and the same
with +15 % more work. For each way of summarising a run it prints the spread
of that level between runs of unchanged code (standard deviation of the log
level, so 0.03 is ~3 %) and the shift it measures for +15 % (log 1.15 =
0.140), over all runs and over the runs whose reference workload ran within
10 % of the machine's quiet level (the runs perfslo judges).

Usage::

    python benchmarks/verdict_noise.py [--runs 40]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from verdict_quality import transpile  # noqa: E402

from perfslo_tui.collect.measure import bench  # noqa: E402
from perfslo_tui.verdict.stats import BUSY_SLOWDOWN, quiet_log_ratios  # noqa: E402

Level = Callable[[NDArray[np.float64], NDArray[np.float64]], float]

LEVELS: dict[str, Level] = {
    "log median (raw)": lambda x, p: float(np.log(np.median(x))),
    "log 10th percentile (raw)": lambda x, p: float(np.log(np.percentile(x, 10))),
    "median log ratio, all pairs": lambda x, p: float(np.median(np.log(x) - np.log(p))),
    "median log ratio, quietest quarter (perfslo)": lambda x, p: float(np.median(quiet_log_ratios(x, p))),
}


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(prog="python benchmarks/verdict_noise.py")
    parser.add_argument("--runs", type=int, default=40, help="runs of each variant (default 40)")
    args = parser.parse_args(argv)
    base = 300
    probe = bench(lambda: transpile(base), iterations=20, reference=False).samples_ms
    base = max(20, min(2000, round(base * 0.5 / float(np.median(probe)))))
    runs: list[tuple[int, NDArray[np.float64], NDArray[np.float64]]] = []
    load_start = os.getloadavg()
    for _ in range(args.runs):
        for kind, count in ((0, base), (1, round(base * 1.15))):
            result = bench(lambda n=count: transpile(n), iterations=100)
            runs.append((kind, np.array(result.samples_ms), np.array(result.reference_ms)))
    speed = np.array([math.log(float(np.median(p))) for _, _, p in runs])
    quiet = float(np.quantile(speed, 0.1))
    clean = speed - quiet <= math.log1p(BUSY_SLOWDOWN)
    kinds = np.array([k for k, _, _ in runs])
    print(
        f"workload transpile({base}); {args.runs} runs each; load average {load_start[0]:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end on {os.cpu_count()} CPUs; "
        f"{100 * clean.mean():.0f}% of runs within {BUSY_SLOWDOWN:.0%} of the quiet level"
    )
    print()
    print(
        "| run level | spread, all runs | +15% measured as | spread, clean runs | +15% measured as (clean) |"
    )
    print("|---|---|---|---|---|")
    for name, level in LEVELS.items():
        values = np.array([level(x, p) for _, x, p in runs])
        cells = [name]
        for mask in (np.ones_like(clean), clean):
            same, slow = values[(kinds == 0) & mask], values[(kinds == 1) & mask]
            if same.size < 2 or slow.size < 1:
                cells += ["—", "—"]
                continue
            cells += [f"{same.std(ddof=1):.3f}", f"{float(np.median(slow) - np.median(same)):+.3f}"]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

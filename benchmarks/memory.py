"""Peak memory as a metric: how steady it is on unchanged code, and whether +10 % allocation is seen.

Each trial is a fresh process (as a benchmark run is) that measures a
workload's peak memory with :func:`perfslo_tui.collect.memory.peak_memory_mb`
(7 calls, the median is the run's value), the same way
``PerfMeasurement.bench(..., memory=True)`` does. Two workloads: a
pure-Python one (a list of tuples) and a numpy one (arrays; numpy
allocates through Python's allocator hooks, so tracemalloc sees them too).
For a command, ``perfslo run`` records the child's max RSS from ``wait4``:
measured here on ``python -c`` allocating a bytearray.

A/A: 20 runs of the same code, the spread of their values. Detection: 10
trials of the same workload allocating 10 % more; "detected" means the
change against the A/A median is past the memory tolerance (5 %), as the
gate's regression rule would count it.

"+10 %" is 10 % more items, hence 10 % more allocation; a container that grows
by doubling (a dict, a list's spare capacity) turns 10 % more items into a step
of up to 100 %, which is real memory, not noise.

Usage::

    python benchmarks/memory.py           # 20 A/A + 10 at +10 % per workload, ~1 min
    python benchmarks/memory.py --quick   # 5 + 3, a smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

TOLERANCE = 0.05
SCRIPT = """
import json, sys
from perfslo_tui.collect.memory import peak_memory_mb

kind, size = sys.argv[1], int(sys.argv[2])

def python_work():
    # Allocation linear in size (no container that grows by doubling).
    rows = [(i, str(i), bytes(64)) for i in range(size)]
    return len(rows)

def numpy_work():
    import numpy as np
    a = np.arange(size * 10, dtype=np.float64)
    b = np.sqrt(a) * 2.0
    return float(b.sum())

fn = python_work if kind == "python" else numpy_work
values = peak_memory_mb(fn)
print(json.dumps(sorted(values)[len(values) // 2]))
"""
COMMAND_SCRIPT = "import sys; x = bytearray(int(sys.argv[1])); print(len(x))"


def one_run(kind: str, size: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, kind, str(size)], capture_output=True, text=True, check=True
    )
    return float(json.loads(out.stdout))


def command_run(size: int) -> float:
    from perfslo_tui.collect.command_timing import time_command

    result = time_command(f"{sys.executable} -c '{COMMAND_SCRIPT}' {size}", runs=1, warmup=0)
    return result.peak_mb[0]


def trial_table(name: str, measure: Any, base: int, aa: int, trials: int) -> dict[str, Any]:
    same = [measure(base) for _ in range(aa)]
    centre = statistics.median(same)
    more = [measure(int(base * 1.1)) for _ in range(trials)]
    changes = [v / centre - 1 for v in more]
    return {
        "workload": name,
        "aa_runs": aa,
        "median_mb": centre,
        "aa_spread": (max(same) - min(same)) / centre,
        "aa_false_alarms": sum(1 for v in same if v / centre - 1 > TOLERANCE),
        "plus10_measured": statistics.median(changes),
        "detected": sum(1 for c in changes if c > TOLERANCE),
        "trials": trials,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/memory.py")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    aa, trials = (5, 3) if args.quick else (20, 10)
    rows = [
        trial_table("python (list of tuples)", lambda n: one_run("python", n), 20_000, aa, trials),
        trial_table("numpy (arrays)", lambda n: one_run("numpy", n), 20_000, aa, trials),
        trial_table("command max RSS (bytearray)", command_run, 50_000_000, aa, trials),
    ]
    print("| workload | A/A runs | median | A/A spread | A/A past +5 % | +10 % measured as | detected |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['workload']} | {r['aa_runs']} | {r['median_mb']:.3f} MB | {r['aa_spread'] * 100:.2f}% | "
            f"{r['aa_false_alarms']}/{r['aa_runs']} | {r['plus10_measured'] * 100:+.2f}% | "
            f"{r['detected']}/{r['trials']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How often the steady-state detection is wrong, on simulated and on real sample sequences.

Simulated (always): runs of iid log-normal noise (2–20 % per sample, 30–200
samples) must be flat; runs whose first fifth is 30 % slower must be found
as warm-up; runs falling steadily from 1.5× to 1× show what a run that never
settles becomes. The shipped settings are compared with the best split
tested at 0.01 without sharing the level among the splits (and the trend at
0.01), which is what the prototype did.

Real (``--real N``): N sequences of 200 samples each of a JavaScript
tokenizer under Node.js with the old fixed 10-call warm-up, the same through
the Node example's warm-up until steady, and a Python workload through
``bench()``; prints the classes found.

Usage::

    python benchmarks/steady_detection.py              # simulated, ~1 min
    python benchmarks/steady_detection.py --real 16    # plus 48 real sequences, ~3 min
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from perfslo_tui.runs.steady import SteadyClass, SteadyState, detect_steady

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "node" / "write-run.js"

TOKENIZE_JS = ROOT / "benchmarks" / "node_ab" / "tokenize.js"

NODE_SEQUENCE = """\
'use strict';
const { source, tokenize } = require(__TOKENIZE_JS__);
const src = source(20);
const work = () => tokenize(src).map((t) => String(t.v)).join(' ');
let samples;
if (process.argv[2] === 'harness') {
  samples = require(process.argv[3]).bench(work, 200).samples;
} else {
  for (let i = 0; i < 10; i++) work();  // the example's old fixed warm-up
  samples = [];
  for (let s = 0; s < 200; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 16; i++) work();
    samples.push(Number(process.hrtime.bigint() - t0) / 16e6);
  }
}
console.log(JSON.stringify(samples));
""".replace("__TOKENIZE_JS__", json.dumps(str(TOKENIZE_JS)))

# A Python workload through bench(): ``{samples}`` samples, printed as JSON.
PYTHON_SEQUENCE = """\
import json
from perfslo_tui.collect.measure import bench

def work():
    total = 0
    for i in range(3000):
        total += (i * 7) ^ (total & 0xFFFF)
    return total

print(json.dumps(bench(work, iterations={samples}, reference=False).samples_ms))
"""

SETTINGS: dict[str, Callable[[np.ndarray], SteadyState]] = {
    "shipped (split level shared, trend 0.001)": lambda x: detect_steady(x),
    "best split at 0.01, trend 0.01": lambda x: detect_steady(x, trend_alpha=0.01, corrected=False),
}


def simulated(runs: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    print(f"Simulated, {runs} runs per cell: % called non-flat / % no steady state (pure noise);")
    print("% found as warm-up (first fifth 30 % slower); classes of a run falling 1.5× → 1× to its end\n")
    print("| samples | noise | setting | noise: non-flat | noise: unsettled | warm-up found | falling run |")
    print("|---|---|---|---|---|---|---|")
    for n in (30, 100, 200):
        for sd in (0.02, 0.05, 0.1, 0.2):
            flat = [np.exp(rng.normal(0.0, sd, n)) for _ in range(runs)]
            head = n // 5
            warm = [
                np.exp(rng.normal(0.0, sd, n)) * np.r_[np.full(head, 1.3), np.ones(n - head)]
                for _ in range(runs)
            ]
            falling = [np.exp(rng.normal(0.0, sd, n)) * np.linspace(1.5, 1.0, n) for _ in range(runs)]
            for name, detect in SETTINGS.items():
                kinds = [detect(x).kind for x in flat]
                found = [detect(x).kind for x in warm]
                fall = Counter(detect(x).kind.value for x in falling)
                print(
                    f"| {n} | {sd:.0%} | {name} "
                    f"| {100 * sum(k is not SteadyClass.FLAT for k in kinds) / runs:.1f}% "
                    f"| {100 * sum(k is SteadyClass.NO_STEADY_STATE for k in kinds) / runs:.1f}% "
                    f"| {100 * sum(k is SteadyClass.WARMUP for k in found) / runs:.0f}% "
                    f"| {', '.join(f'{k} {v}' for k, v in sorted(fall.items()))} |"
                )


def real(count: int) -> None:
    node = shutil.which("node")
    work = Path(tempfile.mkdtemp(prefix="perfslo-steady-"))
    try:
        script = work / "seq.js"
        script.write_text(NODE_SEQUENCE)
        kinds: dict[str, Callable[[], list[float]]] = {
            "python bench()": lambda: json.loads(
                subprocess.run(
                    [sys.executable, "-c", PYTHON_SEQUENCE.format(samples=200)],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=300,
                ).stdout
            ),
        }
        if node:
            kinds["node, old fixed 10-call warm-up"] = lambda: json.loads(
                subprocess.run(
                    [node, str(script), "fixed"], capture_output=True, text=True, check=True, timeout=300
                ).stdout
            )
            kinds["node, example's warm-up until steady"] = lambda: json.loads(
                subprocess.run(
                    [node, str(script), "harness", str(EXAMPLE)],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=300,
                ).stdout
            )
        print(f"\nReal sequences of 200 samples, {count} each (load average {os.getloadavg()[0]:.1f}):\n")
        print("| producer | " + " | ".join(SETTINGS) + " |")
        print("|---|" + "---|" * len(SETTINGS))
        for name, record in kinds.items():
            sequences = [record() for _ in range(count)]
            cells = []
            for detect in SETTINGS.values():
                found = Counter(detect(np.asarray(s)).kind.value for s in sequences)
                cells.append(", ".join(f"{k} {v}" for k, v in sorted(found.items())))
            print(f"| {name} | " + " | ".join(cells) + " |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/steady_detection.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--runs", type=int, default=400, help="simulated runs per cell (default 400)")
    parser.add_argument("--real", type=int, default=0, help="real sequences per producer (default none)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    simulated(args.runs, args.seed)
    if args.real:
        real(args.real)
    return 0


if __name__ == "__main__":
    sys.exit(main())

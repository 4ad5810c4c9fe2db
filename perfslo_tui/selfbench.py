"""perfslo's own benchmarks: the SLOs this repository holds itself to.

``python -m perfslo_tui.selfbench [--slo NAME] [--artifacts DIR]`` measures
the tool's hot paths on a synthetic history and writes one run artifact:

* ``load-200-runs``: read a folder of 200 runs (7 SLOs × 100 samples) into the table;
* ``refresh-one-new-run``: pick up one new run file in an already loaded folder;
* ``evaluate-run``: evaluate the latest run against budgets, baseline and history;
* ``write-artifact``: write one run file atomically;
* ``render-text-report``: render the gate's text report.

Samples per SLO come from ``PERF_ITERATIONS`` (default 30 here: the whole
suite stays under ~15 s so it fits an interactive loop).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfslo_tui.artifacts import build_run_document, make_metadata, write_run
from perfslo_tui.bench_command import artifacts_from_env
from perfslo_tui.config import load_config
from perfslo_tui.evaluate import evaluate
from perfslo_tui.measure import PerfMeasurement, iterations_from_env
from perfslo_tui.report.text import render_text
from perfslo_tui.store import RunStore, load_table

SYNTH_SLOS = [f"synthetic-{i}" for i in range(7)]
FIXED_GIT = {"commit": "0" * 40, "branch": "bench", "dirty": False}


def synthetic_run(ms: int, rng: random.Random, samples: int = 100) -> dict[str, Any]:
    """A realistic run document: 7 SLOs × ``samples`` log-normal samples."""
    data = {
        name: [rng.lognormvariate(0.0, 0.1) * (i + 1) for _ in range(samples)]
        for i, name in enumerate(SYNTH_SLOS)
    }
    return build_run_document(data, make_metadata(timestamp_ms=ms, git=FIXED_GIT))


def make_history(folder: Path, runs: int, seed: int = 1) -> None:
    """Fill ``folder`` with ``runs`` synthetic run files an hour apart."""
    rng = random.Random(seed)
    start = 1_790_000_000_000
    for index in range(runs):
        write_run(folder, synthetic_run(start + index * 3_600_000, rng))


def main(argv: list[str] | None = None) -> int:
    """Run the suite (or one SLO) and write a run artifact."""
    parser = argparse.ArgumentParser(prog="python -m perfslo_tui.selfbench")
    parser.add_argument("--slo", action="append", help="only this SLO (repeatable)")
    parser.add_argument("--artifacts", type=Path, help="where to write the run")
    args = parser.parse_args(argv)
    config = load_config()
    artifacts = args.artifacts or artifacts_from_env(config.artifacts_dir)
    iterations = iterations_from_env(default=30)
    perf = PerfMeasurement(config, artifacts)
    work = Path(tempfile.mkdtemp(prefix="perfslo-selfbench-"))
    try:
        history = work / "history"
        make_history(history, 200)
        loaded = load_table(history)
        the_config = config.with_artifacts_dir(history)
        scratch = work / "scratch"
        rng = random.Random(7)
        extra = synthetic_run(1_900_000_000_000, rng)
        new_run_dir = work / "live"
        make_history(new_run_dir, 200)
        live = load_table(new_run_dir)
        counter = iter(range(10**9))

        def refresh_one() -> None:
            document = dict(extra)
            document["metadata"] = dict(extra["metadata"], timestamp_unix=1_900_000_000_000 + next(counter))
            write_run(new_run_dir, document)
            live.refresh()

        evaluation = evaluate(loaded.table, the_config, None)
        suite: dict[str, Callable[[], Any]] = {
            "load-200-runs": lambda: RunStore(history).refresh(),
            "refresh-one-new-run": refresh_one,
            "evaluate-run": lambda: evaluate(loaded.table, the_config, None),
            "write-artifact": lambda: write_run(scratch, extra),
            "render-text-report": lambda: render_text(evaluation),
        }
        wanted = args.slo or list(suite)
        unknown = [name for name in wanted if name not in suite]
        if unknown:
            print(
                f"selfbench: unknown SLO(s): {', '.join(unknown)} (known: {', '.join(suite)})",
                file=sys.stderr,
            )
            return 2
        for name in wanted:
            # Heavy work: one call per sample is far above timer resolution.
            result = perf.bench(name, suite[name], iterations=iterations, warmup=2, inner_loops=1)
            median = sorted(result.samples_ms)[len(result.samples_ms) // 2]
            print(f"{name:22s} {median:9.3f} ms  ({len(result.samples_ms)} samples)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = perf.write(source="perfslo-selfbench")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

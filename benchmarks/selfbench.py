"""perfslo's own benchmarks: the SLOs this repository holds itself to.

``python -m benchmarks.selfbench [--slo NAME] [--artifacts DIR]`` measures
the tool's hot paths on a synthetic history of 1,000 runs (7 SLOs × 100
samples, the shape ``benchmarks/scale.py`` uses) and writes one run artifact:

* ``start-load-1000-runs``: a new store loading the folder from its on-disk
  cache, as every ``perfslo check`` and ``perfslo-tui`` start does;
* ``parse-run-file``: read and check one run file from JSON (what a cold
  load pays per file, and a warm one per new file);
* ``refresh-one-new-run``: write one run file and pick it up in a loaded store;
* ``evaluate-1000-runs``: evaluate the latest run against budgets, history
  and drift over 1,000 runs;
* ``save-cache-1000-runs``: write the on-disk cache of 1,000 runs;
* ``write-artifact``: write one run file atomically (with fsync);
* ``render-text-report``: render the gate's text report.

Only what the chosen SLOs need is set up. Samples per SLO come from
``PERF_ITERATIONS`` (default 30 here: the whole suite stays around 15 s so
it fits an interactive loop).
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from perfslo_tui.actions.bench import artifacts_from_env
from perfslo_tui.collect.measure import PerfMeasurement, iterations_from_env
from perfslo_tui.config import Config, load_config
from perfslo_tui.report.text import render_text
from perfslo_tui.runs.cache import RACY_NS
from perfslo_tui.runs.files import build_run_document, read_run, run_file_name, write_run
from perfslo_tui.runs.history import RunHistory
from perfslo_tui.runs.metadata import make_metadata
from perfslo_tui.runs.store import RunStore, load_table
from perfslo_tui.verdict.engine import evaluate
from perfslo_tui.verdict.model import Evaluation

SYNTH_SLOS = [f"synthetic-{i}" for i in range(7)]
FIXED_GIT = {"commit": "0" * 40, "branch": "bench", "dirty": False}
HISTORY_RUNS = 1000
HISTORY_START_MS = 1_790_000_000_000


def synthetic_run(ms: int, rng: random.Random, samples: int = 100) -> dict[str, Any]:
    """A realistic run document: 7 SLOs × ``samples`` log-normal samples."""
    data = {
        name: [rng.lognormvariate(0.0, 0.1) * (i + 1) for _ in range(samples)]
        for i, name in enumerate(SYNTH_SLOS)
    }
    return build_run_document(data, make_metadata(timestamp_ms=ms, git=FIXED_GIT))


def make_history(folder: Path, runs: int, seed: int = 1) -> None:
    """Fill ``folder`` with ``runs`` synthetic run files a minute apart.

    Written directly (no fsync): the history is scratch data, and 1,000
    fsync'ed writes would cost ~10 s on a shared disk.
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(runs):
        ms = HISTORY_START_MS + index * 60_000
        document = synthetic_run(ms, rng)
        name = run_file_name(str(FIXED_GIT["commit"]), ms)
        (folder / name).write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))


def wait_until_settled(folder: Path) -> None:
    """Wait until the folder's files are older than the cache's racy window.

    Files touched within that window of a cache snapshot are re-read at the
    next start, so a freshly generated history would not measure the cache.
    """
    stats = [entry.stat() for entry in os.scandir(folder) if entry.is_file()]
    newest = max(max(info.st_mtime_ns, info.st_ctime_ns) for info in stats)
    while time.time_ns() <= newest + RACY_NS:
        time.sleep(0.05)


class Fixtures:
    """Scratch folders and loaded stores, built on first use."""

    def __init__(self, work: Path, config: Config) -> None:
        self.work = work
        self.config = config
        self.extra = synthetic_run(1_900_000_000_000, random.Random(7))
        self._counter = iter(range(10**9))

    @functools.cached_property
    def history(self) -> Path:
        """A folder of HISTORY_RUNS runs whose cache is written and trusted."""
        folder = self.work / "history"
        make_history(folder, HISTORY_RUNS)
        wait_until_settled(folder)
        load_table(folder)  # parses every file once and writes the cache
        return folder

    @functools.cached_property
    def store(self) -> RunStore:
        """A store loaded from ``history``."""
        return load_table(self.history)

    @functools.cached_property
    def loaded(self) -> RunHistory:
        """What ``store`` loaded."""
        return self.store.history()

    @functools.cached_property
    def history_config(self) -> Config:
        """The config pointed at ``history``."""
        return self.config.with_artifacts_dir(self.history)

    @functools.cached_property
    def live(self) -> RunStore:
        """A loaded store of a copy of ``history`` that new runs are added to."""
        folder = self.work / "live"
        shutil.copytree(self.history, folder)
        # Copies have new ctimes: until they settle, every refresh would
        # re-hash them (racy files), which is not the path measured here.
        wait_until_settled(folder)
        return load_table(folder)

    @functools.cached_property
    def evaluation(self) -> Evaluation:
        """The evaluation of ``history``'s latest run."""
        return evaluate(self.loaded, self.history_config)

    def one_run_file(self) -> Path:
        """Any run file of ``history``."""
        return next(self.history.glob("perf-*.json"))

    def refresh_one(self) -> None:
        """Write one new run into ``live`` (as write_run does, without fsync) and refresh."""
        ms = 1_900_000_000_000 + next(self._counter)
        name = run_file_name(str(FIXED_GIT["commit"]), ms)
        folder = self.live.artifacts_dir
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(orjson.dumps(self.extra, option=orjson.OPT_INDENT_2))
        os.replace(tmp, folder / name)
        self.live.refresh()

    def save_cache(self) -> None:
        """Write the cache of ``store``."""
        self.store.save_cache()


def main(argv: list[str] | None = None) -> int:
    """Run the suite (or one SLO) and write a run artifact."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.selfbench")
    parser.add_argument("--slo", action="append", help="only this SLO (repeatable)")
    parser.add_argument("--artifacts", type=Path, help="where to write the run")
    args = parser.parse_args(argv)
    config = load_config()
    artifacts = args.artifacts or artifacts_from_env(config.artifacts_dir)
    iterations = iterations_from_env(default=30)
    perf = PerfMeasurement(config, artifacts)
    work = Path(tempfile.mkdtemp(prefix="perfslo-selfbench-"))
    try:
        fx = Fixtures(work, config)
        scratch = work / "scratch"
        suite: dict[str, Callable[[], Any]] = {
            "start-load-1000-runs": lambda: RunStore(fx.history).refresh(),
            "parse-run-file": lambda: read_run(fx.one_run_file()),
            "refresh-one-new-run": fx.refresh_one,
            "evaluate-1000-runs": lambda: evaluate(fx.loaded, fx.history_config),
            "save-cache-1000-runs": fx.save_cache,
            "write-artifact": lambda: write_run(scratch, fx.extra),
            "render-text-report": lambda: render_text(fx.evaluation),
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

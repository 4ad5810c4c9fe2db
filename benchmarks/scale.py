"""Speed at scale: load, gate, monitor and one new run at 1,000 / 10,000 / 100,000 runs.

``python -m benchmarks.scale`` (``--quick`` for small sizes, ``--sizes`` to
choose) generates each history (7 SLOs x 100 samples per run, written
directly with orjson) in a temp folder and measures, each figure the median
of several runs with its min-max:

* first load into the table (no cache: every JSON file parsed and checked)
  and the load after the first time (from the on-disk cache), each in a
  fresh process with its peak RSS;
* the naive reference: the stdlib ``json`` module reading every file into a
  DataFrame, side by side, and its ratio to the cached load;
* ``perfslo check`` as a whole process, cold (warm cache), and right after
  one new run was written;
* ``perfslo-tui`` from process start to the first full paint of the
  overview (headless, every card holding its result);
* file written -> card updated, p50/p95 over ``--live`` new runs;
* the cost of one new run in a live process (store refresh + evaluate),
  median over 20 new runs, and its ratio to the smallest size;
* a bare ``python -c "import polars, numpy"`` timed alternately with the
  gate and the monitor's start, so each of those is also given as a ratio
  to it: on a busy machine both grow, and the ratio shows what is perfslo's.

The figures print as a Markdown table; ``--json FILE`` keeps them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from benchmarks.history import SLOS, START_MS, STEP_MS, run_document, run_name, write_project

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable

# Runs in a fresh process: load the folder and report time and peak RSS.
LOAD_SCRIPT = """
import json, resource, sys, time
from pathlib import Path
start = time.perf_counter()
from perfslo_tui.runs.store import load_table
imported = time.perf_counter()
store = load_table(Path(sys.argv[1]))
done = time.perf_counter()
print(json.dumps({
    "import_s": imported - start, "load_s": done - imported, "runs": store.run_count,
    "files_read": store.files_read, "cache_hits": store.cache_hits, "cache_problem": store.cache_problem,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""

# The naive way: stdlib json for every file, then one DataFrame.
NAIVE_SCRIPT = """
import json, os, sys, time
import polars as pl
folder = sys.argv[1]
start = time.perf_counter()
cols = {"run_id": [], "ts_ms": [], "slo": [], "median": [], "samples": []}
for name in sorted(os.listdir(folder)):
    if not name.endswith(".json"):
        continue
    with open(os.path.join(folder, name), encoding="utf-8") as handle:
        doc = json.load(handle)
    for slo, body in doc["slos"].items():
        cols["run_id"].append(name)
        cols["ts_ms"].append(doc["metadata"]["timestamp_unix"])
        cols["slo"].append(slo)
        cols["median"].append(body["stats"]["median"])
        cols["samples"].append(body["samples"])
table = pl.DataFrame(cols)
print(json.dumps({"load_s": time.perf_counter() - start, "rows": table.height}))
"""


@dataclass
class Figure:
    """Repeated measurements of one thing, in seconds (or MB)."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def cell(self, scale: float = 1000.0, unit: str = "ms", digits: int = 0) -> str:
        """``median [min–max] unit``."""
        if not self.values:
            return "—"
        fmt = f"{{:.{digits}f}}"
        med = fmt.format(self.median * scale)
        if len(self.values) == 1:
            return f"{med} {unit} (n=1)"
        low = fmt.format(min(self.values) * scale)
        high = fmt.format(max(self.values) * scale)
        return f"{med} [{low}–{high}] {unit}"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(REPO) + os.pathsep + out.get("PYTHONPATH", "")
    for name in ("PERFSLO_CONFIG", "PERFSLO_ARTIFACTS", "GITHUB_STEP_SUMMARY"):
        out.pop(name, None)
    return out


def run_json(args: list[str], cwd: Path, timeout: float = 1800) -> dict[str, Any]:
    proc = subprocess.run(args, cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{args}: exit {proc.returncode}: {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def wait_until_settled(folder: Path) -> None:
    """Wait until the newest file is older than the cache's racy window (2 s).

    Files touched within 2 s of a cache snapshot are not trusted from it, so
    a load right after generating would measure re-reads, not the cache.
    """
    from perfslo_tui.runs.cache import RACY_NS

    stats = [entry.stat() for entry in os.scandir(folder) if entry.is_file()]
    newest = max(max(info.st_mtime_ns, info.st_ctime_ns) for info in stats)
    while time.time_ns() < newest + RACY_NS + 50_000_000:
        time.sleep(0.05)


def clear_cache(artifacts: Path) -> None:
    shutil.rmtree(artifacts / ".perfslo-cache", ignore_errors=True)


def write_new_run(artifacts: Path, index: int, value: float = 1.0) -> Path:
    """One new run, written like write_run does (temp file + rename), without fsync."""
    import numpy as np

    ms = START_MS + index * STEP_MS
    samples = np.full((len(SLOS), 100), value)
    data = orjson.dumps(run_document(ms, samples), option=orjson.OPT_INDENT_2)
    tmp = artifacts / f".{run_name(ms)}.bench.tmp"
    tmp.write_bytes(data)
    target = artifacts / run_name(ms)
    os.replace(tmp, target)
    return target


def timed_process(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env(), capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{args}: exit {proc.returncode}: {proc.stderr[-2000:]}")
    return elapsed


def tui_first_paint(project: Path) -> float:
    start_wall = time.time()
    proc = subprocess.Popen(
        [PY, "-m", "benchmarks.tui_probe", str(project)],
        cwd=REPO,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"tui probe failed: {err[-2000:]}")
    painted = json.loads(out.strip().splitlines()[0])["painted"]
    return float(painted) - start_wall


def tui_live(project: Path, count: int, first_index: int) -> list[float]:
    out = run_json(
        [
            PY,
            "-m",
            "benchmarks.tui_probe",
            str(project),
            "--live",
            str(count),
            "--first-index",
            str(first_index),
        ],
        cwd=REPO,
        timeout=600,
    )
    return [float(v) for v in out["latencies"]]


def new_run_cost(project: Path, count: int, first_index: int) -> Figure:
    """Refresh + evaluate after each of ``count`` new runs, in this (warm) process."""
    from perfslo_tui.config import load_config
    from perfslo_tui.runs.store import RunStore
    from perfslo_tui.verdict.engine import evaluate

    config = load_config(start=project)
    store = RunStore(config.artifacts_dir)
    previous = evaluate(store.refresh(), config)
    figure = Figure()
    for k in range(count):
        path = write_new_run(config.artifacts_dir, first_index + k, 1.0 + k / 1000)
        gc.collect()
        start = time.perf_counter()
        # As in the monitor: the watcher names the file that changed.
        history = store.refresh({path.name})
        previous = evaluate(history, config, previous=previous)
        figure.add(time.perf_counter() - start)
        assert len(history.changes.added) == 1, history.changes
    return figure


@dataclass
class SizeResult:
    runs: int
    generate_s: float
    first_load: Figure
    first_rss: Figure
    cached_load: Figure
    cached_rss: Figure
    naive: Figure
    check_cold: Figure
    check_new_run: Figure
    tui_paint: Figure
    live_latencies: list[float]
    new_run: Figure
    bare: Figure

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"runs": self.runs, "generate_s": self.generate_s}
        for name in (
            "first_load",
            "first_rss",
            "cached_load",
            "cached_rss",
            "naive",
            "check_cold",
            "check_new_run",
            "tui_paint",
            "new_run",
            "bare",
        ):
            out[name] = getattr(self, name).values
        out["live_latencies"] = self.live_latencies
        return out


def measure_size(runs: int, work: Path, repeat: int, first_repeat: int, live: int, tui: bool) -> SizeResult:
    project = work / f"history-{runs}"
    say(f"[{runs} runs] generating…")
    start = time.perf_counter()
    artifacts = write_project(project, runs)
    generate_s = time.perf_counter() - start
    say(f"[{runs} runs] generated in {generate_s:.1f} s")
    wait_until_settled(artifacts)

    first_load, first_rss = Figure(), Figure()
    for _ in range(first_repeat):
        clear_cache(artifacts)
        out = run_json([PY, "-c", LOAD_SCRIPT, str(artifacts)], cwd=project)
        assert out["files_read"] == runs and out["runs"] == runs, out
        first_load.add(out["load_s"])
        first_rss.add(out["rss_mb"])
    say(f"[{runs} runs] first load {first_load.cell(1, 's', 2)}")

    cached_load, cached_rss = Figure(), Figure()
    for _ in range(repeat):
        out = run_json([PY, "-c", LOAD_SCRIPT, str(artifacts)], cwd=project)
        assert out["cache_hits"] == runs and out["files_read"] == 0, out
        cached_load.add(out["load_s"])
        cached_rss.add(out["rss_mb"])
    say(f"[{runs} runs] cached load {cached_load.cell()}")

    naive = Figure()
    for _ in range(max(1, min(repeat, first_repeat))):
        naive.add(run_json([PY, "-c", NAIVE_SCRIPT, str(artifacts)], cwd=project)["load_s"])
    say(f"[{runs} runs] naive stdlib json {naive.cell()}")

    check = [PY, "-m", "perfslo_tui.commands.cli", "check", "--no-step-summary"]
    bare_cmd = [PY, "-c", "import polars, numpy"]
    check_cold, bare = Figure(), Figure()
    for _ in range(repeat):
        # Alternated, so a busy spell slows both alike.
        bare.add(timed_process(bare_cmd, project))
        check_cold.add(timed_process(check, project))
    say(f"[{runs} runs] perfslo check cold {check_cold.cell()}")

    index = runs
    check_new_run = Figure()
    for _ in range(repeat):
        write_new_run(artifacts, index)
        index += 1
        check_new_run.add(timed_process(check, project))
    say(f"[{runs} runs] perfslo check after a new run {check_new_run.cell()}")

    tui_paint = Figure()
    live_latencies: list[float] = []
    # The monitor is measured as it is; if it fails (a bug, not a figure),
    # that is reported and the other figures still come.
    if tui:
        for _ in range(repeat):
            bare.add(timed_process(bare_cmd, project))
            try:
                tui_paint.add(tui_first_paint(project))
            except RuntimeError as exc:
                say(f"[{runs} runs] perfslo-tui failed: {str(exc)[-300:]}")
        say(f"[{runs} runs] perfslo-tui first paint {tui_paint.cell()}")
        if live:
            try:
                live_latencies = tui_live(project, live, index)
            except RuntimeError as exc:
                say(f"[{runs} runs] perfslo-tui live run failed: {str(exc)[-300:]}")
            index += live
            say(
                f"[{runs} runs] file -> card p50 {percentile(live_latencies, 50) * 1000:.0f} ms, "
                f"p95 {percentile(live_latencies, 95) * 1000:.0f} ms"
            )

    new_run = new_run_cost(project, 20, index)
    say(f"[{runs} runs] one new run (refresh + evaluate) {new_run.cell(digits=1)}")
    return SizeResult(
        runs,
        generate_s,
        first_load,
        first_rss,
        cached_load,
        cached_rss,
        naive,
        check_cold,
        check_new_run,
        tui_paint,
        live_latencies,
        new_run,
        bare,
    )


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def ratio(figure: Figure, bare: Figure) -> str:
    """``figure / bare`` by medians, or a dash when either was not measured."""
    if not figure.values or not bare.values:
        return "—"
    return f"{figure.median / bare.median:.2f}×"


def table(results: Sequence[SizeResult], repeat: int) -> str:
    base = results[0]
    header = ["", *[f"{r.runs:,} runs" for r in results]]
    rows: list[list[str]] = [
        ["generate the history (orjson, no fsync)", *[f"{r.generate_s:.1f} s" for r in results]],
        ["first load, no cache (parse + check every file)", *[r.first_load.cell(1, "s", 2) for r in results]],
        ["  peak RSS of that process", *[r.first_rss.cell(1, "MB") for r in results]],
        ["load after the first time (cache)", *[r.cached_load.cell() for r in results]],
        ["  peak RSS of that process", *[r.cached_rss.cell(1, "MB") for r in results]],
        ["naive: stdlib json reads every file", *[r.naive.cell() for r in results]],
        [
            "  naive ÷ cached load",
            *[f"{r.naive.median / r.cached_load.median:.0f}×" for r in results],
        ],
        ["`perfslo check`, whole process (warm cache)", *[r.check_cold.cell() for r in results]],
        ["`perfslo check` right after one new run", *[r.check_new_run.cell() for r in results]],
        ["bare `python -c \"import polars, numpy\"` (alternated)", *[r.bare.cell() for r in results]],
        ["  `perfslo check` ÷ bare import", *[ratio(r.check_cold, r.bare) for r in results]],
        ["`perfslo-tui` start → first full paint (headless)", *[r.tui_paint.cell() for r in results]],
        ["  first paint ÷ bare import", *[ratio(r.tui_paint, r.bare) for r in results]],
        [
            "file written → card updated, p50 / p95",
            *[
                (
                    f"{percentile(r.live_latencies, 50) * 1000:.0f} / "
                    f"{percentile(r.live_latencies, 95) * 1000:.0f} ms (n={len(r.live_latencies)})"
                )
                if r.live_latencies
                else "—"
                for r in results
            ],
        ],
        ["one new run in a live process (refresh + evaluate)", *[r.new_run.cell(digits=1) for r in results]],
        [
            f"  ÷ the same at {base.runs:,} runs",
            *[f"{r.new_run.median / base.new_run.median:.2f}×" for r in results],
        ],
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    note = (
        f"\n\nMedian [min–max] of {repeat} runs each (first load and naive: fewer at large sizes, see n); "
        "RSS = peak resident set of the measuring process."
    )
    return "\n".join(lines) + note


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (a smoke test)")
    parser.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")], help="e.g. 1000,10000")
    parser.add_argument("--repeat", type=int, help="measurements per figure (default 5, quick 2)")
    parser.add_argument("--first-repeat", type=int, help="first loads per size (default 3, 1 above 20k)")
    parser.add_argument("--live", type=int, help="new runs timed on screen (default 20)")
    parser.add_argument("--no-tui", action="store_true", help="skip the perfslo-tui figures")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args(argv)
    sizes: list[int] = args.sizes or ([60, 240] if args.quick else [1_000, 10_000, 100_000])
    repeat = args.repeat or (2 if args.quick else 5)
    live = args.live if args.live is not None else 20
    tui = not args.no_tui and (REPO / "perfslo_tui" / "tui" / "app.py").is_file()

    work = args.keep or Path(tempfile.mkdtemp(prefix="perfslo-scale-"))
    results: list[SizeResult] = []
    try:
        for runs in sizes:
            first_repeat = args.first_repeat or (1 if runs > 20_000 else 3)
            if args.quick:
                first_repeat = min(first_repeat, repeat)
            results.append(measure_size(runs, work, repeat, first_repeat, live, tui))
            if args.keep is None:
                shutil.rmtree(work / f"history-{runs}", ignore_errors=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(table(results, repeat))
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Verdict quality: how often each rule cries wolf, and how often it catches a real slowdown.

A real pure-Python function (a tiny tokenizer/transpiler front end) is
benchmarked with :func:`perfslo_tui.collect.measure.bench`. Each trial is one
"commit" judged against a baseline:

* the baseline commit is benchmarked ``--baseline-runs`` times (3 by default)
  and the last run becomes the baseline (``.perf-baseline.json``), on top of
  a rolling history of earlier main-branch runs of the same code;
* the candidate is the same code (A/A) or the same code doing +5/+10/+15/+25 %
  more work; it is benchmarked, the run file written, and the gate asked.

Rules judged side by side in the same trials:

* ``naive (seed)``: one median against the baseline median; fail past +10 %
  (the seed's ±5 % warning / +10 % regression rule). Measured without the
  reference workload (plain ``bench``), as the seed would.
* ``pytest-benchmark median:10%``: pytest-benchmark's own
  ``PercentageRegressionCheck`` (what ``--benchmark-compare-fail=median:10%``
  runs) on the same samples as the naive rule.
* ``within-run CI only``: the change's 95 % interval from each run's own
  samples (bootstrap), fail past +10 % when significant: the noise model that
  trusts within-run samples.
* ``raw + run-to-run noise, confirm 1``: perfslo's evaluation on raw medians
  (reference series stripped), one run.
* ``perfslo, confirm 1``: perfslo's evaluation with the reference workload,
  one run, no confirmation.
* ``perfslo gate, confirm N``: the real gate: ``confirm_by_rerunning`` re-runs
  the benchmark in-process until an unconfirmed problem confirms or clears.

Wall time per verdict counts everything after the baseline exists:
measuring the candidate, writing the run file, loading the folder,
evaluating, and every confirmation re-run.

Usage::

    python benchmarks/verdict_quality.py            # full run, ~6-11 min on 2 busy cores
    python benchmarks/verdict_quality.py --quick    # smoke run, ~20 s
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl
from scipy import stats as sps

from perfslo_tui.actions.baseline import establish_baseline
from perfslo_tui.actions.confirm import confirm_by_rerunning
from perfslo_tui.collect.measure import PerfMeasurement, bench
from perfslo_tui.config import Config, SLOConfig
from perfslo_tui.runs.files import Baseline, read_baseline, write_run
from perfslo_tui.runs.history import history_of
from perfslo_tui.runs.store import RunStore
from perfslo_tui.runs.summary import summarize
from perfslo_tui.text import utc_iso
from perfslo_tui.verdict.engine import evaluate
from perfslo_tui.verdict.model import Verdict
from perfslo_tui.verdict.rules import Severity, assess_regression
from perfslo_tui.verdict.stats import change_estimate, is_reference_name, median_log_se

SLO = "transpile-statements"
STEPS = (0.05, 0.10, 0.15, 0.25)
TOLERANCE = 0.05
HOUR_MS = 3_600_000

# ---------------------------------------------------------------- the workload

_STATEMENTS = [
    f"let v{i} = call(x{i % 13}, {i * 7 % 101}, 'name{i % 5}') + v{max(i - 1, 0)};" for i in range(4000)
]


def transpile(count: int) -> int:
    """A tiny transpiler front end: tokenize, count identifiers, emit Lua-ish text."""
    seen: dict[str, int] = {}
    out: list[str] = []
    for statement in _STATEMENTS[:count]:
        tokens = statement.replace("(", " ( ").replace(")", " ) ").replace(",", " , ").split()
        for token in tokens:
            if token[0].isalpha():
                seen[token] = seen.get(token, 0) + 1
        out.append("local " + " ".join(tokens[1:]).rstrip(";"))
    return len(seen) + len("\n".join(out))


@dataclass
class Outcome:
    """Per rule: alarms per trial kind and wall times."""

    alarms: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    runs: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    reasons: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


# ---------------------------------------------------------------- helpers


def make_config(root: Path, artifacts: Path, budget_ms: float, confirm: int) -> Config:
    """A config with the one SLO; the budget is generous: this is about regressions."""
    return Config(
        path=None,
        root=root,
        slos={SLO: SLOConfig(SLO, budget_ms=budget_ms, tolerance=TOLERANCE)},
        artifacts_dir=artifacts,
        confirm_runs=confirm,
        history_runs=20,
    )


class Runner:
    """Measures runs of the workload and writes them as real run files."""

    def __init__(self, base_count: int, iterations: int) -> None:
        self.base_count = base_count
        self.iterations = iterations
        self.clock_ms = 1_795_000_000_000

    def tick(self) -> int:
        self.clock_ms += HOUR_MS
        return self.clock_ms

    def perfslo_run(self, config: Config, count: int, commit: str) -> Path:
        """One perfslo run (with the reference workload), written to the artifacts folder."""
        perf = PerfMeasurement(config, config.artifacts_dir)
        perf.bench(SLO, lambda: transpile(count), iterations=self.iterations)
        document = perf.document(git={"commit": commit, "branch": "main", "dirty": False})
        ts = self.tick()
        document["metadata"]["timestamp_unix"] = ts
        document["metadata"]["timestamp"] = utc_iso(ts)
        return write_run(config.artifacts_dir, document)

    def plain_samples(self, count: int) -> list[float]:
        """One plain run as the seed would take it: no reference workload."""
        return bench(lambda: transpile(count), iterations=self.iterations, reference=False).samples_ms


def strip_reference(table: pl.DataFrame, baseline: Baseline | None) -> tuple[pl.DataFrame, Baseline | None]:
    """The same runs without the ``@ref`` series: perfslo's model on raw medians."""
    raw = table.filter(~pl.col("slo").map_elements(is_reference_name, return_dtype=pl.Boolean))
    if baseline is None:
        return raw, None
    keep = {k: v for k, v in baseline.samples.items() if not is_reference_name(k)}
    medians = {k: v for k, v in baseline.medians.items() if not is_reference_name(k)}
    return raw, replace(baseline, samples=keep, medians=medians)


def pytest_benchmark_fails(base: list[float], current: list[float]) -> bool:
    """pytest-benchmark's own ``median:10%`` check on these samples."""
    from pytest_benchmark.stats import Stats
    from pytest_benchmark.utils import parse_compare_fail

    def as_stats(values: list[float]) -> dict[str, Any]:
        stats = Stats()
        for value in values:
            stats.update(value / 1000.0)  # pytest-benchmark works in seconds
        return stats.as_dict()

    check = parse_compare_fail("median:10%")
    return bool(check.fails(as_stats(current), as_stats(base)))


# ---------------------------------------------------------------- one trial


def trial(
    runner: Runner,
    work: Path,
    kind: str,
    step: float,
    history: list[dict[str, Any]],
    baseline_runs: int,
    confirm: int,
    budget_ms: float,
    outcome: Outcome,
    index: int,
) -> None:
    """Run one trial and record every rule's verdict."""
    artifacts = work / f"trial-{index}"
    artifacts.mkdir()
    config = make_config(work, artifacts, budget_ms, confirm)
    # Older main-branch runs of the same code: the history the noise comes from.
    for document in history:
        doc = json.loads(json.dumps(document))
        doc["metadata"]["timestamp_unix"] = runner.tick()
        write_run(artifacts, doc)
    base_commit = f"{index:08x}" + "b" * 32
    last = None
    for _ in range(baseline_runs):
        last = runner.perfslo_run(config, runner.base_count, base_commit)
    establish_baseline(config, last)
    count = round(runner.base_count * (1 + step))
    cand_commit = f"{index:08x}" + "c" * 32

    # The naive rule and pytest-benchmark: one plain baseline run, one plain candidate run.
    plain_base = runner.plain_samples(runner.base_count)
    start = time.perf_counter()
    plain_cur = runner.plain_samples(count)
    check = assess_regression(summarize(plain_base).median, summarize(plain_cur).median, TOLERANCE)
    naive_fail = check.severity is Severity.REGRESSION
    naive_time = time.perf_counter() - start
    start = time.perf_counter()
    pb_fail = pytest_benchmark_fails(plain_base, plain_cur)
    pb_time = naive_time + time.perf_counter() - start

    # perfslo: measure the candidate, write it, load the folder, evaluate, confirm.
    start = time.perf_counter()
    runner.perfslo_run(config, count, cand_commit)
    store = RunStore(artifacts)
    store.refresh()
    first = evaluate(store.history(), config, confirm_runs=1)
    one_time = time.perf_counter() - start
    gate = evaluate(store.history(), config, confirm_runs=confirm)
    reruns = 0

    def rerun() -> None:
        nonlocal reruns
        reruns += 1
        runner.perfslo_run(config, count, cand_commit)

    gate = confirm_by_rerunning(config, store, gate, confirm, rerun=rerun, announce=False)
    gate_time = time.perf_counter() - start
    final = gate.result(SLO)
    if final is not None and gate.verdict is not Verdict.FAILED:
        # Why the gate did not fail: what its last evaluation said.
        cmp = final.vs_baseline
        if final.busy:
            reason = "last run busy"
        elif cmp is not None and cmp.change <= TOLERANCE:
            reason = "last run within tolerance"
        elif final.regression_streak < confirm:
            reason = "streak too short"
        else:
            reason = "pooled change not a significant regression"
        outcome.reasons[kind].append(reason)

    # Alternative noise models on the very same first candidate run.
    first_table = store.table.filter(pl.col("ts_ms") <= first.run.ts_ms) if first.run else store.table
    raw_table, raw_baseline = strip_reference(first_table, read_baseline(config.baseline_path))
    raw_first = evaluate(history_of(raw_table, raw_baseline), config, confirm_runs=1)
    base_samples = list(raw_baseline.samples[SLO]) if raw_baseline else []
    cur_row = raw_table.filter(pl.col("slo") == SLO).tail(1).row(0, named=True)
    within = change_estimate(
        summarize(base_samples).median,
        float(cur_row["median"]),
        median_log_se(base_samples),
        median_log_se(cur_row["samples"]),
        None,
    )
    within_fail = within.significant and within.change > 2 * TOLERANCE + 1e-9

    verdicts: dict[str, tuple[bool, float | None, int]] = {
        "naive (seed): one median, fail > +10%": (naive_fail, naive_time, 1),
        "pytest-benchmark median:10%": (pb_fail, pb_time, 1),
        "within-run CI only (no run-to-run term)": (within_fail, None, 1),
        "raw medians + run-to-run noise, confirm 1": (raw_first.verdict is Verdict.FAILED, None, 1),
        "perfslo (reference-adjusted), confirm 1": (first.verdict is Verdict.FAILED, one_time, 1),
        f"perfslo gate, confirm {confirm} (with re-runs)": (
            gate.verdict is Verdict.FAILED,
            gate_time,
            1 + reruns,
        ),
    }
    for rule, (alarm, seconds, runs) in verdicts.items():
        outcome.alarms[f"{rule}|{kind}"].append(alarm)
        if seconds is not None:
            outcome.times[rule].append(seconds)
            outcome.times[f"{rule}|{kind}"].append(seconds)
        outcome.runs[f"{rule}|{kind}"].append(runs)
    shutil.rmtree(artifacts, ignore_errors=True)


# ---------------------------------------------------------------- report


def rate(values: list[bool]) -> str:
    """``k/n = p %`` with a 95 % Clopper–Pearson interval."""
    n, k = len(values), sum(values)
    if n == 0:
        return "—"
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.95)
    return f"{100 * k / n:.1f}% ({k}/{n}; {100 * ci.low:.0f}–{100 * ci.high:.0f})"


def render(outcome: Outcome, kinds: list[str], naive_rule: str) -> str:
    """The results as a Markdown table."""
    rules = list(dict.fromkeys(key.split("|")[0] for key in outcome.alarms))
    head = ["rule", "A/A false alarms", *[f"detected {k}" for k in kinds[1:]], "ms / verdict", "× naive"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    naive_ms = 1000 * statistics.mean(outcome.times[naive_rule])
    for rule in rules:
        cells = [rule] + [rate(outcome.alarms[f"{rule}|{k}"]) for k in kinds]
        times = outcome.times.get(rule)
        if times:
            ms = 1000 * statistics.mean(times)
            cells += [f"{ms:.0f}", f"{ms / naive_ms:.2f}"]
        else:
            cells += ["(same runs)", ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the trials and print the table."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/verdict_quality.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smoke mode: few trials, fewer samples")
    parser.add_argument("--aa", type=int, help="A/A trials (default 150, quick 8)")
    parser.add_argument("--per-step", type=int, help="trials per slowdown step (default 40, quick 3)")
    parser.add_argument(
        "--baseline-runs", type=int, default=3, help="runs of the baseline commit (default 3)"
    )
    parser.add_argument("--confirm", type=int, default=3, help="the gate's confirm_runs (default 3)")
    parser.add_argument("--iterations", type=int, help="samples per run (default 100, quick 30)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the raw outcome as JSON")
    args = parser.parse_args(argv)
    aa = args.aa if args.aa is not None else (8 if args.quick else 150)
    per_step = args.per_step if args.per_step is not None else (3 if args.quick else 40)
    iterations = args.iterations or (30 if args.quick else 100)

    # Size the work to ~0.5 ms a call, like the seed's SLOs (0.25-1.2 ms).
    base_count = 200
    probe = bench(lambda: transpile(base_count), iterations=20, reference=False).samples_ms
    base_count = max(20, min(len(_STATEMENTS) // 2, round(base_count * 0.5 / statistics.median(probe))))
    base_ms = statistics.median(
        bench(lambda: transpile(base_count), iterations=30, reference=False).samples_ms
    )
    budget_ms = base_ms * 10

    kinds = ["A/A"] + [f"+{round(s * 100)}%" for s in STEPS]
    plan = [("A/A", 0.0)] * aa + [(f"+{round(s * 100)}%", s) for s in STEPS for _ in range(per_step)]
    random.Random(args.seed).shuffle(plan)  # interleave kinds so machine drift hits all alike

    runner = Runner(base_count, iterations)
    work = Path(tempfile.mkdtemp(prefix="perfslo-verdicts-"))
    outcome = Outcome()
    history: list[dict[str, Any]] = []
    started = time.perf_counter()
    load_start = os.getloadavg()
    print(
        f"workload: transpile({base_count}) ≈ {base_ms:.3f} ms/call; {iterations} samples/run; "
        f"{aa} A/A + {per_step}×{len(STEPS)} slowdown trials; baseline commit run "
        f"{args.baseline_runs}×; confirm {args.confirm}",
        flush=True,
    )
    try:
        seed_dir = work / "history"
        seed_dir.mkdir()
        seed_config = make_config(work, seed_dir, budget_ms, args.confirm)
        for i in range(5):
            path = runner.perfslo_run(seed_config, base_count, f"{i:08x}" + "a" * 32)
            history.append(json.loads(path.read_bytes()))
        for index, (kind, step) in enumerate(plan):
            trial(
                runner, work, kind, step, history, args.baseline_runs, args.confirm, budget_ms, outcome, index
            )
            # Keep a rolling history of fresh main-branch runs of the base code.
            path = runner.perfslo_run(seed_config, base_count, f"{index:08x}" + "d" * 32)
            history = [*history[1:], json.loads(path.read_bytes())]
            if (index + 1) % 50 == 0:
                print(f"  {index + 1}/{len(plan)} trials, {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    load_end = os.getloadavg()
    naive_rule = "naive (seed): one median, fail > +10%"
    print()
    print(render(outcome, kinds, naive_rule))
    gate = f"perfslo gate, confirm {args.confirm} (with re-runs)"
    runs = {k: statistics.mean(outcome.runs[f"{gate}|{k}"]) for k in kinds if outcome.runs[f"{gate}|{k}"]}
    print()
    print("perfslo gate runs per verdict: " + ", ".join(f"{k} {v:.2f}" for k, v in runs.items()))
    for kind in kinds[1:]:
        reasons = outcome.reasons.get(kind)
        if reasons:
            counts = ", ".join(f"{reason} {reasons.count(reason)}" for reason in sorted(set(reasons)))
            print(f"perfslo gate passed {kind}: {counts}")
    start_load = "/".join(f"{v:.1f}" for v in load_start)
    end_load = "/".join(f"{v:.1f}" for v in load_end)
    print(
        f"total {elapsed:.0f} s; load average (1/5/15 min) {start_load} at start, "
        f"{end_load} at end, on {os.cpu_count()} CPUs"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "alarms": outcome.alarms,
                    "times": outcome.times,
                    "runs": outcome.runs,
                    "reasons": outcome.reasons,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

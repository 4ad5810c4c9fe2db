"""Verdict quality, per producer: how often each rule cries wolf, and how often it catches a real slowdown.

Three producers of run files, each timing real work on this machine:

* ``python``: a pure-Python tokenizer/emitter (~0.5 ms a call) through
  perfslo's own harness (:func:`perfslo_tui.collect.measure.bench`: warm-up until
  steady, calibrated inner loop, reference workload beside every sample);
* ``node``: a JavaScript tokenizer (~0.4 ms a call, real V8 JIT warm-up)
  through the shipped Node example (``examples/node/write-run.js``, used as a
  library), one ``node`` process per run;
* ``command``: a whole process (``python -S`` running a loop, ~60 ms) timed by
  ``perfslo run`` (10 timed runs after one warm-up run).

Each trial is one "commit" judged against a baseline. The baseline commit's
runs come from a rolling pool of fresh runs of the base code (the last three
are the baseline commit, the two before them older commits, the newest is the
baseline); each trial adds one fresh run to the pool. The candidate is the same
code (A/A) or code doing +10/+15/+25 % more work (for ``command``: sized so
that the whole process takes that much longer). It is measured, written, and
the rules asked, side by side on the same runs, trials in a shuffled order:

* ``naive (seed)``: one median against the baseline median, fail past +10 %
  (for ``python`` on plain ``bench(reference=False)`` runs, as the seed
  measured; for the others on the raw medians of the run files);
* ``perfslo, confirm 1``: perfslo's evaluation of the first candidate run;
* ``perfslo gate, confirm N``: the real gate, ``confirm_by_rerunning``
  re-running the producer until an unconfirmed problem confirms or clears (the
  existing confirmation by re-runs, not ``perfslo compare``).

A detection is a FAILED gate; a false alarm is a FAILED gate on unchanged
code. The last row counts what the gate reported, not only what it blocked: a
FAILED gate, or a slowdown confirmed in ``confirm`` runs whose pooled change is
significant but under the +10 % regression threshold (the seed's "+5 % to
+10 %: warning, investigate"); on unchanged code that is a false report. A
gate that ends UNJUDGED (exit 3: busy machine, no steady state) is
neither and is counted apart. Wall time per verdict counts everything after
the baseline exists (measuring the candidate, writing, loading, evaluating,
every re-run). ``--samples-study N`` adds the "30 vs 200 samples" check: the
same code, baseline runs with ``PERF_ITERATIONS=30`` and candidates with 200
(and the other way round): any FAILED gate or significant improvement or
regression against the baseline counts as a wrong verdict.

Usage::

    python benchmarks/verdict_quality.py                     # every producer, ~1 h on 2 busy cores
    python benchmarks/verdict_quality.py --producers node --aa 100 --per-step 30 --samples-study 20
    python benchmarks/verdict_quality.py --quick             # smoke run, ~2 min
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from perfslo_tui.actions.baseline import establish_baseline
from perfslo_tui.actions.confirm import confirm_by_rerunning
from perfslo_tui.collect.measure import PerfMeasurement, bench
from perfslo_tui.config import Config, SLOConfig
from perfslo_tui.runs.files import read_run, write_run
from perfslo_tui.runs.metadata import now_ms
from perfslo_tui.runs.store import RunStore
from perfslo_tui.text import utc_iso
from perfslo_tui.verdict.engine import evaluate
from perfslo_tui.verdict.model import Evaluation, Verdict
from perfslo_tui.verdict.rules import Severity, assess_regression

ROOT = Path(__file__).resolve().parents[1]
# The seed's two levels: +5..+10 % "warning (investigate)", past +10 % "violation".
REPORTED = "perfslo gate: FAILED or confirmed slowdown (warning)"
EXAMPLE = ROOT / "examples" / "node" / "write-run.js"
STEPS = (0.10, 0.15, 0.25)
TOLERANCE = 0.05
POOL = 5  # rolling runs of the base code copied into every trial
BASELINE_RUNS = 3  # of which the newest are the baseline commit

# ---------------------------------------------------------------- workloads

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


# The tokenizer of benchmarks/node_ab/tokenize.js: V8 runs it interpreted, then compiles it in tiers.
TOKENIZE_JS = ROOT / "benchmarks" / "node_ab" / "tokenize.js"
NODE_BENCH = """\
'use strict';
const { main } = require(process.env.PERFSLO_EXAMPLE);
const { source, tokenize } = require(__TOKENIZE_JS__);
const lines = Number(process.env.WORK_LINES || '20');
const src = source(lines);
process.exitCode = main({ 'node-tokenize': () => tokenize(src).map((t) => String(t.v)).join(' ') });
""".replace("__TOKENIZE_JS__", json.dumps(str(TOKENIZE_JS)))

COMMAND_WORK = """\
import os
n = int(os.environ.get("WORK_LOOPS", "100000"))
total = 0
for i in range(n):
    total += (i * 7) ^ (total & 0xFFFF)
"""


def shell_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERF", "GITHUB_", "CI_"))}
    env.update(extra)
    return env


class Clock:
    """Run times: strictly increasing epoch ms, never ahead of the wall clock by much."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last = max(now_ms(), self.last + 1)
        return self.last


class Producer:
    """Something that writes run files of one SLO, at a given amount of extra work."""

    name = ""
    slo = ""

    def prepare(self, work: Path, quick: bool) -> None:
        """Size the workload."""

    def run(self, artifacts: Path, step: float, commit: str, iterations: int | None) -> Path:
        """Measure once and write one run into ``artifacts``; return its path."""
        raise NotImplementedError

    def plain(self, step: float) -> list[float] | None:
        """Samples of one plain run as the seed took them, when that differs from :meth:`run`."""
        return None

    def describe(self) -> str:
        return self.name


class PythonProducer(Producer):
    name = "python"
    slo = "transpile-statements"

    def __init__(self, clock: Clock, iterations: int) -> None:
        self.clock = clock
        self.iterations = iterations
        self.count = 200
        self.ms = 0.0

    def prepare(self, work: Path, quick: bool) -> None:
        probe = bench(lambda: transpile(self.count), iterations=20, reference=False).samples_ms
        self.count = max(20, min(len(_STATEMENTS) // 2, round(self.count * 0.5 / statistics.median(probe))))
        self.ms = statistics.median(
            bench(lambda: transpile(self.count), iterations=30, reference=False).samples_ms
        )

    def size(self, step: float) -> int:
        return round(self.count * (1 + step))

    def run(self, artifacts: Path, step: float, commit: str, iterations: int | None) -> Path:
        config = make_config(artifacts.parent, artifacts, self.slo, 1000.0, 3)
        perf = PerfMeasurement(config, artifacts)
        count = self.size(step)
        perf.bench(self.slo, lambda: transpile(count), iterations=iterations or self.iterations)
        document = perf.document(git={"commit": commit, "branch": "main", "dirty": False})
        ts = self.clock.next()
        document["metadata"]["timestamp_unix"] = ts
        document["metadata"]["timestamp"] = utc_iso(ts)
        return write_run(artifacts, document)

    def plain(self, step: float) -> list[float]:
        count = self.size(step)
        return bench(lambda: transpile(count), iterations=self.iterations, reference=False).samples_ms

    def describe(self) -> str:
        return f"python: transpile({self.count}) ≈ {self.ms:.3f} ms/call, bench(), {self.iterations} samples"


class NodeProducer(Producer):
    name = "node"
    slo = "node-tokenize"

    def __init__(self, iterations: int) -> None:
        self.iterations = iterations
        self.lines = 20
        self.script = Path()
        self.node = shutil.which("node") or "node"
        self.ms = 0.0

    def prepare(self, work: Path, quick: bool) -> None:
        self.script = work / "node-bench.js"
        self.script.write_text(NODE_BENCH)
        probe = work / "node-probe"
        path = self._run(probe, self.lines, "0" * 40, 30)
        first = statistics.median(read_run(path).samples[self.slo])
        self.lines = max(2, round(self.lines * 0.4 / first))
        path = self._run(probe, self.lines, "0" * 40, 30)
        self.ms = statistics.median(read_run(path).samples[self.slo])
        shutil.rmtree(probe, ignore_errors=True)

    def _run(self, artifacts: Path, lines: int, commit: str, iterations: int) -> Path:
        env = shell_env(
            {
                "PERFSLO_EXAMPLE": str(EXAMPLE),
                "PERFSLO_ARTIFACTS": str(artifacts),
                "PERFSLO_COMMIT": commit,
                "PERFSLO_BRANCH": "main",
                "PERF_ITERATIONS": str(iterations),
                "WORK_LINES": str(lines),
            }
        )
        done = subprocess.run(
            [self.node, str(self.script)],
            env=env,
            cwd=artifacts.parent,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"node run failed: {done.stderr.strip()[-400:]}")
        written = [
            line.removeprefix("Run written: ") for line in done.stdout.splitlines() if "Run written" in line
        ]
        return Path(written[-1])

    def run(self, artifacts: Path, step: float, commit: str, iterations: int | None) -> Path:
        return self._run(artifacts, round(self.lines * (1 + step)), commit, iterations or self.iterations)

    def describe(self) -> str:
        return (
            f"node: tokenize({self.lines} lines) ≈ {self.ms:.3f} ms/call, examples/node/write-run.js, "
            f"{self.iterations} samples"
        )


class CommandProducer(Producer):
    name = "command"
    slo = "cli-loop"

    def __init__(self, runs: int) -> None:
        self.runs = runs
        self.loops = 100_000
        self.slope_ms = 0.0
        self.base_ms = 0.0
        self.work = Path()

    def _config(self, artifacts: Path) -> Path:
        command = f"{shlex.quote(sys.executable)} -S {shlex.quote(str(self.work / 'cmd_work.py'))}"
        path = artifacts.parent / f"perfslo-{artifacts.name}.toml"
        path.write_text(
            f'artifacts_dir = "{artifacts.name}"\n\n[slos.{self.slo}]\nbudget = 10000\n'
            f"command = {json.dumps(command)}\nruns = {self.runs}\nwarmup = 1\n"
        )
        return path

    def _run(self, artifacts: Path, loops: int, commit: str) -> Path:
        config = self._config(artifacts)
        env = shell_env(
            {
                "PERFSLO_ARTIFACTS": str(artifacts),
                "PERFSLO_COMMIT": commit,
                "PERFSLO_BRANCH": "main",
                "WORK_LOOPS": str(loops),
            }
        )
        done = subprocess.run(
            [sys.executable, "-m", "perfslo_tui", "run", "-q", "--config", str(config)],
            env=env,
            cwd=artifacts.parent,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"perfslo run failed: {done.stderr.strip()[-400:]}")
        written = [
            line.removeprefix("Run written: ") for line in done.stdout.splitlines() if "Run written" in line
        ]
        return Path(written[-1])

    def prepare(self, work: Path, quick: bool) -> None:
        self.work = work
        (work / "cmd_work.py").write_text(COMMAND_WORK)
        probe = work / "cmd-probe"
        # The fastest of several runs: the least disturbed by other work on the machine.
        times: dict[int, float] = {}
        for _attempt in range(5):
            for loops in (self.loops, 4 * self.loops):
                times[loops] = min(read_run(self._run(probe, loops, "0" * 40)).samples[self.slo])
            self.slope_ms = (times[4 * self.loops] - times[self.loops]) / (3 * self.loops)
            if self.slope_ms > 0:
                break
        else:
            raise RuntimeError("could not size the command workload: the machine is too noisy")
        # About 60 ms a process, most of it the loop.
        self.loops = max(
            10_000, round((60.0 - (times[self.loops] - self.slope_ms * self.loops)) / self.slope_ms)
        )
        self.base_ms = statistics.median(read_run(self._run(probe, self.loops, "0" * 40)).samples[self.slo])
        shutil.rmtree(probe, ignore_errors=True)

    def run(self, artifacts: Path, step: float, commit: str, iterations: int | None) -> Path:
        # The whole process takes `step` longer: the loop grows by step × its total time.
        loops = self.loops + round(step * self.base_ms / self.slope_ms) if step else self.loops
        return self._run(artifacts, loops, commit)

    def describe(self) -> str:
        return f"command: python -S loop ≈ {self.base_ms:.1f} ms/process, perfslo run, {self.runs} runs"


# ---------------------------------------------------------------- trials


def make_config(root: Path, artifacts: Path, slo: str, budget_ms: float, confirm: int) -> Config:
    """A config with the one SLO; the budget is generous: this is about regressions."""
    return Config(
        path=None,
        root=root,
        slos={slo: SLOConfig(slo, budget_ms=budget_ms, tolerance=TOLERANCE)},
        artifacts_dir=artifacts,
        confirm_runs=confirm,
        history_runs=20,
    )


@dataclass
class Outcome:
    """Per rule: alarms per trial kind; per producer: times, runs, reasons, unjudged, inconclusive."""

    alarms: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    runs: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    unjudged: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    inconclusive: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    reasons: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    samples_study: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def seed_pool(
    producer: Producer, work: Path, iterations: int | None, size: int = POOL
) -> list[dict[str, Any]]:
    folder = work / f"pool-{producer.name}-{iterations}"
    return [
        json.loads(producer.run(folder, 0.0, f"{i:08x}" + "a" * 32, iterations).read_bytes())
        for i in range(size)
    ]


def install_pool(artifacts: Path, pool: list[dict[str, Any]], base_commit: str) -> Path:
    """Copy the pool into a trial folder, dated just before now; the newest runs are the baseline commit."""
    artifacts.mkdir(parents=True)
    start = now_ms() - 10_000
    last = None
    for i, document in enumerate(pool):
        doc = json.loads(json.dumps(document))
        ts = start + i * 1000
        doc["metadata"]["timestamp_unix"] = ts
        doc["metadata"]["timestamp"] = utc_iso(ts)
        doc["metadata"]["commit"] = base_commit if i >= len(pool) - BASELINE_RUNS else f"{i:08x}" + "e" * 32
        last = write_run(artifacts, doc)
    assert last is not None
    return last


def raw_median(path: Path, slo: str) -> float:
    return float(np.median(read_run(path).samples[slo]))


def reported(gate: Evaluation, slo: str) -> bool:
    """The gate told of a slowdown: FAILED, or a confirmed slowdown under the threshold (a warning)."""
    result = gate.result(slo)
    return gate.verdict is Verdict.FAILED or (result is not None and result.confirmed_slowdown is not None)


def why_not_failed(gate: Evaluation, slo: str, confirm: int) -> str:
    final = gate.result(slo)
    if final is None:
        return "no result"
    if final.unjudged:
        return "not judged: " + final.unjudged.split(" (")[0]
    cmp = final.vs_baseline
    if cmp is not None and cmp.change <= TOLERANCE:
        return "last run within tolerance"
    if final.regression_streak < confirm:
        return "streak too short"
    return "pooled change not a significant regression"


def trial(
    producer: Producer,
    work: Path,
    kind: str,
    step: float,
    pool: list[dict[str, Any]],
    confirm: int,
    outcome: Outcome,
    index: int,
    candidate_iterations: int | None = None,
) -> Evaluation:
    """Run one trial and record every rule's verdict; return the gate's final evaluation."""
    artifacts = work / f"trial-{producer.name}-{index}"
    config = make_config(work, artifacts, producer.slo, 10_000.0, confirm)
    base_commit = f"{index:08x}" + "b" * 32
    baseline_run = install_pool(artifacts, pool, base_commit)
    establish_baseline(config, baseline_run)
    cand_commit = f"{index:08x}" + "c" * 32
    p = producer.name

    plain_base = producer.plain(0.0)
    plain_time = None
    plain_cur = None
    if plain_base is not None:
        start = time.perf_counter()
        plain_cur = producer.plain(step)
        plain_time = time.perf_counter() - start

    start = time.perf_counter()
    first_path = producer.run(artifacts, step, cand_commit, candidate_iterations)
    run_time = time.perf_counter() - start
    store = RunStore(artifacts, use_cache=False)
    store.refresh()
    first = evaluate(store.history(), config, confirm_runs=1)
    one_time = time.perf_counter() - start
    reruns = 0

    def rerun() -> None:
        nonlocal reruns
        reruns += 1
        producer.run(artifacts, step, cand_commit, candidate_iterations)

    gate = evaluate(store.history(), config, confirm_runs=confirm)
    gate = confirm_by_rerunning(config, store, gate, confirm, rerun=rerun, announce=False)
    gate_time = time.perf_counter() - start

    if plain_base is not None and plain_cur is not None:
        naive_check = assess_regression(float(np.median(plain_base)), float(np.median(plain_cur)), TOLERANCE)
        naive_time = plain_time or 0.0
    else:
        naive_check = assess_regression(
            raw_median(baseline_run, producer.slo), raw_median(first_path, producer.slo), TOLERANCE
        )
        naive_time = run_time
    verdicts: dict[str, tuple[bool, float, int]] = {
        "naive (seed): one median, fail > +10%": (naive_check.severity is Severity.REGRESSION, naive_time, 1),
        "perfslo, confirm 1": (first.verdict is Verdict.FAILED, one_time, 1),
        f"perfslo gate, confirm {confirm} (re-runs)": (gate.verdict is Verdict.FAILED, gate_time, 1 + reruns),
        REPORTED: (reported(gate, producer.slo), gate_time, 1 + reruns),
    }
    for rule, (alarm, seconds, runs) in verdicts.items():
        outcome.alarms[f"{p}|{rule}|{kind}"].append(alarm)
        outcome.times[f"{p}|{rule}|{kind}"].append(seconds)
        outcome.runs[f"{p}|{rule}|{kind}"].append(runs)
    outcome.unjudged[f"{p}|{kind}"].append(gate.verdict is Verdict.UNJUDGED)
    result = gate.result(producer.slo)
    outcome.inconclusive[f"{p}|{kind}"].append(bool(result is not None and result.inconclusive))
    if gate.verdict is not Verdict.FAILED and kind != "A/A":
        outcome.reasons[f"{p}|{kind}"].append(why_not_failed(gate, producer.slo, confirm))
    shutil.rmtree(artifacts, ignore_errors=True)
    return gate


def samples_study(
    producer: Producer, work: Path, trials: int, confirm: int, outcome: Outcome, offset: int
) -> None:
    """Unchanged code, baseline at one sample count, candidate at the other: no verdict may say it changed."""
    for base_n, cand_n in ((30, 200), (200, 30)):
        pool = seed_pool(producer, work, base_n)
        for i in range(trials):
            index = offset + i + (0 if base_n == 30 else trials)
            gate = trial(producer, work, f"{base_n}v{cand_n}", 0.0, pool, confirm, Outcome(), index, cand_n)
            result = gate.result(producer.slo)
            cmp = result.vs_baseline if result is not None else None
            if gate.verdict is Verdict.FAILED:
                said = "FAILED"
            elif cmp is not None and cmp.effective_severity in (Severity.IMPROVED, Severity.REGRESSION):
                said = cmp.effective_severity.value
            elif gate.verdict is Verdict.UNJUDGED:
                said = "not judged"
            else:
                said = "no change"
            outcome.samples_study[f"{producer.name}|{base_n} → {cand_n}"].append(said)
            path = producer.run(
                work / f"pool-{producer.name}-{base_n}", 0.0, f"{index:08x}" + "d" * 32, base_n
            )
            pool = [*pool[1:], json.loads(path.read_bytes())]


# ---------------------------------------------------------------- report


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(values: list[bool]) -> str:
    """``k/n (p %; low–high)`` with a 95 % Wilson interval."""
    n, k = len(values), sum(values)
    if n == 0:
        return "—"
    low, high = wilson(k, n)
    return f"{k}/{n} ({100 * k / n:.0f}%; {100 * low:.0f}–{100 * high:.0f}%)"


def render(outcome: Outcome, producer: str, kinds: list[str], confirm: int) -> str:
    """One producer's results as a Markdown table."""
    naive = "naive (seed): one median, fail > +10%"
    gate = f"perfslo gate, confirm {confirm} (re-runs)"
    rules = [naive, "perfslo, confirm 1", gate, REPORTED]
    head = [
        "rule",
        "A/A false alarms",
        *[f"detected {k}" for k in kinds[1:]],
        "A/A ms / verdict",
        "× naive (A/A)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    naive_ms = 1000 * statistics.mean(outcome.times[f"{producer}|{naive}|A/A"] or [math.nan])
    for rule in rules:
        cells = [rule] + [rate(outcome.alarms[f"{producer}|{rule}|{k}"]) for k in kinds]
        ms = 1000 * statistics.mean(outcome.times[f"{producer}|{rule}|A/A"] or [math.nan])
        cells += [f"{ms:.0f}", f"{ms / naive_ms:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    not_judged = [rate(outcome.unjudged[f"{producer}|{k}"]) for k in kinds]
    lines.append("| gate ended NOT JUDGED (exit 3) | " + " | ".join(not_judged) + " | | |")
    inconclusive = [rate(outcome.inconclusive[f"{producer}|{k}"]) for k in kinds]
    lines.append("| gate's SLO verdict inconclusive | " + " | ".join(inconclusive) + " | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the trials and print a table per producer."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/verdict_quality.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smoke mode: few trials, fewer samples")
    parser.add_argument("--producers", default="python,node,command", help="comma-separated (default: all)")
    parser.add_argument("--aa", type=int, help="A/A trials per producer (default 100, quick 2)")
    parser.add_argument("--per-step", type=int, help="trials per slowdown step (default 30, quick 1)")
    parser.add_argument("--samples-study", type=int, help="30-vs-200 trials each way (default 10, quick 1)")
    parser.add_argument("--confirm", type=int, default=3, help="the gate's confirm_runs (default 3)")
    parser.add_argument("--iterations", type=int, help="samples per run (default 100, quick 30)")
    parser.add_argument("--command-runs", type=int, help="processes timed per command run (10, quick 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the raw outcome as JSON")
    args = parser.parse_args(argv)
    aa = args.aa if args.aa is not None else (2 if args.quick else 100)
    per_step = args.per_step if args.per_step is not None else (1 if args.quick else 30)
    study = args.samples_study if args.samples_study is not None else (1 if args.quick else 10)
    iterations = args.iterations or (30 if args.quick else 100)
    names = [n.strip() for n in args.producers.split(",") if n.strip()]
    clock = Clock()
    makers: dict[str, Callable[[], Producer]] = {
        "python": lambda: PythonProducer(clock, iterations),
        "node": lambda: NodeProducer(iterations),
        "command": lambda: CommandProducer(args.command_runs or (5 if args.quick else 10)),
    }
    unknown = [n for n in names if n not in makers]
    if unknown:
        parser.error(f"unknown producer(s): {', '.join(unknown)} (known: {', '.join(makers)})")
    kinds = ["A/A"] + [f"+{round(s * 100)}%" for s in STEPS]
    outcome = Outcome()
    started = time.perf_counter()
    load_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="perfslo-verdicts-"))
    described: list[str] = []
    try:
        for name in names:
            producer = makers[name]()
            producer.prepare(work, args.quick)
            described.append(producer.describe())
            print(f"{producer.describe()}; {aa} A/A + {per_step}×{len(STEPS)} slowdown trials", flush=True)
            plan = [("A/A", 0.0)] * aa + [(f"+{round(s * 100)}%", s) for s in STEPS for _ in range(per_step)]
            random.Random(args.seed).shuffle(plan)  # interleave kinds so machine drift hits all alike
            pool = seed_pool(producer, work, None)
            for index, (kind, step) in enumerate(plan):
                trial(producer, work, kind, step, pool, args.confirm, outcome, index)
                path = producer.run(work / f"pool-{name}-None", 0.0, f"{index:08x}" + "d" * 32, None)
                pool = [*pool[1:], json.loads(path.read_bytes())]
                if (index + 1) % 25 == 0:
                    print(
                        f"  {name}: {index + 1}/{len(plan)} trials, {time.perf_counter() - started:.0f} s",
                        flush=True,
                    )
            if study and name in ("python", "node"):
                samples_study(producer, work, study, args.confirm, outcome, offset=len(plan))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    load_end = os.getloadavg()
    gate = f"perfslo gate, confirm {args.confirm} (re-runs)"
    for name in names:
        print()
        print(f"### {name}")
        print()
        print(render(outcome, name, kinds, args.confirm))
        runs = {k: statistics.mean(v) for k in kinds if (v := outcome.runs[f"{name}|{gate}|{k}"])}
        print()
        print("gate runs per verdict: " + ", ".join(f"{k} {v:.2f}" for k, v in runs.items()))
        for kind in kinds[1:]:
            reasons = outcome.reasons.get(f"{name}|{kind}")
            if reasons:
                counts = ", ".join(f"{r} {reasons.count(r)}" for r in sorted(set(reasons)))
                print(f"gate did not fail at {kind}: {counts}")
        for key, said in sorted(outcome.samples_study.items()):
            if key.startswith(f"{name}|"):
                wrong = [s in ("FAILED", "improved", "regression") for s in said]
                counts = ", ".join(f"{s} {said.count(s)}" for s in sorted(set(said)))
                print(f"samples {key.split('|')[1]}: wrong verdicts {rate(wrong)} ({counts})")
    start_load = "/".join(f"{v:.1f}" for v in load_start)
    end_load = "/".join(f"{v:.1f}" for v in load_end)
    print()
    print(
        f"total {elapsed:.0f} s; load average (1/5/15 min) {start_load} at start, "
        f"{end_load} at end, on {os.cpu_count()} CPUs"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "producers": described,
                    "alarms": outcome.alarms,
                    "times": outcome.times,
                    "runs": outcome.runs,
                    "unjudged": outcome.unjudged,
                    "inconclusive": outcome.inconclusive,
                    "reasons": outcome.reasons,
                    "samples_study": outcome.samples_study,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

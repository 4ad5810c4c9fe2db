"""Does ``perfslo compare`` tell a +15 % slower commit from an unchanged one, on a busy machine?

A real three-commit git repository is made in a temporary folder:

* commit 1 (BASE): a ~2 ms pure-Python workload (``work.py``), its bench
  script (``bench.py``: perfslo's own harness, ``PerfMeasurement.bench``,
  which times a reference workload beside every sample) and ``perfslo.toml``
  (``bench_command = "python bench.py"``, tolerance ±5 %);
* commit 2 (A/A): only the README changes: the same code;
* commit 3 (+15 %): ``work.py`` does 15 % more iterations.

With ``--node`` the workload is JavaScript measured by the shipped Node
example (``examples/node/write-run.js``, copied into the repository with its
``BENCHMARKS`` replaced by the workload, as a user does): a tokenizer with a
real JIT warm-up (``benchmarks/node_ab/work.js`` and the ``tokenize.js`` it
loads, both copied in), 15 % more input on commit 3.

Each trial runs :func:`perfslo_tui.actions.compare.compare` (worktrees, ABBA
order, sequential decision, budget 40 pairs) for commit 1 against commit 3
("regressed" expected) or commit 1 against commit 2 ("same" expected), while
a CPU hog (``python -c "while True: pass"``) spins on one core; the hog is
always killed. Rates are k/n with a 95 % Clopper-Pearson interval; wall time
is per verdict (worktrees, setup and every run included).

``--gate`` measures what ``perfslo check --confirm 3`` does with a suspected
regression, both ways, from the same state: a history of 3 runs and the
baseline at commit 1, one candidate run at commit 3 (+15 %) or commit 2
(A/A); the candidate is then confirmed by an interleaved compare
(:func:`perfslo_tui.actions.confirm.confirm`) and, from a copy of the same
artifacts folder, by consecutive re-runs (:func:`confirm_by_rerunning`), in
alternating order. It reports each way's verdicts and wall time.

``--simulate`` checks the sequential rule's error rates on synthetic pair
differences (normal, and with 10 % outlying pairs), which is how the
per-look confidence was chosen.

Usage::

    python benchmarks/ab_compare.py --quick       # ~1 min: one trial of each, small budget
    python benchmarks/ab_compare.py               # 10 + 10 trials, Python workload
    python benchmarks/ab_compare.py --node        # the same with the Node workload
    python benchmarks/ab_compare.py --gate        # check --confirm 3: compare vs re-runs
    python benchmarks/ab_compare.py --simulate    # the rule's error rates, no measuring
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: benchmarks.shared

from benchmarks.shared import cpu_hog, git  # noqa: E402
from perfslo_tui.actions.compare import CompareProgress, compare, describe  # noqa: E402
from perfslo_tui.config import load_config  # noqa: E402
from perfslo_tui.verdict.ab import DEFAULT_MAX_PAIRS, LOOK_CONFIDENCE, SequentialAB  # noqa: E402

NODE_EXAMPLE = ROOT / "examples" / "node" / "write-run.js"

WORK_PY = """\
N = {n}


def work() -> int:
    total = 0
    for i in range(N):
        total += (i * 7) ^ (total & 0xFFFF)
    return total
"""

BENCH_PY = """\
import os
from pathlib import Path

from perfslo_tui.actions.bench import artifacts_from_env
from perfslo_tui.collect.measure import PerfMeasurement
from perfslo_tui.config import load_config

from work import work

config = load_config(Path(os.environ["PERFSLO_CONFIG"]) if os.environ.get("PERFSLO_CONFIG") else None)
perf = PerfMeasurement(config, artifacts_dir=artifacts_from_env(config.artifacts_dir))
perf.bench("work", work)
perf.write()
"""

NODE_AB = Path(__file__).resolve().parent / "node_ab"
WORK_JS = (NODE_AB / "work.js").read_text()


def node_bench_script(example_path: Path = NODE_EXAMPLE) -> str:
    """The shipped Node example with its ``BENCHMARKS`` replaced by the workload."""
    example = example_path.read_text()
    replaced, count = re.subn(
        r"^const BENCHMARKS = \{.*?^\};$",
        "const BENCHMARKS = { work: require('./work.js').work };",
        example,
        flags=re.S | re.M,
    )
    if count != 1:
        raise SystemExit(f"{example_path}: no `const BENCHMARKS = {{...}};` block to replace")
    return replaced


def make_repo(folder: Path, node: bool, example: Path = NODE_EXAMPLE) -> tuple[Path, dict[str, str]]:
    """The three-commit repository; returns it and the commits by role."""
    repo = folder / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    if node:
        base_n, slow_n = 40, 46  # +15 % input
        (repo / "work.js").write_text(WORK_JS.replace("__REPEAT__", str(base_n)))
        shutil.copyfile(NODE_AB / "tokenize.js", repo / "tokenize.js")
        (repo / "bench.js").write_text(node_bench_script(example))
        command = "node bench.js --slo {slo}"
    else:
        base_n, slow_n = 40000, 46000  # +15 % iterations
        (repo / "work.py").write_text(WORK_PY.format(n=base_n))
        (repo / "bench.py").write_text(BENCH_PY)
        command = "python bench.py"
    (repo / "perfslo.toml").write_text(
        f'bench_command = "{command}"\n\n[slos.work]\nbudget = 50\ntolerance = 0.05\n'
    )
    (repo / ".gitignore").write_text("artifacts/\n__pycache__/\n")
    (repo / "README.md").write_text("workload\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    commits = {"base": git(repo, "rev-parse", "HEAD")}
    (repo / "README.md").write_text("workload, documented\n")
    git(repo, "commit", "-q", "-am", "docs only")
    commits["same"] = git(repo, "rev-parse", "HEAD")
    if node:
        (repo / "work.js").write_text(WORK_JS.replace("__REPEAT__", str(slow_n)))
    else:
        (repo / "work.py").write_text(WORK_PY.format(n=slow_n))
    git(repo, "commit", "-q", "-am", "+15% work")
    commits["slow"] = git(repo, "rev-parse", "HEAD")
    return repo, commits


def proportion(k: int, n: int) -> str:
    """``9/10 (90%; 95% CI 55%-100%)``: Clopper-Pearson."""
    from scipy import stats as sps

    if n == 0:
        return "0/0"
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return f"{k}/{n} ({k / n:.0%}; 95% CI {ci.low:.0%}-{ci.high:.0%})"


def run_trials(args: argparse.Namespace) -> dict[str, Any]:
    """``--trials`` compares of each kind, alternating, under the hog."""
    os.environ["PERF_ITERATIONS"] = str(args.samples)
    results: dict[str, Any] = {"trials": []}
    with tempfile.TemporaryDirectory(prefix="perfslo-ab-") as scratch:
        repo, commits = make_repo(Path(scratch), args.node, args.node_example)
        config = load_config(repo / "perfslo.toml")
        kinds = ["regressed", "same"] * args.trials
        with cpu_hog(not args.no_hog):
            for index, kind in enumerate(kinds):
                head = commits["slow"] if kind == "regressed" else commits["same"]

                def show(p: CompareProgress) -> None:
                    d = p.decisions.get("work")
                    if args.verbose and d is not None and p.status in ("measuring", "settled"):
                        print(f"    pair {p.pairs_done:2d}/{p.max_pairs} {describe(d)}", flush=True)

                began = time.monotonic()
                result = compare(config, commits["base"], head, max_pairs=args.pairs, progress=show)
                wall = time.monotonic() - began
                decision = result.decisions["work"]
                load = os.getloadavg()[0]
                print(
                    f"trial {index + 1:2d} expect {kind:9s} -> {decision.verdict.value:9s} "
                    f"{decision.interval} pairs {result.pairs:2d} (left out {decision.skipped})"
                    f" {wall:5.1f}s load {load:.1f}",
                    flush=True,
                )
                results["trials"].append(
                    {
                        "expect": kind,
                        "verdict": decision.verdict.value,
                        "change": decision.change,
                        "ci": [decision.ci_low, decision.ci_high],
                        "pairs": result.pairs,
                        "left_out": decision.skipped,
                        "wall": wall,
                        "load": load,
                    }
                )
    return results


def summarize_trials(results: dict[str, Any], label: str) -> None:
    print(f"\n{label}")
    for kind in ("regressed", "same"):
        trials = [t for t in results["trials"] if t["expect"] == kind]
        if not trials:
            continue
        hits = sum(t["verdict"] == kind for t in trials)
        verdicts = Counter(t["verdict"] for t in trials)
        walls = [t["wall"] for t in trials]
        pairs = [t["pairs"] for t in trials]
        print(
            f"  {'+15 %' if kind == 'regressed' else 'A/A  '}: says {kind:9s}"
            f" {proportion(hits, len(trials))};"
            f" verdicts {dict(verdicts)}; wall per verdict median {np.median(walls):.0f} s"
            f" (max {max(walls):.0f} s); pairs median {np.median(pairs):.0f}"
        )


def gate_trials(args: argparse.Namespace) -> dict[str, Any]:
    """``check --confirm 3`` on a suspected regression: by compare and by re-runs, same state."""
    from perfslo_tui.actions.baseline import establish_baseline
    from perfslo_tui.actions.bench import run_to_completion
    from perfslo_tui.actions.confirm import confirm, confirm_by_rerunning
    from perfslo_tui.runs.store import RunStore
    from perfslo_tui.verdict.engine import evaluate

    os.environ["PERF_ITERATIONS"] = str(args.samples)
    results: dict[str, Any] = {"gate": []}
    with tempfile.TemporaryDirectory(prefix="perfslo-gate-") as scratch:
        repo, commits = make_repo(Path(scratch), args.node, args.node_example)
        kinds = ["regressed", "same"] * args.trials
        with cpu_hog(not args.no_hog):
            for index, kind in enumerate(kinds):
                artifacts = Path(scratch) / f"artifacts-{index}"
                config = load_config(repo / "perfslo.toml").with_artifacts_dir(artifacts)
                git(repo, "checkout", "-q", commits["base"])
                for _ in range(3):
                    run_to_completion(config, extra_env={"PERFSLO_COMMIT": commits["base"]})
                establish_baseline(config)
                head = commits["slow"] if kind == "regressed" else commits["same"]
                git(repo, "checkout", "-q", head)
                began = time.monotonic()
                run_to_completion(config, extra_env={"PERFSLO_COMMIT": head})
                candidate_wall = time.monotonic() - began
                copy = Path(scratch) / f"artifacts-{index}-rerun"
                shutil.copytree(artifacts, copy)
                row: dict[str, Any] = {"expect": kind, "candidate_wall": candidate_wall}
                order = ("compare", "rerun") if index % 4 < 2 else ("rerun", "compare")
                for way in order:
                    folder = artifacts if way == "compare" else copy
                    way_config = config.with_artifacts_dir(folder)
                    store = RunStore(folder)
                    evaluation = evaluate(store.refresh(), way_config, confirm_runs=3)
                    suspected = any(r.needs_confirmation for r in evaluation.slos)
                    began = time.monotonic()
                    if way == "compare":
                        evaluation = confirm(
                            way_config, store, evaluation, 3, announce=args.verbose, max_pairs=args.pairs
                        )
                    else:
                        evaluation = confirm_by_rerunning(
                            way_config,
                            store,
                            evaluation,
                            3,
                            rerun=lambda c=way_config, h=head: run_to_completion(
                                c, extra_env={"PERFSLO_COMMIT": h}
                            ),
                            announce=args.verbose,
                        )
                    wall = time.monotonic() - began
                    result = evaluation.result("work")
                    ab = result.ab_confirmation if result is not None else None
                    row[way] = {
                        "verdict": evaluation.verdict.value,
                        "suspected": suspected,
                        "wall": wall,
                        "ab": None if ab is None else ab.decision.verdict.value,
                        "pairs": None if ab is None else ab.decision.pairs + ab.decision.skipped,
                    }
                git(repo, "checkout", "-q", "main")
                print(
                    f"trial {index + 1:2d} expect {kind:9s} suspected {row['compare']['suspected']!s:5s}"
                    f" compare -> {row['compare']['verdict']:7s} ({row['compare']['ab'] or '-'},"
                    f" {row['compare']['wall']:5.1f}s)  re-runs -> {row['rerun']['verdict']:7s}"
                    f" ({row['rerun']['wall']:5.1f}s)  load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
                results["gate"].append(row)
    return results


def summarize_gate(results: dict[str, Any], label: str) -> None:
    print(f"\n{label}")
    for kind, wanted in (("regressed", "FAILED"), ("same", "PASSED")):
        rows = [r for r in results["gate"] if r["expect"] == kind]
        if not rows:
            continue
        for way in ("compare", "rerun"):
            hits = sum(r[way]["verdict"] == wanted for r in rows)
            walls = [r[way]["wall"] for r in rows]
            verdicts = Counter(r[way]["verdict"] for r in rows)
            print(
                f"  {'+15 %' if kind == 'regressed' else 'A/A  '} {way:8s}:"
                f" {wanted} {proportion(hits, len(rows))};"
                f" verdicts {dict(verdicts)}; confirmation wall median {np.median(walls):.1f} s"
                f" (max {max(walls):.1f} s)"
            )
        suspected = sum(r["compare"]["suspected"] for r in rows)
        print(f"  {'':5s} candidate run needed confirmation in {suspected}/{len(rows)}")


def simulate(args: argparse.Namespace) -> None:
    """Error rates of the sequential rule on synthetic pair differences."""
    rng = np.random.default_rng(20261130)
    print(f"per-look confidence {LOOK_CONFIDENCE}; budget {args.pairs} pairs; {args.sim_trials} trials each")
    for sd in (0.03, 0.05):
        for contaminated in (False, True):
            for true in (0.0, 0.05, 0.15):
                verdicts: Counter[str] = Counter()
                pairs: list[int] = []
                for _ in range(args.sim_trials):
                    procedure = SequentialAB(tolerance=0.05, max_pairs=args.pairs)
                    decision = None
                    for _p in range(args.pairs):
                        d = rng.normal(math.log1p(true), sd)
                        if contaminated and rng.random() < 0.1:
                            d += rng.choice([-1, 1]) * rng.uniform(0.2, 0.5)
                        decision = procedure.add_difference(d)
                        if decision.settled:
                            break
                    assert decision is not None
                    verdicts[decision.verdict.value] += 1
                    pairs.append(decision.pairs)
                n = args.sim_trials
                rates = ", ".join(f"{k} {v / n:.1%}" for k, v in sorted(verdicts.items()))
                print(
                    f"  pair SD {sd:.0%}{' +10% outliers' if contaminated else ''}, true {true:+.0%}:"
                    f" {rates}; mean pairs {np.mean(pairs):.1f}"
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one trial of each, small budget (~1 min)")
    parser.add_argument("--trials", type=int, default=10, help="trials of each kind")
    parser.add_argument("--pairs", type=int, default=DEFAULT_MAX_PAIRS, help="pair budget per compare")
    parser.add_argument("--samples", type=int, default=60, help="PERF_ITERATIONS of each bench process")
    parser.add_argument("--node", action="store_true", help="the Node.js workload")
    parser.add_argument(
        "--node-example",
        type=Path,
        default=NODE_EXAMPLE,
        help="the Node producer to copy (default: examples/node/write-run.js)",
    )
    parser.add_argument("--gate", action="store_true", help="check --confirm 3: compare vs re-runs")
    parser.add_argument("--no-hog", action="store_true", help="no CPU hog")
    parser.add_argument("--simulate", action="store_true", help="the rule on synthetic differences only")
    parser.add_argument("--sim-trials", type=int, default=2000)
    parser.add_argument("--json", type=Path, help="write every trial as JSON here")
    parser.add_argument("--verbose", action="store_true", help="print every pair's estimate")
    args = parser.parse_args()
    if args.simulate:
        simulate(args)
        return 0
    if args.node and shutil.which("node") is None:
        print("ab_compare.py: node is not on PATH (the Node workload needs node >= 18)", file=sys.stderr)
        return 2
    if args.quick:
        args.trials, args.pairs, args.samples = 1, 12, 40
    started = time.monotonic()
    print(
        f"{'node' if args.node else 'python'} workload{', gate' if args.gate else ''},"
        f" {args.trials} trials of each kind, budget {args.pairs} pairs, {args.samples} samples a run,"
        f" {'no hog' if args.no_hog else 'CPU hog on one core'}, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if args.gate:
        results = gate_trials(args)
        summarize_gate(results, f"total {time.monotonic() - started:.0f} s, load {os.getloadavg()[0]:.1f}")
    else:
        results = run_trials(args)
        summarize_trials(results, f"total {time.monotonic() - started:.0f} s, load {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

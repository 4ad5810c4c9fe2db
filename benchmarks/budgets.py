"""Evidence-based budgets: are the loose and tight ones flagged, and do the suggested budgets hold?

A synthetic project is built in a temporary folder: small real workloads (a
sort, a JSON encoding, a regex scan; a list of tuples for peak memory; the
sort again for instruction counts when valgrind is installed), each
benchmarked by perfslo's harness (``PerfMeasurement.bench``) in a fresh
process per run, as a project's bench command would. Each workload is an SLO
three times, with a budget made deliberately **loose** (its calibrated median
uses 45 % of it), **tight** (97 % of the median: normal noise crosses it) and
**right** (time 80 % used, memory and instructions 87 %), from three
calibration runs that are then thrown away.

Then ``--evidence`` runs (20) and ``--aa`` further A/A runs (30) of the same
code. ``perfslo budgets`` (the real CLI, in a subprocess) sees only the
evidence runs: its flags are compared with the design and with the truth
measured on the A/A runs (tight: the original budget is DRIFT or VIOLATION in
more than 1 % of them; loose: their median uses under 70 % of it); then
``perfslo budgets --write`` rewrites the config, and every A/A run is
evaluated against the written budgets. Each rule of
:data:`perfslo_tui.verdict.budgets.RULES` is judged on the same runs: how
often the A/A runs go past its budget, and how much of its budget they use
(the closer to 100 %, the sooner a real slowdown shows).

``--folder DIR --config FILE`` judges runs that already exist instead (this
repository's own SLOs: ``python -m benchmarks.selfbench`` runs), the first
``--evidence`` new runs as evidence and the rest as A/A.

Usage::

    python benchmarks/budgets.py                 # 20 evidence + 30 A/A runs, ~3-6 min on 2 busy cores
    python benchmarks/budgets.py --quick         # 6 + 5 runs, fewer samples, no valgrind: a smoke run
    python benchmarks/budgets.py --folder /tmp/self --config pyproject.toml --evidence 20
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("loose", "tight", "right")
# The designed budget as a multiple of the calibrated median.
DESIGN = {
    "time": {"loose": 1 / 0.45, "tight": 0.97, "right": 1.25},
    "peak_memory": {"loose": 1 / 0.45, "tight": 0.97, "right": 1.15},
    "instructions": {"loose": 1 / 0.45, "tight": 0.97, "right": 1.15},
}
BENCH = """
import json, random, re, sys
import os
from pathlib import Path
from perfslo_tui.collect.measure import PerfMeasurement

rng = random.Random(7)
numbers = [rng.randrange(1_000_000) for _ in range(3000)]
record = {"items": [{"id": i, "name": f"item-{i}", "tags": ["a", "b"], "price": i * 0.5} for i in range(300)]}
text = " ".join(f"word{i} {i * 7} key=value{i % 13}" for i in range(2000))
pattern = re.compile(r"key=(value\\d+)")

def sort_work():
    return sorted(numbers)

def json_work():
    return json.dumps(record)

def regex_work():
    return pattern.findall(text)

def alloc_work():
    rows = [(i, str(i), bytes(32)) for i in range(20_000)]
    return len(rows)

work = {"sort": sort_work, "json": json_work, "regex": regex_work, "alloc": alloc_work, "count": sort_work}
perf = PerfMeasurement(artifacts_dir=Path(os.environ["PERFSLO_ARTIFACTS"]))
for name in perf.config.slos:
    perf.bench(name, work[name.split("-")[0]])
print(perf.write())
"""


def slo_plan(instructions: bool) -> list[tuple[str, str, str]]:
    """``(slo name, metric, kind)`` for every SLO of the synthetic project."""
    plan = [(f"{w}-{k}", "time", k) for w in ("sort", "json", "regex") for k in KINDS]
    plan += [(f"alloc-{k}", "peak_memory", k) for k in KINDS]
    if instructions:
        plan += [(f"count-{k}", "instructions", k) for k in KINDS]
    return plan


def config_text(plan: list[tuple[str, str, str]], budgets: dict[str, float]) -> str:
    """A perfslo.toml with a comment on every budget (``--write`` must keep them)."""
    lines = [
        "# The synthetic project of benchmarks/budgets.py",
        'artifacts_dir = "artifacts"',
        "confirm_runs = 3",
        "",
    ]
    for name, metric, kind in plan:
        lines.append(f"[slos.{name}]")
        if metric == "time":
            lines.append(f"budget = {budgets[name]:.6g}    # ms, deliberately {kind}")
        elif metric == "peak_memory":
            lines += [
                'metric = "peak_memory"',
                f"budget_mb = {budgets[name]:.6g}    # MB, deliberately {kind}",
            ]
        else:
            lines += [
                'metric = "instructions"',
                f"budget_instructions = {budgets[name]:.0f}  # deliberately {kind}",
            ]
        lines.append("")
    return "\n".join(lines)


def run_bench(project: Path, artifacts: Path, env: dict[str, str]) -> None:
    """One run of the project's benchmarks in a fresh process, written to ``artifacts``."""
    subprocess.run(
        [sys.executable, "bench.py"],
        cwd=project,
        env={**env, "PERFSLO_ARTIFACTS": str(artifacts)},
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )


def medians_of(folder: Path) -> dict[str, float]:
    """Each series' median over the run medians in a folder."""
    from perfslo_tui.runs.store import load_history

    history = load_history(folder, use_cache=False)
    return {name: float(statistics.median(rows["median"].to_list())) for name, rows in history.series.items()}


def perfslo(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "perfslo_tui.commands.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def judge(
    folder: Path,
    config_path: Path,
    evidence: int,
    design: dict[str, str] | None,
    work: Path,
    history_runs: int = 0,
) -> dict[str, Any]:
    """Split a folder's runs into evidence and A/A, ask ``perfslo budgets``, measure the A/A runs.

    Args:
        folder: All runs (evidence first, by time).
        config_path: The project's config (its budgets are the ones judged; it
            is rewritten by ``--write`` on a copy).
        evidence: How many of the oldest new runs are evidence (the rest are A/A).
        design: SLO name -> designed kind, if known.
        work: A scratch folder.
        history_runs: The oldest runs of the folder that came before (history
            on both sides, never A/A).
    """
    from perfslo_tui.config import load_config
    from perfslo_tui.runs.store import load_history
    from perfslo_tui.verdict.budgets import RULES, advise
    from perfslo_tui.verdict.engine import evaluate
    from perfslo_tui.verdict.rules import BudgetStatus

    project = work / "project"
    project.mkdir(parents=True)
    config_copy = project / config_path.name
    shutil.copy2(config_path, config_copy)
    original = load_config(config_copy)
    runs = sorted(folder.glob("perf-*.json"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    older, new = runs[:history_runs], runs[history_runs:]
    evidence_runs, aa_runs = [*older, *new[:evidence]], new[evidence:]
    evidence_dir = work / "evidence"
    evidence_dir.mkdir()
    for path in evidence_runs:
        shutil.copy2(path, evidence_dir / path.name)
    baseline = folder / ".perf-baseline.json"
    if baseline.is_file():
        shutil.copy2(baseline, evidence_dir / baseline.name)
    shown = perfslo(
        [
            "budgets",
            "--config",
            str(config_copy),
            "--artifacts",
            str(evidence_dir),
            "--runs",
            str(evidence),
            "--format",
            "json",
        ],
        project,
    )
    if shown.returncode != 0:
        raise SystemExit(f"perfslo budgets failed: {shown.stderr.strip()}")
    advice = {(b["slo"], b["metric"]): b for b in json.loads(shown.stdout)["budgets"]}
    written = perfslo(
        [
            "budgets",
            "--config",
            str(config_copy),
            "--artifacts",
            str(evidence_dir),
            "--runs",
            str(evidence),
            "--write",
        ],
        project,
    )
    if written.returncode != 0:
        raise SystemExit(f"perfslo budgets --write failed: {written.stderr.strip()}")
    applied = load_config(config_copy)

    all_dir = work / "all"
    all_dir.mkdir()
    for path in [*evidence_runs, *aa_runs]:
        shutil.copy2(path, all_dir / path.name)
    if baseline.is_file():
        shutil.copy2(baseline, all_dir / baseline.name)
    history = load_history(all_dir, use_cache=False)
    aa_ids = [p.name for p in aa_runs]
    drift_original: dict[tuple[str, str], int] = defaultdict(int)
    drift_applied: dict[tuple[str, str], int] = defaultdict(int)
    busy: dict[tuple[str, str], int] = defaultdict(int)
    drift_applied_clean: dict[tuple[str, str], int] = defaultdict(int)
    aa_values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for run_id in aa_ids:
        for config, counts in ((original, drift_original), (applied, drift_applied)):
            evaluation = evaluate(history, config, run_id=run_id)
            for result in evaluation.all_results:
                key = (result.name, result.metric)
                if result.stats is None or result.stale or result.budget is None:
                    continue
                bad = result.status in (BudgetStatus.DRIFT, BudgetStatus.VIOLATION)
                counts[key] += bad
                if config is applied:
                    aa_values[key].append(result.stats.median)
                    busy[key] += result.busy
                    drift_applied_clean[key] += bad and not result.busy

    # Every rule on the same evidence, judged on the same A/A values.
    evidence_history = load_history(evidence_dir, use_cache=False)
    evidence_eval = evaluate(evidence_history, original)
    rules: dict[str, dict[str, Any]] = {}
    for name in RULES:
        over = total = 0
        used: list[float] = []
        for item in advise(evidence_history, evidence_eval, original, runs=evidence, rule=name):
            values = aa_values.get((item.slo, item.metric), [])
            if item.suggested is None or not values:
                continue
            over += sum(1 for v in values if v > item.suggested * (1 + 1e-9))
            total += len(values)
            used.append(statistics.median(values) / item.suggested)
        rules[name] = {
            "text": RULES[name].text,
            "over": over,
            "judged": total,
            "median_used": statistics.median(used) if used else None,
        }

    rows = []
    for (slo, metric), item in advice.items():
        values = aa_values.get((slo, metric), [])
        budget = item["budget"]
        truth = "?"
        if values and budget:
            rate = drift_original[(slo, metric)] / len(values)
            truth = "tight" if rate > 0.01 else "loose" if statistics.median(values) < 0.7 * budget else "ok"
        rows.append(
            {
                "slo": slo,
                "metric": metric,
                "design": (design or {}).get(slo, "—"),
                "flag": item["flag"],
                "truth": truth,
                "budget": budget,
                "suggested": item["suggested"],
                "evidence_runs": item["evidence"]["runs"] if item["evidence"] else 0,
                "aa_runs": len(values),
                "aa_busy": busy[(slo, metric)],
                "aa_over_original": drift_original[(slo, metric)],
                "aa_over_applied": drift_applied[(slo, metric)],
                "aa_over_applied_clean": drift_applied_clean[(slo, metric)],
                "applied_budget": next(
                    (s.budget for s in applied.slos[slo].metric_budgets() if s.metric == metric), None
                ),
                "changed": item["action"] != "keep",
            }
        )
    return {
        "rows": rows,
        "rules": rules,
        "write_output": written.stdout,
        "evidence": evidence,
        "history": history_runs,
        "aa": len(aa_runs),
    }


def report(outcome: dict[str, Any]) -> None:
    """Print the tables."""
    rows = outcome["rows"]
    older = f" after {outcome['history']} earlier runs" if outcome["history"] else ""
    print(f"Evidence runs: {outcome['evidence']}{older}, A/A runs: {outcome['aa']}")
    print()
    print(
        "| SLO | metric | designed | flagged | truth (A/A) | budget | suggested | A/A over original | "
        "A/A over applied | of them busy |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        suggested = r["suggested"] if r["suggested"] is not None else "—"
        busy_over = r["aa_over_applied"] - r["aa_over_applied_clean"]
        print(
            f"| {r['slo']} | {r['metric']} | {r['design']} | {r['flag']} | {r['truth']} | "
            f"{r['budget']:.4g} | {suggested} | {r['aa_over_original']}/{r['aa_runs']} | "
            f"{r['aa_over_applied']}/{r['aa_runs']} | {busy_over} |"
        )
    judged = [r for r in rows if r["truth"] != "?"]
    agree = sum(1 for r in judged if _flag_kind(r["flag"]) == r["truth"])
    designed = [r for r in judged if r["design"] != "—"]
    agree_design = sum(1 for r in designed if _flag_kind(r["flag"]) == _design_kind(r["design"]))
    print()
    print(f"Flags agreeing with the A/A truth: {agree}/{len(judged)}")
    if designed:
        print(f"Flags agreeing with the design: {agree_design}/{len(designed)}")
    total = sum(r["aa_runs"] for r in rows)
    over = sum(r["aa_over_applied"] for r in rows)
    clean_over = sum(r["aa_over_applied_clean"] for r in rows)
    changed = [r for r in rows if r["changed"]]
    changed_total = sum(r["aa_runs"] for r in changed)
    changed_over = sum(r["aa_over_applied"] for r in changed)
    print(
        f"Applied budgets, A/A DRIFT or VIOLATION: {over}/{total} = {_pct(over, total)} of all judgements "
        f"({clean_over} on clean runs); on the rewritten budgets alone {changed_over}/{changed_total} = "
        f"{_pct(changed_over, changed_total)}"
    )
    print()
    print("| rule | A/A runs past its budget | median A/A use of its budget |")
    print("|---|---|---|")
    for name, r in outcome["rules"].items():
        used = f"{r['median_used'] * 100:.1f}%" if r["median_used"] is not None else "—"
        print(
            f"| `{name}`: {r['text']} | {r['over']}/{r['judged']} = {_pct(r['over'], r['judged'])} | {used} |"
        )


def _flag_kind(flag: str) -> str:
    return flag if flag in ("tight", "loose") else "ok"


def _design_kind(design: str) -> str:
    return "ok" if design == "right" else design


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def synthetic(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Build the synthetic project, calibrate, run, and judge."""
    instructions = not args.quick and shutil.which("valgrind") is not None and not args.no_instructions
    plan = slo_plan(instructions)
    project = work / "synthetic"
    project.mkdir()
    (project / "bench.py").write_text(BENCH)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["PERFSLO_COMMIT"] = "b" * 40
    env["PERFSLO_BRANCH"] = "main"
    if args.quick:
        env["PERF_ITERATIONS"] = "20"
    # Calibration with placeholder budgets: the runs are thrown away.
    (project / "perfslo.toml").write_text(config_text(plan, {name: 1e9 for name, _m, _k in plan}))
    calibration = work / "calibration"
    for _ in range(args.calibration):
        run_bench(project, calibration, env)
    medians = medians_of(calibration)
    from perfslo_tui.runs.files import metric_series

    budgets = {
        name: medians[metric_series(name, metric)] * DESIGN[metric][kind] for name, metric, kind in plan
    }
    (project / "perfslo.toml").write_text(config_text(plan, budgets))
    artifacts = work / "runs"
    for index in range(args.evidence + args.aa):
        run_bench(project, artifacts, env)
        print(f"run {index + 1}/{args.evidence + args.aa}", file=sys.stderr, flush=True)
    design = {name: kind for name, _m, kind in plan}
    return judge(artifacts, project / "perfslo.toml", args.evidence, design, work / "judge")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/budgets.py")
    parser.add_argument(
        "--quick", action="store_true", help="6 evidence + 5 A/A runs, 20 samples, no valgrind"
    )
    parser.add_argument("--evidence", type=int, help="evidence runs (default 20; 6 with --quick)")
    parser.add_argument("--aa", type=int, help="A/A runs after them (default 30; 5 with --quick)")
    parser.add_argument("--calibration", type=int, default=3, help="runs that set the designed budgets")
    parser.add_argument("--no-instructions", action="store_true", help="leave out the valgrind SLOs")
    parser.add_argument("--folder", type=Path, help="judge the runs in this folder instead")
    parser.add_argument("--config", type=Path, help="with --folder: the config whose budgets are judged")
    parser.add_argument(
        "--history", type=int, default=0, help="with --folder: the oldest runs, before the evidence"
    )
    parser.add_argument("--json", type=Path, help="also write the outcome as JSON")
    args = parser.parse_args()
    args.evidence = args.evidence or (6 if args.quick else 20)
    args.aa = args.aa if args.aa is not None else (5 if args.quick else 30)
    with tempfile.TemporaryDirectory(prefix="perfslo-budgets-") as tmp:
        work = Path(tmp)
        if args.folder is not None:
            if args.config is None:
                parser.error("--folder needs --config")
            outcome = judge(
                args.folder.resolve(), args.config.resolve(), args.evidence, None, work, args.history
            )
        else:
            outcome = synthetic(args, work)
    report(outcome)
    if args.json is not None:
        args.json.write_text(json.dumps(outcome, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

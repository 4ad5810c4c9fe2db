"""``perfslo trend``: write the trend file ``perf-trend.json``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "write the trend file (per-run medians over the trend window, drift, culprits)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``perfslo trend``."""
    from perfslo_tui.commands import add_machine_option

    add_machine_option(parser)
    parser.add_argument("--output", "-o", type=Path, help="write here instead of <artifacts>/perf-trend.json")


def run(args: argparse.Namespace) -> int:
    """Evaluate the latest run and write the trend file."""
    from perfslo_tui.commands import UsageError, load_context, load_history
    from perfslo_tui.report.trend_file import trend_path, update_trend
    from perfslo_tui.verdict.engine import evaluate

    config = load_context(args)
    history = load_history(config, args.machine)
    if history.shared is not None:
        config.artifacts_dir.mkdir(parents=True, exist_ok=True)  # where the trend file goes
    elif not config.artifacts_dir.is_dir():
        from perfslo_tui.actions.next_step import next_step

        step = next_step(config, None)
        raise UsageError(step.line() if step is not None else f"{config.artifacts_dir}: no such folder")
    for path, reason in sorted(history.errors.items()):
        print(f"perfslo: warning: skipped {_safe(str(path))}: {_safe(reason)}", file=sys.stderr)
    evaluation = evaluate(history, config)
    target, document = update_trend(evaluation, trend_path(config), args.output)
    points = sum(len(slo["points"]) for slo in document["slos"].values())
    kept = sum(len(points) for points in document["history"].values())
    print(
        f"Trend written: {target} ({len(document['slos'])} SLOs, {evaluation.run_count} runs, "
        f"{points} points in the last {evaluation.trend_days} days, {kept} pruned points kept)"
    )
    return 0


def _safe(text: str) -> str:
    """File names and reasons come from the artifacts folder: escape them (one line)."""
    from perfslo_tui.text import printable

    return printable(text, 300)

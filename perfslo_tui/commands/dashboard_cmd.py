"""``perfslo dashboard``: write the self-contained HTML dashboard."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HELP = "write the HTML dashboard (one self-contained file: status cards, trend charts, regressions)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``perfslo dashboard``."""
    from perfslo_tui.commands import add_machine_option

    add_machine_option(parser)
    parser.add_argument(
        "--output", "-o", type=Path, help="write here instead of <artifacts>/perf-dashboard.html"
    )


def run(args: argparse.Namespace) -> int:
    """Evaluate the latest run and write the dashboard."""
    from perfslo_tui.atomic import atomic_write_bytes
    from perfslo_tui.commands import UsageError, load_context, load_history
    from perfslo_tui.report.html import render_html
    from perfslo_tui.report.trend_file import read_history, trend_path
    from perfslo_tui.runs.files import ArtifactError
    from perfslo_tui.runs.pg import configured_url
    from perfslo_tui.verdict.engine import evaluate

    config = load_context(args)
    if configured_url(config.history_url, os.environ) is None and not config.artifacts_dir.is_dir():
        from perfslo_tui.actions.next_step import next_step

        step = next_step(config, None)
        raise UsageError(step.line() if step is not None else f"{config.artifacts_dir}: no such folder")
    history = load_history(config, args.machine)
    for path, reason in sorted(history.errors.items()):
        print(f"perfslo: warning: skipped {_safe(str(path))}: {_safe(reason)}", file=sys.stderr)
    evaluation = evaluate(history, config)
    try:
        pruned = len({p["run_id"] for points in read_history(trend_path(config)).values() for p in points})
    except ArtifactError as exc:
        # The dashboard only counts the pruned history; a bad trend file must not stop it.
        print(f"perfslo: warning: {exc}", file=sys.stderr)
        pruned = 0
    target = args.output if args.output is not None else config.artifacts_dir / "perf-dashboard.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, render_html(evaluation, history_runs=pruned).encode("utf-8"))
    print(f"Dashboard written: {target} ({len(evaluation.slos)} SLOs, verdict {evaluation.verdict.value})")
    return 0


def _safe(text: str) -> str:
    """File names and reasons come from the artifacts folder: escape them (one line)."""
    from perfslo_tui.text import printable

    return printable(text, 300)

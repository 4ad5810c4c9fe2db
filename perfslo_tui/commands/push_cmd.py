"""``perfslo push``: send the artifacts folder's runs (and baseline) to the shared history."""

from __future__ import annotations

import argparse
import sys

HELP = (
    "push the artifacts folder's runs and baseline to the shared history (history_url / "
    "PERFSLO_DATABASE_URL); idempotent: what is there already is skipped"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``perfslo push``."""
    parser.add_argument(
        "--no-baseline", action="store_true", help="push the runs only, not .perf-baseline.json"
    )


def run(args: argparse.Namespace) -> int:
    """Push what the shared history lacks; exit 2 when a file was rejected (the others still go)."""
    from perfslo_tui.commands import load_context, shared_history
    from perfslo_tui.runs.pg.sync import push_folder
    from perfslo_tui.text import printable

    config = load_context(args)
    with shared_history(config) as history:
        counts = push_folder(config.artifacts_dir, history, baseline=not args.no_baseline)
    print(
        f"Pushed {counts.pushed} run(s) to {history.where} ({counts.already} already there, "
        f"{len(counts.rejected)} rejected); baseline: {counts.baseline}"
    )
    for name, problem in counts.rejected:
        # Names and problems come from the folder: one escaped line each.
        print(f"perfslo: {printable(name, 200)}: not pushed: {printable(problem, 300)}", file=sys.stderr)
    return 2 if counts.rejected else 0

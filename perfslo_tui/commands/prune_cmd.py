"""``perfslo prune``: remove runs older than the trend window (history is kept)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfslo_tui.config import Config

HELP = (
    "remove run files older than the trend window; keeps the latest keep_runs runs, "
    "the baseline's run and what the evaluation reads, and folds the rest into the trend file"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``perfslo prune``."""
    parser.add_argument(
        "--dry-run", "-n", action="store_true", help="list what would be removed; change nothing"
    )


def run(args: argparse.Namespace) -> int:
    """Plan, print and (unless ``--dry-run``) apply the prune."""
    from perfslo_tui.actions.prune import apply_prune, plan_prune
    from perfslo_tui.commands import UsageError, load_context, load_history
    from perfslo_tui.runs.pg import configured_url
    from perfslo_tui.text import printable, utc_iso

    config = load_context(args)
    if configured_url(config.history_url, os.environ) is not None:
        return _prune_shared(config, args.dry_run)
    if not config.artifacts_dir.is_dir():
        raise UsageError(f"{config.artifacts_dir}: artifacts folder does not exist")
    history = load_history(config)
    plan = plan_prune(config, history)
    for path in plan.unreadable:
        print(
            f"perfslo: warning: not touching unreadable {printable(str(path), 300)}: "
            f"{printable(history.errors[path], 300)}",
            file=sys.stderr,
        )
    if plan.window_start_ms is None:
        print(f"No runs in {config.artifacts_dir}: nothing to prune.")
        return 0
    cutoff = utc_iso(plan.window_start_ms)[:16].replace("T", " ")
    verb = "Would remove" if args.dry_run else "Removing"
    if not plan.remove:
        print(f"Nothing to prune: no removable run before {cutoff} UTC ({config.trend_days} days).")
    else:
        print(f"{verb} {len(plan.remove)} run(s) older than {config.trend_days} days (before {cutoff} UTC):")
        for pruned in plan.remove:
            when = utc_iso(pruned.ts_ms)[:16].replace("T", " ")
            commit = printable(pruned.commit[:12], 12)
            print(f"  {printable(pruned.run_id, 100)}  {when} UTC  commit {commit}")
    if plan.kept:
        print(f"Keeping {len(plan.kept)} older run(s):")
        for run_id, reason in sorted(plan.kept.items()):
            print(f"  {printable(run_id, 100)}  ({printable(reason, 120)})")
    if args.dry_run or not plan.remove:
        return 0
    result = apply_prune(config, history, plan)
    count = len(result.removed)
    print(f"Folded {count} run(s) into {result.trend_file}; removed {count} file(s).")
    for path, reason in sorted(result.failed.items()):
        print(
            f"perfslo: {printable(str(path), 300)}: cannot remove: {printable(reason, 300)}", file=sys.stderr
        )
    return 2 if result.failed else 0


def _prune_shared(config: Config, dry_run: bool) -> int:
    """On the shared history: drop old runs' samples and files, keep every run's summaries."""
    from perfslo_tui.commands import shared_history

    with shared_history(config) as history:
        count = history.prune_samples(config.trend_days, config.keep_runs, dry_run=dry_run)
        where = history.where
    verb = "Would drop" if dry_run else "Dropped"
    print(
        f"{verb} the samples of {count} run(s) in {where} older than {config.trend_days} days "
        f"(each machine keeps its latest {config.keep_runs} runs and the baseline commits' runs whole; "
        "every run keeps its summaries for the trends)"
    )
    return 0

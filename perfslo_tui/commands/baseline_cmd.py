"""``perfslo baseline``: establish or show the baseline."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "establish the baseline from a run (--establish) or show it (--show)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``perfslo baseline``."""
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument(
        "--establish",
        "--establish-baseline",
        action="store_true",
        help="make a run the baseline (the latest, or --run FILE); the old one is kept",
    )
    action.add_argument("--show", action="store_true", help="print the current baseline")
    parser.add_argument("--run", type=Path, help="with --establish: the run to use")


def run(args: argparse.Namespace) -> int:
    """Establish or show the baseline."""
    from perfslo_tui.commands import load_context
    from perfslo_tui.runs.files import read_baseline

    config = load_context(args)
    if args.show:
        baseline = read_baseline(config.baseline_path)
        if baseline is None:
            print(
                f"No baseline at {config.baseline_path}; establish one with `perfslo baseline --establish`."
            )
            return 0
        print(_describe(baseline))
        return 0
    from perfslo_tui.actions.baseline import establish_baseline

    path, kept, source = establish_baseline(config, args.run)
    from perfslo_tui.text import printable

    # The run id is a file name and the commit comes from the file: both untrusted.
    commit = printable(source.commit[:12])
    print(f"Baseline established from {printable(source.run_id)} (commit {commit}): {path}")
    if kept is not None:
        print(f"Previous baseline kept as {kept}")
    return 0


def _describe(baseline: object) -> str:
    from perfslo_tui.runs.files import Baseline
    from perfslo_tui.text import format_ms, printable

    assert isinstance(baseline, Baseline)
    lines = [
        f"Baseline: {baseline.path}",
        f"Established: {printable(baseline.established, 40)}",
        f"Commit: {printable(baseline.commit, 64)}",
        f"From run: {printable(baseline.source_run or 'unknown', 80)}",
        "",
    ]
    width = max((len(printable(n, 40)) for n in baseline.medians), default=3)
    lines.append(f"{'SLO'.ljust(width)}  median     samples")
    for name, median in baseline.medians.items():
        count = len(baseline.samples.get(name, ()))
        lines.append(f"{printable(name, 40).ljust(width)}  {format_ms(median) + 'ms':<9}  {count}")
    return "\n".join(lines)

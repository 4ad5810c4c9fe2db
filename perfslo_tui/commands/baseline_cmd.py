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

    path, kept, source, carried = establish_baseline(config, args.run)
    from perfslo_tui.text import printable, short_commit

    # The run id is a file name and the commit comes from the file: both untrusted.
    commit = printable(source.commit[:12])
    print(f"Baseline established from {printable(source.run_id)} (commit {commit}): {path}")
    if carried:
        # Nothing is lost: SLOs this run did not measure keep their baseline.
        by_commit: dict[str, list[str]] = {}
        for name, origin in carried.items():
            by_commit.setdefault(origin, []).append(printable(name, 60))
        for origin, names in sorted(by_commit.items()):
            print(
                f"Not in this run, kept from the previous baseline (commit "
                f"{printable(short_commit(origin), 12)}): {', '.join(names)}"
            )
    if kept is not None:
        print(f"Previous baseline kept as {kept}")
    return 0


def _describe(baseline: object) -> str:
    from perfslo_tui.runs.files import Baseline, is_reference_name
    from perfslo_tui.text import format_ms, printable, short_commit

    assert isinstance(baseline, Baseline)
    lines = [
        f"Baseline: {baseline.path}",
        f"Established: {printable(baseline.established, 40)}",
        f"Commit: {printable(baseline.commit, 64)}",
        f"From run: {printable(baseline.source_run or 'unknown', 80)}",
        "",
    ]
    # ``<slo>@ref`` rows are the reference workload's timings, not SLOs.
    names = [n for n in baseline.medians if not is_reference_name(n)]
    width = max((len(printable(n, 40)) for n in names), default=3)
    lines.append(f"{'SLO'.ljust(width)}  median     samples  from")
    for name in names:
        median = baseline.medians[name]
        count = len(baseline.samples.get(name, ()))
        origin = ""
        if name in baseline.slo_commits:
            origin = f"kept from commit {printable(short_commit(baseline.commit_of(name)), 12)}"
        row = f"{printable(name, 40).ljust(width)}  {format_ms(median) + 'ms':<9}  {count:<7}  {origin}"
        lines.append(row.rstrip())
    return "\n".join(lines)

"""``perfslo baseline``: establish or show the baseline."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfslo_tui.config import Config

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
    parser.add_argument(
        "--machine",
        metavar="KEY",
        help="with a shared history: whose baseline (a machine key or `this`; default: the newest run's)",
    )


def run(args: argparse.Namespace) -> int:
    """Establish or show the baseline."""
    from perfslo_tui.commands import load_context
    from perfslo_tui.runs.files import read_baseline
    from perfslo_tui.runs.pg import configured_url

    config = load_context(args)
    if configured_url(config.history_url, os.environ) is not None:
        return _shared(args, config)
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
    from perfslo_tui.text import printable

    # The run id is a file name and the commit comes from the file: both untrusted.
    commit = printable(source.commit[:12])
    print(f"Baseline established from {printable(source.run_id)} (commit {commit}): {path}")
    _print_carried(carried)
    if kept is not None:
        print(f"Previous baseline kept as {kept}")
    return 0


def _print_carried(carried: dict[str, str]) -> None:
    """Say which SLOs the run did not measure and kept their previous baseline (nothing is lost)."""
    from perfslo_tui.text import printable, short_commit

    by_commit: dict[str, list[str]] = {}
    for name, origin in carried.items():
        by_commit.setdefault(origin, []).append(printable(name, 60))
    for origin, names in sorted(by_commit.items()):
        print(
            f"Not in this run, kept from the previous baseline (commit "
            f"{printable(short_commit(origin), 12)}): {', '.join(names)}"
        )


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


def _shared(args: argparse.Namespace, config: Config) -> int:
    """The baseline of one machine in the shared history: show it or establish it there."""
    from perfslo_tui.actions.baseline import establish_shared_baseline
    from perfslo_tui.commands import UsageError, shared_history
    from perfslo_tui.commands.gate_source import checked_run_path
    from perfslo_tui.runs.pg.writes import read_prepared
    from perfslo_tui.runs.selection import LATEST, describe_choice, resolve_machine
    from perfslo_tui.text import printable

    with shared_history(config) as history:
        if args.establish and args.run is not None:
            prepared = read_prepared(checked_run_path(config, args.run))
            history.migrate()
            history.push_run(prepared)  # a no-op when it is there already
            run_id = history.find_runs([prepared.digest])[prepared.digest].run_id
        else:
            history.check_schema()
            machines = history.machines()
            newest = history.newest_run()
            machine = resolve_machine(args.machine or LATEST, machines, newest.machine if newest else None)
            if args.show:
                baseline = history.baseline(machine)
                shown = describe_choice(machine or "all", machines)
                if baseline is None:
                    print(
                        f"No baseline for {printable(shown, 120)} in {history.where}; "
                        "establish one with `perfslo baseline --establish`."
                    )
                    return 0
                print(f"Shared history {history.where}, {printable(shown, 120)}")
                print(_describe(baseline))
                return 0
            latest = history.newest_run(machine)
            if latest is None:
                raise UsageError(f"{history.where}: no run to make the baseline from")
            run_id = latest.run_id
        source, carried = establish_shared_baseline(history, run_id)
        print(
            f"Baseline established in {history.where} for machine {printable(source.machine, 40)} from "
            f"{printable(source.run_id)} (commit {printable(source.commit[:12])})"
        )
        _print_carried(carried)
    return 0

"""``perfslo bench``: run the configured bench command here, as the monitor's ``r`` does."""

from __future__ import annotations

import argparse

HELP = "run the config's bench_command (as written; --slo NAME passes PERFSLO_SLO) and show its output"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``perfslo bench``."""
    parser.add_argument("--slo", metavar="NAME", help="re-run only this SLO (PERFSLO_SLO and {slo})")


def run(args: argparse.Namespace) -> int:
    """Run the bench command with its output on this terminal; exit with its exit code."""
    from perfslo_tui.actions.bench import run_in_terminal
    from perfslo_tui.actions.next_step import require_bench_command
    from perfslo_tui.commands import load_context

    config = load_context(args)
    require_bench_command(config)
    return run_in_terminal(config, args.slo)

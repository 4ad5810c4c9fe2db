"""``perfslo pull``: copy the shared history's runs into the artifacts folder."""

from __future__ import annotations

import argparse

HELP = (
    "pull the shared history's runs into the artifacts folder (only those it lacks; never "
    "rewrites or deletes a local file)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``perfslo pull``."""
    parser.add_argument(
        "--machine", metavar="KEY", help="only this machine's runs (a key, its first characters or `this`)"
    )


def run(args: argparse.Namespace) -> int:
    """Write the runs the folder lacks; one line of counts."""
    from perfslo_tui.commands import load_context, shared_history
    from perfslo_tui.runs.pg.sync import pull_to_folder
    from perfslo_tui.runs.selection import LATEST, resolve_machine

    config = load_context(args)
    with shared_history(config) as history:
        machine = None
        if args.machine:
            history.check_schema()
            newest = history.newest_run()
            choice = LATEST if args.machine == "latest" else args.machine
            machine = resolve_machine(choice, history.machines(), newest.machine if newest else None)
        counts = pull_to_folder(history, config.artifacts_dir, machine=machine)
    print(
        f"Pulled {counts.written} run(s) from {history.where} into {config.artifacts_dir} "
        f"({counts.already} already there); baseline: {counts.baseline}"
    )
    return 0

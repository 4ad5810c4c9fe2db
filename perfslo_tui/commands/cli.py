"""The ``perfslo`` command line: the CI gate and its friends.

Each subcommand lives in ``perfslo_tui/commands/<name>.py`` and exposes
``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``. Command modules
import only argparse at module level, so ``perfslo check`` pays for polars and
numpy but never for textual or plotext.

Exit codes: 0 passed or warning, 1 failed gate, 2 usage, config or data errors.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from perfslo_tui import __version__
from perfslo_tui.commands import UsageError

COMMANDS = (
    "init",
    "check",
    "compare",
    "bench",
    "baseline",
    "budgets",
    "bisect",
    "profile",
    "run",
    "trend",
    "dashboard",
    "prune",
    "import",
    "push",
    "pull",
)


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options every subcommand takes: ``--config`` and ``--artifacts``."""
    parser.add_argument("--config", type=Path, help="config file (default: found from the current folder)")
    parser.add_argument("--artifacts", type=Path, help="artifacts folder (default: from the config)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand that is installed."""
    parser = argparse.ArgumentParser(
        prog="perfslo", description="Performance SLO budgets, regression gate and reports."
    )
    parser.add_argument("--version", action="version", version=f"perfslo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"perfslo_tui.commands.{name.replace('-', '_')}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("perfslo_tui.commands"):
                continue
            raise
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        add_common(command)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    from perfslo_tui.actions.bench import BenchCommandError
    from perfslo_tui.config import ConfigError
    from perfslo_tui.runs.files import ArtifactError
    from perfslo_tui.runs.machine import MachineError
    from perfslo_tui.runs.pg import SharedHistoryError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except (  # one line each, exit 2
        ConfigError,
        ArtifactError,
        UsageError,
        BenchCommandError,
        SharedHistoryError,
        MachineError,
    ) as exc:
        print(f"perfslo: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("perfslo: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"perfslo: {_one_line(where + str(exc.strerror or exc))}", file=sys.stderr)
        return 2
    return code


def _one_line(message: str) -> str:
    """An error message made safe for the terminal: paths and names come from files."""
    from perfslo_tui.text import printable

    return printable(message, 1000)


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()

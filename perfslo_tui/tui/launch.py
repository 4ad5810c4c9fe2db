"""``perfslo-tui``'s entry point: something on screen at once, then the monitor.

Importing the monitor (Textual, polars, numpy) takes a few tenths of a second
on an idle machine and seconds on a busy one. This module imports nothing of
that before it has drawn a first line on the terminal's alternate screen
(where the monitor then draws), so the terminal never sits blank.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ENTER_ALT_SCREEN = "\x1b[?1049h\x1b[H\x1b[2J"
LEAVE_ALT_SCREEN = "\x1b[?1049l"


def build_parser() -> argparse.ArgumentParser:
    """The ``perfslo-tui`` command line."""
    parser = argparse.ArgumentParser(
        prog="perfslo-tui", description="Live terminal monitor of the project's performance SLOs."
    )
    parser.add_argument("--artifacts", type=Path, help="the artifacts folder (default: from the config)")
    parser.add_argument(
        "--config", type=Path, help="the config file (default: found from the current directory)"
    )
    parser.add_argument(
        "--machine",
        metavar="KEY",
        help="the machine to show first: a key (or its first characters), `this`, or `all` "
        "(default: the newest run's; M switches)",
    )
    return parser


def early_screen() -> bool:
    """Draw the first line before the heavy imports; True when it did (on a terminal)."""
    if not sys.stdout.isatty():
        return False
    line = f" \x1b[1mperfslo\x1b[0m  starting… \x1b[2m{os.getcwd()}\x1b[0m"
    sys.stdout.write(ENTER_ALT_SCREEN + line)
    sys.stdout.flush()
    return True


def main(argv: list[str] | None = None) -> int:
    """Run ``perfslo-tui``: arguments first, the first line, then the monitor."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    drawn = early_screen()
    error: str | None = None
    try:
        from perfslo_tui.tui.app import prepare

        app, error = prepare(args)
        code = 2 if app is None else (app.run() or 0)
    finally:
        if drawn:
            # The monitor has left the alternate screen (or never entered it):
            # leave it for sure, so an error below is printed where it stays.
            sys.stdout.write(LEAVE_ALT_SCREEN)
            sys.stdout.flush()
    if error is not None:
        print(f"perfslo-tui: {error}", file=sys.stderr)
    return code


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())

"""Subcommands of the ``perfslo`` CLI, one module each (``<name>_cmd.py``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfslo_tui.config import Config
    from perfslo_tui.runs.history import RunHistory
    from perfslo_tui.runs.pg.history import PgHistory
    from perfslo_tui.runs.selection import HistoryLoader


class UsageError(Exception):
    """A problem with how perfslo was called or with its inputs (exit 2)."""


def load_context(args: argparse.Namespace) -> Config:
    """The config from ``--config`` (or discovery), with ``--artifacts`` applied."""
    from perfslo_tui.config import load_config

    config = load_config(args.config)
    if getattr(args, "artifacts", None) is not None:
        config = config.with_artifacts_dir(Path(args.artifacts).resolve())
    return config


def pair_budget(max_pairs: int | None) -> int:
    """``--max-pairs`` of a command that measures in pairs (default: the A/B default).

    Raises:
        UsageError: Fewer pairs than a decision needs.
    """
    from perfslo_tui.verdict.ab import DEFAULT_MAX_PAIRS, MIN_PAIRS

    pairs = DEFAULT_MAX_PAIRS if max_pairs is None else max_pairs
    if pairs < MIN_PAIRS:
        raise UsageError(f"--max-pairs must be at least {MIN_PAIRS}, got {pairs}")
    return pairs


def require_bench_command(config: Config, command: str) -> None:
    """Stop a command that runs the project's bench command when none is configured.

    Raises:
        UsageError: No ``bench_command`` in the config.
    """
    if not config.bench_command:
        raise UsageError(f"{config.path or 'the config'}: no bench_command configured ({command} runs it)")


def interrupted_in_worktrees(command: str, started: float) -> UsageError:
    """The one line of a command measuring in worktrees stopped by Ctrl-C after ``started`` (monotonic)."""
    import time

    return UsageError(
        f"{command} interrupted (Ctrl-C) after {time.monotonic() - started:.0f}s:"
        " worktrees removed, nothing written, your checkout untouched"
    )


DAY_MS = 86_400_000
MACHINE_HELP = (
    "the machine whose runs to read: a machine key (or its first characters), a label "
    "(PERFSLO_MACHINE), `this` for this host, or `all` to mix machines "
    "(default: the machine of the run evaluated)"
)


def add_machine_option(parser: argparse.ArgumentParser) -> None:
    """``--machine``: runs of different machines are compared only when asked."""
    parser.add_argument("--machine", metavar="KEY", help=MACHINE_HELP)


def gate_samples(config: Config, confirm_runs: int | None = None) -> int:
    """How many latest runs the shared history sends samples for, for one evaluation.

    The engine reads the samples of each series' last ``history_runs +
    confirm`` runs (at least the step window's 60) and of the baseline
    commit's runs; three times that covers runs that measured only some SLOs.
    """
    from perfslo_tui.verdict.trends import STEP_WINDOW

    confirm = confirm_runs if confirm_runs is not None else config.confirm_runs
    return max(200, 3 * max(config.history_runs + confirm + 1, STEP_WINDOW))


def open_loader(
    config: Config, choice: str | None = None, *, recent_samples: int | None = None
) -> HistoryLoader:
    """The project's history loader: the shared history when configured, else the artifacts folder.

    Args:
        config: The project's config.
        choice: The machine to read (``--machine``; default the newest run's).
        recent_samples: The shared history sends samples for this many latest
            runs (default: what one evaluation reads).

    Raises:
        SharedHistoryError: A shared history is configured but cannot be used.
    """
    from perfslo_tui.runs.selection import LATEST
    from perfslo_tui.runs.selection import open_loader as open_history_loader

    return open_history_loader(
        config.artifacts_dir,
        config.history_url,
        os.environ,
        choice=choice or LATEST,
        window_ms=config.trend_days * DAY_MS,
        recent_samples=recent_samples if recent_samples is not None else gate_samples(config),
    )


def load_history(config: Config, choice: str | None = None) -> RunHistory:
    """Load the project's history once (one machine's runs: see :func:`open_loader`).

    Raises:
        SharedHistoryError: When the shared history cannot be read.
        MachineError: When ``choice`` names no machine of the history.
    """
    loader = open_loader(config, choice)
    try:
        history = loader.refresh()
    finally:
        loader.close()
    note_machines(history)
    return history


def note_machines(history: RunHistory) -> None:
    """Say on stderr which machine is shown when the history holds several (one line)."""
    from perfslo_tui.runs.selection import describe_choice
    from perfslo_tui.text import printable

    if len(history.machines) < 2:
        return
    shown = describe_choice(history.machine if history.machine is not None else "all", history.machines)
    others = len(history.machines) - (1 if history.machine is not None else 0)
    if history.machine is None:
        print(f"perfslo: note: mixing {others} machines (--machine all)", file=sys.stderr)
        return
    print(
        f"perfslo: note: {printable(shown, 120)}; {others} other machine{'s' if others != 1 else ''} "
        "left out (--machine KEY shows another, --machine all mixes them)",
        file=sys.stderr,
    )


def shared_history(config: Config) -> PgHistory:
    """The configured shared history (for push and pull).

    Raises:
        UsageError: When none is configured.
        SharedHistoryError: When it cannot be used (no driver, a bad URL).
    """
    from perfslo_tui.runs.pg import ENV_URL, open_history

    history = open_history(config.history_url, os.environ)
    if history is None:
        where = config.path or "the config"
        raise UsageError(f"no shared history configured: set history_url in {where} or {ENV_URL}")
    return history

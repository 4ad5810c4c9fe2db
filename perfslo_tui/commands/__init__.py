"""Subcommands of the ``perfslo`` CLI, one module each (``<name>_cmd.py``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfslo_tui.config import Config
    from perfslo_tui.runs.history import RunHistory


class UsageError(Exception):
    """A problem with how perfslo was called or with its inputs (exit 2)."""


def load_context(args: argparse.Namespace) -> Config:
    """The config from ``--config`` (or discovery), with ``--artifacts`` applied."""
    from perfslo_tui.config import load_config

    config = load_config(args.config)
    if getattr(args, "artifacts", None) is not None:
        config = config.with_artifacts_dir(Path(args.artifacts).resolve())
    return config


def load_history(config: Config) -> RunHistory:
    """Load the artifacts folder: the runs, the baseline and the files that could not be used."""
    from perfslo_tui.runs.store import load_history as load

    return load(config.artifacts_dir)

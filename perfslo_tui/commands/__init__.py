"""Subcommands of the ``perfslo`` CLI, one module each (``<name>_cmd.py``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfslo_tui.config import Config
    from perfslo_tui.runs.store import RunStore


class UsageError(Exception):
    """A problem with how perfslo was called or with its inputs (exit 2)."""


def load_context(args: argparse.Namespace) -> Config:
    """The config from ``--config`` (or discovery), with ``--artifacts`` applied."""
    from perfslo_tui.config import load_config

    config = load_config(args.config)
    if getattr(args, "artifacts", None) is not None:
        config = config.with_artifacts_dir(Path(args.artifacts).resolve())
    return config


def load_store(config: Config) -> RunStore:
    """Load the artifacts folder into a store."""
    from perfslo_tui.runs.store import load_table

    return load_table(config.artifacts_dir)

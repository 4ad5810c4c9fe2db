"""Establishing a baseline: the core operation behind the CLI and the TUI's ``b``."""

from __future__ import annotations

from pathlib import Path

from perfslo_tui.config import Config
from perfslo_tui.runs.files import (
    ArtifactError,
    RunFile,
    baseline_document_from_run,
    read_run,
    write_baseline,
)
from perfslo_tui.runs.history import RunHistory
from perfslo_tui.runs.store import load_history


def establish_baseline(
    config: Config, run_path: Path | None = None, history: RunHistory | None = None
) -> tuple[Path, Path | None, RunFile]:
    """Make a run (default: the latest) the baseline, keeping the old one.

    Args:
        config: The config (for the artifacts folder).
        run_path: The run to use; default the latest in the folder.
        history: The already loaded folder, to find the latest run without
            reading the folder again.

    Returns:
        ``(baseline path, where the previous baseline was kept or None, the run)``.

    Raises:
        ArtifactError: When the run cannot be read or there is none.
    """
    if run_path is None:
        latest = (history if history is not None else load_history(config.artifacts_dir)).latest
        if latest is None:
            raise ArtifactError(config.artifacts_dir, "no usable run to make the baseline from")
        run_path = config.artifacts_dir / latest.run_id
    run = read_run(run_path)
    document = baseline_document_from_run(run)
    path, kept = write_baseline(config.artifacts_dir, document)
    return path, kept, run

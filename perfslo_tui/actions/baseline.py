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
from perfslo_tui.runs.store import RunStore, load_table


def latest_run_id(store: RunStore) -> str | None:
    """The newest run in the store by its recorded timestamp, or None."""
    if store.table.height == 0:
        return None
    return str(store.table.row(store.table.height - 1, named=True)["run_id"])


def establish_baseline(
    config: Config, run_path: Path | None = None, store: RunStore | None = None
) -> tuple[Path, Path | None, RunFile]:
    """Make a run (default: the latest) the baseline, keeping the old one.

    Args:
        config: The config (for the artifacts folder).
        run_path: The run to use; default the latest in the folder.
        store: An already loaded store, to find the latest run without
            reading the folder again.

    Returns:
        ``(baseline path, where the previous baseline was kept or None, the run)``.

    Raises:
        ArtifactError: When the run cannot be read or there is none.
    """
    if run_path is None:
        run_id = latest_run_id(store if store is not None else load_table(config.artifacts_dir))
        if run_id is None:
            raise ArtifactError(config.artifacts_dir, "no usable run to make the baseline from")
        run_path = config.artifacts_dir / run_id
    run = read_run(run_path)
    document = baseline_document_from_run(run)
    path, kept = write_baseline(config.artifacts_dir, document)
    return path, kept, run

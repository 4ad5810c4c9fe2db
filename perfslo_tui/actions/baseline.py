"""Establishing a baseline: the core operation behind the CLI and the TUI's ``b``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from perfslo_tui.config import Config
from perfslo_tui.runs.files import (
    ArtifactError,
    RunFile,
    baseline_document_from_run,
    parse_run,
    read_run,
    write_baseline,
)
from perfslo_tui.runs.history import RunHistory
from perfslo_tui.runs.store import load_history

if TYPE_CHECKING:
    from perfslo_tui.runs.pg.history import PgHistory


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


def establish_shared_baseline(history: PgHistory, run_id: str) -> RunFile:
    """Make a run of the shared history the baseline of its machine there.

    Args:
        history: The shared history (a role that may write).
        run_id: The stored run's name.

    Returns:
        The run the baseline came from.

    Raises:
        ArtifactError: When the run is not stored or its samples were pruned.
        SharedHistoryError: When the history cannot be read or written.
    """
    import orjson

    found = history.run_document(run_id)
    if found is None:
        raise ArtifactError(Path(run_id), f"not in the shared history {history.where}")
    _stored, data = found
    if data is None:
        raise ArtifactError(
            Path(run_id), "its samples were pruned from the shared history: make a newer run the baseline"
        )
    run = parse_run(Path(run_id), orjson.loads(data))
    history.push_baseline(baseline_document_from_run(run))
    return run

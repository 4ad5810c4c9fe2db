"""Establishing a baseline: the core operation behind the CLI and the TUI's ``b``.

Nothing is lost: a run that lacks some SLOs (a one-SLO re-run) becomes the
baseline of the SLOs it measured, and every other SLO keeps its baseline from
the previous one, marked with the commit and run it came from.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from perfslo_tui.config import Config
from perfslo_tui.runs.files import (
    ArtifactError,
    Baseline,
    RunFile,
    baseline_document_from_run,
    is_reference_name,
    keep_missing_from,
    keep_missing_slos,
    parse_run,
    read_run,
    write_baseline,
)
from perfslo_tui.runs.history import RunHistory
from perfslo_tui.runs.store import load_history

if TYPE_CHECKING:
    from perfslo_tui.runs.pg.history import PgHistory


@dataclass(frozen=True, slots=True)
class BaselinePlan:
    """Where each SLO's baseline comes from if a run becomes the baseline.

    Attributes:
        from_run: SLOs the run measured: their baseline becomes this run.
        kept: SLOs the run did not measure, with the commit their current
            baseline comes from (they keep it).
    """

    from_run: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)


def plan_baseline(measured: Collection[str], current: Baseline | None) -> BaselinePlan:
    """Which SLOs a run would set and which keep their current baseline.

    Args:
        measured: The series the run holds (``@ref`` companions are ignored).
        current: The baseline in place, if any.
    """
    names = sorted(n for n in measured if not is_reference_name(n))
    kept: dict[str, str] = {}
    if current is not None:
        for name in current.medians:
            if name not in measured and not is_reference_name(name):
                kept[name] = current.commit_of(name)
    return BaselinePlan(names, dict(sorted(kept.items())))


def establish_baseline(
    config: Config, run_path: Path | None = None, history: RunHistory | None = None
) -> tuple[Path, Path | None, RunFile, dict[str, str]]:
    """Make a run (default: the latest) the baseline, keeping the old one.

    SLOs the run did not measure keep their entry from the previous baseline.

    Args:
        config: The config (for the artifacts folder).
        run_path: The run to use; default the latest in the folder.
        history: The already loaded folder, to find the latest run without
            reading the folder again.

    Returns:
        ``(baseline path, where the previous baseline was kept or None, the
        run, {SLO kept from the previous baseline: its commit})``.

    Raises:
        ArtifactError: When the run cannot be read or there is none.
    """
    if run_path is None:
        latest = (history if history is not None else load_history(config.artifacts_dir)).latest
        if latest is None:
            raise ArtifactError(
                config.artifacts_dir, "no usable run to make the baseline from: run `perfslo bench` first"
            )
        run_path = config.artifacts_dir / latest.run_id
    run = read_run(run_path)
    document = baseline_document_from_run(run)
    kept = keep_missing_slos(document, config.baseline_path)
    path, kept_file = write_baseline(config.artifacts_dir, document)
    return path, kept_file, run, {n: c for n, c in kept.items() if not is_reference_name(n)}


def establish_shared_baseline(history: PgHistory, run_id: str) -> tuple[RunFile, dict[str, str]]:
    """Make a run of the shared history the baseline of its machine there.

    SLOs the run did not measure keep their entry from the machine's current
    baseline in the shared history, as in the folder.

    Args:
        history: The shared history (a role that may write).
        run_id: The stored run's name.

    Returns:
        The run the baseline came from, and per SLO kept from the previous
        baseline, the commit that baseline comes from.

    Raises:
        ArtifactError: When the run is not stored or its samples were pruned.
        SharedHistoryError: When the history cannot be read or written.
    """
    import orjson

    found = history.run_document(run_id)
    if found is None:
        raise ArtifactError(Path(run_id), f"not in the shared history {history.where}")
    stored, data = found
    if data is None:
        raise ArtifactError(
            Path(run_id), "its samples were pruned from the shared history: make a newer run the baseline"
        )
    run = parse_run(Path(run_id), orjson.loads(data))
    document = baseline_document_from_run(run)
    kept: dict[str, str] = {}
    current = history.baseline_document(stored.machine)
    if current is not None:
        try:
            previous = orjson.loads(current[1])
        except orjson.JSONDecodeError:
            previous = None
        kept = keep_missing_from(document, previous)
    history.push_baseline(document)
    return run, {n: c for n, c in kept.items() if not is_reference_name(n)}

"""Moving runs between an artifacts folder and the shared history: ``perfslo push`` / ``perfslo pull``.

Both directions are idempotent and resumable: runs are matched by content
digest, never by name or time, so running either again after an
interruption moves only what is still missing and never makes a duplicate.
A push never changes the local folder; a pull only adds files (each written
atomically: a reader never sees half a file), never rewrites or deletes one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import orjson

from perfslo_tui.atomic import atomic_write_bytes
from perfslo_tui.runs.files import BASELINE_NAME, is_run_file_name
from perfslo_tui.runs.pg import SharedHistoryError
from perfslo_tui.runs.pg.history import PgHistory
from perfslo_tui.runs.pg.writes import PreparedRun, read_prepared, run_digest

BATCH = 200
_T = TypeVar("_T")


@dataclass(slots=True)
class PushCounts:
    """What a push did.

    Attributes:
        pushed: Runs inserted.
        already: Runs the history held already (same content).
        rejected: ``(file name, problem)`` of files that are not valid runs.
        baseline: ``pushed``, ``already`` or ``none`` (no baseline file).
    """

    pushed: int = 0
    already: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    baseline: str = "none"


@dataclass(slots=True)
class PullCounts:
    """What a pull did.

    Attributes:
        written: Run files written.
        already: Runs the folder held already (same content, any name).
        baseline: ``written``, ``kept`` (a local one exists) or ``none``.
    """

    written: int = 0
    already: int = 0
    baseline: str = "none"


def batched(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """Lists of up to ``size`` items."""
    batch: list[_T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_files(folder: Path) -> list[Path]:
    """The folder's run files by name (none when it does not exist)."""
    try:
        return sorted(p for p in folder.iterdir() if is_run_file_name(p.name) and p.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []


def push_files(paths: Iterable[Path], history: PgHistory, counts: PushCounts | None = None) -> PushCounts:
    """Push run files the history lacks; files that fail the schema go to ``rejected``.

    Raises:
        SharedHistoryError: When the history cannot be reached or written.
    """
    counts = counts if counts is not None else PushCounts()
    for paths_batch in batched(paths, BATCH):
        prepared: list[PreparedRun] = []
        for path in paths_batch:
            try:
                prepared.append(read_prepared(path))
            except SharedHistoryError as exc:
                counts.rejected.append((path.name, str(exc).removeprefix(f"{path.name}: ")))
        # One query says which are there already: resuming a push of 10,000
        # runs costs 50 look-ups, not 10,000 inserts.
        present = history.find_runs([run.digest for run in prepared])
        missing = [run for run in prepared if run.digest not in present]
        counts.already += len(prepared) - len(missing)
        for inserted in history.push_runs(missing):
            if inserted:
                counts.pushed += 1
            else:
                counts.already += 1  # another writer got there first
    return counts


def push_folder(folder: Path, history: PgHistory, *, baseline: bool = True) -> PushCounts:
    """Push every run file of ``folder`` (and its baseline) that the history lacks.

    Creates or upgrades the schema first.

    Raises:
        SharedHistoryError: When the history cannot be reached or written.
    """
    history.migrate()
    counts = push_files(run_files(folder), history)
    base = folder / BASELINE_NAME
    if baseline and base.is_file():
        try:
            data = base.read_bytes()
        except OSError as exc:
            counts.rejected.append((BASELINE_NAME, f"cannot read: {exc.strerror or exc}"))
        else:
            try:
                counts.baseline = "pushed" if history.push_baseline(data) else "already"
            except SharedHistoryError as exc:
                if "baseline rejected" not in str(exc):
                    raise
                counts.rejected.append((BASELINE_NAME, str(exc)))
    return counts


def _local_digests(folder: Path) -> tuple[set[bytes], set[str]]:
    digests: set[bytes] = set()
    names: set[str] = set()
    for path in run_files(folder):
        names.add(path.name)
        try:
            document = orjson.loads(path.read_bytes().removeprefix(b"\xef\xbb\xbf"))
        except (OSError, orjson.JSONDecodeError):
            continue  # a bad local file is the file store's to report
        digests.add(run_digest(document))
    return digests, names


def pull_to_folder(history: PgHistory, folder: Path, *, machine: str | None = None) -> PullCounts:
    """Write every run of the history (of one machine, if given) that ``folder`` lacks.

    A run whose name is taken locally by a different run is written under
    its name with its digest's first 8 hex digits added. The baseline is
    written only when the folder has none (a local baseline is never replaced).

    Raises:
        SharedHistoryError: When the history cannot be read, or a file cannot be written.
    """
    history.check_schema()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SharedHistoryError(f"{folder}: cannot create the folder: {exc.strerror or exc}") from None
    local, names = _local_digests(folder)
    counts = PullCounts()
    wanted: list[int] = []
    for row_id, _run_id, digest in history.run_index(machine):
        if digest in local:
            counts.already += 1
        else:
            wanted.append(row_id)
    for ids in batched(wanted, BATCH):
        for _row_id, run_id, data in history.documents(ids):
            digest = run_digest(orjson.loads(data))
            if digest in local:
                counts.already += 1
                continue
            name = run_id
            if name in names:
                stem, _, ms = name.removesuffix(".json").rpartition("-")
                name = f"{stem}-{digest.hex()[:8]}-{ms}.json"
            _write_new(folder / name, data)
            names.add(name)
            local.add(digest)
            counts.written += 1
    base = folder / BASELINE_NAME
    current = history.baseline_document(machine)
    if current is not None:
        if base.exists():
            counts.baseline = "kept"
        else:
            _write_new(base, current[1])
            counts.baseline = "written"
    return counts


def _write_new(path: Path, data: bytes) -> None:
    try:
        atomic_write_bytes(path, data, overwrite=False)
    except FileExistsError:
        pass  # a concurrent pull wrote it
    except OSError as exc:
        raise SharedHistoryError(f"{path}: cannot write: {exc.strerror or exc}") from None

"""Which run ``perfslo check`` evaluates, and the history it is judged against.

With the artifacts folder: the latest run (or ``--run FILE``), against the
runs of its machine. With a shared history, other machines and other CI jobs
push all the time, so "the latest run" would be whoever pushed last: the gate
evaluates the newest run of the local artifacts folder (the one this job or
this developer just measured, found in the shared history by its content
digest), or ``--run FILE``, and only when the folder holds no run, the
newest run in the shared history. Either way the history is that run's
machine's, unless ``--machine`` says otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from perfslo_tui.commands import UsageError, gate_samples
from perfslo_tui.config import Config
from perfslo_tui.runs.files import RUN_FILE_RE, read_run
from perfslo_tui.runs.selection import LATEST, FolderLoader, HistoryLoader
from perfslo_tui.runs.store import RunStore
from perfslo_tui.text import printable

DAY_MS = 86_400_000


@dataclass
class GateSource:
    """The history the gate reads and the run it evaluates.

    Attributes:
        loader: The history's loader.
        run_id: The run to evaluate; None: the latest of the history.
        follow_local: After a re-run (``--confirm``), evaluate the newest
            local run again (the shared history's latest may be another's).
    """

    loader: HistoryLoader
    run_id: str | None
    follow_local: bool = False


def newest_local_run(folder: Path) -> Path | None:
    """The newest run file of a folder by the time in its name, or None."""
    best: tuple[int, str] | None = None
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    for name in names:
        match = RUN_FILE_RE.match(name)
        if match and (best is None or (int(match.group("ms")), name) > best):
            best = (int(match.group("ms")), name)
    return folder / best[1] if best is not None else None


def checked_run_path(config: Config, run: Path) -> Path:
    """``--run FILE``, which must name a file in the artifacts folder (nothing else is opened)."""
    path = run.resolve()
    if path.parent != config.artifacts_dir.resolve():
        raise UsageError(f"{path}: --run must name a file in the artifacts folder {config.artifacts_dir}")
    return path


def open_gate(config: Config, run: Path | None, machine: str | None, confirm: int | None) -> GateSource:
    """The history and the run of one ``perfslo check``.

    Raises:
        UsageError: ``--run`` outside the artifacts folder, or a local run
            that is not in the shared history.
        ArtifactError: ``--run`` names a file that is not a valid run.
        SharedHistoryError: The shared history cannot be used.
    """
    from perfslo_tui.runs.pg import open_history

    path = checked_run_path(config, run) if run is not None else None
    db = open_history(config.history_url, os.environ)
    if db is None:
        if path is None:
            return GateSource(FolderLoader(RunStore(config.artifacts_dir), machine or LATEST), None)
        chosen = read_run(path)
        loader = FolderLoader(RunStore(config.artifacts_dir), machine or chosen.machine)
        return GateSource(loader, chosen.run_id)

    from perfslo_tui.runs.pg.store import PgRunStore

    local = path if path is not None else newest_local_run(config.artifacts_dir)
    run_id = None
    choice = machine or LATEST
    if local is not None:
        stored = stored_run(db, local)
        run_id = stored[0]
        choice = machine or stored[1]
    store = PgRunStore(
        db,
        config.artifacts_dir,
        choice=choice,
        window_ms=config.trend_days * DAY_MS,
        recent_samples=gate_samples(config, confirm),
    )
    return GateSource(store, run_id, follow_local=path is None and local is not None)


def stored_run(db: object, path: Path) -> tuple[str, str]:
    """``(run id, machine)`` of a local run file in the shared history.

    Raises:
        UsageError: When the shared history does not hold it (yet).
        SharedHistoryError: When the file is not a valid run.
    """
    from perfslo_tui.runs.pg.history import PgHistory
    from perfslo_tui.runs.pg.writes import read_prepared

    assert isinstance(db, PgHistory)
    prepared = read_prepared(path)
    found = db.find_runs([prepared.digest]).get(prepared.digest)
    if found is None:
        raise UsageError(
            f"{printable(str(path), 300)} is not in the shared history {db.where} yet: "
            "`perfslo push` sends it (or --run another file)"
        )
    return found.run_id, found.machine


def newest_local_run_id(config: Config, db: object) -> str | None:
    """The shared history's id of the newest local run (after a re-run), or None without one."""
    local = newest_local_run(config.artifacts_dir)
    return stored_run(db, local)[0] if local is not None else None

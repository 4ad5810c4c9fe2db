"""The shared history as a loader of :class:`RunHistory`, like the artifacts folder's store.

:class:`PgRunStore` is the :class:`~perfslo_tui.runs.store.RunStore` of the
shared history: the views and the engine get the same frozen
:class:`~perfslo_tui.runs.history.RunHistory` and cannot tell which backend
loaded it. The first refresh loads one machine's trend window (plus the
samples of its latest runs and of the baseline commit's runs); every later
refresh asks the server for runs it has not seen (by row id, looking
:data:`CATCH_UP_MARGIN` ids back for runs that committed late) and appends
them with the file store's own merge, so a refresh after one new run costs
one small query and one run's rows. A live view calls :meth:`refresh` when
the listener says something arrived; ``perfslo check --confirm`` after each
re-run.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection
from pathlib import Path

from perfslo_tui.runs.history import RunChanges, RunHistory, runs_of
from perfslo_tui.runs.machine import MachineInfo
from perfslo_tui.runs.pg import SharedHistoryError
from perfslo_tui.runs.pg.history import CATCH_UP_MARGIN, PgHistory
from perfslo_tui.runs.pg.reads import DEFAULT_RECENT_SAMPLES
from perfslo_tui.runs.selection import LATEST, resolve_machine
from perfslo_tui.runs.store import RunStore


class PgRunStore(RunStore):
    """One machine's runs of the shared history, refreshed incrementally.

    Args:
        db: The shared history (used from the thread that refreshes).
        folder: The local artifacts folder (what the history is said to come
            from; never read here).
        choice: The machine to show (see :func:`~perfslo_tui.runs.selection.resolve_machine`).
        window_ms: Load only runs within this long before the newest run
            (the trend window), plus the runs that carry samples; None loads
            every run.
        recent_samples: Samples come for this many latest runs (and as many
            of the baseline's commit).
    """

    def __init__(
        self,
        db: PgHistory,
        folder: Path,
        *,
        choice: str = LATEST,
        window_ms: int | None = None,
        recent_samples: int = DEFAULT_RECENT_SAMPLES,
    ) -> None:
        super().__init__(folder, use_cache=False)
        self.db = db
        self._choice = choice
        self.window_ms = window_ms
        self.recent_samples = recent_samples
        self.machine: str | None = None
        self.machines: dict[str, MachineInfo] = {}
        self._ids: set[int] = set()
        self._max_id = 0
        self._stored = 0
        self._baseline_id: int | None = None
        self._loaded = False
        self._switched = False

    @property
    def choice(self) -> str:
        """The machine choice."""
        return self._choice

    @property
    def run_count(self) -> int:
        """Runs of the shown machine in the shared history."""
        return self._stored

    def select_machine(self, choice: str) -> None:
        """Show another machine: the next refresh loads it."""
        if choice != self._choice:
            self._choice = choice
            self._loaded = False
            self._switched = True

    def close(self) -> None:
        """Close the connections."""
        self.db.close()

    def live_source(self) -> str | None:
        """The URL a live view listens to (LISTEN/NOTIFY)."""
        return self.db.url

    def refresh(self, names: Collection[str] | None = None) -> RunHistory:
        """Bring the table up to date with the shared history.

        Args:
            names: Ignored (file names matter to the folder's store only).

        Raises:
            SharedHistoryError: When the history cannot be read (after the
                retries a lost connection gets).
            MachineError: When the choice names no machine of the history.
        """
        self.machines = self.db.machines()
        if not self._loaded:
            return self._load()
        changes = self._catch_up()
        return self._shared_snapshot(changes)

    def history(self) -> RunHistory:
        """The history as loaded so far."""
        return self._shared_snapshot(RunChanges())

    def _load(self) -> RunHistory:
        self.db.prepare_arrow()
        newest = self.db.newest_run()
        self.machine = resolve_machine(self._choice, self.machines, newest.machine if newest else None)
        found = self.db.baseline_document(self.machine)
        self._baseline_id = found[0] if found else None
        self.baseline = self.db.parse_stored_baseline(*found) if found else None
        counting = None
        if self.window_ms is not None:
            # The count scans the machine's whole index: on its own connection, while the table loads.
            counting = _Count(self.db, self.machine)
            counting.start()
        loaded = self.db.load_table(
            self.recent_samples,
            machine=self.machine,
            window_ms=self.window_ms,
            baseline_commit=self.baseline.commit if self.baseline else "",
        )
        self.table = loaded.table
        self._runs = runs_of(self.table)
        self._series = None
        self._ids = set(loaded.ids)
        self._max_id = max(self._ids, default=0)
        self._stored = counting.result() if counting is not None else len(self._ids)
        self._loaded = True
        switched, self._switched = self._switched, False
        added = tuple(self._runs.get_column("run_id").to_list())
        # A reload (another machine) shares nothing with what was shown before.
        changes = RunChanges(changed=added, baseline_changed=True) if switched else RunChanges(added=added)
        return self._shared_snapshot(changes)

    def _catch_up(self) -> RunChanges:
        found = self.db.baseline_document(self.machine)
        baseline_id = found[0] if found else None
        if baseline_id != self._baseline_id:
            # Another baseline commit means other runs need their samples: load afresh.
            self._loaded = False
            self._load()
            return RunChanges(changed=tuple(self._runs.get_column("run_id").to_list()), baseline_changed=True)
        fresh = [
            run
            for run in self.db.runs_after(self._max_id - CATCH_UP_MARGIN, self.machine)
            if run.id not in self._ids
        ]
        if not fresh:
            return RunChanges()
        rows = self.db.load_runs([run.id for run in fresh])
        if rows.height:
            self._merge(rows)
        self._ids.update(run.id for run in fresh)
        self._max_id = max(self._max_id, *(run.id for run in fresh))
        self._stored += len(fresh)
        return RunChanges(added=tuple(run.run_id for run in fresh))

    def _shared_snapshot(self, changes: RunChanges) -> RunHistory:
        history = self._snapshot(changes)
        return dataclasses.replace(
            history,
            machine=self.machine,
            machines=self.machines,
            stored_runs=self._stored,
            shared=self.db.where,
        )


class _Count(threading.Thread):
    """``run_count`` of one machine on a connection of its own, in the background."""

    def __init__(self, db: PgHistory, machine: str | None) -> None:
        super().__init__(name="perfslo-count", daemon=True)
        self.db = PgHistory(db.url, migrations=db.migrations, retry_seconds=db.retry_seconds)
        self.machine = machine
        self.count: int | None = None
        self.error: SharedHistoryError | None = None

    def run(self) -> None:
        try:
            with self.db:
                self.count = self.db.run_count(self.machine)
        except SharedHistoryError as exc:
            self.error = exc

    def result(self) -> int:
        """The count (waits for it).

        Raises:
            SharedHistoryError: When it could not be counted.
        """
        self.join()
        if self.error is not None:
            raise self.error
        assert self.count is not None
        return self.count

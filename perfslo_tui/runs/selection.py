"""Keeping machines apart: which machine a history shows, for both backends.

A history mixes machines only when the user asks (``--machine all``, the
monitor's ``M`` key). Otherwise a loader restricts it to one machine: the
machine of the run being evaluated (``latest``: the newest run's), this host
(``this``), or a key, label or unique key prefix. The shared history does it
in SQL; the artifacts folder, which holds other machines' runs only after a
``perfslo pull``, through :class:`FolderLoader`, which costs nothing while
the folder holds one machine.

A baseline measured on another machine than the one shown is not used, and
says so among the history's errors: a comparison never crosses machines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Protocol

import orjson
import polars as pl

from perfslo_tui.runs.files import Baseline
from perfslo_tui.runs.history import RunChanges, RunHistory, runs_of, split_series
from perfslo_tui.runs.machine import UNKNOWN, MachineError, MachineInfo, describe_host, this_machine
from perfslo_tui.runs.store import RunStore

ALL = "all"
LATEST = "latest"
THIS = "this"


class RunLoader(Protocol):
    """Anything that gives an up-to-date :class:`RunHistory` (a :class:`RunStore` does)."""

    def refresh(self, names: Collection[str] | None = None) -> RunHistory:
        """The history brought up to date (``names``: files a watcher saw change)."""
        ...


class HistoryLoader(RunLoader, Protocol):
    """What the views load a :class:`RunHistory` from: the artifacts folder or the shared history."""

    @property
    def errors(self) -> dict[Path, str]:
        """Files (or sources) that could not be used: path → reason; a view may add one."""
        ...

    @property
    def choice(self) -> str:
        """The machine choice: ``latest``, ``this``, ``all`` or a machine key."""
        ...

    def select_machine(self, choice: str) -> None:
        """Show another machine (or ``all``) from the next refresh on."""
        ...

    def refresh(self, names: Collection[str] | None = None) -> RunHistory:
        """The history brought up to date (``names``: files a watcher saw change)."""
        ...

    def history(self) -> RunHistory:
        """The history as loaded so far."""
        ...

    def close(self) -> None:
        """Let go of connections and files."""
        ...

    def live_source(self) -> str | None:
        """The shared history's URL a live view listens to; None: watch the folder's files instead."""
        ...


def describe_choice(choice: str, machines: Mapping[str, MachineInfo]) -> str:
    """A choice in words, for messages."""
    if choice == ALL:
        return "all machines"
    info = machines.get(choice)
    return f"machine {choice} ({info.description})" if info else f"machine {choice}"


def resolve_machine(choice: str, machines: Mapping[str, MachineInfo], latest: str | None) -> str | None:
    """The machine key a choice means (None: all machines).

    Args:
        choice: ``all``, ``latest`` (the machine of ``latest``), ``this``
            (this host) or a machine key, label or unique key prefix.
        machines: The machines of the history.
        latest: The machine of the newest run (None without runs).

    Raises:
        MachineError: When the choice names no machine of the history.
    """
    if choice == ALL:
        return None
    if choice == LATEST:
        return latest
    if choice == THIS:
        mine = this_machine()
        if machines and mine not in machines:
            raise MachineError(f"this machine ({mine}) has no runs in the history; {_known(machines)}")
        return mine
    if choice in machines or not machines:
        return choice
    found = [key for key in machines if key.startswith(choice)]
    if len(found) == 1:
        return found[0]
    if found:
        raise MachineError(f"--machine {choice!r} matches {len(found)} machines ({', '.join(found[:5])})")
    raise MachineError(f"no machine {choice!r} in the history; {_known(machines)}")


def _known(machines: Mapping[str, MachineInfo]) -> str:
    listed = ", ".join(f"{m.key} ({m.description})" for m in list(machines.values())[:6])
    more = f" and {len(machines) - 6} more" if len(machines) > 6 else ""
    return f"its machines: {listed}{more} (or --machine all)"


def baseline_fits(baseline: Baseline | None, machine: str | None, runs: pl.DataFrame) -> bool:
    """Whether a baseline may be compared with runs of ``machine`` (None: all machines).

    A baseline records its machine; an older one without it is judged by
    its source run when that run is loaded, and fits when nothing tells.
    """
    if baseline is None or machine is None:
        return True
    if baseline.machine is not None:
        return baseline.machine == machine
    if baseline.source_run is None:
        return True
    source = runs.filter(pl.col("run_id") == baseline.source_run)
    return source.height == 0 or source["machine"][0] == machine


def other_machine_note(baseline: Baseline, machine: str) -> str:
    """The error line for a baseline that belongs to another machine."""
    return (
        f"measured on another machine ({baseline.machine or 'that of its source run'}) than the one shown "
        f"({machine}): not compared; establish a baseline for this machine (perfslo baseline --establish)"
    )


def restrict(history: RunHistory, machine: str | None) -> RunHistory:
    """The history with only ``machine``'s runs (None: unchanged), and the baseline only if it fits."""
    if machine is None:
        return dataclasses.replace(history, machine=None)
    baseline = history.baseline
    errors = history.errors
    if not baseline_fits(baseline, machine, history.runs):
        assert baseline is not None
        errors = {**history.errors, baseline.path: other_machine_note(baseline, machine)}
        baseline = None
    machines = history.runs.get_column("machine")
    if machines.len() == 0 or bool((machines == machine).all()):
        return dataclasses.replace(history, machine=machine, baseline=baseline, errors=errors)
    table = history.table.filter(pl.col("machine") == machine)
    runs = runs_of(table)
    kept = set(runs.get_column("run_id").to_list())
    changes = dataclasses.replace(
        history.changes,
        added=tuple(r for r in history.changes.added if r in kept),
        changed=tuple(r for r in history.changes.changed if r in kept),
    )
    return dataclasses.replace(
        history,
        table=table,
        runs=runs,
        series=split_series(table),
        baseline=baseline,
        errors=errors,
        changes=changes,
        machine=machine,
    )


class FolderLoader:
    """The artifacts folder as a :class:`HistoryLoader`: a :class:`RunStore` restricted to one machine.

    Args:
        store: The folder's store.
        choice: The machine to show (see :func:`resolve_machine`).
    """

    def __init__(self, store: RunStore, choice: str = LATEST) -> None:
        self.store = store
        self._choice = choice
        self._switched = False
        self._version = 0
        self._descriptions: dict[str, str] = {}
        self._machines: dict[str, MachineInfo] = {}
        self._last: RunHistory | None = None

    @property
    def choice(self) -> str:
        """The machine choice."""
        return self._choice

    @property
    def errors(self) -> dict[Path, str]:
        """The folder's load errors (the store's own dict)."""
        return self.store.errors

    def select_machine(self, choice: str) -> None:
        """Show another machine from the next refresh on."""
        if choice != self._choice:
            self._choice = choice
            self._switched = True

    def refresh(self, names: Collection[str] | None = None) -> RunHistory:
        """Refresh the folder and restrict it to the chosen machine.

        Raises:
            MachineError: When the choice names no machine of the folder.
        """
        return self._stamp(self.store.refresh(names))

    def history(self) -> RunHistory:
        """The history as loaded so far."""
        return self._stamp(self.store.history())

    def close(self) -> None:
        """Nothing to let go of."""

    def live_source(self) -> str | None:
        """None: a live view watches the folder."""
        return None

    def _stamp(self, full: RunHistory) -> RunHistory:
        if full.changes.any or not self._machines:
            self._machines = self._list_machines(full)
        latest = full.latest
        machine = resolve_machine(self._choice, self._machines, latest.machine if latest else None)
        history = restrict(full, machine)
        switched, self._switched = self._switched, False
        previous = self._version
        if history.changes.any or switched:
            self._version += 1
        changes = history.changes
        if switched:
            # Another machine's history: nothing of the previous evaluation carries over.
            changes = RunChanges(changed=tuple(history.runs["run_id"].to_list()), baseline_changed=True)
        result = dataclasses.replace(
            history,
            machines=self._machines,
            version=self._version,
            previous_version=previous,
            changes=changes,
        )
        self._last = result
        return result

    def _list_machines(self, full: RunHistory) -> dict[str, MachineInfo]:
        counts = (
            full.runs.group_by("machine")
            .agg(
                pl.len().alias("runs"),
                pl.col("ts_ms").max().alias("last"),
                pl.col("run_id").last().alias("newest"),
            )
            .sort(["last", "machine"], descending=[True, False])
        )
        found: dict[str, MachineInfo] = {}
        for key, count, last, newest in counts.iter_rows():
            found[key] = MachineInfo(key, self._describe(key, full.folder / newest), int(count), int(last))
        return found

    def _describe(self, key: str, newest: Path) -> str:
        """What a machine is, from the host facts of one of its run files (read once per machine)."""
        if key == UNKNOWN:
            return "runs that record no host"
        if key not in self._descriptions:
            try:
                meta = orjson.loads(newest.read_bytes().removeprefix(b"\xef\xbb\xbf")).get("metadata", {})
                host = meta.get("host") if isinstance(meta, dict) else None
                self._descriptions[key] = describe_host(host if isinstance(host, dict) else {})
            except (OSError, orjson.JSONDecodeError, AttributeError):
                return "?"
        return self._descriptions[key]


def open_loader(
    folder: Path,
    history_url: str | None,
    environ: Mapping[str, str],
    *,
    choice: str = LATEST,
    window_ms: int | None = None,
    recent_samples: int = 10_000,
    use_cache: bool = True,
) -> HistoryLoader:
    """The loader of a project's history: the shared history when one is configured, else the folder.

    Args:
        folder: The artifacts folder.
        history_url: The config's ``history_url`` (``PERFSLO_DATABASE_URL``
            in ``environ`` wins over it).
        environ: The environment.
        choice: The machine to show.
        window_ms: The shared history loads only the runs within this long
            before the newest (the trend window); the folder loads all.
        recent_samples: The shared history sends samples for this many latest runs.
        use_cache: The folder's store starts from its on-disk cache.

    Raises:
        SharedHistoryError: A shared history is configured but cannot be
            used (no driver, a bad URL): nothing is connected yet.
    """
    from perfslo_tui.runs.pg import open_history

    db = open_history(history_url, environ)
    if db is None:
        return FolderLoader(RunStore(folder, use_cache=use_cache), choice)
    from perfslo_tui.runs.pg.store import PgRunStore

    return PgRunStore(db, folder, choice=choice, window_ms=window_ms, recent_samples=recent_samples)

"""The run table: every run file in the artifacts folder as one polars table.

One row per run × SLO, oldest first. :class:`RunStore` keeps the table in
memory and refreshes incrementally: it lists the folder, re-reads only files
whose stat key (mtime, ctime, size, inode) changed, drops rows of deleted
files, and leaves everything else alone. A file that cannot be used is
recorded in ``errors`` (path → reason) and skipped; the rest loads, and the
bad file is not parsed again until it changes.

The first refresh of a store starts from the on-disk cache
(:mod:`perfslo_tui.runs.cache`) when there is one: rows of files whose stat key
still matches come from one parquet file, everything else is read from the
JSON run files, which stay the source of truth. The cache is rewritten once
enough files had to be read from JSON, so a start after one new run reads
one file and writes nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Iterable
from pathlib import Path
from types import MappingProxyType

import numpy as np
import polars as pl

from perfslo_tui.runs import cache as run_cache
from perfslo_tui.runs.cache import FileKey, file_digest, file_key, is_racy
from perfslo_tui.runs.files import (
    BASELINE_NAME,
    ArtifactError,
    Baseline,
    RunFile,
    is_run_file_name,
    read_baseline,
    read_run,
    steady_cut,
    steady_states,
)
from perfslo_tui.runs.history import (
    SERIES_ROW,
    BaselineDistance,
    RunChanges,
    RunHistory,
    runs_of,
    split_series,
)
from perfslo_tui.runs.metadata import commits_between, fingerprint_text
from perfslo_tui.runs.summary import summarize

TABLE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "run_id": pl.String,
    "ts_ms": pl.Int64,
    "commit": pl.String,
    "branch": pl.String,
    "dirty": pl.Boolean,
    "source": pl.String,
    "fingerprint": pl.String,
    "machine": pl.String,
    "slo": pl.String,
    "count": pl.Int64,
    "median": pl.Float64,
    "mean": pl.Float64,
    "min": pl.Float64,
    "max": pl.Float64,
    "p95": pl.Float64,
    "stdev": pl.Float64,
    "samples_total": pl.Int64,
    "steady_from": pl.Int64,
    "steady_class": pl.String,
    "steady_change": pl.Float64,
    "samples": pl.List(pl.Float64),
}
"""The run table's columns. ``count`` … ``stdev`` are the statistics of the
steady samples (from ``steady_from`` on; all samples when the run has no
steady state, ``steady_class`` says which); ``samples`` are the raw samples
in the order taken; ``fingerprint`` is the run's measurement fingerprint as
canonical JSON (empty when the run has none)."""
SORT_KEYS = ["ts_ms", "run_id", "slo"]
# Rewrite the cache once this many files were read from JSON (or dropped)
# since it was written: below that, re-reading them at start costs less than
# rewriting the whole cache.
REWRITE_AFTER = 32
# Appends add chunks to the table; merge them before they slow down scans.
MAX_CHUNKS = 32
READ_BATCH = 500


def empty_table() -> pl.DataFrame:
    """An empty run table with the full schema."""
    return pl.DataFrame(schema=TABLE_SCHEMA)


def runs_to_table(runs: Iterable[RunFile]) -> pl.DataFrame:
    """Turn runs into table rows (one per run × SLO), unsorted.

    Each SLO's samples are tested for warm-up (:mod:`perfslo_tui.runs.steady`);
    the row's statistics are those of the steady part.
    """
    columns: dict[str, list[object]] = {name: [] for name in TABLE_SCHEMA}
    for run in runs:
        states = steady_states(run.samples)
        fingerprint = fingerprint_text(run.fingerprint)
        for slo, samples in run.samples.items():
            values = np.asarray(samples, dtype=float)
            state = states[slo]
            stats = summarize(values[steady_cut(state) :])
            columns["run_id"].append(run.run_id)
            columns["ts_ms"].append(run.timestamp_ms)
            columns["commit"].append(run.commit)
            columns["branch"].append(run.branch)
            columns["dirty"].append(run.dirty)
            columns["source"].append(run.source)
            columns["fingerprint"].append(fingerprint)
            columns["machine"].append(run.machine)
            columns["slo"].append(slo)
            for name, value in stats.as_dict().items():
                columns[name].append(value)
            columns["samples_total"].append(int(values.size))
            columns["steady_from"].append(state.steady_from)
            columns["steady_class"].append(state.kind.value)
            columns["steady_change"].append(state.change)
            columns["samples"].append(values.tolist())
    return pl.DataFrame(columns, schema=TABLE_SCHEMA)


class RunStore:
    """The artifacts folder as an incrementally refreshed polars table.

    Args:
        artifacts_dir: The folder holding run files and the baseline.
        use_cache: Start from (and keep up to date) the on-disk cache in
            ``<artifacts_dir>/.perfslo-cache/``.

    Attributes:
        cache_problem: Why the on-disk cache was not used at the first
            refresh, or why it could not be written (for diagnostics; never
            an error).
        cache_hits: Files whose rows came from the cache at the first refresh.
        files_read: Run files parsed from JSON so far.
    """

    def __init__(self, artifacts_dir: Path, *, use_cache: bool = True) -> None:
        self.artifacts_dir = artifacts_dir
        self.table: pl.DataFrame = empty_table()
        self._runs: pl.DataFrame = runs_of(self.table)
        # Per series name, its rows without samples (with their row number in
        # the table), kept up to date on append; None: rebuild when asked.
        self._series: dict[str, pl.DataFrame] | None = None
        self.missing_dir = False
        self._version = 0
        self.errors: dict[Path, str] = {}
        self.baseline: Baseline | None = None
        self.baseline_error: str | None = None
        self.use_cache = use_cache
        self.cache_problem: str | None = None
        self.cache_hits = 0
        self.files_read = 0
        self._seen: dict[str, FileKey] = {}  # loaded run files
        self._failed: dict[str, FileKey] = {}  # files in errors, not re-read until they change
        self._digests: dict[str, str | None] = {}  # name -> digest of the content parsed
        self._racy: set[str] = set()  # files whose key could not be trusted when read
        self._baseline_key: FileKey | None = None
        self._started = False
        self._scanned_ns = 0
        self._unsaved = 0  # files read from JSON or dropped since the cache was written
        self._cache_usable = False
        # (baseline commit, latest commit) -> commits between them, or None:
        # git runs once per pair, not at every refresh.
        self._distances: dict[tuple[str, str], int | None] = {}

    @property
    def run_count(self) -> int:
        """Number of runs loaded."""
        return len(self._seen)

    def _scan(self) -> dict[str, FileKey] | None:
        try:
            entries = os.scandir(self.artifacts_dir)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            return None
        found: dict[str, FileKey] = {}
        with entries:
            for entry in entries:
                if not is_run_file_name(entry.name):
                    continue
                try:
                    info = entry.stat()
                except OSError:
                    continue
                found[entry.name] = file_key(info)
        return found

    def refresh(self, names: Collection[str] | None = None) -> RunHistory:
        """Bring the table up to date with the folder, reading only what changed.

        Args:
            names: File names known to have changed (from a file watcher):
                only these are looked at, instead of listing the whole
                folder. The first refresh always lists the folder.

        Returns:
            The history, with what changed. Permission or missing-folder
            problems are reported through ``errors`` and ``missing_dir``,
            never raised.
        """
        added: list[str] = []
        changed: list[str] = []
        removed: list[str] = []
        old_errors = dict(self.errors)
        self.errors.pop(self.artifacts_dir, None)
        # Taken before the scan: a file written after it looks racy, never clean.
        scanned_ns = time.time_ns()
        targeted = names is not None and self._started and not self.missing_dir
        try:
            found = self._scan_names(names) if targeted and names is not None else self._scan()
        except PermissionError as exc:
            # Keep what is loaded: an unlistable folder says nothing about its runs.
            self.errors[self.artifacts_dir] = f"cannot list folder: {exc.strerror or exc}"
            return self._snapshot(RunChanges(errors_changed=old_errors != self.errors))
        self.missing_dir = found is None
        if found is None:
            found = {}
        if not self._started:
            self._started = True
            if self.use_cache and found:
                added.extend(self._start_from_cache(found, scanned_ns))
        # Only the files that may have changed are looked at: all of them
        # after a listing, the named ones after a watcher event.
        looked_at = found.keys() if not targeted else {n for n in names or () if is_run_file_name(n)}
        present = {name for name in looked_at if name in found}

        # Errors of files that are gone go with them.
        for path in [p for p in self.errors if p.parent == self.artifacts_dir and p.name != BASELINE_NAME]:
            if path.name in looked_at and path.name not in present or not targeted and path.name not in found:
                del self.errors[path]
        known = self._seen.keys() | self._failed.keys() | self._digests.keys()
        if targeted:
            vanished = [name for name in looked_at - present if name in known]
        else:
            vanished = [name for name in known if name not in found]
        for name in vanished:
            self._failed.pop(name, None)
            self._digests.pop(name, None)
            self._racy.discard(name)
        gone = [name for name in vanished if name in self._seen]
        stale = [
            name
            for name in present
            if (self._seen.get(name) if name in self._seen else self._failed.get(name)) != found[name]
            or (name in self._racy and self._racy_changed(name, found[name], scanned_ns))
        ]
        if not targeted:
            stale.sort()
        drop = set(gone) | {name for name in stale if name in self._seen}
        new_runs: list[RunFile] = []
        # Rows are built per batch: 10,000 runs as Python lists of floats
        # would cost several hundred MB at once.
        pieces: list[pl.DataFrame] = []
        for name in stale:
            path = self.artifacts_dir / name
            was_loaded = name in self._seen
            key = found[name]
            self._seen.pop(name, None)
            self._failed.pop(name, None)
            self._racy.discard(name)
            if is_racy(key, scanned_ns):
                self._racy.add(name)
            # Hashed before parsing: a rewrite between the two reads makes the
            # digest differ from the content later, so it is re-read, never missed.
            self._digests[name] = file_digest(path)
            self.files_read += 1
            self._unsaved += 1
            try:
                run = read_run(path)
            except ArtifactError as exc:
                self.errors[path] = exc.problem
                self._failed[name] = key
                if was_loaded:
                    removed.append(name)
                continue
            self.errors.pop(path, None)
            new_runs.append(run)
            (changed if was_loaded else added).append(name)
            self._seen[name] = key
            if len(new_runs) >= READ_BATCH:
                pieces.append(runs_to_table(new_runs))
                new_runs.clear()
        for name in gone:
            self._seen.pop(name, None)
            self._unsaved += 1
            removed.append(name)
        if drop:
            self.table = self.table.filter(~pl.col("run_id").is_in(sorted(drop)))
            self._runs = self._runs.filter(~pl.col("run_id").is_in(sorted(drop)))
            self._series = None
        if new_runs:
            pieces.append(runs_to_table(new_runs))
        if pieces:
            self._merge(pieces[0] if len(pieces) == 1 else pl.concat(pieces, how="vertical"))
        if self.missing_dir:
            self.errors.pop(self.artifacts_dir / BASELINE_NAME, None)
        self._scanned_ns = scanned_ns
        changes = RunChanges(
            added=tuple(added),
            changed=tuple(changed),
            removed=tuple(removed),
            errors_changed=old_errors != self.errors,
            baseline_changed=self._refresh_baseline(),
        )
        if self.use_cache and (found or targeted) and self._should_save():
            self.save_cache()
        return self._snapshot(changes)

    def _append_series(self, rows: pl.DataFrame, offset: int) -> None:
        """Add appended rows (which start at row ``offset`` of the table) to the per-series frames."""
        if self._series is None:
            return
        numbered = rows.drop("samples").with_row_index(SERIES_ROW, offset=offset)
        series = dict(self._series)
        for key, part in numbered.partition_by("slo", as_dict=True, maintain_order=True).items():
            name = str(key[0])
            old = series.get(name)
            merged = part if old is None else pl.concat([old, part], how="vertical", rechunk=False)
            series[name] = merged.rechunk() if merged.n_chunks() > MAX_CHUNKS else merged
        self._series = series

    def _all_series(self) -> dict[str, pl.DataFrame]:
        if self._series is None:
            self._series = split_series(self.table)
        return self._series

    def _snapshot(self, changes: RunChanges) -> RunHistory:
        previous = self._version
        if changes.any:
            self._version += 1
        return RunHistory(
            folder=self.artifacts_dir,
            table=self.table,
            runs=self._runs,
            series=MappingProxyType(self._all_series()),
            baseline=self.baseline,
            errors=MappingProxyType(dict(self.errors)),
            changes=changes,
            missing_dir=self.missing_dir,
            version=self._version,
            previous_version=previous,
            baseline_distance=self._baseline_distance(),
        )

    def _baseline_distance(self) -> BaselineDistance | None:
        """Commits from the baseline's commit to the latest run's (git, once per pair)."""
        baseline = self.baseline
        if baseline is None or self._runs.height == 0:
            return None
        latest = str(self._runs.get_column("commit")[-1])
        key = (baseline.commit, latest)
        if key not in self._distances:
            if len(self._distances) > 256:
                self._distances.clear()
            self._distances[key] = commits_between(baseline.commit, latest, self.artifacts_dir)
        commits = self._distances[key]
        return None if commits is None else BaselineDistance(baseline.commit, latest, commits)

    def history(self) -> RunHistory:
        """The history as loaded so far, without looking at the folder again."""
        return self._snapshot(RunChanges())

    def _scan_names(self, names: Collection[str]) -> dict[str, FileKey] | None:
        """Stat only ``names``; the rest of the folder keeps its known keys."""
        if not self.artifacts_dir.is_dir():
            return None
        found = {**self._failed, **self._seen}
        for name in names:
            if not is_run_file_name(name):
                continue
            try:
                info = os.stat(self.artifacts_dir / name)
            except OSError:
                found.pop(name, None)
                continue
            found[name] = file_key(info)
        return found

    def _racy_changed(self, name: str, key: FileKey, scanned_ns: int) -> bool:
        """For a file whose key could not be trusted when read: has its content changed?"""
        digest = file_digest(self.artifacts_dir / name)
        if digest is None or digest != self._digests.get(name):
            return True
        if not is_racy(key, scanned_ns):
            # Same content, checked after its tick passed: any later write
            # gets a new timestamp, so the key is enough from now on.
            self._racy.discard(name)
        return False

    def _merge(self, rows: pl.DataFrame) -> None:
        """Add rows, keeping the table sorted; appending when they come last (the usual case)."""
        rows = rows.sort(SORT_KEYS)
        new_runs = runs_of(rows)
        if self.table.height == 0:
            self.table = rows
            self._runs = new_runs
            self._series = None
            return
        last = self.table.select(pl.col("ts_ms").last(), pl.col("run_id").last()).row(0)
        first = rows.select(pl.col("ts_ms").first(), pl.col("run_id").first()).row(0)
        if first > last:
            self._append_series(rows, self.table.height)
            self.table = pl.concat([self.table, rows], how="vertical", rechunk=False)
            self._runs = pl.concat([self._runs, new_runs], how="vertical", rechunk=False)
            if self.table.n_chunks() > MAX_CHUNKS:
                self.table = self.table.rechunk()
                self._runs = self._runs.rechunk()
        else:
            self.table = pl.concat([self.table, rows], how="vertical").sort(SORT_KEYS)
            self._series = None
            self._runs = pl.concat([self._runs, new_runs], how="vertical").sort(["ts_ms", "run_id"])

    def _start_from_cache(self, found: dict[str, FileKey], scanned_ns: int) -> list[str]:
        """Take the rows and errors of unchanged files from the on-disk cache.

        Returns:
            The run files whose rows came from the cache.
        """
        snapshot, problem = run_cache.load(self.artifacts_dir, TABLE_SCHEMA)
        self.cache_problem = problem
        if snapshot is None:
            return []
        self._cache_usable = True
        keep: list[str] = []
        cached_files, digests = snapshot.files, snapshot.digests
        for name, key in found.items():
            cached = cached_files.get(name)
            if cached is not None:
                if not (snapshot.trusted(name, key) or self._same_content(snapshot, name, key, scanned_ns)):
                    continue
                keep.append(name)
                self._digests[name] = digests[name]
            elif name in snapshot.errors:
                reason = snapshot.trusted_error(name, key)
                if reason is None and self._same_content(snapshot, name, key, scanned_ns):
                    reason = snapshot.errors[name][1]
                if reason is not None:
                    self.errors[self.artifacts_dir / name] = reason
                    self._failed[name] = key
                    self._digests[name] = snapshot.digests[name]
        # Cached files that are gone count as work to save; changed or racy
        # ones are counted when they are read.
        self._unsaved += sum(1 for name in snapshot.files if name not in found)
        self._unsaved += sum(1 for name in snapshot.errors if name not in found)
        if not keep:
            return []
        table = snapshot.table
        if len(keep) != len(snapshot.files):
            table = table.filter(pl.col("run_id").is_in(keep))
        self.table = table
        self._runs = runs_of(table)
        self._series = None
        for name in keep:
            self._seen[name] = found[name]
        self.cache_hits = len(keep)
        return keep

    def _same_content(self, snapshot: run_cache.Snapshot, name: str, key: FileKey, scanned_ns: int) -> bool:
        """A cached file with a new stat key: is its content still what was parsed?"""
        if file_digest(self.artifacts_dir / name) != snapshot.digests[name]:
            return False
        # Same bytes: the cached rows stand. The index gets the new key at
        # the next rewrite; until its tick has passed, the digest is re-checked.
        self._unsaved += 1
        if is_racy(key, scanned_ns):
            self._racy.add(name)
        return True

    def _should_save(self) -> bool:
        if not self._unsaved:
            return False
        if not self._cache_usable:
            return True
        # Rewrite once re-reading the stale files at every start would cost
        # more than a fraction of a full load.
        files = len(self._seen) + len(self._failed)
        return self._unsaved >= REWRITE_AFTER or self._unsaved * 8 >= files

    def save_cache(self) -> bool:
        """Write the on-disk cache now (atomically); return True when written.

        Racy files (touched within seconds of the scan) are written too; the
        cache itself refuses to trust them at the next start.
        """
        # A file that could not be hashed (it vanished mid-read) is left out,
        # rows and all: the next start reads it again.
        unhashed = [name for name in self._seen if not self._digests.get(name)]
        table = self.table.filter(~pl.col("run_id").is_in(unhashed)) if unhashed else self.table
        snapshot = run_cache.Snapshot(
            table=table,
            files={name: key for name, key in self._seen.items() if self._digests.get(name)},
            errors={
                name: (key, self.errors.get(self.artifacts_dir / name, "unreadable"))
                for name, key in self._failed.items()
                if self._digests.get(name)
            },
            digests={name: digest for name, digest in self._digests.items() if digest},
            scanned_ns=self._scanned_ns,
        )
        problem = run_cache.save(self.artifacts_dir, snapshot)
        if problem is not None:
            self.cache_problem = problem
        # After a failure (read-only or full disk) the next try waits for as
        # many changes as a normal rewrite would, instead of every refresh.
        self._unsaved = 0
        self._cache_usable = True
        return problem is None

    def _refresh_baseline(self) -> bool:
        path = self.artifacts_dir / BASELINE_NAME
        try:
            key: FileKey | None = file_key(path.stat())
        except OSError:
            key = None
        if key == self._baseline_key:
            return False
        self._baseline_key = key
        self.errors.pop(path, None)
        self.baseline_error = None
        if key is None:
            self.baseline = None
            return True
        try:
            self.baseline = read_baseline(path)
        except ArtifactError as exc:
            self.baseline = None
            self.baseline_error = exc.problem
            self.errors[path] = exc.problem
        return True


def load_history(artifacts_dir: Path, *, use_cache: bool = True) -> RunHistory:
    """Load the artifacts folder once: the handover to the evaluation."""
    return RunStore(artifacts_dir, use_cache=use_cache).refresh()


def load_table(artifacts_dir: Path, *, use_cache: bool = True) -> RunStore:
    """Load the artifacts folder once and return the filled store."""
    store = RunStore(artifacts_dir, use_cache=use_cache)
    store.refresh()
    return store

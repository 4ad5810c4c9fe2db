"""The run table: every run file in the artifacts folder as one polars table.

One row per run × SLO, oldest first. :class:`RunStore` keeps the table in
memory and refreshes incrementally: it lists the folder, re-reads only files
whose size or modification time changed, drops rows of deleted files, and
leaves everything else alone. A file that cannot be used is recorded in
``errors`` (path → reason) and skipped; the rest loads.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from perfslo_tui.artifacts import (
    BASELINE_NAME,
    ArtifactError,
    Baseline,
    RunFile,
    is_run_file_name,
    read_baseline,
    read_run,
)

TABLE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "run_id": pl.String,
    "ts_ms": pl.Int64,
    "commit": pl.String,
    "branch": pl.String,
    "dirty": pl.Boolean,
    "source": pl.String,
    "slo": pl.String,
    "count": pl.Int64,
    "median": pl.Float64,
    "mean": pl.Float64,
    "min": pl.Float64,
    "max": pl.Float64,
    "p95": pl.Float64,
    "stdev": pl.Float64,
    "samples": pl.List(pl.Float64),
}
SORT_KEYS = ["ts_ms", "run_id", "slo"]


def empty_table() -> pl.DataFrame:
    """An empty run table with the full schema."""
    return pl.DataFrame(schema=TABLE_SCHEMA)


def runs_to_table(runs: Iterable[RunFile]) -> pl.DataFrame:
    """Turn runs into table rows (one per run × SLO), unsorted."""
    columns: dict[str, list[object]] = {name: [] for name in TABLE_SCHEMA}
    for run in runs:
        for slo, samples in run.samples.items():
            values = np.asarray(samples, dtype=float)
            columns["run_id"].append(run.run_id)
            columns["ts_ms"].append(run.timestamp_ms)
            columns["commit"].append(run.commit)
            columns["branch"].append(run.branch)
            columns["dirty"].append(run.dirty)
            columns["source"].append(run.source)
            columns["slo"].append(slo)
            columns["count"].append(int(values.size))
            columns["median"].append(float(np.median(values)))
            columns["mean"].append(float(values.mean()))
            columns["min"].append(float(values.min()))
            columns["max"].append(float(values.max()))
            columns["p95"].append(float(np.percentile(values, 95)))
            columns["stdev"].append(float(values.std(ddof=1)) if values.size > 1 else 0.0)
            columns["samples"].append(values.tolist())
    return pl.DataFrame(columns, schema=TABLE_SCHEMA)


@dataclass(slots=True)
class RefreshResult:
    """What one refresh changed.

    Attributes:
        added: Run ids that are new.
        changed: Run ids whose file changed and was re-read.
        removed: Run ids whose file is gone (or now fails to load).
        errors_changed: True when the set of load errors changed.
        baseline_changed: True when the baseline file changed.
        missing_dir: True when the artifacts folder does not exist.
    """

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors_changed: bool = False
    baseline_changed: bool = False
    missing_dir: bool = False

    @property
    def any(self) -> bool:
        """True when anything a view shows may have changed."""
        return bool(
            self.added or self.changed or self.removed or self.errors_changed or self.baseline_changed
        )


_FileKey = tuple[int, int, int]  # (mtime_ns, size, inode)


class RunStore:
    """The artifacts folder as an incrementally refreshed polars table.

    Args:
        artifacts_dir: The folder holding run files and the baseline.
    """

    def __init__(self, artifacts_dir: Path) -> None:
        self.artifacts_dir = artifacts_dir
        self.table: pl.DataFrame = empty_table()
        self.errors: dict[Path, str] = {}
        self.baseline: Baseline | None = None
        self.baseline_error: str | None = None
        self._seen: dict[str, _FileKey] = {}
        self._baseline_key: _FileKey | None = None

    @property
    def run_count(self) -> int:
        """Number of runs loaded."""
        return int(self.table["run_id"].n_unique()) if self.table.height else 0

    def _scan(self) -> dict[str, _FileKey] | None:
        try:
            entries = os.scandir(self.artifacts_dir)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            return None
        found: dict[str, _FileKey] = {}
        with entries:
            for entry in entries:
                if not is_run_file_name(entry.name):
                    continue
                try:
                    info = entry.stat()
                except OSError:
                    continue
                found[entry.name] = (info.st_mtime_ns, info.st_size, info.st_ino)
        return found

    def refresh(self) -> RefreshResult:
        """Bring the table up to date with the folder, reading only what changed.

        Returns:
            What changed. Permission or missing-folder problems are reported
            through ``errors`` and ``missing_dir``, never raised.
        """
        result = RefreshResult()
        old_errors = dict(self.errors)
        self.errors.pop(self.artifacts_dir, None)
        try:
            found = self._scan()
        except PermissionError as exc:
            # Keep what is loaded: an unlistable folder says nothing about its runs.
            self.errors[self.artifacts_dir] = f"cannot list folder: {exc.strerror or exc}"
            result.errors_changed = old_errors != self.errors
            return result
        if found is None:
            result.missing_dir = True
            found = {}

        # Errors of files that are gone go with them.
        for path in list(self.errors):
            if path.parent == self.artifacts_dir and path.name not in found and path.name != BASELINE_NAME:
                del self.errors[path]
        gone = [name for name in self._seen if name not in found]
        stale = [name for name, key in found.items() if self._seen.get(name) != key]
        drop = set(gone) | {name for name in stale if name in self._seen}
        new_runs: list[RunFile] = []
        for name in stale:
            path = self.artifacts_dir / name
            known = name in self._seen
            try:
                run = read_run(path)
            except ArtifactError as exc:
                self.errors[path] = exc.problem
                self._seen.pop(name, None)
                if known:
                    result.removed.append(name)
                continue
            self.errors.pop(path, None)
            new_runs.append(run)
            (result.changed if known else result.added).append(name)
            self._seen[name] = found[name]
        for name in gone:
            self._seen.pop(name, None)
            result.removed.append(name)
        if drop:
            self.table = self.table.filter(~pl.col("run_id").is_in(sorted(drop)))
        if new_runs:
            self.table = pl.concat([self.table, runs_to_table(new_runs)], how="vertical").sort(SORT_KEYS)
        if result.missing_dir:
            self.errors.pop(self.artifacts_dir / BASELINE_NAME, None)
        result.baseline_changed = self._refresh_baseline()
        result.errors_changed = old_errors != self.errors
        return result

    def _refresh_baseline(self) -> bool:
        path = self.artifacts_dir / BASELINE_NAME
        try:
            info = path.stat()
            key: _FileKey | None = (info.st_mtime_ns, info.st_size, info.st_ino)
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


def load_table(artifacts_dir: Path) -> RunStore:
    """Load the artifacts folder once and return the filled store."""
    store = RunStore(artifacts_dir)
    store.refresh()
    return store

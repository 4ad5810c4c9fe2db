"""The handover from the runs stage to the verdict: :class:`RunHistory`.

Loading the artifacts folder (:class:`~perfslo_tui.runs.store.RunStore`)
gives one frozen :class:`RunHistory`: the run table, the baseline, the files
that could not be used, and what changed since the previous refresh. The
evaluation, every command, action and view read it and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import polars as pl

from perfslo_tui.runs.files import Baseline
from perfslo_tui.runs.machine import MachineInfo

# The columns that describe a run (the same on every row of the run).
RUN_COLUMNS = ("run_id", "ts_ms", "commit", "branch", "dirty", "source", "fingerprint", "machine")
# A series' column holding each row's position in the table (to fetch its samples).
SERIES_ROW = "_row"


def split_series(table: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Each series (SLO or ``@ref`` companion) of a table: its rows without samples, oldest first.

    Each row keeps its position in the table (:data:`SERIES_ROW`), so the
    few runs whose samples are needed fetch them without copying the rest.
    """
    numbered = table.drop("samples").with_row_index(SERIES_ROW)
    return {str(key[0]): part for key, part in numbered.partition_by("slo", as_dict=True).items()}


def runs_of(table: pl.DataFrame) -> pl.DataFrame:
    """One row per run of a table sorted like the store's (the run columns only)."""
    return table.select(RUN_COLUMNS).unique("run_id", keep="first", maintain_order=True)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run's identity: its file name, when it finished, where and how it was measured.

    ``fingerprint`` is the run's measurement fingerprint as canonical JSON
    (empty when the run has none).
    """

    run_id: str
    ts_ms: int
    commit: str
    branch: str
    dirty: bool
    source: str
    fingerprint: str = ""
    machine: str = "unknown"


@dataclass(frozen=True, slots=True)
class RunChanges:
    """What one refresh changed.

    Attributes:
        added: Run ids that are new.
        changed: Run ids whose file changed and was re-read.
        removed: Run ids whose file is gone (or now fails to load).
        errors_changed: True when the set of load errors changed.
        baseline_changed: True when the baseline file changed.
    """

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    errors_changed: bool = False
    baseline_changed: bool = False

    @property
    def any(self) -> bool:
        """True when anything a view shows may have changed."""
        return bool(
            self.added or self.changed or self.removed or self.errors_changed or self.baseline_changed
        )

    @property
    def runs_only_added(self) -> bool:
        """True when the only change to runs and baseline is new runs (the common case)."""
        return not (self.changed or self.removed or self.baseline_changed)


@dataclass(frozen=True, slots=True)
class BaselineDistance:
    """How far the latest run's commit is from the baseline's, counted by git.

    Attributes:
        baseline_commit: The baseline's commit.
        commit: The commit counted to (the latest run's).
        commits: Commits in ``commit`` that are not in ``baseline_commit``.
    """

    baseline_commit: str
    commit: str
    commits: int


def _empty_errors() -> Mapping[Path, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, eq=False)
class RunHistory:
    """Everything loaded from one artifacts folder, frozen.

    Attributes:
        folder: The artifacts folder.
        table: One row per run × SLO, sorted by ``(ts_ms, run_id, slo)``
            (columns: :data:`perfslo_tui.runs.store.TABLE_SCHEMA`).
        runs: One row per run (:data:`RUN_COLUMNS`), oldest first.
        series: Per series name, its rows without samples (see
            :func:`split_series`); kept up to date by the store as runs
            arrive, so an evaluation does not regroup the whole table.
        baseline: The baseline, if there is a usable one.
        errors: Files that could not be used: path → reason.
        changes: What changed since the previous refresh of the same store.
        missing_dir: True when the artifacts folder does not exist.
        version: Counts the store's refreshes that changed something; the
            evaluation uses it to reuse a previous result safely.
        previous_version: The version ``changes`` are relative to.
        baseline_distance: Commits from the baseline's commit to the latest
            run's, when git can tell (the folder is in a repository that has
            both commits); counted by the loader, never by the verdict.
        machine: The machine the runs were restricted to (None: every
            machine the store holds; see :mod:`perfslo_tui.runs.selection`).
        machines: Every machine the store holds, newest first.
        stored_runs: How many runs the store holds for this machine, when
            the table holds only some of them (the shared history loads the
            trend window); None when the table holds them all.
        shared: The shared history's URL (without password), or None for
            the artifacts folder.
    """

    folder: Path
    table: pl.DataFrame
    runs: pl.DataFrame
    series: Mapping[str, pl.DataFrame] = field(default_factory=lambda: MappingProxyType({}))
    baseline: Baseline | None = None
    errors: Mapping[Path, str] = field(default_factory=_empty_errors)
    changes: RunChanges = field(default_factory=RunChanges)
    missing_dir: bool = False
    version: int = 0
    previous_version: int | None = None
    baseline_distance: BaselineDistance | None = None
    machine: str | None = None
    machines: Mapping[str, MachineInfo] = field(default_factory=lambda: MappingProxyType({}))
    stored_runs: int | None = None
    shared: str | None = None

    @property
    def run_count(self) -> int:
        """Number of runs in the history (the store's count when the table holds a window of them)."""
        return self.stored_runs if self.stored_runs is not None else self.runs.height

    @property
    def latest(self) -> RunInfo | None:
        """The newest run by its recorded time, or None without runs."""
        if self.runs.height == 0:
            return None
        return RunInfo(**self.runs.row(self.runs.height - 1, named=True))

    def run(self, run_id: str) -> RunInfo | None:
        """One run's identity, or None when it is not loaded."""
        match = self.runs.filter(pl.col("run_id") == run_id)
        if match.height == 0:
            return None
        return RunInfo(**match.row(0, named=True))

    def samples(self, run_id: str, slo: str) -> list[float]:
        """One run's raw samples of one SLO (empty when it did not measure it)."""
        rows = self.table.filter((pl.col("run_id") == run_id) & (pl.col("slo") == slo))
        return [float(v) for v in rows["samples"][0]] if rows.height else []

    def measured(self, run_id: str) -> frozenset[str]:
        """The names of the series a run holds."""
        latest = self.latest
        if latest is not None and latest.run_id == run_id and self.series:
            # The common case, without a scan: the series whose last row is this run.
            return frozenset(name for name, rows in self.series.items() if rows["run_id"][-1] == run_id)
        return frozenset(self.table.filter(pl.col("run_id") == run_id)["slo"].to_list())


def history_of(table: pl.DataFrame, baseline: Baseline | None = None, folder: Path = Path(".")) -> RunHistory:
    """A history made from a run table built elsewhere (benchmarks and what-if views).

    Args:
        table: Rows in the store's schema, sorted by ``(ts_ms, run_id, slo)``.
        baseline: The baseline to compare with, if any.
        folder: The folder the runs are said to come from.
    """
    return RunHistory(
        folder=folder, table=table, runs=runs_of(table), series=split_series(table), baseline=baseline
    )


def with_samples(frame: pl.DataFrame, samples: pl.Series) -> pl.DataFrame:
    """A few rows of a series with their samples, fetched by row number.

    The rows are gathered from a zero-copy slice spanning them: a gather on a
    table of several chunks (a cache load, appended runs) would first merge
    the whole samples column, ~60 MB at 10,000 runs, at every evaluation.
    """
    rows = frame.get_column(SERIES_ROW)
    if rows.len() == 0:
        return frame.with_columns(samples.clear())
    low = int(rows.min())  # type: ignore[arg-type]
    high = int(rows.max())  # type: ignore[arg-type]
    return frame.with_columns(samples.slice(low, high - low + 1).gather(rows - low))

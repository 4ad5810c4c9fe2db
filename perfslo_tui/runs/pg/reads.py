"""Reading the shared history: the run table through Arrow, baselines, machines.

**How a table is read.** Two queries in one ``REPEATABLE READ`` snapshot:
the runs (their string columns once per run) and the series rows (run id,
summaries, samples only for the picked runs), joined in polars. The picked
runs are the latest ``recent_samples`` runs and as many latest runs of the
baseline's commit: everything else the gate and the monitor read comes from
the summaries computed on write. With a window, the chosen runs are an index
range on ``ts_ms`` plus the picked ids, and lateral joins make the server
walk the ``(run, slo)`` index per chosen run instead of scanning every row.

The table goes through Arrow (ADBC's libpq driver, which turns
``double precision[]`` into Arrow lists natively). ADBC streams a result
through ``COPY ... TO STDOUT`` only for a query without parameters, so the
values are bound by psycopg's client-side binding (``ClientCursor.mogrify``,
quoting for that very connection's encoding and settings) and ADBC gets the
finished statement; measured 1.5-2x faster than ADBC's own binding
(benchmarks/pg_scale.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import polars as pl
import psycopg

from perfslo_tui.runs.files import ArtifactError, Baseline, parse_baseline
from perfslo_tui.runs.machine import MachineInfo, describe_host
from perfslo_tui.runs.pg import SharedHistoryError
from perfslo_tui.runs.pg.database import Database
from perfslo_tui.runs.pg.urls import LOST_CONNECTION, connect_problem, scrub
from perfslo_tui.runs.store import TABLE_SCHEMA

if TYPE_CHECKING:
    import pyarrow

DEFAULT_RECENT_SAMPLES = 10_000
RUN_SELECT = "id, run_id, ts_ms, commit, branch, dirty, source, machine"
# Schema 2: each run's summaries as arrays on its row (one element per series).
SUMMARY_ARRAYS = "slos, counts, medians, means, mins, maxs, p95s, stdevs"
_ARRAY_COLUMNS = {
    "slos": "slo", "counts": "count", "medians": "median", "means": "mean",
    "mins": "min", "maxs": "max", "p95s": "p95", "stdevs": "stdev",
}  # fmt: skip
STAT_SELECT = "slo, count, median, mean, min, max, p95, stdev"
# Schema 3: the run's fingerprint and, per series, the raw count and where warm-up ends.
STEADY_ARRAYS = {
    "samples_totals": "samples_total", "steady_froms": "steady_from",
    "steady_classes": "steady_class", "steady_changes": "steady_change",
}  # fmt: skip
# A row written without them (by hand, or a tool that bypasses perfslo) reads as the
# migration to version 3 fills older rows: steady from the first sample.
STEADY_SELECT = (
    "coalesce(samples_total, count) AS samples_total, coalesce(steady_from, 0) AS steady_from,"
    " coalesce(steady_class, 'flat') AS steady_class, coalesce(steady_change, 0) AS steady_change"
)
_STEADY_ARRAY_SELECT = (
    "coalesce(samples_totals, counts) AS samples_totals,"
    " coalesce(steady_froms, array_fill(0::bigint, ARRAY[cardinality(slos)])) AS steady_froms,"
    " coalesce(steady_classes, array_fill('flat'::text, ARRAY[cardinality(slos)])) AS steady_classes,"
    " coalesce(steady_changes, array_fill(0::float8, ARRAY[cardinality(slos)])) AS steady_changes"
)


def _run_select(version: int) -> str:
    """The per-run columns a load reads from a schema of this version."""
    return f"{RUN_SELECT}, fingerprint" if version >= 3 else RUN_SELECT


def _stat_select(version: int) -> str:
    """The per-series summary columns a load reads from a schema of this version."""
    return f"{STAT_SELECT}, {STEADY_SELECT}" if version >= 3 else STAT_SELECT


def _array_columns(version: int) -> dict[str, str]:
    """The summary arrays on a run's row (schema 2 on) and the table columns they become."""
    return {**_ARRAY_COLUMNS, **STEADY_ARRAYS} if version >= 3 else dict(_ARRAY_COLUMNS)


def _with_defaults(frame: pl.DataFrame) -> pl.DataFrame:
    """Fill the columns a schema before version 3 lacks, as the migration to 3 fills them.

    Those runs' summaries were computed over all their samples: steady from
    the first sample, no fingerprint.
    """
    defaults = {
        "fingerprint": pl.lit(""),
        "samples_total": pl.col("count"),
        "steady_from": pl.lit(0, dtype=pl.Int64),
        "steady_class": pl.lit("flat"),
        "steady_change": pl.lit(0.0),
    }
    missing = [value.alias(name) for name, value in defaults.items() if name not in frame.columns]
    return frame.with_columns(missing) if missing else frame


@dataclass(frozen=True, slots=True)
class LoadedTable:
    """A run table read from the shared history.

    Attributes:
        table: Rows in the file store's schema and order.
        ids: The row ids of the runs it holds.
    """

    table: pl.DataFrame
    ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class StoredRun:
    """Where a run sits in the shared history."""

    id: int
    run_id: str
    ts_ms: int
    machine: str


class Reader(Database):
    """The read side of :class:`~perfslo_tui.runs.pg.history.PgHistory`."""

    _adbc: Any = None  # an ADBC connection for Arrow reads, opened on first load
    _opening: threading.Thread | None = None  # opens it ahead of the first load

    def prepare_arrow(self) -> None:
        """Import the Arrow driver and connect it in the background, while other queries run.

        The first load then finds both done (~0.1-0.2 s of a gate's start).
        A failure here is left for the load itself to report.
        """
        if self._adbc is not None or self._opening is not None:
            return

        def open_arrow() -> None:
            try:
                import adbc_driver_postgresql.dbapi as adbc

                self._adbc = adbc.connect(self.url)
            except Exception:  # noqa: BLE001, S110 (the load retries and reports it in one line)
                pass

        self._opening = threading.Thread(target=open_arrow, name="perfslo-arrow", daemon=True)
        self._opening.start()

    def close(self) -> None:
        """Close the connections (they reopen on next use)."""
        super().close()
        if self._opening is not None:
            self._opening.join()
            self._opening = None
        self._close_adbc()

    def load_table(
        self,
        recent_samples: int = DEFAULT_RECENT_SAMPLES,
        *,
        machine: str | None = None,
        window_ms: int | None = None,
        baseline_commit: str | None = None,
    ) -> LoadedTable:
        """The run table (columns and dtypes of ``TABLE_SCHEMA``), sorted like the file store's.

        Args:
            recent_samples: Samples come for this many latest runs, and for as
                many latest runs of ``baseline_commit``; other rows get an
                empty samples list but keep their summaries.
            machine: Only runs of this machine key (None: every machine).
            window_ms: Only runs measured at most this long before the newest
                run (the trend window), plus the runs that carry samples.
            baseline_commit: The baseline's commit (default: the commit of the
                current baseline of ``machine``).

        Raises:
            SharedHistoryError: When the history cannot be read.
        """
        self.ensure_schema()
        if baseline_commit is None:
            current = self.baseline(machine)
            baseline_commit = current.commit if current is not None else ""
        since = None if window_ms is None else self.newest_ts(machine) - window_ms
        params = {"machine": machine, "recent": recent_samples, "base": baseline_commit, "since": since}
        only = "TRUE" if machine is None else "machine = %(machine)s"
        picked = (
            "picked AS MATERIALIZED ("
            f"(SELECT id FROM perfslo.runs WHERE {only} ORDER BY ts_ms DESC, run_id DESC LIMIT %(recent)s)"
            f" UNION (SELECT id FROM perfslo.runs WHERE {only} AND commit = %(base)s"
            " ORDER BY ts_ms DESC, run_id DESC LIMIT %(recent)s))"
        )
        version = self.ensure_schema()
        if version >= 2:
            return self._load_summaries(picked, only, since, params, version)
        if since is None:
            runs_sql = f"SELECT {RUN_SELECT} FROM perfslo.runs WHERE {only}"  # noqa: S608 (constant SQL)
            stats_sql = (
                f"WITH {picked} SELECT run AS id, {STAT_SELECT}, CASE WHEN run IN (SELECT id FROM picked)"
                " THEN samples END AS samples FROM perfslo.slo_stats"
                f" WHERE run IN (SELECT id FROM perfslo.runs WHERE {only})"
            )
        else:
            chosen = (
                f"WITH {picked}, chosen AS MATERIALIZED (SELECT id, bool_or(sampled) AS sampled FROM"
                f" (SELECT id, false AS sampled FROM perfslo.runs WHERE {only} AND ts_ms >= %(since)s"
                " UNION ALL SELECT id, true FROM picked) AS u GROUP BY id)"
            )
            runs_sql = (
                f"{chosen} SELECT r.* FROM chosen c CROSS JOIN LATERAL"
                f" (SELECT {RUN_SELECT} FROM perfslo.runs WHERE id = c.id) AS r"
            )
            stats_sql = (
                f"{chosen} SELECT c.id, s.* FROM chosen c CROSS JOIN LATERAL (SELECT {STAT_SELECT},"
                " CASE WHEN c.sampled THEN samples END AS samples"
                " FROM perfslo.slo_stats WHERE run = c.id) AS s"
            )
        # Run columns travel once per run, not once per series: half the bytes.
        runs, stats = self._fetch_arrow([(runs_sql, params), (stats_sql, params)])
        return join_run_table(runs, stats)

    def _load_summaries(
        self, picked: str, only: str, since: int | None, params: Mapping[str, Any], version: int
    ) -> LoadedTable:
        """Schema 2: the window's runs with their summaries from one index range, samples for the picked."""
        arrays = _array_columns(version)
        columns = f"{_run_select(version)}, {SUMMARY_ARRAYS}"
        if version >= 3:
            columns += f", {_STEADY_ARRAY_SELECT}"
        if since is None:
            runs_sql = f"SELECT {columns} FROM perfslo.runs WHERE {only}"
        else:
            # Two disjoint parts: the window (an index range) and the picked runs before it.
            runs_sql = (
                f"WITH {picked} SELECT {columns} FROM perfslo.runs WHERE {only} AND ts_ms >= %(since)s"
                f" UNION ALL SELECT {columns} FROM perfslo.runs WHERE id IN (SELECT id FROM picked)"
                " AND ts_ms < %(since)s"
            )
        samples_sql = (
            f"WITH {picked} SELECT run AS id, slo, samples FROM perfslo.slo_stats"
            " WHERE run IN (SELECT id FROM picked) AND samples IS NOT NULL"
        )
        runs, samples = self._fetch_arrow([(runs_sql, params), (samples_sql, params)])
        return explode_run_table(runs, samples, arrays)

    def load_runs(self, ids: Sequence[int]) -> pl.DataFrame:
        """The table rows (with samples) of the runs with these row ids: what a live view appends."""
        if not ids:
            return pl.DataFrame(schema=TABLE_SCHEMA)
        params = {"ids": sorted(int(i) for i in ids)}
        version = self.ensure_schema()
        runs_sql = f"SELECT {_run_select(version)} FROM perfslo.runs WHERE id = ANY(%(ids)s)"  # noqa: S608
        stats_sql = (
            f"SELECT run AS id, {_stat_select(version)}, samples FROM perfslo.slo_stats"  # noqa: S608
            " WHERE run = ANY(%(ids)s)"
        )
        runs, stats = self._fetch_arrow([(runs_sql, params), (stats_sql, params)])
        return join_run_table(runs, stats).table

    def runs_after(self, after_id: int, machine: str | None = None) -> list[StoredRun]:
        """The runs with a row id above ``after_id`` (of one machine, if given), oldest id first."""
        self.ensure_schema()

        def read(conn: psycopg.Connection[Any]) -> list[StoredRun]:
            query = "SELECT id, run_id, ts_ms, machine FROM perfslo.runs WHERE id > %s"
            params: tuple[Any, ...] = (after_id,)
            if machine is not None:
                query += " AND machine = %s"
                params = (after_id, machine)
            rows = conn.execute(query + " ORDER BY id", params).fetchall()
            return [StoredRun(int(i), str(r), int(t), str(m)) for i, r, t, m in rows]

        return self.run("look for new runs", read)

    def newest_ts(self, machine: str | None = None) -> int:
        """The time of the newest run (of one machine), 0 without runs."""
        newest = self.newest_run(machine)
        return newest.ts_ms if newest is not None else 0

    def newest_run(self, machine: str | None = None) -> StoredRun | None:
        """The newest run by measured time (of one machine, if given)."""
        self.ensure_schema()

        def read(conn: psycopg.Connection[Any]) -> StoredRun | None:
            query = "SELECT id, run_id, ts_ms, machine FROM perfslo.runs"
            params: tuple[Any, ...] = ()
            if machine is not None:
                query += " WHERE machine = %s"
                params = (machine,)
            row = conn.execute(query + " ORDER BY ts_ms DESC, run_id DESC LIMIT 1", params).fetchone()
            return StoredRun(int(row[0]), str(row[1]), int(row[2]), str(row[3])) if row else None

        return self.run("read the newest run", read)

    def find_runs(self, digests: Sequence[bytes]) -> dict[bytes, StoredRun]:
        """The stored runs with these content digests."""
        self.ensure_schema()

        def read(conn: psycopg.Connection[Any]) -> dict[bytes, StoredRun]:
            rows = conn.execute(
                "SELECT digest, id, run_id, ts_ms, machine FROM perfslo.runs WHERE digest = ANY(%s)",
                (list(digests),),
            ).fetchall()
            return {bytes(d): StoredRun(int(i), str(r), int(t), str(m)) for d, i, r, t, m in rows}

        return self.run("look up runs", read)

    def run_count(self, machine: str | None = None) -> int:
        """How many runs the history holds (of one machine, if given)."""
        self.ensure_schema()

        def count(conn: psycopg.Connection[Any]) -> int:
            if machine is None:
                row = conn.execute("SELECT count(*) FROM perfslo.runs").fetchone()
            else:
                row = conn.execute(
                    "SELECT count(*) FROM perfslo.runs WHERE machine = %s", (machine,)
                ).fetchone()
            return int(row[0]) if row else 0

        return self.run("count runs", count)

    def machines(self) -> dict[str, MachineInfo]:
        """Every machine that pushed runs, newest first (run counts are not counted: ``runs`` is None)."""
        version = self.ensure_schema()

        def read(conn: psycopg.Connection[Any]) -> dict[str, MachineInfo]:
            if version >= 2:
                keys = conn.execute("SELECT key, host FROM perfslo.machines").fetchall()
            else:  # schema 1: no machines table yet (a writer adds it at its next push)
                keys = conn.execute(
                    "SELECT DISTINCT ON (machine) machine, host FROM perfslo.runs ORDER BY machine, id DESC"
                ).fetchall()
            found = []
            for key, host in keys:
                last = conn.execute(
                    "SELECT max(ts_ms) FROM perfslo.runs WHERE machine = %s", (key,)
                ).fetchone()
                if last is None or last[0] is None:
                    continue
                found.append(MachineInfo(str(key), describe_host(host or {}), None, int(last[0])))
            found.sort(key=lambda m: (-m.last_ts_ms, m.key))
            return {m.key: m for m in found}

        return self.run("list machines", read)

    def baseline_document(self, machine: str | None = None) -> tuple[int, bytes] | None:
        """``(row id, file bytes)`` of the current baseline (see :meth:`baseline`), or None."""
        self.ensure_schema()

        def read(conn: psycopg.Connection[Any]) -> tuple[int, bytes] | None:
            if machine is None:
                row = conn.execute(
                    "SELECT id, document FROM perfslo.baselines ORDER BY id DESC LIMIT 1"
                ).fetchone()
            else:
                # This machine's newest, else the newest of no known machine.
                row = conn.execute(
                    "SELECT id, document FROM perfslo.baselines WHERE scope IN (%s, '')"
                    " ORDER BY scope = %s DESC, id DESC LIMIT 1",
                    (machine, machine),
                ).fetchone()
            return (int(row[0]), bytes(row[1])) if row else None

        return self.run("read the baseline", read)

    def baseline(self, machine: str | None = None) -> Baseline | None:
        """The current baseline of ``machine`` (else the newest of no known machine), or of any when None."""
        found = self.baseline_document(machine)
        return None if found is None else self.parse_stored_baseline(*found)

    def parse_stored_baseline(self, row_id: int, data: bytes) -> Baseline:
        """A stored baseline document as the file store's :class:`Baseline`."""
        path = Path("shared-history") / f"baseline-{row_id}.json"
        try:
            return parse_baseline(path, orjson.loads(data))
        except (ArtifactError, orjson.JSONDecodeError) as exc:
            raise SharedHistoryError(f"{self.where}: stored baseline {row_id} is unusable: {exc}") from None

    def run_document(self, run_id: str) -> tuple[StoredRun, bytes | None] | None:
        """A stored run and its file's bytes (None once pruned), or None when there is no such run."""
        self.ensure_schema()

        def read(conn: psycopg.Connection[Any]) -> tuple[StoredRun, bytes | None] | None:
            row = conn.execute(
                "SELECT id, run_id, ts_ms, machine, document FROM perfslo.runs WHERE run_id = %s", (run_id,)
            ).fetchone()
            if row is None:
                return None
            stored = StoredRun(int(row[0]), str(row[1]), int(row[2]), str(row[3]))
            return stored, bytes(row[4]) if row[4] is not None else None

        return self.run("read a run", read)

    def run_index(self, machine: str | None = None) -> list[tuple[int, str, bytes]]:
        """``(id, run_id, digest)`` of every run whose file is still stored, oldest id first."""
        self.ensure_schema()

        def read(conn: psycopg.Connection[Any]) -> list[tuple[int, str, bytes]]:
            query = "SELECT id, run_id, digest FROM perfslo.runs WHERE document IS NOT NULL"
            params: tuple[Any, ...] = ()
            if machine is not None:
                query += " AND machine = %s"
                params = (machine,)
            rows = conn.execute(query + " ORDER BY id", params).fetchall()
            return [(int(i), str(r), bytes(d)) for i, r, d in rows]

        return self.run("list runs", read)

    def documents(self, ids: Sequence[int]) -> list[tuple[int, str, bytes]]:
        """``(id, run_id, file bytes)`` of the given runs (those still holding their file)."""

        def read(conn: psycopg.Connection[Any]) -> list[tuple[int, str, bytes]]:
            rows = conn.execute(
                "SELECT id, run_id, document FROM perfslo.runs WHERE id = ANY(%s) AND document IS NOT NULL",
                (list(ids),),
            ).fetchall()
            return [(int(i), str(r), bytes(d)) for i, r, d in rows]

        return self.run("fetch runs", read)

    # ------------------------------------------------------------ Arrow

    def _fetch_arrow(self, queries: Sequence[tuple[str, Mapping[str, Any]]]) -> list[pyarrow.Table]:
        """Run queries through ADBC in one snapshot; their Arrow tables (a lost connection is retried)."""
        literals = self.run(
            "prepare the query",
            lambda conn: [psycopg.ClientCursor(conn).mogrify(text, dict(args)) for text, args in queries],
        )
        if self._opening is not None:
            self._opening.join()
            self._opening = None
        import adbc_driver_postgresql.dbapi as adbc

        deadline: float | None = None
        while True:
            try:
                if self._adbc is None:
                    self._adbc = adbc.connect(self.url)
                tables = []
                with self._adbc.cursor() as cur:
                    if len(literals) > 1:
                        # One snapshot for all: a run pushed in between is in all results or none.
                        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    for literal in literals:
                        cur.execute(literal)
                        tables.append(cur.fetch_arrow_table())
                self._adbc.rollback()  # end the read transaction: no snapshot kept open
                return tables
            except Exception as exc:  # noqa: BLE001 (ADBC has its own error classes: each becomes one line)
                self._close_adbc()
                low = " ".join(str(exc).split()).lower()
                lost = any(part in low for part in LOST_CONNECTION) or "eof" in low
                now = time.monotonic()
                if lost and self._reached:
                    deadline = deadline if deadline is not None else now + self.retry_seconds
                    if now < deadline:
                        time.sleep(0.2)
                        continue
                if "failed to connect" in low or "connection to server" in low:
                    raise SharedHistoryError(connect_problem(exc, self.url)) from None
                raise SharedHistoryError(
                    f"{self.where}: cannot read runs: {scrub(str(exc), self.url)}"
                ) from None

    def _close_adbc(self) -> None:
        if self._adbc is not None:
            try:
                self._adbc.close()
            except Exception:  # noqa: BLE001, S110 (closing a broken connection may fail; it is dropped anyway)
                pass
            self._adbc = None


def join_run_table(runs: pyarrow.Table, stats: pyarrow.Table) -> LoadedTable:
    """The run table from the per-run and the per-series results of a load."""
    run_frame = pl.from_arrow(runs)
    stat_frame = pl.from_arrow(stats)
    assert isinstance(run_frame, pl.DataFrame) and isinstance(stat_frame, pl.DataFrame)
    ids = frozenset(int(i) for i in run_frame.get_column("id").to_list())
    # Sorting the runs (1/7 of the rows) by the string key, then the rest by an integer, is cheaper.
    run_frame = run_frame.sort(["ts_ms", "run_id"]).with_row_index("_order")
    empty = pl.lit([], dtype=pl.List(pl.Float64))
    frame = (
        stat_frame.join(run_frame, on="id", how="inner")
        .sort(["_order", "slo"])
        .with_columns(pl.col("samples").cast(pl.List(pl.Float64)).fill_null(empty))
    )
    table = _with_defaults(frame).select(pl.col(name).cast(dtype) for name, dtype in TABLE_SCHEMA.items())
    return LoadedTable(table, ids)


def explode_run_table(
    runs: pyarrow.Table, samples: pyarrow.Table, arrays: Mapping[str, str] = _ARRAY_COLUMNS
) -> LoadedTable:
    """The run table from the runs with their summary arrays and the picked runs' samples.

    Args:
        runs: The runs with their summary arrays.
        samples: ``(id, slo, samples)`` of the picked runs.
        arrays: The array columns and the table columns they become.
    """
    run_frame = pl.from_arrow(runs)
    sample_frame = pl.from_arrow(samples)
    assert isinstance(run_frame, pl.DataFrame) and isinstance(sample_frame, pl.DataFrame)
    ids = frozenset(int(i) for i in run_frame.get_column("id").to_list())
    # The arrays hold the series in byte order of their names: sorting the runs
    # and exploding them gives the file store's order without sorting every row.
    frame = (
        run_frame.sort(["ts_ms", "run_id"])
        .explode(list(arrays))
        .rename(dict(arrays))
        .join(sample_frame, on=["id", "slo"], how="left", maintain_order="left")
        .with_columns(
            pl.col("samples").cast(pl.List(pl.Float64)).fill_null(pl.lit([], dtype=pl.List(pl.Float64)))
        )
    )
    table = _with_defaults(frame).select(pl.col(name).cast(dtype) for name, dtype in TABLE_SCHEMA.items())
    return LoadedTable(table, ids)

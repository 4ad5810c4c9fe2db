"""Writing to the shared history: runs and baselines, idempotent by content.

A run's key is the SHA-256 of its *canonical JSON* (keys sorted, no
whitespace, orjson's shortest round-trip floats), not of the file's bytes: a
Windows checkout (CRLF), a BOM or an editor that re-indents changes the bytes
but not the run, and pushing it again must not make a second run. The bytes
as pushed are kept too, so a pull writes back the very file. The per-series
summaries are computed on write with the file store's own code
(:func:`perfslo_tui.runs.store.runs_to_table`), so a table read back equals
the one read from the files, float for float.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg

from perfslo_tui.runs.files import (
    ArtifactError,
    RunFile,
    parse_baseline,
    parse_run,
    run_file_name,
)
from perfslo_tui.runs.pg import SharedHistoryError
from perfslo_tui.runs.pg.database import Database
from perfslo_tui.runs.store import runs_to_table

CHANNEL = "perfslo_runs"
STAT_COLUMNS = ("slo", "count", "median", "mean", "min", "max", "p95", "stdev", "samples")
# Schema 3: per series, the raw sample count and where warm-up ends (runs/steady.py).
STEADY_COLUMNS = ("samples_total", "steady_from", "steady_class", "steady_change")
# The run file size the file store accepts (runs/files.py).
MAX_RUN_BYTES = 64 * 1024 * 1024


def canonical_json(document: Any) -> bytes:
    """A document as canonical JSON: sorted keys, no whitespace."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def run_digest(document: Any) -> bytes:
    """The key of a run: SHA-256 of its canonical JSON (32 bytes)."""
    return hashlib.sha256(canonical_json(document)).digest()


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """A run checked against the schema and ready to insert.

    Attributes:
        name: The run file name (the table's ``run_id``).
        data: The file's bytes as they will be stored (BOM removed).
        document: The parsed document.
        digest: :func:`run_digest` of it.
        run: The checked run (its ``machine`` is the machine key).
    """

    name: str
    data: bytes
    document: dict[str, Any]
    digest: bytes
    run: RunFile


def prepare_run(data: bytes, name: str | None = None) -> PreparedRun:
    """Parse and check a run file's bytes.

    Args:
        data: The run file's content.
        name: Its file name; default the name perfslo gives it.

    Raises:
        SharedHistoryError: ``NAME: run rejected: ...`` when it is not valid
            JSON, too large, or the run schema rejects it.
    """
    label = name or "run"
    if len(data) > MAX_RUN_BYTES:
        raise SharedHistoryError(f"{label}: run rejected: too large (over {MAX_RUN_BYTES // 2**20} MiB)")
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise SharedHistoryError(f"{label}: run rejected: invalid JSON (truncated or corrupt?)") from None
    if name is None and isinstance(document, dict) and isinstance(document.get("metadata"), dict):
        meta = document["metadata"]
        if isinstance(meta.get("timestamp_unix"), int):
            name = run_file_name(str(meta.get("commit") or "unknown"), meta["timestamp_unix"])
    try:
        run = parse_run(Path(name or "run.json"), document)
    except ArtifactError as exc:
        raise SharedHistoryError(f"{label}: run rejected: {exc.problem}") from None
    assert isinstance(document, dict)  # parse_run refuses anything else
    return PreparedRun(name=run.run_id, data=data, document=document, digest=run_digest(document), run=run)


def read_prepared(path: Path) -> PreparedRun:
    """:func:`prepare_run` of a file.

    Raises:
        SharedHistoryError: When it cannot be read or is rejected.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_RUN_BYTES + 1)
    except OSError as exc:
        raise SharedHistoryError(f"{path.name}: cannot read: {exc.strerror or exc}") from None
    return prepare_run(data, path.name)


class Writer(Database):
    """The write side of :class:`~perfslo_tui.runs.pg.history.PgHistory`."""

    def push_run(self, run: bytes | Path | PreparedRun, name: str | None = None) -> bool:
        """Insert a run unless its content is already there.

        Args:
            run: The run file's bytes, its path, or a prepared run.
            name: The file name for bytes (default: the name perfslo gives it).

        Returns:
            True when inserted, False when the same run was already stored.

        Raises:
            SharedHistoryError: When the schema rejects the run or the database fails.
        """
        if isinstance(run, Path):
            prepared = read_prepared(run)
        elif isinstance(run, PreparedRun):
            prepared = run
        else:
            prepared = prepare_run(run, name)
        return self.push_runs([prepared])[0]

    def push_runs(self, runs: Sequence[PreparedRun]) -> list[bool]:
        """Insert prepared runs in one transaction; per run, True when inserted.

        Idempotent, so a retry after a lost connection (whose commit may or
        may not have happened) inserts nothing twice.
        """
        self.ensure_schema()
        if not runs:
            return []
        version = self._schema_version or 0
        table = runs_to_table(run.run for run in runs)
        # The series' columns in the order _insert_one expects: summaries, samples, then schema 3's.
        rows = table.select("run_id", *STAT_COLUMNS, *(STEADY_COLUMNS if version >= 3 else ()))
        fingerprints = dict(table.select("run_id", "fingerprint").iter_rows())
        by_run: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows.iter_rows():
            by_run.setdefault(row[0], []).append(row[1:])

        def insert(conn: psycopg.Connection[Any]) -> list[bool]:
            return [
                self._insert_one(
                    conn, run, by_run.get(run.run.run_id, []), version, fingerprints.get(run.run.run_id, "")
                )
                for run in runs
            ]

        return self.run("store the run", insert)

    def _insert_one(
        self,
        conn: psycopg.Connection[Any],
        run: PreparedRun,
        stats: list[tuple[Any, ...]],
        version: int,
        fingerprint: str,
    ) -> bool:
        meta = run.run
        host = run.document["metadata"].get("host")
        host_json = orjson.dumps(host if isinstance(host, dict) else {}).decode()
        name = run.name
        row = None
        columns = "digest, run_id, ts_ms, commit, branch, dirty, source, machine, host, document"
        values: list[Any] = [
            run.digest, name, meta.timestamp_ms, meta.commit, meta.branch, meta.dirty,
            meta.source, meta.machine, host_json, run.data,
        ]  # fmt: skip
        summaries = len(STAT_COLUMNS) - 1  # slo ... stdev; then samples, then schema 3's columns
        if version >= 2:
            # The run's summaries on its own row too, series in byte order of their names.
            ordered = sorted(stats, key=lambda stat: str(stat[0]))
            columns += ", slos, counts, medians, means, mins, maxs, p95s, stdevs"
            arrays = [stat[:summaries] for stat in ordered]
            if version >= 3:
                columns += ", samples_totals, steady_froms, steady_classes, steady_changes, fingerprint"
                arrays = [stat[:summaries] + stat[summaries + 1 :] for stat in ordered]
            width = len(arrays[0]) if arrays else summaries + (len(STEADY_COLUMNS) if version >= 3 else 0)
            values += [list(column) for column in zip(*arrays, strict=True)] or [[] for _ in range(width)]
            if version >= 3:
                values.append(fingerprint)
        # Constant column names and placeholders only: every value is bound.
        placeholders = ", ".join("%s::jsonb" if column == "host" else "%s" for column in columns.split(", "))
        insert = f"INSERT INTO perfslo.runs ({columns}) VALUES ({placeholders}) ON CONFLICT DO NOTHING"
        insert += " RETURNING id"
        for attempt in range(2):
            values[1] = name
            row = conn.execute(insert, values).fetchone()  # type: ignore[arg-type]
            if row is not None:
                break
            if conn.execute("SELECT 1 FROM perfslo.runs WHERE digest = %s", (run.digest,)).fetchone():
                return False
            if attempt == 1:
                raise SharedHistoryError(
                    f"{run.name}: another run is stored under that name and under {name}"
                )
            # Another machine pushed a different run of the same commit in the
            # same millisecond: keep both, this one under a name that carries
            # its digest (still a valid run file name).
            stem = run.name.removesuffix(".json")
            commit_part, _, ms = stem.rpartition("-")
            name = f"{commit_part}-{run.digest.hex()[:8]}-{ms}.json"
        assert row is not None  # the loop breaks with a row or returns
        run_row = int(row[0])
        stat_columns = ", ".join(STAT_COLUMNS + (STEADY_COLUMNS if version >= 3 else ()))
        stat_values = ", ".join(["%s"] * (1 + len(stat_columns.split(", "))))
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO perfslo.slo_stats (run, {stat_columns}) VALUES ({stat_values})",  # noqa: S608 (constant)
                [(run_row, *values) for values in stats],
            )
        if version >= 2:
            conn.execute(
                "INSERT INTO perfslo.machines (key, host) VALUES (%s, %s::jsonb) ON CONFLICT DO NOTHING",
                (meta.machine, host_json),
            )
        # Delivered at commit, to every listener on every machine.
        payload = {"id": run_row, "run_id": name, "ts_ms": meta.timestamp_ms, "machine": meta.machine}
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, orjson.dumps(payload).decode()))
        return True

    def push_baseline(self, document: bytes | Mapping[str, Any]) -> bool:
        """Store a baseline document; it becomes the current one of its machine.

        Its machine is the one it records, else the machine of its source run
        when that run is stored, else none in particular. A baseline stored
        before for that machine is not stored again (so pushing an old,
        committed baseline file never undoes a newer one).

        Returns:
            True when stored, False when it was there already.

        Raises:
            SharedHistoryError: When the baseline schema rejects it or the database fails.
        """
        self.ensure_schema()
        if isinstance(document, bytes | bytearray):
            data = bytes(document).removeprefix(b"\xef\xbb\xbf")
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                raise SharedHistoryError("baseline rejected: invalid JSON") from None
        else:
            parsed = dict(document)
            data = orjson.dumps(parsed, option=orjson.OPT_INDENT_2)
        try:
            baseline = parse_baseline(Path(".perf-baseline.json"), parsed)
        except ArtifactError as exc:
            raise SharedHistoryError(f"baseline rejected: {exc.problem}") from None
        digest = run_digest(parsed)

        def insert(conn: psycopg.Connection[Any]) -> bool:
            scope = baseline.machine
            if scope is None:
                found = conn.execute(
                    "SELECT machine FROM perfslo.runs WHERE run_id = %s", (baseline.source_run,)
                ).fetchone()
                scope = str(found[0]) if found else ""
            row = conn.execute(
                "INSERT INTO perfslo.baselines (scope, digest, commit, source_run, document)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
                (scope, digest, baseline.commit, baseline.source_run, data),
            ).fetchone()
            if row is None:
                return False
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, orjson.dumps({"baseline": scope}).decode()))
            return True

        return self.run("store the baseline", insert)

    def prune_samples(self, keep_days: int, keep_latest: int, *, dry_run: bool = False) -> int:
        """Drop the samples and files of old runs; their summaries stay.

        The trends and the gate still see those runs (by their summaries); a
        pull no longer writes them (there is no file left to write). Kept
        whole: the runs within ``keep_days`` of each machine's newest run,
        each machine's latest ``keep_latest`` runs, and every run of a
        baseline's commit.

        Returns:
            How many runs were (or, with ``dry_run``, would be) pruned.
        """
        self.ensure_schema()
        chosen = (
            "SELECT id FROM (SELECT id, ts_ms, commit, document IS NOT NULL AS whole,"
            " max(ts_ms) OVER (PARTITION BY machine) AS newest,"
            " row_number() OVER (PARTITION BY machine ORDER BY ts_ms DESC, run_id DESC) AS rank"
            " FROM perfslo.runs) AS r WHERE whole AND ts_ms < newest - %(window)s AND rank > %(latest)s"
            " AND commit NOT IN (SELECT commit FROM perfslo.baselines)"
        )
        params = {"window": keep_days * 86_400_000, "latest": keep_latest}

        def prune(conn: psycopg.Connection[Any]) -> int:
            if dry_run:
                row = conn.execute(f"SELECT count(*) FROM ({chosen}) AS c", params).fetchone()  # noqa: S608
                return int(row[0]) if row else 0
            conn.execute(f"UPDATE perfslo.slo_stats SET samples = NULL WHERE run IN ({chosen})", params)  # noqa: S608
            cur = conn.execute(f"UPDATE perfslo.runs SET document = NULL WHERE id IN ({chosen})", params)  # noqa: S608
            return cur.rowcount

        return self.run("prune samples", prune)

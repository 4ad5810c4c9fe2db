"""Connections, retries and the versioned schema of the shared history.

Numbered SQL files in ``migrations/NNNN_name.sql`` are applied in order by
:meth:`Database.migrate`, in one transaction under an advisory lock, so
concurrent first writers migrate once. A perfslo that finds a schema version
newer than the migrations it ships refuses to read or write. A database that
holds another application's tables and no perfslo schema is refused too, and
nothing is created in it.

No SQL is built from input: values are bound parameters, identifiers are
quoted by ``psycopg.sql.Identifier``.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from perfslo_tui.runs.pg import SharedHistoryError
from perfslo_tui.runs.pg.urls import connect_problem, conninfo, describe_url, is_transient, scrub

# Serialises migrations of concurrent first writers (any constant: "perfslo" in ASCII).
MIGRATION_LOCK = 0x706572666C736F
# How long a writer or a reader keeps retrying after losing a server it had
# reached: a restart takes a few seconds, a failover up to ~30 s.
RETRY_SECONDS = 30.0
# A first connection is retried briefly too, when the server says it is starting
# or stopping (a restart), or refuses for a moment (the gap inside a restart):
# a gate that starts during a restart waits for it, a server that is down fails fast.
RESTARTING_SECONDS = 15.0
REFUSED_SECONDS = 1.0
_MIGRATION_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema migration: its version, name and SQL."""

    version: int
    name: str
    sql: str


def bundled_migrations() -> tuple[Migration, ...]:
    """The migrations this perfslo ships, oldest first."""
    found = []
    folder = resources.files("perfslo_tui.runs.pg").joinpath("migrations")
    for entry in folder.iterdir():
        match = _MIGRATION_RE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return tuple(sorted(found, key=lambda m: m.version))


def _first_wait(error: psycopg.Error) -> float:
    """How long a first connection waits for a server that failed it this way."""
    low = str(error).lower()
    restarting = ("starting up", "shutting down", "server closed the connection", "terminating connection")
    if isinstance(error, psycopg.errors.CannotConnectNow) or any(part in low for part in restarting):
        return RESTARTING_SECONDS
    if "connection refused" in low or "no such file or directory" in low:
        return REFUSED_SECONDS
    return 0.0


class ConnectFailed(Exception):
    """Connecting failed (kept apart from the failures of a connection that worked)."""

    def __init__(self, error: psycopg.Error) -> None:
        super().__init__(str(error))
        self.error = error


class Database:
    """A connection to the shared history, with retries and the schema checks.

    Args:
        url: ``postgresql://user@host:port/db`` (a password only if the URL
            comes from the environment; libpq also reads ``PGPASSWORD`` and
            ``~/.pgpass``).
        connect_timeout: Seconds to wait for the server when connecting.
        retry_seconds: After a connection that worked is lost (a server
            restart), how long calls keep reconnecting and retrying.
        migrations: The migrations this perfslo knows (default: the bundled
            ones; tests pass fewer to play an older perfslo).

    The connection opens on first use. Not thread-safe: one per thread.
    """

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: int = 5,
        retry_seconds: float = RETRY_SECONDS,
        migrations: Sequence[Migration] | None = None,
    ) -> None:
        conninfo(url)  # a bad URL fails here, in one line
        self.url = url
        self.where = describe_url(url)
        self.connect_timeout = connect_timeout
        self.retry_seconds = retry_seconds
        self.migrations = tuple(migrations) if migrations is not None else bundled_migrations()
        self._conn: psycopg.Connection[Any] | None = None
        self._reached = False  # a connection worked once: later losses are retried
        self._schema_version: int | None = None

    @property
    def latest_version(self) -> int:
        """The schema version this perfslo writes and understands."""
        return self.migrations[-1].version

    # ------------------------------------------------------------ connections

    def open_connection(self, autocommit: bool = False, name: str = "perfslo") -> psycopg.Connection[Any]:
        """A new connection (raises :class:`ConnectFailed`)."""
        try:
            conn = psycopg.connect(
                self.url,
                autocommit=autocommit,
                connect_timeout=self.connect_timeout,
                application_name=name,
                # Notice a server that vanished without closing the socket.
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
            )
        except psycopg.Error as exc:
            raise ConnectFailed(exc) from None
        self._reached = True
        return conn

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = self.open_connection()
        return self._conn

    def close(self) -> None:
        """Close the connections (they reopen on next use)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def run(self, what: str, work: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """Run ``work`` in a transaction, retrying after a lost connection.

        ``work`` must be safe to repeat: every write here is idempotent, so a
        commit that may or may not have happened before the loss is harmless.

        Raises:
            SharedHistoryError: One line naming what failed.
        """
        deadline: float | None = None
        first_deadline: float | None = None
        delay = 0.1
        while True:
            try:
                conn = self._connection()
                with conn.transaction():
                    return work(conn)
            except ConnectFailed as exc:
                if not is_transient(exc.error):
                    raise SharedHistoryError(connect_problem(exc.error, self.url)) from None
                if not self._reached:
                    # Never reached: only a server that is restarting gets time.
                    if first_deadline is None:
                        first_deadline = time.monotonic() + _first_wait(exc.error)
                    if time.monotonic() >= first_deadline:
                        raise SharedHistoryError(connect_problem(exc.error, self.url)) from None
                    time.sleep(0.1)
                    continue
                failure: BaseException = exc.error
            except SharedHistoryError:
                raise
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:
                # Overlapping batches pushed in another order: the server aborted
                # one; running it again is safe (idempotent), jittered so the two
                # do not collide again in step.
                deadline = deadline if deadline is not None else time.monotonic() + self.retry_seconds
                if time.monotonic() >= deadline:
                    raise SharedHistoryError(
                        f"{self.where}: cannot {what}: {scrub(str(exc), self.url)}"
                    ) from None
                time.sleep(delay * random.uniform(0.2, 1.0))  # noqa: S311 (jitter, not a secret)
                delay = min(delay * 2, 1.0)
                continue
            except psycopg.errors.InsufficientPrivilege as exc:
                reason = scrub(exc.diag.message_primary or str(exc), self.url)
                raise SharedHistoryError(f"{self.where}: permission denied to {what} ({reason})") from None
            except psycopg.Error as exc:
                if not is_transient(exc) and not (self._conn is not None and self._conn.broken):
                    raise SharedHistoryError(
                        f"{self.where}: cannot {what}: {scrub(str(exc), self.url)}"
                    ) from None
                failure = exc
            self.close()
            now = time.monotonic()
            if deadline is None:
                deadline = now + self.retry_seconds
            if now >= deadline:
                raise SharedHistoryError(
                    f"{self.where}: cannot {what}: connection lost and not back after "
                    f"{self.retry_seconds:.0f} s ({scrub(str(failure), self.url, keep=80)})"
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    # ------------------------------------------------------------ schema

    def schema_version(self) -> int | None:
        """The database's perfslo schema version, or None when it has none yet.

        Raises:
            SharedHistoryError: When it cannot be reached, or a schema named
                ``perfslo`` exists that perfslo did not make.
        """

        def read(conn: psycopg.Connection[Any]) -> int | None:
            row = conn.execute(
                "SELECT to_regclass('perfslo.migrations') IS NOT NULL, "
                "EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'perfslo')"
            ).fetchone()
            assert row is not None
            has_table, has_schema = row
            if not has_table:
                if has_schema:
                    raise SharedHistoryError(self._foreign_schema())
                return None
            version = conn.execute("SELECT max(version) FROM perfslo.migrations").fetchone()
            return int(version[0]) if version and version[0] is not None else None

        return self.run("read the schema version", read)

    def _foreign_schema(self) -> str:
        return (
            f"{self.where}: the schema 'perfslo' there belongs to another application (no perfslo.migrations "
            "table): give perfslo a database of its own"
        )

    @staticmethod
    def _other_tables(conn: psycopg.Connection[Any]) -> list[str]:
        rows = conn.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm')"
            " AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'perfslo')"
            " AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' "
            "ORDER BY 1 LIMIT 3"
        ).fetchall()
        return [str(row[0]) for row in rows]

    def check_schema(self) -> int:
        """Check that the database holds a perfslo history this perfslo can read.

        Returns:
            The schema version.

        Raises:
            SharedHistoryError: No perfslo history there (empty, or another
                application's database) or a newer schema than this perfslo knows.
        """
        version = self.schema_version()
        if version is None:
            others = self.run("list tables", self._other_tables)
            if others:
                raise SharedHistoryError(
                    f"{self.where}: this database belongs to another application (tables "
                    f"{', '.join(others)}; no perfslo history): point history_url at perfslo's own database"
                )
            raise SharedHistoryError(
                f"{self.where}: no perfslo history there yet (`perfslo push` creates it)"
            )
        self._refuse_newer(version)
        self._schema_version = version
        return version

    def _refuse_newer(self, version: int) -> None:
        if version > self.latest_version:
            raise SharedHistoryError(
                f"{self.where}: the shared history has schema version {version}, newer than this perfslo "
                f"knows ({self.latest_version}): upgrade perfslo"
            )

    def migrate(self, up_to: int | None = None) -> int:
        """Create or upgrade the schema to this perfslo's version; idempotent.

        Args:
            up_to: Stop at this version (tests build an older schema with it).

        Returns:
            The schema version now.

        Raises:
            SharedHistoryError: A newer schema, another application's
                database, or a role without the rights to create the schema.
        """
        from perfslo_tui import __version__

        target = self.latest_version if up_to is None else up_to

        def apply(conn: psycopg.Connection[Any]) -> int:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            has = conn.execute("SELECT to_regclass('perfslo.migrations') IS NOT NULL").fetchone()
            current = 0
            if has and has[0]:
                row = conn.execute("SELECT max(version) FROM perfslo.migrations").fetchone()
                current = int(row[0]) if row and row[0] is not None else 0
            else:
                if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'perfslo'").fetchone():
                    raise SharedHistoryError(self._foreign_schema())
                others = self._other_tables(conn)
                if others:
                    raise SharedHistoryError(
                        f"{self.where}: this database belongs to another application (tables "
                        f"{', '.join(others)}): give perfslo a database of its own"
                    )
            self._refuse_newer(current)
            for migration in self.migrations:
                if current < migration.version <= target:
                    # No parameters: the file may hold several statements.
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO perfslo.migrations (version, name, applied_by) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, f"perfslo {__version__}"),
                    )
                    current = migration.version
            return current

        version = self.run("create or upgrade the perfslo schema", apply)
        self._schema_version = version
        return version

    def ensure_schema(self) -> int:
        """The schema version, checked once per connection object."""
        if self._schema_version is None:
            return self.check_schema()
        return self._schema_version

    def grant_read(self, role: str) -> None:
        """Let a role read the history: the gate and the monitor need no more.

        Raises:
            SharedHistoryError: When the role does not exist or this user may not grant.
        """

        def grant(conn: psycopg.Connection[Any]) -> None:
            ident = sql.Identifier(role)
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA perfslo TO {}").format(ident))
            conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA perfslo TO {}").format(ident))
            # Tables a later migration creates (as this same owner) are readable too.
            default = sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA perfslo GRANT SELECT ON TABLES TO {}")
            conn.execute(default.format(ident))

        self.ensure_schema()
        self.run("grant read access", grant)

"""The versioned schema: migrations from nothing and from version 1, concurrent first writers, refusals."""

from __future__ import annotations

import threading

import psycopg
import pytest

from benchmarks.pgserver import PgServer
from perfslo_tui.runs.machine import machine_key
from perfslo_tui.runs.pg import SharedHistoryError
from perfslo_tui.runs.pg.database import bundled_migrations
from perfslo_tui.runs.pg.history import PgHistory
from tests.pg.pghelpers import OTHER_HOST, run_bytes


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [m.version for m in bundled_migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert len(versions) >= 2


def test_an_empty_database_has_no_version_and_migrate_creates_the_latest(pg_url: str) -> None:
    history = PgHistory(pg_url)
    assert history.schema_version() is None
    with pytest.raises(SharedHistoryError, match="no perfslo history there yet"):
        history.check_schema()
    assert history.migrate() == history.latest_version
    assert history.migrate() == history.latest_version  # idempotent
    assert history.check_schema() == history.latest_version
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT version, name, applied_by FROM perfslo.migrations ORDER BY 1").fetchall()
    assert [(v, n) for v, n, _by in rows] == [(m.version, m.name) for m in bundled_migrations()]
    assert all(by.startswith("perfslo ") for _v, _n, by in rows)


def test_concurrent_first_writers_migrate_once(pg_url: str) -> None:
    results: list[int | str] = []

    def work() -> None:
        try:
            results.append(PgHistory(pg_url).migrate())
        except SharedHistoryError as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latest = bundled_migrations()[-1].version
    assert results == [latest] * 6
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM perfslo.migrations").fetchone() == (latest,)


def test_version_1_with_data_upgrades_to_2_and_the_older_perfslo_then_refuses_it(pg_url: str) -> None:
    """The upgrade path on real data, and what an older perfslo says about a newer schema."""
    v1_only = bundled_migrations()[:1]
    old = PgHistory(pg_url, migrations=v1_only)  # a perfslo that knows schema 1 only
    assert old.migrate() == 1
    assert old.push_run(run_bytes(1)) and old.push_run(run_bytes(2, host=OTHER_HOST))
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('perfslo.machines')").fetchone() == (None,)

    new = PgHistory(pg_url)
    # A newer perfslo reads a version-1 history as it is (no machines table, no summaries per run) ...
    assert new.check_schema() == 1
    before = new.load_table(recent_samples=1, window_ms=86_400_000).table
    mine = machine_key({"host": {"cpu": "x86_64", "cpu_count": 2, "os": "Linux"}})
    assert set(new.machines()) == {mine, machine_key({"host": OTHER_HOST})}
    # ... and its first push upgrades it, filling the new table from the runs already stored.
    assert new.migrate() == new.latest_version >= 3
    with psycopg.connect(pg_url) as conn:
        rows = dict(conn.execute("SELECT key, host->>'cpu' FROM perfslo.machines").fetchall())
    assert rows == {mine: "x86_64", machine_key({"host": OTHER_HOST}): "aarch64"}
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM perfslo.runs WHERE medians IS NULL").fetchone() == (0,)
    # ... and reads the same table through the summaries the migration filled in.
    assert PgHistory(pg_url).load_table(recent_samples=1, window_ms=86_400_000).table.equals(before)
    assert new.push_run(run_bytes(3, host={**OTHER_HOST, "cpu": "riscv64"}))
    assert len(new.machines()) == 3
    assert new.load_table().table["run_id"].n_unique() == 3

    for action in (
        lambda h: h.check_schema(),
        lambda h: h.migrate(),
        lambda h: h.push_run(run_bytes(4)),
        lambda h: h.load_table(),
    ):
        with pytest.raises(SharedHistoryError) as err:
            action(PgHistory(pg_url, migrations=v1_only))
        message = str(err.value)
        assert (
            f"the shared history has schema version {new.latest_version}, newer than this perfslo knows (1):"
            " upgrade perfslo"
            in message
        )
        assert "\n" not in message
    assert new.run_count() == 3


def test_a_database_of_another_application_is_refused_and_left_alone(pg_server: PgServer, pg_db: str) -> None:
    pg_server.psql("CREATE TABLE public.users (id int PRIMARY KEY, name text)", dbname=pg_db)
    url = pg_server.url(dbname=pg_db)
    for action in (lambda h: h.check_schema(), lambda h: h.migrate(), lambda h: h.load_table()):
        with pytest.raises(
            SharedHistoryError, match=r"belongs to another application \(tables public\.users"
        ):
            action(PgHistory(url))
    assert (
        pg_server.psql("SELECT count(*) FROM pg_namespace WHERE nspname = 'perfslo'", dbname=pg_db).strip()
        == "0"
    )


def test_a_foreign_schema_named_perfslo_is_refused(pg_server: PgServer, pg_db: str) -> None:
    pg_server.psql("CREATE SCHEMA perfslo; CREATE TABLE perfslo.things (x int)", dbname=pg_db)
    url = pg_server.url(dbname=pg_db)
    for action in (lambda h: h.migrate(), lambda h: h.check_schema()):
        with pytest.raises(SharedHistoryError, match="schema 'perfslo' there belongs to another application"):
            action(PgHistory(url))
    assert pg_server.psql("SELECT count(*) FROM perfslo.things", dbname=pg_db).strip() == "0"

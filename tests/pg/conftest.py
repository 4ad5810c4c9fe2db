"""A real, throwaway PostgreSQL server for the shared-history tests.

One server per test session (initdb into a temp folder, a free port on
127.0.0.1), a fresh database per test. Skipped, with the reason, only when no
PostgreSQL server binaries are installed (``apt-get install postgresql``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from benchmarks.pgserver import PgServer, find_bin_dir, throwaway_server

# Durability is not under test: without fsync the suite runs several times faster.
TEST_SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=60",
    # Deadlocks are provoked on purpose (opposite-order batches): find them fast.
    "deadlock_timeout=100ms",
)
_names = itertools.count()


def _need_binaries() -> None:
    if find_bin_dir() is None:
        pytest.skip("no PostgreSQL server binaries (initdb) installed: apt-get install postgresql")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    _need_binaries()
    with throwaway_server(TEST_SETTINGS) as server:
        yield server


@pytest.fixture
def own_server() -> Iterator[PgServer]:
    """A server of the test's own, for tests that restart or stop it."""
    _need_binaries()
    with throwaway_server(TEST_SETTINGS) as server:
        yield server


@pytest.fixture
def pg_db(pg_server: PgServer) -> Iterator[str]:
    """The name of a fresh, empty database, dropped after the test."""
    name = f"t{next(_names)}"
    pg_server.psql(f"CREATE DATABASE {name}")
    yield name
    pg_server.psql(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def pg_url(pg_server: PgServer, pg_db: str) -> str:
    """The superuser's URL of a fresh, empty database."""
    return pg_server.url(dbname=pg_db)

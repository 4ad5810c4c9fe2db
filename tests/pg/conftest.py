"""A real, throwaway PostgreSQL server for the shared-history tests.

One server per test session (initdb into a temp folder, a free port on
127.0.0.1), a fresh database per test; tests that restart or stop the server
take ``own_server`` (they run one at a time). Without PostgreSQL's server binaries the tests are
skipped with the reason, except under CI (``CI=1``), where
``scripts/test.sh`` installs them: there a missing server is a failure.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from benchmarks.pgserver import PgServer, find_bin_dir, throwaway_server

# Durability is not under test: without fsync the suite runs several times faster.
TEST_SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=80",
    # Deadlocks are provoked on purpose (opposite-order batches): find them fast.
    "deadlock_timeout=100ms",
)
_names = itertools.count()


def _need_binaries() -> None:
    if find_bin_dir() is None:
        reason = "no PostgreSQL server binaries (initdb) installed: apt-get install postgresql"
        if os.environ.get("CI"):
            pytest.fail(reason + " (scripts/test.sh installs them in CI)")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    _need_binaries()
    with throwaway_server(TEST_SETTINGS) as server:
        yield server


@pytest.fixture
def own_server(pg_server: PgServer) -> Iterator[PgServer]:
    """The server, for a test that restarts or stops it (with ``pg_url``); running again afterwards."""
    yield pg_server
    if pg_server.pg_ctl("status", check=False).returncode != 0:
        pg_server.start()


@pytest.fixture
def pg_db(pg_server: PgServer) -> Iterator[str]:
    """The name of a fresh, empty database, dropped after the test."""
    name = f"t{os.getpid()}_{next(_names)}"
    pg_server.psql(f"CREATE DATABASE {name}")
    yield name
    pg_server.psql(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def pg_url(pg_server: PgServer, pg_db: str) -> str:
    """The superuser's URL of a fresh, empty database."""
    return pg_server.url(dbname=pg_db)

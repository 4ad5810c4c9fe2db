"""Bad input: one line naming the problem, never a password, exit 2, local files untouched."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from benchmarks.history import CONFIG
from benchmarks.pgserver import SUPERUSER_PASSWORD, PgServer, free_port
from perfslo_tui.commands.cli import main
from perfslo_tui.runs.pg import SharedHistoryError, open_history
from perfslo_tui.runs.pg.history import PgHistory
from perfslo_tui.runs.pg.urls import check_config_url, describe_url, resolve_url
from tests.pg.pghelpers import folder_state, perfslo, write_runs

WRONG = "Wr0ng-passw0rd"


def _one_line_without(message: str, *secrets: str) -> None:
    assert "\n" not in message.rstrip("\n") and "Traceback" not in message
    for secret in secrets:
        assert secret not in message


@pytest.mark.parametrize(
    ("make_url", "expected"),
    [
        (lambda s, db: s.url(password=WRONG, dbname=db), "authentication failed for user 'postgres'"),
        (lambda s, db: s.url(dbname="no_such_db"), "database 'no_such_db' does not exist on that server"),
        (lambda s, db: s.url(user="ghost", password=WRONG), "authentication failed for user 'ghost'"),
        (
            lambda s, db: f"postgresql://postgres:{WRONG}@127.0.0.1:{free_port()}/{db}",
            "server down or not listening there (connection refused)",
        ),
        (
            lambda s, db: f"postgresql://postgres:{WRONG}@127.0.0.1:{s.port}/{db}?sslmode=bogus",
            "invalid sslmode",
        ),
        (lambda s, db: f"postgresql://postgres:{WRONG}@127.0.0.1:{s.port}/{db}?sslmode=require", "SSL"),
        (lambda s, db: f"mysql://postgres:{WRONG}@127.0.0.1/x", "must start with postgresql://"),
        (lambda s, db: f"postgresql://postgres:{WRONG}%zz@127.0.0.1/x", "not a valid PostgreSQL URL"),
    ],
)
def test_connection_problems_are_one_line_without_the_password(
    pg_server: PgServer, pg_db: str, make_url: object, expected: str
) -> None:
    url = make_url(pg_server, pg_db)  # type: ignore[operator]
    with pytest.raises(SharedHistoryError) as err:
        PgHistory(url).check_schema()
    message = str(err.value)
    assert expected in message
    _one_line_without(message, WRONG, SUPERUSER_PASSWORD, "Wr0ng")


def test_every_command_says_one_line_exits_2_and_leaves_the_folder_alone(
    pg_server: PgServer,
    pg_db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "perfslo.toml").write_text(CONFIG)
    write_runs(project / "artifacts", range(3))
    before = folder_state(project)
    pg_server.psql("CREATE TABLE public.orders (id int)", dbname=pg_db)
    cases = [
        (pg_server.url(password=WRONG, dbname=pg_db), "authentication failed"),
        (f"postgresql://postgres:{WRONG}@127.0.0.1:{free_port()}/x", "server down"),
        (pg_server.url(dbname=pg_db), "belongs to another application"),
    ]
    monkeypatch.chdir(project)
    commands = (["push"], ["pull"], ["check"], ["trend"], ["baseline", "--show"], ["dashboard"], ["prune"])
    # Every command meets two kinds of problem, and every kind several commands (the real CLI's main).
    for index, command in enumerate(commands):
        for url, expected in (cases[index % 3], cases[(index + 1) % 3]):
            monkeypatch.setenv("PERFSLO_DATABASE_URL", url)
            assert main(command) == 2, (command, url)
            out, err = capsys.readouterr()
            assert out == "" and err.count("\n") == 1 and err.startswith("perfslo: "), (command, err)
            assert expected in err, (command, err)
            _one_line_without(err, WRONG, SUPERUSER_PASSWORD)
            assert folder_state(project) == before
    tui = perfslo_tui(project, pg_server.url(password=WRONG, dbname=pg_db))
    assert (
        tui.returncode == 2
        and tui.stderr.startswith("perfslo-tui: ")
        and "authentication failed" in tui.stderr
    )
    _one_line_without(tui.stderr, WRONG)


def perfslo_tui(project: Path, url: str) -> object:
    import subprocess
    import sys

    from tests.pg.pghelpers import env

    return subprocess.run(
        [sys.executable, "-m", "perfslo_tui.tui.app"],
        cwd=project,
        env=env(PERFSLO_DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_newer_schema_is_refused_by_the_commands(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import psycopg

    PgHistory(pg_url).migrate()
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            "INSERT INTO perfslo.migrations (version, name, applied_by) VALUES (99, 'future', 'perfslo 9')"
        )
    project = tmp_path / "project"
    project.mkdir()
    (project / "perfslo.toml").write_text(CONFIG)
    write_runs(project / "artifacts", range(2))
    before = folder_state(project)
    monkeypatch.chdir(project)
    monkeypatch.setenv("PERFSLO_DATABASE_URL", pg_url)
    for command in (["push"], ["check"], ["pull"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "schema version 99, newer than this perfslo knows" in err and "upgrade perfslo" in err
        assert err.count("\n") == 1
    assert folder_state(project) == before


def test_a_rejected_run_is_named_and_the_others_are_pushed(pg_url: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "perfslo.toml").write_text(CONFIG)
    write_runs(project / "artifacts", range(2))
    (project / "artifacts" / "perf-bad-1790000000000.json").write_text(
        '{"schema_version": 1, "metadata": {}, "slos": {}}'
    )
    before = folder_state(project)
    result = perfslo("push", cwd=project, url=pg_url)
    assert result.returncode == 2
    assert (
        result.stdout.startswith("Pushed 2 run(s) to postgresql://postgres@127.0.0.1:")
        and "1 rejected" in result.stdout
    )
    assert result.stderr.startswith("perfslo: perf-bad-1790000000000.json: not pushed: run rejected: schema:")
    assert result.stderr.count("\n") == 1
    assert folder_state(project) == before
    assert PgHistory(pg_url).run_count() == 2


def test_credentials_come_from_the_environment_or_pgpass_never_from_the_config(
    pg_server: PgServer, pg_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = pg_server.url(password=None, dbname=pg_db)
    with pytest.raises(SharedHistoryError, match="holds a password: remove it"):
        check_config_url(pg_server.url(dbname=pg_db))
    with pytest.raises(SharedHistoryError) as err:
        resolve_url(pg_server.url(dbname=pg_db), {})
    _one_line_without(str(err.value), SUPERUSER_PASSWORD)
    assert resolve_url(bare, {}) == bare
    assert resolve_url(bare, {"PERFSLO_DATABASE_URL": "postgresql://env@h/db"}) == "postgresql://env@h/db"
    assert resolve_url(None, {}) is None
    # The config refuses one too, before any driver is involved.
    project = tmp_path / "project"
    project.mkdir()
    (project / "perfslo.toml").write_text(f'history_url = "{pg_server.url(dbname=pg_db)}"\n' + CONFIG)
    result = perfslo("check", cwd=project)
    assert result.returncode == 2 and "history_url: holds a password" in result.stderr
    _one_line_without(result.stderr, SUPERUSER_PASSWORD)
    # libpq finds the password in a .pgpass file (PGPASSFILE points at it) ...
    monkeypatch.delenv("PGPASSWORD", raising=False)
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{pg_server.port}:*:postgres:{SUPERUSER_PASSWORD}\n")
    os.chmod(pgpass, 0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    assert PgHistory(bare).schema_version() is None
    (project / "perfslo.toml").write_text(f'history_url = "{bare}"\n' + CONFIG)
    write_runs(project / "artifacts", range(2))
    pushed = perfslo("push", cwd=project)
    assert pushed.returncode == 0 and pushed.stdout.startswith("Pushed 2 run(s)"), pushed.stderr
    # ... or in PGPASSWORD.
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    monkeypatch.setenv("PGPASSWORD", SUPERUSER_PASSWORD)
    assert PgHistory(bare).run_count() == 2
    monkeypatch.delenv("PGPASSWORD")
    with pytest.raises(SharedHistoryError, match="authentication failed"):
        PgHistory(bare).schema_version()


def test_urls_are_shown_without_passwords() -> None:
    assert describe_url("postgresql://ann:pw@db.example:6543/perf") == "postgresql://ann@db.example:6543/perf"
    assert describe_url("postgresql:///perf") == "postgresql://localhost:5432/perf"
    assert describe_url("postgresql://ann:pw@h/perf?password=other") == "postgresql://ann@h:5432/perf"
    assert (
        describe_url("postgresql:///perf?host=/run/postgresql") == "postgresql://[/run/postgresql]:5432/perf"
    )


def test_a_server_that_stops_mid_session_is_one_line_after_the_retry_window(
    own_server: PgServer, pg_url: str
) -> None:
    url = pg_url
    history = PgHistory(url, retry_seconds=1.0)
    history.migrate()
    own_server.stop()
    with pytest.raises(SharedHistoryError) as err:
        history.run_count()
    message = str(err.value)
    assert "connection lost and not back after 1 s" in message
    _one_line_without(message, SUPERUSER_PASSWORD)
    with pytest.raises(SharedHistoryError, match="server down"):
        PgHistory(url).check_schema()
    own_server.start()
    assert history.run_count() == 0  # back: the same object reconnects


def test_without_the_driver_a_shared_history_is_one_line_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name in ("psycopg", "adbc_driver_postgresql") else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    project = tmp_path / "project"
    project.mkdir()
    (project / "perfslo.toml").write_text(CONFIG)
    write_runs(project / "artifacts", range(2))
    monkeypatch.chdir(project)
    monkeypatch.setenv("PERFSLO_DATABASE_URL", "postgresql://ci@db.example/perf")
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "perfslo: the shared history (history_url / PERFSLO_DATABASE_URL) needs the PostgreSQL"
    )
    assert "pip install 'perfslo[pg]'" in err and err.count("\n") == 1
    with pytest.raises(SharedHistoryError, match="psycopg, adbc-driver-postgresql missing"):
        open_history(None, {"PERFSLO_DATABASE_URL": "postgresql://x@y/z"})
    # The file store needs none of it.
    monkeypatch.delenv("PERFSLO_DATABASE_URL")
    assert main(["check", "--format", "json"]) in (0, 1)


def test_a_first_connection_during_a_server_restart_waits_for_it(own_server: PgServer, pg_url: str) -> None:
    import threading
    import time

    PgHistory(pg_url).migrate()
    restart = threading.Thread(target=own_server.restart)
    restart.start()
    counts = []
    while restart.is_alive():  # fresh objects: each call is a first connection, like a gate starting now
        counts.append(PgHistory(pg_url).run_count())
        time.sleep(0.02)
    restart.join()
    assert counts and counts == [0] * len(counts)

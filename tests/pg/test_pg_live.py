"""Many writers, a read-only role, live notifications, late commits and a server restart: real processes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psycopg
import pytest

from benchmarks.history import CONFIG
from benchmarks.pg_scale import document_bytes, writer_ranges
from benchmarks.pgserver import PgServer
from perfslo_tui.runs.files import baseline_document_from_run, read_run
from perfslo_tui.runs.pg import SharedHistoryError
from perfslo_tui.runs.pg.history import PgHistory, RunEvent
from perfslo_tui.runs.pg.store import PgRunStore
from perfslo_tui.runs.pg.sync import push_folder
from perfslo_tui.runs.pg.writes import STAT_COLUMNS, prepare_run
from perfslo_tui.runs.store import load_history, runs_to_table
from tests.pg.pghelpers import perfslo, python, run_bytes, run_name, write_runs

PUSH = """
import sys
from pathlib import Path
from perfslo_tui.runs.pg.history import PgHistory
history = PgHistory(sys.argv[1])
history.migrate()
for name in sys.argv[2:]:
    history.push_run(Path(name))
print("ok")
"""


def _names(ranges: list[list[tuple[int, int]]]) -> set[str]:
    return {
        run_name(document_bytes(i, seed=11))
        for r in ranges
        for start, count in r
        for i in range(start, start + count)
    }


def _wait_for(events: list[RunEvent], names: set[str], seconds: float) -> set[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = {e.run.run_id for e in events if e.run is not None}
        if names <= got:
            return got
        time.sleep(0.02)
    return {e.run.run_id for e in events if e.run is not None}


def _listen(url: str) -> tuple[list[RunEvent], list[tuple[str, bool]], threading.Event, threading.Thread]:
    events: list[RunEvent] = []
    statuses: list[tuple[str, bool]] = []
    stop = threading.Event()

    def status(text: str, ok: bool) -> None:
        statuses.append((text, ok))

    thread = threading.Thread(target=PgHistory(url).listen, args=(events.append, stop, status), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not statuses and time.monotonic() < deadline:  # LISTEN is in place once it says so
        time.sleep(0.02)
    return events, statuses, stop, thread


def test_eight_writer_processes_store_every_run_exactly_once_while_a_reader_loads(pg_url: str) -> None:
    PgHistory(pg_url).migrate()
    plan = writer_ranges(0, 8, 8, 3)  # each also re-pushes 4 of its neighbour's runs
    procs = [
        python("-m", "benchmarks.pg_scale", "--writer", pg_url, ",".join(f"{s}:{c}" for s, c in ranges), "11")
        for ranges in plan
    ]
    store = PgRunStore(PgHistory(pg_url), Path("artifacts"), choice="all")
    loads = 0
    while any(p.poll() is None for p in procs):
        store.refresh()  # a monitor catching up while they write
        loads += 1
    outs = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err for _out, err in outs]
    results = [json.loads(out) for out, _err in outs]
    assert sum(r["inserted"] for r in results) == 64
    assert sum(r["already"] for r in results) == 8 * 3
    final = store.refresh()
    assert set(final.runs["run_id"].to_list()) == _names(plan) and final.table.height == 64 * 7
    assert loads > 0
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT digest) FROM perfslo.runs").fetchone() == (
            64,
            64,
        )


def test_batches_pushed_at_once_in_opposite_orders_all_land_once(pg_url: str) -> None:
    PgHistory(pg_url).migrate()
    runs = [prepare_run(run_bytes(i)) for i in range(30)]
    errors: list[str] = []
    inserted: list[int] = []

    def push(batch: list[object]) -> None:
        try:
            inserted.append(sum(PgHistory(pg_url).push_runs(batch)))  # type: ignore[arg-type]
        except SharedHistoryError as exc:
            errors.append(str(exc))

    # Each takes the other's rows in the opposite order: the server may abort one
    # as a deadlock, and the push must retry it, not fail.
    for round_ in range(2):
        part = runs[round_ * 15 : (round_ + 1) * 15]
        threads = [threading.Thread(target=push, args=(b,)) for b in (part, part[::-1], part[5:] + part[:5])]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert sum(inserted) == 30
    assert PgHistory(pg_url).run_count() == 30


def test_a_read_only_role_is_enough_for_the_gate_and_the_monitor_but_cannot_write(
    pg_server: PgServer, pg_db: str, tmp_path: Path
) -> None:
    admin = PgHistory(pg_server.url(dbname=pg_db))
    source = tmp_path / "source"
    write_runs(source, range(12))
    push_folder(source, admin)
    pg_server.psql("CREATE ROLE reader LOGIN PASSWORD 'r3ader'")
    try:
        admin.grant_read("reader")
        write_runs(tmp_path / "more", range(50, 52))
        baseline = baseline_document_from_run(read_run(sorted(source.iterdir())[0]))
        url = pg_server.url(user="reader", password="r3ader", dbname=pg_db)
        reader = PgHistory(url)
        assert reader.check_schema() == admin.latest_version
        assert reader.migrate() == admin.latest_version  # up to date: nothing to write
        store = PgRunStore(reader, tmp_path / "artifacts")
        assert store.refresh().run_count == 12
        # The gate as a real process with the reader's credentials.
        project = tmp_path / "project"
        project.mkdir()
        (project / "perfslo.toml").write_text(CONFIG)
        gate = perfslo("check", "--format", "json", cwd=project, url=url)
        assert gate.returncode in (0, 1), gate.stderr
        assert json.loads(gate.stdout)["run_count"] == 12
        # Listening and catching up need no more than reading either.
        events, _statuses, stop, thread = _listen(url)
        admin.push_run(run_bytes(40))
        assert _wait_for(events, {run_name(run_bytes(40))}, 10) == {run_name(run_bytes(40))}
        assert store.refresh().changes.added == (run_name(run_bytes(40)),)
        stop.set()
        thread.join(5)
        for action, what in (
            (lambda h: h.push_run(run_bytes(41)), "permission denied to store the run"),
            (lambda h: h.prune_samples(0, 0), "permission denied to prune samples"),
            (lambda h: h.push_baseline(baseline), "permission denied to store the baseline"),
        ):
            with pytest.raises(SharedHistoryError) as err:
                action(PgHistory(url))
            message = str(err.value)
            assert what in message and "\n" not in message and "r3ader" not in message
        pushed = perfslo("push", "--artifacts", str(tmp_path / "more"), cwd=project, url=url)
        assert pushed.returncode == 2 and pushed.stdout == ""
        assert (
            pushed.stderr.startswith("perfslo: postgresql://reader@") and "permission denied" in pushed.stderr
        )
        assert pushed.stderr.count("\n") == 1 and "r3ader" not in pushed.stderr
        assert admin.run_count() == 13
    finally:
        pg_server.psql("DROP OWNED BY reader", dbname=pg_db)
        pg_server.psql("DROP ROLE reader")


def test_a_run_pushed_by_another_process_is_delivered_and_loads_like_the_files(
    pg_url: str, tmp_path: Path
) -> None:
    PgHistory(pg_url).migrate()
    events, _statuses, stop, thread = _listen(pg_url)
    paths = write_runs(tmp_path, range(5, 7))
    proc = python("-c", PUSH, pg_url, *map(str, paths))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    got = _wait_for(events, {p.name for p in paths}, 10)
    stop.set()
    thread.join(5)
    assert got == {p.name for p in paths}
    runs = [e.run for e in events if e.run is not None]
    assert len(runs) == 2 and runs[0].id < runs[1].id and all(r.machine != "unknown" for r in runs)
    rows = PgHistory(pg_url).load_runs([r.id for r in runs])
    assert rows.equals(load_history(tmp_path, use_cache=False).table)


def test_the_listener_writers_and_the_store_survive_a_server_restart(
    own_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    url = pg_url
    PgHistory(url).migrate()
    store = PgRunStore(PgHistory(url), tmp_path, choice="all")
    assert store.refresh().run_count == 0
    events, statuses, stop, thread = _listen(url)
    writer = python("-m", "benchmarks.pg_scale", "--writer", url, "0:40", "11")
    deadline = time.monotonic() + 30
    while PgHistory(url).run_count() < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    own_server.restart()  # while it writes: every connection is cut
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert json.loads(out)["inserted"] == 40
    path = write_runs(tmp_path / "late", range(500, 501))[0]
    pusher = python("-c", PUSH, url, str(path))
    assert pusher.communicate(timeout=60)[0].strip() == "ok"
    expected = _names([[(0, 40)]]) | {path.name}
    got = _wait_for(events, expected, 20)
    stop.set()
    thread.join(5)
    assert got == expected  # nothing lost: runs committed while it was away are caught up
    assert len([e for e in events if e.run is not None]) == len(expected)  # none twice
    texts = [text for text, _ok in statuses]
    assert any("reconnecting" in t for t in texts) and statuses[-1] == (
        f"reconnected to {PgHistory(url).where}: live again",
        True,
    )
    assert all("s3cret" not in t for t in texts)
    # The store's own connection was cut too: its next refresh reconnects and catches up.
    assert set(store.refresh().runs["run_id"].to_list()) == expected


def test_a_run_that_commits_late_is_not_missed_by_the_listener_nor_the_store(
    pg_url: str, tmp_path: Path
) -> None:
    history = PgHistory(pg_url)
    history.migrate()
    store = PgRunStore(PgHistory(pg_url), tmp_path, choice="all")
    store.refresh()
    early = psycopg.connect(pg_url)
    slow = prepare_run(run_bytes(1))
    # A writer takes a row id, then is slow to commit.
    row = early.execute(
        "INSERT INTO perfslo.runs (digest, run_id, ts_ms, commit, branch, dirty, source, machine)"
        " VALUES (%s, %s, %s, 'c', 'b', false, 'perfslo', %s) RETURNING id",
        (slow.digest, slow.name, slow.run.timestamp_ms, slow.run.machine),
    ).fetchone()
    assert row is not None
    stats = runs_to_table([slow.run]).select(*STAT_COLUMNS).rows()
    early.cursor().executemany(
        "INSERT INTO perfslo.slo_stats (run, slo, count, median, mean, min, max, p95, stdev, samples)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [(row[0], *values) for values in stats],
    )
    events: list[RunEvent] = []
    statuses: list[str] = []
    stop = threading.Event()

    def on_status(text: str, ok: bool) -> None:
        statuses.append(text)
        if "reconnecting" in text:
            early.commit()  # exactly while the listener is away

    thread = threading.Thread(
        target=PgHistory(pg_url).listen, args=(events.append, stop, on_status), daemon=True
    )
    thread.start()
    while not statuses:
        time.sleep(0.02)
    later = run_bytes(2)
    history.push_run(later)  # a higher row id, committed first and delivered live
    assert _wait_for(events, {run_name(later)}, 10) == {run_name(later)}
    assert store.refresh().changes.added == (run_name(later),)
    with psycopg.connect(pg_url, autocommit=True) as admin:  # the listener's connection is cut
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'perfslo-listen'"
        )
    got = _wait_for(events, {run_name(later), slow.name}, 10)
    stop.set()
    thread.join(5)
    early.close()
    assert got == {run_name(later), slow.name} and len(events) == 2 + 1  # and the baseline re-check
    # The store looks back too: the late run arrives at its next refresh.
    assert store.refresh().changes.added == (slow.name,)

"""Writing and reading runs: idempotent pushes, the table, windows, machines, baselines, push/pull."""

from __future__ import annotations

import tomllib
from pathlib import Path

import orjson
import polars as pl
import psycopg
import pytest

from benchmarks.history import CONFIG, SLOS
from perfslo_tui.config import parse_config
from perfslo_tui.report.text import render_text
from perfslo_tui.runs.files import baseline_document_from_run, read_run, write_baseline
from perfslo_tui.runs.machine import machine_key
from perfslo_tui.runs.pg import SharedHistoryError
from perfslo_tui.runs.pg.history import PgHistory
from perfslo_tui.runs.pg.store import PgRunStore
from perfslo_tui.runs.pg.sync import pull_to_folder, push_folder
from perfslo_tui.runs.pg.writes import run_digest
from perfslo_tui.runs.store import TABLE_SCHEMA, load_history
from perfslo_tui.verdict.engine import evaluate
from tests.pg.pghelpers import OTHER_HOST, folder_state, run_bytes, run_name, write_runs

DAY_MS = 86_400_000


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM perfslo.{table}").fetchone()  # test-only, fixed names
    assert row is not None
    return int(row[0])


def test_pushing_the_same_run_twice_stores_it_once(pg_url: str) -> None:
    history = PgHistory(pg_url)
    history.migrate()
    data = run_bytes(1)
    assert history.push_run(data) is True
    assert history.push_run(data) is False
    # The same run re-serialised (compact, CRLF, a BOM) is the same run.
    document = orjson.loads(data)
    assert history.push_run(orjson.dumps(document)) is False
    assert history.push_run(b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")) is False
    assert _count(pg_url, "runs") == 1
    assert _count(pg_url, "slo_stats") == len(SLOS)
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT digest, run_id, document FROM perfslo.runs").fetchone()
    assert row is not None
    assert bytes(row[0]) == run_digest(document)
    assert row[1] == run_name(data)
    assert bytes(row[2]) == data  # the file as pushed, for pulls


def test_a_different_run_under_a_taken_name_is_kept_under_a_digest_name(pg_url: str) -> None:
    history = PgHistory(pg_url)
    history.migrate()
    first = run_bytes(1)
    other = run_bytes(1, seed=99)  # same commit and millisecond, other samples
    assert run_name(first) == run_name(other)
    assert history.push_run(first) and history.push_run(other)
    names = sorted(history.load_table().table["run_id"].unique().to_list())
    digest = run_digest(orjson.loads(other)).hex()[:8]
    assert names == sorted([run_name(first), run_name(first).replace("-17", f"-{digest}-17")])


def test_a_run_the_schema_rejects_is_one_line_and_stores_nothing(pg_url: str) -> None:
    history = PgHistory(pg_url)
    history.migrate()
    document = orjson.loads(run_bytes(1))
    document["slos"][SLOS[0]]["samples"][3] = -1.0
    with pytest.raises(SharedHistoryError) as err:
        history.push_run(orjson.dumps(document), name="perf-0123456-1790000060000.json")
    message = str(err.value)
    assert message.startswith(
        "perf-0123456-1790000060000.json: run rejected: schema: at slos/synthetic-0/samples"
    )
    assert "\n" not in message
    with pytest.raises(SharedHistoryError, match="run rejected: invalid JSON"):
        history.push_run(b'{"schema_version": 1, "metadata": {', name="perf-x-1790000060000.json")
    assert _count(pg_url, "runs") == 0


def test_the_table_equals_the_file_stores_and_samples_come_only_for_recent_runs(
    pg_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "artifacts"
    write_runs(folder, range(12))
    history = PgHistory(pg_url)
    counts = push_folder(folder, history)
    assert (counts.pushed, counts.already, counts.rejected) == (12, 0, [])
    files = load_history(folder, use_cache=False).table
    full = history.load_table().table
    assert full.schema == pl.Schema(TABLE_SCHEMA)
    assert full.equals(files)
    recent = history.load_table(recent_samples=3).table
    newest = set(files["run_id"].unique().sort()[-3:].to_list())
    with_samples = set(recent.filter(pl.col("samples").list.len() > 0)["run_id"].unique().to_list())
    assert with_samples == newest
    # Older rows keep every summary column.
    assert recent.drop("samples").equals(files.drop("samples"))


def test_the_baseline_commits_runs_keep_their_samples(pg_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "artifacts"
    write_runs(folder, range(0, 3), commit="b" * 40)
    write_runs(folder, range(3, 10))
    history = PgHistory(pg_url)
    push_folder(folder, history)
    base_run = read_run(sorted(folder.glob("perf-bbbbbbb-*.json"))[-1])
    assert history.push_baseline(baseline_document_from_run(base_run)) is True
    table = history.load_table(recent_samples=2).table
    sampled = table.filter(pl.col("samples").list.len() > 0)
    assert set(sampled["commit"].unique().to_list()) == {"b" * 40, "0123456789abcdef0123456789abcdef01234567"}
    assert sampled["run_id"].n_unique() == 4  # the 2 latest, and the baseline commit's 2 latest


def test_the_gate_on_the_trend_window_says_what_it_says_on_the_whole_history(
    pg_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "artifacts"
    write_runs(folder, range(0, 30))  # ~35 days before the rest: outside the 30-day window
    write_runs(folder, range(50_000, 50_070))
    base_run = read_run(sorted(folder.glob("perf-*.json"))[40])
    write_baseline(folder, baseline_document_from_run(base_run, established_ms=1_790_000_000_000))
    history = PgHistory(pg_url)
    assert push_folder(folder, history).baseline == "pushed"
    config = parse_config(tomllib.loads(CONFIG), Path("perfslo.toml"))
    expected = render_text(evaluate(load_history(folder, use_cache=False), config))
    store = PgRunStore(PgHistory(pg_url), folder, window_ms=config.trend_days * DAY_MS, recent_samples=70)
    window = store.refresh()
    assert window.table["run_id"].n_unique() == 70 and window.run_count == 100
    assert render_text(evaluate(window, config)) == expected


def test_machines_are_kept_apart(pg_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "artifacts"
    write_runs(folder, range(0, 4))
    write_runs(folder, range(4, 7), host=OTHER_HOST)
    history = PgHistory(pg_url)
    push_folder(folder, history)
    other = machine_key({"host": OTHER_HOST})
    machines = history.machines()
    assert list(machines) == [other, machine_key({"host": {"cpu": "x86_64", "cpu_count": 2, "os": "Linux"}})]
    assert machines[other].description == "aarch64 ×4 · Linux"
    only = history.load_table(machine=other).table
    assert only["run_id"].n_unique() == 3 and set(only["machine"].unique()) == {other}
    assert history.run_count(other) == 3 and history.run_count() == 7
    # The loader shows the newest run's machine unless told otherwise.
    assert PgRunStore(PgHistory(pg_url), folder).refresh().machine == other
    mixed = PgRunStore(PgHistory(pg_url), folder, choice="all").refresh()
    assert mixed.machine is None and mixed.run_count == 7


def test_baselines_are_per_machine_and_an_old_one_pushed_again_does_not_come_back(
    pg_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "artifacts"
    paths = write_runs(folder, range(3))
    others = write_runs(folder, range(3, 5), host=OTHER_HOST)
    history = PgHistory(pg_url)
    push_folder(folder, history)
    assert history.baseline() is None
    first = baseline_document_from_run(read_run(paths[0]), established_ms=1_790_000_000_000)
    second = baseline_document_from_run(read_run(paths[1]), established_ms=1_790_000_100_000)
    assert history.push_baseline(first) is True
    assert history.push_baseline(first) is False
    assert history.push_baseline(second) is True
    # A committed baseline file pushed again by CI must not undo the newer one.
    assert history.push_baseline(first) is False
    mine = read_run(paths[0]).machine
    current = history.baseline(mine)
    assert current is not None and current.source_run == paths[1].name and current.machine == mine
    other = read_run(others[0]).machine
    assert history.baseline(other) is None  # never another machine's
    assert history.push_baseline(baseline_document_from_run(read_run(others[1]))) is True
    found = history.baseline(other)
    assert found is not None and found.source_run == others[1].name
    with pytest.raises(SharedHistoryError, match="baseline rejected: schema"):
        history.push_baseline({"schema_version": 1, "kind": "baseline"})


def test_push_then_pull_round_trips_the_folder_and_both_resume(pg_url: str, tmp_path: Path) -> None:
    source = tmp_path / "source"
    paths = write_runs(source, range(20))
    write_baseline(source, baseline_document_from_run(read_run(paths[0]), established_ms=1_790_000_000_000))
    (source / "perf-bad-1790000000000.json").write_bytes(b"{ not json")
    before = folder_state(source)
    history = PgHistory(pg_url)
    half = tmp_path / "half"  # an interrupted push: only half the files had made it
    half.mkdir()
    for path in paths[:10]:
        (half / path.name).write_bytes(path.read_bytes())
    assert push_folder(half, history).pushed == 10
    counts = push_folder(source, history)
    assert (counts.pushed, counts.already, counts.baseline) == (10, 10, "pushed")
    assert counts.rejected == [
        ("perf-bad-1790000000000.json", "run rejected: invalid JSON (truncated or corrupt?)")
    ]
    assert folder_state(source) == before  # a push never touches local files
    assert push_folder(source, history).pushed == 0

    target = tmp_path / "target"
    pulled = pull_to_folder(history, target)
    assert (pulled.written, pulled.already, pulled.baseline) == (20, 0, "written")
    for path in paths:
        assert (target / path.name).read_bytes() == path.read_bytes()
    assert load_history(target, use_cache=False).table.equals(load_history(source, use_cache=False).table)
    for path in sorted(target.glob("perf-*.json"))[5:12]:  # an interrupted pull
        path.unlink()
    again = pull_to_folder(history, target)
    assert (again.written, again.already, again.baseline) == (7, 13, "kept")
    assert pull_to_folder(history, target).written == 0
    # The same runs under other bytes (a Windows checkout) count as held.
    crlf = tmp_path / "crlf"
    crlf.mkdir()
    for path in paths:
        (crlf / path.name).write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert pull_to_folder(history, crlf).written == 0


def test_values_are_bound_never_spliced_into_sql(pg_url: str, tmp_path: Path) -> None:
    history = PgHistory(pg_url)
    history.migrate()
    hostile = "x'); DROP TABLE perfslo.runs; --"
    document = orjson.loads(run_bytes(1, commit=hostile))
    document["slos"] = {f"{hostile} $1 %s": document["slos"][SLOS[0]]}
    document["metadata"]["host"] = {"label": hostile}
    assert history.push_run(orjson.dumps(document), name="perf-hostile-1790000060000.json")
    assert history.load_table(machine=hostile).table.height == 0  # a key that matches nothing
    table = history.load_table(baseline_commit=hostile).table
    assert table["commit"].to_list() == [hostile] and table["slo"].to_list() == [f"{hostile} $1 %s"]
    assert table["samples"].list.len().to_list() == [100]
    assert history.find_runs([b"'; --"]) == {}
    assert _count(pg_url, "runs") == 1


def _metric_run(folder: Path, index: int, warmup: bool, names: tuple[str, ...] = ("parse", "load")) -> Path:
    """A run as perfslo writes it today: metric series, a warm-up, a fingerprint."""
    from perfslo_tui.runs.files import build_run_document, write_run
    from perfslo_tui.runs.metadata import make_metadata, python_fingerprint

    samples: dict[str, list[float]] = {}
    for k, name in enumerate(names):
        base = 1.0 + k + 0.01 * index
        steady = [base * (1 + 0.003 * ((i * 7) % 11 - 5)) for i in range(60)]
        samples[name] = [base * 1.6] * 15 + steady if warmup else steady
        samples[f"{name}@peak_memory"] = [40.0 + k] * 5
    git = {"commit": f"{index:040x}", "branch": "main", "dirty": False}
    ms = 1_795_000_000_000 + index * 60_000
    meta = make_metadata(timestamp_ms=ms, git=git, fingerprint=python_fingerprint())
    return write_run(folder, build_run_document(samples, meta))


def test_the_table_carries_metric_series_steady_state_and_fingerprints(pg_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "artifacts"
    for index in range(4):
        _metric_run(folder, index, warmup=index % 2 == 0)
    history = PgHistory(pg_url)
    assert push_folder(folder, history).pushed == 4
    files = load_history(folder, use_cache=False).table
    # What the folder's table holds is what makes this test worth its name.
    assert {"parse@peak_memory", "load@peak_memory"} <= set(files["slo"].to_list())
    assert "warm-up" in files["steady_class"].to_list() and files["steady_from"].max() == 15
    assert files["fingerprint"].str.len_bytes().min() > 0
    for table in (history.load_table().table, history.load_table(recent_samples=1).table.drop("samples")):
        assert table.equals(files if "samples" in table.columns else files.drop("samples"))
    # A live view's rows (the join path) are the same too.
    ids = sorted(history.load_table().ids)
    assert history.load_runs(ids).equals(files)


def test_version_2_upgrades_to_3_and_reads_the_same(pg_url: str, tmp_path: Path) -> None:
    """Runs pushed by a perfslo of schema 2 read the same before and after the upgrade to 3."""
    from perfslo_tui.runs.pg.database import bundled_migrations

    old = PgHistory(pg_url, migrations=bundled_migrations()[:2])
    assert old.migrate() == 2
    assert old.push_run(run_bytes(1)) and old.push_run(run_bytes(2))
    new = PgHistory(pg_url)
    assert new.check_schema() == 2
    before = new.load_table().table
    assert set(before["steady_class"].to_list()) == {"flat"} and before["fingerprint"].to_list()[0] == ""
    assert PgHistory(pg_url).migrate() == 3
    assert PgHistory(pg_url).load_table().table.equals(before)
    folder = tmp_path / "artifacts"
    _metric_run(folder, 9, warmup=True)
    assert push_folder(folder, PgHistory(pg_url)).pushed == 1
    after = PgHistory(pg_url).load_table().table.filter(pl.col("run_id").str.contains("-1795000540000"))
    assert after.equals(load_history(folder, use_cache=False).table)


def test_a_partial_run_keeps_the_other_slos_shared_baseline_with_their_origin(
    pg_url: str, tmp_path: Path
) -> None:
    from perfslo_tui.actions.baseline import establish_shared_baseline

    folder = tmp_path / "artifacts"
    full = _metric_run(folder, 1, warmup=False)
    partial = _metric_run(folder, 2, warmup=False, names=("parse",))
    history = PgHistory(pg_url)
    assert push_folder(folder, history).pushed == 2
    establish_shared_baseline(history, full.name)
    run, carried = establish_shared_baseline(history, partial.name)
    assert run.run_id == partial.name
    assert carried == {"load": f"{1:040x}", "load@peak_memory": f"{1:040x}"}
    baseline = history.baseline(run.machine)
    assert baseline is not None and baseline.source_run == partial.name
    assert baseline.commit_of("parse") == f"{2:040x}" and baseline.commit_of("load") == f"{1:040x}"
    assert baseline.source_run_of("load") == full.name

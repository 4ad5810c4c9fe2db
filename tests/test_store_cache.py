"""The on-disk cache: used only while every file's stat key matches, rebuilt when it cannot be trusted.

Every test uses real run files and the real cache folder; the JSON files stay
the source of truth, so each test compares with a store that ignores the cache.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import polars as pl
import pytest

from perfslo_tui.runs import cache as run_cache
from perfslo_tui.runs.store import REWRITE_AFTER, RunStore, load_table
from tests.conftest import BASE_MS, HOUR_MS, make_run

SHORT_RACY_NS = 50_000_000


@pytest.fixture(autouse=True)
def _short_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as racy for 50 ms instead of 2 s, so tests wait less."""
    monkeypatch.setattr(run_cache, "RACY_NS", SHORT_RACY_NS)


def settle(folder: Path) -> None:
    """Wait until every file in the folder is older than the racy window."""
    newest = max(max(p.stat().st_mtime_ns, p.stat().st_ctime_ns) for p in folder.iterdir() if p.is_file())
    while time.time_ns() < newest + run_cache.RACY_NS + 1_000_000:
        time.sleep(0.005)


@pytest.fixture
def folder(project: Path) -> Iterator[Path]:
    artifacts = project / "artifacts"
    for i in range(5):
        make_run(
            artifacts,
            {"transpile-simple": 0.80 + i / 100, "ir-parse-simple": 0.20},
            ts_ms=BASE_MS + i * HOUR_MS,
        )
    settle(artifacts)
    yield artifacts


def fresh(folder: Path) -> pl.DataFrame:
    """The table read from the JSON files only."""
    return load_table(folder, use_cache=False).table


def cached_store(folder: Path) -> RunStore:
    """Load once so the cache is written, and check the next start uses it."""
    first = load_table(folder)
    assert first.files_read == first.run_count and first.cache_problem is None
    assert (run_cache.cache_dir(folder) / run_cache.INDEX_FILE).is_file()
    second = load_table(folder)
    assert second.cache_hits == first.run_count and second.files_read == 0
    return second


def test_second_start_reads_no_json_and_gets_the_same_table(folder: Path) -> None:
    store = cached_store(folder)
    assert store.table.equals(fresh(folder))
    assert store.run_count == 5
    assert not store.errors


def test_a_run_added_behind_the_caches_back_is_seen(folder: Path) -> None:
    cached_store(folder)
    added = make_run(folder, {"transpile-simple": 0.99}, ts_ms=BASE_MS + 10 * HOUR_MS)
    store = load_table(folder)
    assert store.run_count == 6
    assert store.files_read == 1 and store.cache_hits == 5
    assert store.table.filter(pl.col("run_id") == added.name)["median"].to_list() == [pytest.approx(0.99)]
    assert store.table.equals(fresh(folder))


def test_a_run_deleted_behind_the_caches_back_is_gone(folder: Path) -> None:
    cached_store(folder)
    victim = sorted(folder.glob("perf-*.json"))[2]
    victim.unlink()
    store = load_table(folder)
    assert store.run_count == 4
    assert victim.name not in store.table["run_id"].to_list()
    assert store.table.equals(fresh(folder))


def test_a_run_replaced_behind_the_caches_back_is_reread(folder: Path) -> None:
    cached_store(folder)
    target = sorted(folder.glob("perf-*.json"))[1]
    # A new file under the same name (new inode), as an editor or cp would leave it.
    other = make_run(folder.parent / "elsewhere", {"transpile-simple": 1.5}, ts_ms=BASE_MS + HOUR_MS)
    os.replace(other, target)
    store = load_table(folder)
    assert store.files_read == 1
    row = store.table.filter((pl.col("run_id") == target.name) & (pl.col("slo") == "transpile-simple"))
    assert row["median"].to_list() == [pytest.approx(1.5)]
    assert store.table.equals(fresh(folder))


def test_a_same_size_rewrite_in_place_with_the_old_mtime_is_seen(folder: Path) -> None:
    cached_store(folder)
    target = sorted(folder.glob("perf-*.json"))[0]
    before = target.stat()
    data = target.read_bytes()
    changed = data.replace(b"0.8", b"0.9")
    assert changed != data and len(changed) == len(data)
    with target.open("r+b") as handle:  # same inode, same size
        handle.write(changed)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the old mtime, as cp -p does
    after = target.stat()
    assert (after.st_mtime_ns, after.st_size, after.st_ino) == (
        before.st_mtime_ns,
        before.st_size,
        before.st_ino,
    )
    store = load_table(folder)
    assert store.files_read == 1
    row = store.table.filter((pl.col("run_id") == target.name) & (pl.col("slo") == "transpile-simple"))
    assert row["median"].to_list() == [pytest.approx(0.9)]


def test_a_restored_copy_keeps_the_cache_by_content_without_parsing(folder: Path) -> None:
    # A CI cache restore, cp -r or a checkout: every file gets a new inode and
    # ctime, the bytes are the same. The digests prove it; nothing is parsed.
    cached_store(folder)
    copy = folder.parent / "restored"
    shutil.copytree(folder, copy)
    store = load_table(copy)
    assert store.cache_hits == 5 and store.files_read == 0
    assert store.table.equals(fresh(folder))
    # The index was rewritten with the new keys, so the next start needs no hashing.
    index = orjson.loads((run_cache.cache_dir(copy) / run_cache.INDEX_FILE).read_bytes())
    for path in copy.glob("perf-*.json"):
        assert index["files"][path.name][0] == list(run_cache.file_key(path.stat()))
    settle(copy)
    again = load_table(copy)
    assert again.cache_hits == 5 and again.files_read == 0
    # A copy whose content differs is parsed, of course.
    target = sorted(copy.glob("perf-*.json"))[3]
    target.write_bytes(target.read_bytes().replace(b"0.83", b"0.93"))
    changed = load_table(copy)
    assert changed.files_read == 1
    row = changed.table.filter((pl.col("run_id") == target.name) & (pl.col("slo") == "transpile-simple"))
    assert row["median"].to_list() == [pytest.approx(0.93)]


def _forge_index(folder: Path, name: str, scanned_ns: int) -> None:
    """Make the index record the file's *current* stat key, as a coarse clock would."""
    index_path = run_cache.cache_dir(folder) / run_cache.INDEX_FILE
    index = orjson.loads(index_path.read_bytes())
    index["files"][name][0] = list(run_cache.file_key((folder / name).stat()))
    index["scanned_ns"] = scanned_ns
    index_path.write_bytes(orjson.dumps(index))


def test_a_file_touched_within_the_racy_window_of_the_snapshot_is_not_trusted(folder: Path) -> None:
    # On a filesystem with coarse timestamps a same-size rewrite within one
    # tick after the snapshot keeps every part of the stat key. Simulate that
    # exactly: the index gets the rewritten file's key, with the snapshot
    # taken just after the file's timestamps.
    cached_store(folder)
    target = sorted(folder.glob("perf-*.json"))[0]
    data = target.read_bytes()
    with target.open("r+b") as handle:
        handle.write(data.replace(b"0.8", b"0.7"))
    info = target.stat()
    _forge_index(folder, target.name, max(info.st_mtime_ns, info.st_ctime_ns) + 1_000_000)
    store = load_table(folder)
    row = store.table.filter((pl.col("run_id") == target.name) & (pl.col("slo") == "transpile-simple"))
    assert row["median"].to_list() == [pytest.approx(0.7)]
    assert store.files_read == 1


def test_the_same_key_outside_the_racy_window_is_trusted(folder: Path) -> None:
    # The counterpart of the test above: with the snapshot taken well after
    # the file's timestamps, a matching key is trusted (the cached rows win).
    cached_store(folder)
    target = sorted(folder.glob("perf-*.json"))[0]
    data = target.read_bytes()
    with target.open("r+b") as handle:
        handle.write(data.replace(b"0.8", b"0.7"))
    info = target.stat()
    _forge_index(folder, target.name, max(info.st_mtime_ns, info.st_ctime_ns) + 10 * SHORT_RACY_NS)
    store = load_table(folder)
    assert store.files_read == 0
    row = store.table.filter((pl.col("run_id") == target.name) & (pl.col("slo") == "transpile-simple"))
    assert row["median"].to_list() == [pytest.approx(0.8)]


def test_racy_rule_on_real_stat_keys(folder: Path) -> None:
    path = sorted(folder.glob("perf-*.json"))[0]
    key = run_cache.file_key(path.stat())
    touched = max(key[0], key[1])
    snapshot = run_cache.Snapshot(pl.DataFrame(), {path.name: key}, scanned_ns=touched + 1)
    assert not snapshot.trusted(path.name, key)
    later = run_cache.Snapshot(pl.DataFrame(), {path.name: key}, scanned_ns=touched + run_cache.RACY_NS + 1)
    assert later.trusted(path.name, key)
    assert not later.trusted(path.name, (key[0], key[1], key[2] + 1, key[3]))


def _data_file(folder: Path) -> Path:
    """The data file the index names (the previous one may linger one round)."""
    name = orjson.loads((run_cache.cache_dir(folder) / run_cache.INDEX_FILE).read_bytes())["data"]
    path = run_cache.cache_dir(folder) / name
    assert path.is_file()
    return path


def _index(folder: Path) -> Path:
    return run_cache.cache_dir(folder) / run_cache.INDEX_FILE


def _truncate_data(folder: Path) -> None:
    data = _data_file(folder)
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def _garbage_data(folder: Path) -> None:
    _data_file(folder).write_bytes(b"\x00garbage" * 100)


def _garbage_index(folder: Path) -> None:
    _index(folder).write_bytes(b"{not json")


def _empty_index(folder: Path) -> None:
    _index(folder).write_bytes(b"")


def _wrong_schema(folder: Path) -> None:
    # A readable Arrow file with the right row count and run ids, wrong columns.
    table = pl.read_ipc(_data_file(folder))
    table.drop("samples").with_columns(pl.lit("x").alias("samples")).write_ipc(_data_file(folder))


def _rows_missing(folder: Path) -> None:
    index = orjson.loads(_index(folder).read_bytes())
    table = pl.read_ipc(_data_file(folder))
    first = sorted(index["files"])[0]
    table = table.filter(pl.col("run_id") != first)
    index["rows"] = table.height
    table.write_ipc(_data_file(folder))
    _index(folder).write_bytes(orjson.dumps(index))


def _other_format(folder: Path) -> None:
    index = orjson.loads(_index(folder).read_bytes())
    index["format"] = 999
    _index(folder).write_bytes(orjson.dumps(index))


def _data_gone(folder: Path) -> None:
    _data_file(folder).unlink()


def _index_is_a_folder(folder: Path) -> None:
    _index(folder).unlink()
    _index(folder).mkdir()


@pytest.mark.parametrize(
    "damage",
    [
        _truncate_data,
        _garbage_data,
        _garbage_index,
        _empty_index,
        _wrong_schema,
        _rows_missing,
        _other_format,
        _data_gone,
    ],
)
def test_a_corrupt_cache_is_rebuilt_not_fatal(folder: Path, damage: object) -> None:
    cached_store(folder)
    assert callable(damage)
    damage(folder)
    store = load_table(folder)
    assert store.cache_hits == 0 and store.files_read == 5
    assert store.cache_problem is not None
    assert store.table.equals(fresh(folder))
    assert not store.errors  # a cache problem is not a file error
    rebuilt = load_table(folder)
    assert rebuilt.cache_hits == 5 and rebuilt.files_read == 0 and rebuilt.cache_problem is None


def test_a_cache_that_cannot_be_written_is_not_fatal(folder: Path) -> None:
    run_cache.cache_dir(folder).write_text("a file where the cache folder should be")
    store = load_table(folder)
    assert store.run_count == 5
    assert store.cache_problem is not None and "cannot write" in store.cache_problem
    assert not store.errors


def test_an_unreadable_index_is_not_fatal(folder: Path) -> None:
    cached_store(folder)
    _index_is_a_folder(folder)
    store = load_table(folder)
    assert store.run_count == 5 and store.cache_problem is not None


def test_a_bad_file_is_cached_as_an_error_and_not_parsed_again(folder: Path) -> None:
    bad = folder / f"perf-badbad0-{BASE_MS + 20 * HOUR_MS}.json"
    bad.write_text('{"schema_version": 1, "metadata": ')
    settle(folder)
    first = load_table(folder)
    assert first.run_count == 5 and bad in first.errors
    second = load_table(folder)
    assert second.files_read == 0
    assert second.errors == first.errors
    # Fixed: the new content is read.
    good = make_run(folder.parent / "elsewhere", {"transpile-simple": 0.5}, ts_ms=BASE_MS + 20 * HOUR_MS)
    os.replace(good, bad)
    third = load_table(folder)
    assert third.files_read == 1 and bad not in third.errors and third.run_count == 6


def test_the_live_store_does_not_reparse_a_bad_file_at_every_refresh(folder: Path) -> None:
    store = load_table(folder)
    (folder / f"perf-badbad0-{BASE_MS + 30 * HOUR_MS}.json").write_text("[]")
    store.refresh()
    read = store.files_read
    assert len(store.errors) == 1
    for _ in range(3):
        result = store.refresh()
        assert not result.changes.any
    assert store.files_read == read


def test_a_few_new_runs_do_not_rewrite_the_cache_but_many_do(folder: Path) -> None:
    # Five runs: one new one is a fifth of the history, so the cache is rewritten.
    cached_store(folder)
    data_before = _data_file(folder).name
    for i in range(REWRITE_AFTER + 1):
        make_run(folder, {"transpile-simple": 0.9}, ts_ms=BASE_MS + (100 + i) * HOUR_MS)
    settle(folder)
    store = load_table(folder)
    assert store.files_read == REWRITE_AFTER + 1
    assert _data_file(folder).name != data_before
    again = load_table(folder)
    assert again.files_read == 0 and again.run_count == 5 + REWRITE_AFTER + 1
    # One more run in a history of ~40: re-read at start, cache left alone.
    data_now = _data_file(folder).name
    make_run(folder, {"transpile-simple": 0.9}, ts_ms=BASE_MS + 500 * HOUR_MS)
    settle(folder)
    one_more = load_table(folder)
    assert one_more.files_read == 1
    assert _data_file(folder).name == data_now
    assert one_more.table.equals(fresh(folder))
    # Old data files do not pile up: the current one and at most the previous.
    assert len(list(run_cache.cache_dir(folder).glob("runs-*.arrow"))) <= 2


def test_use_cache_false_never_touches_the_cache_folder(folder: Path) -> None:
    store = load_table(folder, use_cache=False)
    assert store.run_count == 5
    assert not run_cache.cache_dir(folder).exists()


def test_live_refresh_appends_new_runs_and_inserts_old_ones_in_order(folder: Path) -> None:
    store = load_table(folder)
    newest = make_run(folder, {"transpile-simple": 0.91}, ts_ms=BASE_MS + 50 * HOUR_MS)
    result = store.refresh()
    assert result.changes.added == (newest.name,)
    older = make_run(folder, {"transpile-simple": 0.92}, ts_ms=BASE_MS - 50 * HOUR_MS)
    result = store.refresh()
    assert result.changes.added == (older.name,)
    assert store.table.equals(fresh(folder))
    assert store.table["run_id"][0] == older.name and store.table["run_id"][-1] == newest.name

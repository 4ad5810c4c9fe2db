"""RunStore: the artifacts folder as an incrementally refreshed table, on real files."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from perfslo_tui.runs.store import TABLE_SCHEMA, RunStore, load_table
from tests.conftest import BASE_MS, HOUR_MS, make_run


def test_table_has_one_row_per_run_and_slo_with_stats(project: Path) -> None:
    folder = project / "artifacts"
    make_run(folder, {"transpile-simple": [1.0, 2.0, 3.0], "ir-parse-simple": [0.5, 0.5, 0.5]})
    store = load_table(folder)
    assert list(store.table.schema) == list(TABLE_SCHEMA)
    assert store.table.height == 2 and store.run_count == 1
    row = store.table.filter(pl.col("slo") == "transpile-simple").row(0, named=True)
    assert (row["count"], row["median"], row["min"], row["max"]) == (3, 2.0, 1.0, 3.0)
    assert row["samples"] == [1.0, 2.0, 3.0]


def test_refresh_reports_added_changed_removed_and_reads_only_what_changed(project: Path) -> None:
    folder = project / "artifacts"
    first = make_run(folder, {"transpile-simple": 0.8}, ts_ms=BASE_MS)
    store = RunStore(folder)
    assert store.refresh().changes.added == (first.name,)
    assert not store.refresh().changes.any
    read = store.files_read
    second = make_run(folder, {"transpile-simple": 0.9}, ts_ms=BASE_MS + HOUR_MS)
    result = store.refresh()
    assert result.changes.added == (second.name,) and store.files_read == read + 1
    replacement = make_run(project / "other", {"transpile-simple": 1.1}, ts_ms=BASE_MS)
    replacement.replace(first)
    result = store.refresh()
    assert result.changes.changed == (first.name,)
    assert store.table.filter(pl.col("run_id") == first.name)["median"].to_list() == [1.1]
    second.unlink()
    result = store.refresh()
    assert result.changes.removed == (second.name,) and store.run_count == 1


def test_one_bad_file_never_hides_the_good_ones(project: Path) -> None:
    folder = project / "artifacts"
    make_run(folder, {"transpile-simple": 0.8})
    bad = folder / f"perf-deadbee-{BASE_MS + HOUR_MS}.json"
    bad.write_text("{ truncated")
    store = load_table(folder)
    assert store.run_count == 1
    assert "invalid JSON" in store.errors[bad]
    bad.unlink()
    result = store.refresh()
    assert result.changes.errors_changed and not store.errors


def test_missing_folder_is_reported_not_raised(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "nope")
    result = store.refresh()
    assert result.missing_dir and store.table.height == 0 and store.run_count == 0

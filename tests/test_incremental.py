"""Incremental refresh and evaluation give exactly what a fresh load and evaluation give."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from perfslo_tui.actions.baseline import establish_baseline
from perfslo_tui.config import Config
from perfslo_tui.runs.store import RunStore
from perfslo_tui.verdict.engine import evaluate
from perfslo_tui.verdict.model import Evaluation
from tests.conftest import BASE_MS, HOUR_MS, SEED_MOCK_TIMINGS, RunWriter

ALL = dict(SEED_MOCK_TIMINGS)


def fresh(project: Path, config: Config, session: str | None = None) -> Evaluation:
    history = RunStore(project / "artifacts", use_cache=False).refresh()
    return evaluate(history, config, session_run_id=session)


def test_refresh_by_names_equals_a_full_refresh(project: Path, write: RunWriter) -> None:
    paths = [write(ALL, ts_ms=BASE_MS + i * HOUR_MS) for i in range(3)]
    store = RunStore(project / "artifacts")
    store.refresh()
    new = write(ALL, ts_ms=BASE_MS + 10 * HOUR_MS)
    paths[0].unlink()
    bad = project / "artifacts" / "perf-abc1234-1795999999999.json"
    bad.write_text("{")
    history = store.refresh({new.name, paths[0].name, bad.name, "unrelated.txt"})
    assert history.changes.added == (new.name,)
    assert history.changes.removed == (paths[0].name,)
    assert bad in history.errors
    full = RunStore(project / "artifacts", use_cache=False).refresh()
    assert history.table.equals(full.table)
    assert history.runs.equals(full.runs)
    assert dict(history.errors) == dict(full.errors)


def test_a_name_that_did_not_change_costs_nothing(project: Path, write: RunWriter) -> None:
    first = write(ALL)
    store = RunStore(project / "artifacts")
    store.refresh()
    read = store.files_read
    history = store.refresh({first.name})
    assert store.files_read == read
    assert not history.changes.any
    assert history.version == history.previous_version


def test_one_slo_run_reuses_the_other_results_and_matches_a_fresh_evaluation(
    project: Path, config: Config, write: RunWriter
) -> None:
    for i in range(5):
        write({k: v * (1 + 0.01 * i) for k, v in ALL.items()}, ts_ms=BASE_MS + i * HOUR_MS, spread=0.02)
    establish_baseline(config)
    store = RunStore(project / "artifacts")
    before = evaluate(store.refresh(), config)
    write({"transpile-simple": 0.95}, ts_ms=BASE_MS + 9 * HOUR_MS, spread=0.02)
    history = store.refresh()
    after = evaluate(history, config, previous=before)
    expected = fresh(project, config)
    assert after.slos == expected.slos
    # Everything but the measured SLO came from the previous evaluation (now stale).
    by_name = {r.name: r for r in after.slos}
    for old in before.slos:
        if old.name != "transpile-simple":
            assert by_name[old.name].stale and by_name[old.name].trend is old.trend
    assert by_name["transpile-simple"].value_ms == 0.95 and not by_name["transpile-simple"].stale
    # A full run afterwards: every SLO is measured, nothing stale, still equal.
    write(ALL, ts_ms=BASE_MS + 10 * HOUR_MS, spread=0.02)
    again = evaluate(store.refresh(), config, previous=after)
    assert again.slos == fresh(project, config).slos
    assert not any(r.stale for r in again.slos)


def test_nothing_is_reused_when_it_could_be_wrong(project: Path, config: Config, write: RunWriter) -> None:
    for i in range(4):
        write(ALL, ts_ms=BASE_MS + 5 * HOUR_MS + i * HOUR_MS, spread=0.02)
    store = RunStore(project / "artifacts")
    previous = evaluate(store.refresh(), config)
    # A back-dated run changes the history of every SLO it measured.
    write({"transpile-simple": 5.0}, ts_ms=BASE_MS, spread=0.02)
    history = store.refresh()
    result = evaluate(history, config, previous=previous)
    assert result.slos == fresh(project, config).slos
    # A new baseline changes every comparison.
    establish_baseline(config)
    history = store.refresh()
    assert history.changes.baseline_changed
    result = evaluate(history, config, previous=result)
    assert result.slos == fresh(project, config).slos
    assert all(r.vs_baseline is not None for r in result.slos)
    # A previous evaluation of another history version is never trusted.
    stale_previous = previous
    write({"transpile-simple": 0.7}, ts_ms=BASE_MS + 20 * HOUR_MS, spread=0.02)
    result = evaluate(store.refresh(), config, previous=stale_previous)
    assert result.slos == fresh(project, config).slos


def test_a_changed_file_is_evaluated_again(project: Path, config: Config, write: RunWriter) -> None:
    for i in range(3):
        write(ALL, ts_ms=BASE_MS + i * HOUR_MS, spread=0.02)
    store = RunStore(project / "artifacts")
    previous = evaluate(store.refresh(), config)
    newest = max((project / "artifacts").glob("perf-*.json"))
    newest.write_text(newest.read_text().replace('"samples": [', '"samples": [9.0, ', 1))
    os.utime(newest, ns=(newest.stat().st_mtime_ns + 10**9,) * 2)
    history = store.refresh()
    assert history.changes.changed == (newest.name,)
    assert evaluate(history, config, previous=previous).slos == fresh(project, config).slos


def test_recent_results_are_the_verdicts_each_run_had(
    project: Path, config: Config, write: RunWriter
) -> None:
    from perfslo_tui.verdict.engine import recent_results

    runs = [write(ALL, ts_ms=BASE_MS + i * HOUR_MS, spread=0.02) for i in range(4)]
    history = RunStore(project / "artifacts").refresh()
    rows = recent_results(history, config, "transpile-objects", limit=3)
    assert [info.run_id for info, _ in rows] == [p.name for p in reversed(runs)][:3]
    for info, result in rows:
        then = evaluate(history, config, run_id=info.run_id).result("transpile-objects")
        assert result == then
    assert pl.Series([r is not None for _, r in rows]).all()

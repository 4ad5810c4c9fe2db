"""The one evaluation: which SLOs it reports and against what."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfslo_tui.collect.measure import write_time_summary
from perfslo_tui.config import Config
from perfslo_tui.runs.store import load_table
from perfslo_tui.verdict.engine import evaluate
from perfslo_tui.verdict.model import Verdict
from tests.conftest import BASE_MS, HOUR_MS, SEED_MOCK_TIMINGS, RunWriter


def test_no_runs_gives_no_data_for_every_slo(config: Config) -> None:
    store = load_table(config.artifacts_dir)
    evaluation = evaluate(store.history(), config)
    assert evaluation.run is None and evaluation.run_count == 0
    assert [r.name for r in evaluation.slos] == list(config.slos)
    assert all(r.state_label == "NO DATA" for r in evaluation.slos)


def test_configured_order_then_unconfigured_by_name(config: Config, write: RunWriter) -> None:
    write({"zz-extra": 1.0, "aa-extra": 1.0, "transpile-simple": 0.8})
    store = load_table(config.artifacts_dir)
    evaluation = evaluate(store.history(), config)
    names = [r.name for r in evaluation.slos]
    assert names == [*config.slos, "aa-extra", "zz-extra"]
    missing = evaluation.result("transpile-function")
    assert missing is not None and missing.state_label == "NO DATA" and missing.warning
    extra = evaluation.result("aa-extra")
    assert extra is not None and extra.state_label == "NO BUDGET" and not extra.warning


def test_value_is_the_median_not_the_mean(config: Config, write: RunWriter) -> None:
    # One GC-pause-like outlier must not move the verdict.
    write({"transpile-simple": [0.80, 0.81, 0.82, 0.83, 50.0]})
    store = load_table(config.artifacts_dir)
    result = evaluate(store.history(), config).result("transpile-simple")
    assert result is not None and result.stats is not None
    assert result.value_ms == pytest.approx(0.82)
    assert result.stats.mean > 10
    assert result.state_label == "PASS"


def test_previous_and_session_comparisons(config: Config, write: RunWriter) -> None:
    first = write({"transpile-simple": 0.80}, ts_ms=BASE_MS)
    write({"transpile-simple": 0.82}, ts_ms=BASE_MS + HOUR_MS)
    write({"transpile-simple": 0.84}, ts_ms=BASE_MS + 2 * HOUR_MS)
    store = load_table(config.artifacts_dir)
    result = evaluate(store.history(), config, session_run_id=first.name).result("transpile-simple")
    assert result is not None
    assert result.vs_previous is not None and result.vs_previous.change == pytest.approx(0.84 / 0.82 - 1)
    assert result.vs_session is not None and result.vs_session.regression.percent_change == "+5.0%"
    assert [p.median for p in result.trend] == pytest.approx([0.80, 0.82, 0.84])


def test_evaluating_an_old_run_ignores_later_history(config: Config, write: RunWriter) -> None:
    old = write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS)
    write({**SEED_MOCK_TIMINGS, "transpile-objects": 1.0}, ts_ms=BASE_MS + HOUR_MS)
    store = load_table(config.artifacts_dir)
    assert evaluate(store.history(), config).verdict is Verdict.WARNING
    past = evaluate(store.history(), config, run_id=old.name)
    assert past.verdict is Verdict.FAILED and past.run is not None and past.run.run_id == old.name
    with pytest.raises(KeyError):
        evaluate(store.history(), config, run_id="perf-nope-1.json")


def test_write_time_summary_is_the_seeds_block(config: Config) -> None:
    samples = {name: [value] * 5 for name, value in SEED_MOCK_TIMINGS.items()}
    summary, violations, warnings = write_time_summary(samples, config)
    assert summary == {"totalViolations": 1, "totalWarnings": 3, "passingBudgets": 3, "failingBudgets": 4}
    assert violations == [{"slo": "transpile-objects", "message": "1.27ms exceeds budget 1.15ms by 10.4%"}]
    assert [w["slo"] for w in warnings] == ["transpile-function", "ir-parse-complex", "lua-emit-complex"]


def test_errors_are_carried_to_the_views(config: Config, write: RunWriter, project: Path) -> None:
    write({"transpile-simple": 0.8})
    (project / "artifacts" / f"perf-x-{BASE_MS}.json").write_text("{")
    store = load_table(config.artifacts_dir)
    evaluation = evaluate(store.history(), config)
    assert len(evaluation.errors) == 1 and "invalid JSON" in evaluation.errors[0][1]


def test_a_partial_run_keeps_the_other_slos_last_measurement(config: Config, write: RunWriter) -> None:
    full = write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS, commit="1" * 40)
    partial = write({"transpile-simple": 0.80}, ts_ms=BASE_MS + HOUR_MS, commit="2" * 40)
    store = load_table(config.artifacts_dir)
    evaluation = evaluate(store.history(), config)
    assert evaluation.run is not None and evaluation.run.run_id == partial.name
    simple = evaluation.result("transpile-simple")
    assert simple is not None and not simple.stale and simple.measured_run_id == partial.name
    objects = evaluation.result("transpile-objects")
    assert objects is not None and objects.stale and objects.measured_run_id == full.name
    assert objects.state_label == "VIOLATION" and objects.value_ms == pytest.approx(1.27)
    assert any(m.startswith("not measured in this run: last measured at 1111111") for m in objects.messages())
    # Dropping a benchmark never hides its violation.
    assert evaluation.verdict is Verdict.FAILED
    assert not [r for r in evaluation.slos if r.state_label == "NO DATA"]

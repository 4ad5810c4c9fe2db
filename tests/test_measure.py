"""The collection harness: warm-up, calibration, samples, reference, run files."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from perfslo_tui.collect.measure import (
    DEFAULT_ITERATIONS,
    PerfMeasurement,
    bench,
    calibrate,
    iterations_from_env,
    reference_name,
    reference_work,
)
from perfslo_tui.config import Config
from perfslo_tui.runs.files import read_run
from perfslo_tui.runs.store import load_table
from perfslo_tui.verdict.rules import BudgetStatus, Severity


def busy(n: int = 2000) -> int:
    """Real pure-Python work."""
    return sum(i * i for i in range(n))


def test_bench_takes_perf_iterations_samples_per_call_in_ms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERF_ITERATIONS", "17")
    result = bench(busy)
    assert len(result.samples_ms) == 17
    assert len(result.reference_ms) == 17
    assert all(0 < s < 1000 for s in result.samples_ms)
    # busy() takes tens of µs: a per-call figure well under a whole batch.
    assert min(result.samples_ms) < 5.0


def test_default_iterations_is_100() -> None:
    assert iterations_from_env() == DEFAULT_ITERATIONS == 100


@pytest.mark.parametrize("raw", ["0", "-3", "many", "1.5"])
def test_bad_perf_iterations_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("PERF_ITERATIONS", raw)
    with pytest.raises(ValueError, match="PERF_ITERATIONS must be a positive integer"):
        iterations_from_env()


def test_sub_microsecond_work_is_calibrated_past_timer_overhead() -> None:
    calls = 0

    def tiny() -> None:
        nonlocal calls
        calls += 1

    loops = calibrate(tiny, min_sample_ns=200_000)
    # A call costs well under a µs: a 0.2 ms sample needs hundreds of them.
    assert loops >= 100
    result = bench(tiny, iterations=10, warmup=5)
    assert result.inner_loops >= 100
    assert all(s < 0.01 for s in result.samples_ms)  # per call, not per batch
    assert calls >= 5 + 10 * result.inner_loops


def test_warmup_calls_happen_before_timing() -> None:
    calls: list[int] = []
    bench(lambda: calls.append(1), iterations=3, warmup=7, inner_loops=1, reference=False, until_steady=False)
    assert len(calls) == 7 + 3


def test_warm_up_runs_until_the_speed_stops_improving() -> None:
    # Like code under a JIT: slow, then faster after a plateau, then fast. The last
    # speed-up comes after thousands of calls, past the fixed warm-up of old.
    calls = 0
    first_step, second_step = 3000, 6000

    def warming() -> None:
        nonlocal calls
        calls += 1
        busy(400 if calls < first_step else 250 if calls < second_step else 100)

    result = bench(warming, iterations=20, warmup=1, reference=False)
    # Every slow call happened while warming up, none while timing.
    assert result.warmup >= second_step
    assert calls - result.warmup >= 20 * result.inner_loops


def test_fixed_inner_loops_skip_calibration() -> None:
    calls: list[int] = []
    result = bench(
        lambda: calls.append(1), iterations=4, warmup=0, inner_loops=5, reference=False, until_steady=False
    )
    assert result.inner_loops == 5 and len(calls) == 20
    assert result.reference_ms == []


@pytest.mark.parametrize(
    ("options", "message"),
    [({"iterations": 0}, "iterations"), ({"warmup": -1}, "warmup"), ({"inner_loops": 0}, "inner_loops")],
)
def test_bad_bench_options_are_refused(options: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bench(busy, **options)  # type: ignore[arg-type]


def test_gc_can_be_disabled_while_timing_and_is_restored() -> None:
    seen: list[bool] = []
    assert gc.isenabled()
    result = bench(
        lambda: seen.append(gc.isenabled()), iterations=3, warmup=0, inner_loops=1, disable_gc=True
    )
    # The timed calls (the last three) ran without the collector.
    assert seen[-3:] == [False, False, False] and len(result.samples_ms) == 3
    assert gc.isenabled()


def test_gc_stays_on_by_default() -> None:
    seen: list[bool] = []
    bench(lambda: seen.append(gc.isenabled()), iterations=2, warmup=0, inner_loops=1, reference=False)
    assert all(seen)


def test_reference_work_is_fixed_work() -> None:
    assert reference_work() == reference_work()
    assert reference_name("parse") == "parse@ref"


# ---------------------------------------------------------------- PerfMeasurement


def test_measure_check_budget_and_assess_regression_follow_the_seed(config: Config) -> None:
    perf = PerfMeasurement(config)
    perf.measure("transpile-simple", 0.84)
    assert perf.samples["transpile-simple"] == [0.84]
    check = perf.check_budget("transpile-simple", 0.84)
    assert check.within and check.status is BudgetStatus.PASS
    regression = perf.assess_regression("transpile-simple", 0.82, 0.87)
    assert regression.percent_change == "+6.1%" and regression.severity is Severity.WARNING
    with pytest.raises(KeyError, match="no budget"):
        perf.check_budget("not-configured", 1.0)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_measure_refuses_impossible_samples(config: Config, bad: float) -> None:
    with pytest.raises(ValueError, match="finite number of ms > 0"):
        PerfMeasurement(config).measure("transpile-simple", bad)


def test_reference_names_are_reserved(config: Config) -> None:
    perf = PerfMeasurement(config)
    with pytest.raises(ValueError, match="reserved"):
        perf.measure("x@ref", 1.0)
    with pytest.raises(ValueError, match="reserved"):
        perf.bench("x@ref", busy)


def test_time_records_one_sample_of_the_block(config: Config) -> None:
    perf = PerfMeasurement(config)
    with perf.time("lua-emit-simple"):
        busy(20_000)
    with perf.time("lua-emit-simple"):
        busy(200)
    first, second = perf.samples["lua-emit-simple"]
    assert first > second > 0


def test_time_records_even_when_the_block_raises(config: Config) -> None:
    perf = PerfMeasurement(config)
    with pytest.raises(RuntimeError), perf.time("ir-parse-simple"):
        raise RuntimeError("boom")
    assert len(perf.samples["ir-parse-simple"]) == 1


def test_write_produces_a_real_run_with_the_reference_series(project: Path, config: Config) -> None:
    perf = PerfMeasurement(config)
    perf.bench("transpile-simple", busy, iterations=12)
    perf.measure("brand-new", 2.0)
    path = perf.write(git={"commit": "f" * 40, "branch": "main", "dirty": False})
    assert path.parent == project / "artifacts"
    run = read_run(path)
    assert run.commit == "f" * 40 and run.source == "perfslo"
    assert len(run.samples["transpile-simple"]) == 12
    assert len(run.samples["transpile-simple@ref"]) == 12
    assert "brand-new@ref" not in run.samples
    # The store reads it like any run.
    assert set(load_table(project / "artifacts").table["slo"].to_list()) == {
        "transpile-simple",
        "transpile-simple@ref",
        "brand-new",
    }


def test_mixing_single_samples_into_a_benched_slo_drops_its_reference(config: Config) -> None:
    perf = PerfMeasurement(config)
    perf.bench("transpile-simple", busy, iterations=5)
    perf.measure("transpile-simple", 0.5)
    perf.bench("transpile-simple", busy, iterations=5)
    document = perf.document(git={"commit": "e" * 40})
    assert len(document["slos"]["transpile-simple"]["samples"]) == 11
    assert "transpile-simple@ref" not in document["slos"]


def test_two_benches_of_one_slo_keep_the_pairs(config: Config) -> None:
    perf = PerfMeasurement(config)
    perf.bench("transpile-simple", busy, iterations=5)
    perf.bench("transpile-simple", busy, iterations=6)
    document = perf.document(git={"commit": "e" * 40})
    assert len(document["slos"]["transpile-simple@ref"]["samples"]) == 11


def test_write_time_summary_ignores_the_reference_series(config: Config) -> None:
    perf = PerfMeasurement(config)
    perf.bench("transpile-simple", lambda: busy(20), iterations=5)
    document = perf.document(git={"commit": "e" * 40})
    total = document["summary"]["passingBudgets"] + document["summary"]["failingBudgets"]
    assert total == 1


def test_nothing_measured_is_a_clear_error(config: Config) -> None:
    with pytest.raises(ValueError, match="nothing measured"):
        PerfMeasurement(config).write()


# ---------------------------------------------------------------- loop


def test_loop_times_the_body_with_warmup_calibration_and_reference(config: Config) -> None:
    perf = PerfMeasurement(config)
    passes = 0
    for _ in perf.loop("lua-emit-simple", iterations=12, warmup=4):
        passes += 1
    samples = perf.samples["lua-emit-simple"]
    loops = perf.inner_loops["lua-emit-simple"]
    assert len(samples) == 12 and len(perf.references["lua-emit-simple"]) == 12
    # An empty body is far below 0.2 ms: many passes per sample.
    assert loops >= 100
    # 4 untimed, 1 to size the loop, whole batches until the speed stopped
    # improving (at least 100 ms of them), then the 12 samples.
    warm = passes - (4 + 1 + 12 * loops)
    assert warm >= loops and warm % loops == 0
    assert all(s < 0.01 for s in samples)


def test_loop_follows_perf_iterations_and_real_work_scales(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERF_ITERATIONS", "9")
    perf = PerfMeasurement(config)
    for _ in perf.loop("small", reference=False):
        busy(200)
    for _ in perf.loop("large", reference=False):
        busy(20_000)
    assert len(perf.samples["small"]) == len(perf.samples["large"]) == 9
    assert "small" not in perf.references
    small = sorted(perf.samples["small"])[4]
    large = sorted(perf.samples["large"])[4]
    assert large > 20 * small


def test_loop_refuses_reserved_names(config: Config) -> None:
    with pytest.raises(ValueError, match="reserved"):
        list(PerfMeasurement(config).loop("x@ref"))

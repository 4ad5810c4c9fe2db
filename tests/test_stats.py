"""Statistics: summaries, standard errors, noise, change intervals, drift, steps.

Unit tests pin behaviour on known inputs; hypothesis property tests check
the math where it must hold for every input: the interval contains the
point estimate, swapping the runs mirrors the change, scaling every timing
changes nothing, more noise never narrows an interval, pooling more runs
never widens it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfslo_tui.runs.summary import summarize
from perfslo_tui.verdict.stats import (
    REFERENCE_SUFFIX,
    change_estimate,
    drift,
    find_step,
    is_reference_name,
    log_ratios,
    median_log_se,
    pooled_change,
    run_to_run_noise,
)

positive = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False, allow_infinity=False)
se_values = st.floats(min_value=0.0, max_value=0.5, allow_nan=False)
noise_values = st.one_of(st.none(), st.floats(min_value=0.0, max_value=0.5, allow_nan=False))


# ---------------------------------------------------------------- summaries


def test_summarize_reports_the_seed_statistics() -> None:
    stats = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (stats.count, stats.min, stats.median, stats.max) == (5, 1.0, 3.0, 100.0)
    assert stats.mean == pytest.approx(22.0)
    assert stats.p95 == pytest.approx(80.8)
    assert stats.stdev == pytest.approx(float(np.std([1, 2, 3, 4, 100], ddof=1)))
    assert summarize([2.5]).stdev == 0.0


def test_summarize_refuses_no_samples() -> None:
    with pytest.raises(ValueError, match="no samples"):
        summarize([])


# ---------------------------------------------------------------- standard error


def test_median_se_is_zero_without_spread_or_samples() -> None:
    assert median_log_se([1.0, 1.0, 1.0, 1.0]) == 0.0
    assert median_log_se([1.0, 2.0]) == 0.0


def test_median_se_shrinks_with_more_samples() -> None:
    rng = np.random.default_rng(3)
    small = median_log_se(rng.lognormal(0.0, 0.2, 50))
    large = median_log_se(rng.lognormal(0.0, 0.2, 5000))
    assert 0 < large < small / 4


def test_median_se_matches_a_bootstrap() -> None:
    from scipy import stats as sps

    rng = np.random.default_rng(4)
    values = rng.lognormal(0.0, 0.15, 200)
    boot = sps.bootstrap(
        (np.log(values),), np.median, n_resamples=2000, rng=np.random.default_rng(5), method="percentile"
    )
    assert median_log_se(values) == pytest.approx(float(boot.standard_error), rel=0.35)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(positive, min_size=3, max_size=60),
    st.floats(min_value=1e-3, max_value=1e3, allow_nan=False),
)
def test_median_se_is_scale_invariant(samples: list[float], factor: float) -> None:
    scaled = [v * factor for v in samples]
    assert median_log_se(scaled) == pytest.approx(median_log_se(samples), rel=1e-6, abs=1e-9)


def test_median_se_of_logged_values_equals_the_unlogged_one() -> None:
    values = np.random.default_rng(6).lognormal(0.0, 0.1, 80)
    assert median_log_se(np.log(values), logged=True) == pytest.approx(median_log_se(values))


# ---------------------------------------------------------------- reference ratios


def test_reference_names() -> None:
    assert is_reference_name("parse" + REFERENCE_SUFFIX)
    assert not is_reference_name("parse")
    assert not is_reference_name(REFERENCE_SUFFIX)


def test_log_ratios_pair_up_or_refuse() -> None:
    ratios = log_ratios([2.0, 4.0], [1.0, 2.0])
    assert ratios is not None and np.allclose(ratios, math.log(2.0))
    assert log_ratios([1.0, 2.0], [1.0]) is None
    assert log_ratios([], []) is None
    assert log_ratios([1.0, -1.0], [1.0, 1.0]) is None
    assert log_ratios([1.0, float("nan")], [1.0, 1.0]) is None


def test_ratios_cancel_a_machine_that_changes_speed() -> None:
    """Half the pairs ran 1.7x slower (a busy sibling core): the ratio does not move."""
    rng = np.random.default_rng(7)
    speed = np.where(rng.random(100) < 0.5, 1.0, 1.7)
    work = 0.5 * speed * rng.lognormal(0.0, 0.01, 100)
    reference = 0.02 * speed * rng.lognormal(0.0, 0.01, 100)
    ratios = log_ratios(work, reference)
    assert ratios is not None
    assert float(np.median(ratios)) == pytest.approx(math.log(25.0), abs=0.02)


# ---------------------------------------------------------------- run-to-run noise


def test_run_noise_needs_four_runs() -> None:
    assert run_to_run_noise([1.0, 1.1, 0.9]) is None
    assert run_to_run_noise([1.0, 1.0, 1.0, 1.0]) == 0.0


def test_run_noise_estimates_the_spread_of_one_run() -> None:
    rng = np.random.default_rng(8)
    medians = np.exp(rng.normal(0.0, 0.04, 400))
    noise = run_to_run_noise(medians)
    assert noise is not None and noise == pytest.approx(0.04, rel=0.2)


def test_a_step_in_history_does_not_inflate_the_noise() -> None:
    rng = np.random.default_rng(9)
    medians = np.exp(np.r_[rng.normal(0.0, 0.02, 20), rng.normal(0.3, 0.02, 20)])
    noise = run_to_run_noise(medians)
    assert noise is not None and noise < 0.04


@settings(max_examples=40, deadline=None)
@given(st.lists(positive, min_size=4, max_size=30), st.floats(min_value=1e-3, max_value=1e3))
def test_run_noise_is_scale_invariant(medians: list[float], factor: float) -> None:
    base = run_to_run_noise(medians)
    scaled = run_to_run_noise([m * factor for m in medians])
    assert base is not None and scaled is not None
    assert scaled == pytest.approx(base, rel=1e-6, abs=1e-9)


# ---------------------------------------------------------------- change intervals


def test_change_estimate_known_values() -> None:
    est = change_estimate(1.0, 1.2, 0.0, 0.0, 0.05)
    assert est.change == pytest.approx(0.2)
    half = 1.959964 * math.sqrt(2) * 0.05
    assert est.ci_low == pytest.approx(math.expm1(math.log(1.2) - half), rel=1e-5)
    assert est.significant
    assert not change_estimate(1.0, 1.05, 0.0, 0.0, 0.05).significant


def test_no_noise_at_all_makes_any_change_significant_and_no_change_not() -> None:
    assert change_estimate(1.0, 1.001, 0.0, 0.0, None).significant
    assert not change_estimate(1.0, 1.0, 0.0, 0.0, None).significant


@settings(max_examples=150, deadline=None)
@given(positive, positive, se_values, se_values, noise_values)
def test_interval_contains_the_point_estimate(
    ref: float, cur: float, ref_se: float, cur_se: float, noise: float | None
) -> None:
    est = change_estimate(ref, cur, ref_se, cur_se, noise)
    assert est.ci_low <= est.change + 1e-12
    assert est.change <= est.ci_high + 1e-12
    assert est.ci_low > -1.0
    if est.noise > 0:
        assert est.significant == (est.ci_low > 0 or est.ci_high < 0)


@settings(max_examples=150, deadline=None)
@given(positive, positive, se_values, se_values, noise_values)
def test_swapping_the_runs_mirrors_the_change(
    ref: float, cur: float, ref_se: float, cur_se: float, noise: float | None
) -> None:
    forward = change_estimate(ref, cur, ref_se, cur_se, noise)
    backward = change_estimate(cur, ref, cur_se, ref_se, noise)
    assert math.log1p(forward.change) == pytest.approx(-math.log1p(backward.change), abs=1e-9)
    # expm1/log1p round trips lose digits near -100 %: compare to 1e-6.
    assert math.log1p(forward.ci_low) == pytest.approx(-math.log1p(backward.ci_high), rel=1e-6, abs=1e-6)
    assert forward.significant == backward.significant


@settings(max_examples=100, deadline=None)
@given(positive, positive, se_values, se_values, noise_values, st.floats(min_value=1e-3, max_value=1e3))
def test_scaling_every_timing_changes_nothing(
    ref: float, cur: float, ref_se: float, cur_se: float, noise: float | None, factor: float
) -> None:
    base = change_estimate(ref, cur, ref_se, cur_se, noise)
    scaled = change_estimate(ref * factor, cur * factor, ref_se, cur_se, noise)
    assert scaled.change == pytest.approx(base.change, rel=1e-9, abs=1e-12)
    assert scaled.ci_high == pytest.approx(base.ci_high, rel=1e-9, abs=1e-12)
    assert scaled.significant == base.significant


@settings(max_examples=100, deadline=None)
@given(positive, positive, positive, se_values, noise_values)
def test_a_slower_current_run_never_lowers_the_change(
    ref: float, cur: float, extra: float, se: float, noise: float | None
) -> None:
    slow = change_estimate(ref, cur + extra, se, se, noise)
    fast = change_estimate(ref, cur, se, se, noise)
    assert slow.change >= fast.change
    assert slow.ci_low >= fast.ci_low
    # Significance of a slowdown can only appear, never vanish, as it grows.
    if fast.significant and fast.change > 0:
        assert slow.significant


@settings(max_examples=100, deadline=None)
@given(positive, positive, se_values, st.floats(0.0, 0.3), st.floats(0.0, 0.3))
def test_more_noise_never_narrows_the_interval(
    ref: float, cur: float, se: float, noise: float, more: float
) -> None:
    quiet = change_estimate(ref, cur, se, se, noise)
    loud = change_estimate(ref, cur, se, se, noise + more)
    assert loud.ci_high - loud.ci_low >= quiet.ci_high - quiet.ci_low - 1e-12
    if loud.significant:
        assert quiet.significant


# ---------------------------------------------------------------- pooled change


@settings(max_examples=80, deadline=None)
@given(positive, positive, se_values, se_values, noise_values)
def test_pooling_one_run_each_is_the_plain_change(
    ref: float, cur: float, ref_se: float, cur_se: float, noise: float | None
) -> None:
    plain = change_estimate(ref, cur, ref_se, cur_se, noise)
    pooled = pooled_change([math.log(ref)], [ref_se], [math.log(cur)], [cur_se], noise)
    assert pooled.change == pytest.approx(plain.change, rel=1e-9, abs=1e-12)
    assert pooled.ci_low == pytest.approx(plain.ci_low, rel=1e-9, abs=1e-12)


@settings(max_examples=80, deadline=None)
@given(
    st.floats(-1.0, 1.0),
    st.floats(-1.0, 1.0),
    st.floats(0.001, 0.3),
    st.integers(1, 6),
    st.integers(1, 6),
)
def test_pooling_more_runs_never_widens_the_interval(
    ref_level: float, cur_level: float, noise: float, ref_runs: int, cur_runs: int
) -> None:
    few = pooled_change([ref_level], [0.01], [cur_level], [0.01], noise)
    many = pooled_change(
        [ref_level] * ref_runs, [0.01] * ref_runs, [cur_level] * cur_runs, [0.01] * cur_runs, noise
    )
    assert many.change == pytest.approx(few.change)
    assert many.noise <= few.noise + 1e-12


def test_three_slow_runs_against_three_baseline_runs_are_significant_where_one_is_not() -> None:
    one = pooled_change([0.0], [0.005], [0.09], [0.005], 0.04)
    three = pooled_change([0.0, 0.0, 0.0], [0.005] * 3, [0.09] * 3, [0.005] * 3, 0.04)
    assert not one.significant and three.significant


def test_pooled_change_refuses_empty_groups_and_mismatched_errors() -> None:
    with pytest.raises(ValueError, match="at least one run"):
        pooled_change([], [], [0.0], [0.0], None)
    with pytest.raises(ValueError, match="standard error"):
        pooled_change([0.0, 0.1], [0.0], [0.0], [0.0], None)


# ---------------------------------------------------------------- drift


def test_drift_recovers_a_known_rate() -> None:
    days = np.arange(15, dtype=float)
    medians = 1.0 * np.exp(0.01 * days) * np.exp(np.random.default_rng(10).normal(0, 0.002, 15))
    est = drift(days, medians)
    assert est is not None and est.significant
    assert est.rate_per_day == pytest.approx(0.01, abs=0.002)
    assert est.total == pytest.approx(math.expm1(0.01 * 14), abs=0.03)
    assert est.runs == 15 and est.span_days == 14.0
    assert est.rate_low <= est.rate_per_day <= est.rate_high


def test_drift_needs_runs_and_time() -> None:
    assert drift([0, 1, 2], [1.0, 1.1, 1.2]) is None
    assert drift([0.0, 0.001, 0.002, 0.003], [1.0, 1.1, 1.2, 1.3]) is None


def test_flat_history_is_not_drifting() -> None:
    rng = np.random.default_rng(11)
    est = drift(np.arange(20.0), np.exp(rng.normal(0, 0.01, 20)))
    assert est is not None and abs(est.total) < 0.05


def test_days_until_the_threshold_at_the_drift_rate() -> None:
    est = drift(np.arange(10.0), np.exp(0.01 * np.arange(10.0)))
    assert est is not None
    days = est.days_until(1.0, 1.1)
    assert days == pytest.approx(math.log(1.1) / math.log1p(est.rate_per_day))
    assert est.days_until(1.2, 1.1) is None
    falling = drift(np.arange(10.0), np.exp(-0.01 * np.arange(10.0)))
    assert falling is not None and falling.days_until(1.0, 1.1) is None


@settings(max_examples=30, deadline=None)
@given(st.floats(-0.05, 0.05), st.floats(1e-2, 1e2))
def test_drift_rate_is_scale_invariant(rate: float, factor: float) -> None:
    days = np.arange(12.0)
    medians = np.exp(rate * days) * (1 + 0.01 * np.sin(days))
    a, b = drift(days, medians), drift(days, medians * factor)
    assert a is not None and b is not None
    assert b.rate_per_day == pytest.approx(a.rate_per_day, abs=1e-9)


# ---------------------------------------------------------------- steps


def test_find_step_locates_the_first_slow_run() -> None:
    rng = np.random.default_rng(12)
    medians = np.r_[np.exp(rng.normal(0, 0.01, 12)), 1.07 * np.exp(rng.normal(0, 0.01, 8))]
    step = find_step(medians)
    assert step is not None and step.index == 12
    assert step.change == pytest.approx(0.07, abs=0.02)
    assert step.p_value < 0.01


def test_no_step_in_noise_or_in_short_series() -> None:
    rng = np.random.default_rng(13)
    assert find_step(np.exp(rng.normal(0, 0.02, 30))) is None
    assert find_step([1.0, 2.0, 2.0, 2.0]) is None


@settings(max_examples=25, deadline=None)
@given(st.integers(3, 17), st.floats(0.1, 0.5), st.floats(1e-2, 1e2))
def test_a_clean_step_is_found_where_it_is_at_any_scale(where: int, size: float, factor: float) -> None:
    levels = np.r_[np.ones(where), np.full(20 - where, 1 + size)]
    medians = factor * levels * (1 + 0.001 * np.sin(np.arange(20)))
    step = find_step(medians)
    assert step is not None and step.index == where
    assert step.change == pytest.approx(size, rel=0.05)


# ------------------------------------------- the same numbers as scipy.stats
# perfslo computes these without importing scipy.stats (its start-up cost);
# scipy.stats is the reference they must agree with.

from scipy import stats as sps  # noqa: E402
from scipy.stats import mstats  # noqa: E402

from perfslo_tui.verdict.stats import mann_whitney_p, theil_sen  # noqa: E402

# Values on a coarse grid make ties common, so both code paths are exercised.
grid_values = st.integers(min_value=1, max_value=40).map(lambda v: v / 10.0)
fine_values = st.floats(min_value=0.01, max_value=100.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(grid_values, fine_values), min_size=1, max_size=30),
       st.lists(st.one_of(grid_values, fine_values), min_size=1, max_size=30))
def test_mann_whitney_p_is_scipys(x: list[float], y: list[float]) -> None:
    expected = float(sps.mannwhitneyu(x, y, alternative="two-sided").pvalue)
    assert mann_whitney_p(x, y) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.one_of(grid_values, fine_values), fine_values), min_size=3, max_size=60))
def test_theil_sen_is_scipys(points: list[tuple[float, float]]) -> None:
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    if np.unique(x).size < 2:
        return
    expected = sps.theilslopes(y, x, alpha=0.95)
    slope, low, high = theil_sen(x, y)
    assert slope == pytest.approx(expected.slope, rel=1e-12, abs=1e-12)
    assert low == pytest.approx(expected.low_slope, rel=1e-12, abs=1e-12, nan_ok=True)
    assert high == pytest.approx(expected.high_slope, rel=1e-12, abs=1e-12, nan_ok=True)


@settings(max_examples=150, deadline=None)
@given(st.lists(positive, min_size=3, max_size=300))
def test_median_se_is_scipys_maritz_jarrett(samples: list[float]) -> None:
    logged = np.log(np.asarray(samples))
    expected = float(np.asarray(mstats.mjci(logged, prob=[0.5]))[0])
    if not math.isfinite(expected) or float(logged.min()) == float(logged.max()):
        expected = 0.0
    # scipy works on the raw log values, which costs it ~1e-7 of round-off.
    assert median_log_se(samples) == pytest.approx(expected, rel=1e-6, abs=1e-6)


def test_run_to_run_noise_is_the_zero_centred_normal_mad() -> None:
    medians = np.random.default_rng(3).lognormal(0.0, 0.05, 30)
    steps = np.diff(np.log(medians))
    mad = sps.median_abs_deviation(steps, center=lambda v, axis=None: np.zeros_like(np.median(v, axis=axis)),
                                   scale="normal")
    assert run_to_run_noise(medians) == pytest.approx(float(mad) / math.sqrt(2.0), rel=1e-12)


def test_the_gate_does_not_import_scipy(project: object) -> None:
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from perfslo_tui.commands.cli import main\n"
        "main(['check', '--format', 'json'])\n"
        "print('MODULES=' + json.dumps(sorted(sys.modules)))\n"
    )
    from tests.conftest import SEED_MOCK_TIMINGS, make_run

    make_run(project / "artifacts", SEED_MOCK_TIMINGS, spread=0.05)  # type: ignore[operator]
    make_run(project / "artifacts", SEED_MOCK_TIMINGS, ts_ms=1_795_000_100_000, spread=0.05)  # type: ignore[operator]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("MODULES=")][0]
    loaded = json.loads(line.removeprefix("MODULES="))
    assert "perfslo_tui.verdict.stats" in loaded
    assert not [name for name in loaded if name == "scipy" or name.startswith("scipy.")]

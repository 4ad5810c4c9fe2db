"""Inconclusive only when the gate cannot settle it, with the action computed from the noise."""

from __future__ import annotations

import math

from perfslo_tui.verdict.model import Comparison, NoiseParts
from perfslo_tui.verdict.rules import RegressionCheck, severity_for_change
from perfslo_tui.verdict.settle import settle_action
from perfslo_tui.verdict.stats import Z95, ChangeEstimate


def comparison(change: float, parts: NoiseParts, busy: bool = False) -> Comparison:
    se = math.sqrt(parts.run_noise**2 + parts.current_se**2 + parts.reference_var)
    log = math.log1p(change)
    estimate = ChangeEstimate(
        change, math.expm1(log - Z95 * se), math.expm1(log + Z95 * se), se, abs(log) > Z95 * se
    )
    regression = RegressionCheck(1.0, 1.0 + change, change, severity_for_change(change, 0.05))
    return Comparison("baseline", None, "1" * 40, regression, estimate, busy=busy, parts=parts)


def test_a_precise_enough_comparison_or_a_stable_one_is_never_inconclusive() -> None:
    quiet = NoiseParts(run_noise=0.01, current_se=0.005, reference_var=0.01**2 / 3, samples=100)
    assert settle_action(comparison(0.12, quiet), 3, "1111111") == ""  # the interval is decisive
    noisy = NoiseParts(run_noise=0.06, current_se=0.01, reference_var=0.06**2 / 3, samples=100)
    assert settle_action(comparison(0.02, noisy), 3, "1111111") == ""  # looks stable: says stable
    assert settle_action(comparison(0.12, noisy, busy=True), 3, "1111111") == ""  # not judged instead


def test_within_run_noise_asks_for_more_samples() -> None:
    parts = NoiseParts(run_noise=0.004, current_se=0.05, reference_var=0.004**2 / 3, samples=30)
    action = settle_action(comparison(0.10, parts), 3, "1111111")
    assert action.startswith("+10.0% [") and "cannot tell a regression (> +10.0%) from none" in action
    needed = int(action.split("raise PERF_ITERATIONS to ")[1].split()[0])
    # The standard error shrinks as 1/sqrt(n): that many samples bring the confirmation to the tolerance.
    target = (math.log1p(0.05) / Z95) ** 2
    assert (0.004**2 + 0.05**2 * 30 / needed) / 3 + 0.004**2 / 3 <= target * 1.01
    assert (0.004**2 + 0.05**2 * 30 / (needed - 5)) / 3 + 0.004**2 / 3 > target


def test_run_to_run_noise_asks_for_more_runs_or_an_interleaved_compare() -> None:
    some = NoiseParts(run_noise=0.045, current_se=0.005, reference_var=0.02**2 / 6, samples=100)
    action = settle_action(comparison(0.10, some), 3, "1111111")
    runs = int(action.split("perfslo check --confirm ")[1].rstrip("`"))
    assert 3 < runs <= 10
    lots = NoiseParts(run_noise=0.08, current_se=0.005, reference_var=0.02**2 / 6, samples=100)
    assert "run `perfslo compare 1111111 HEAD`" in settle_action(comparison(0.12, lots), 3, "1111111")
    loose_base = NoiseParts(run_noise=0.02, current_se=0.005, reference_var=0.03**2, samples=100)
    action = settle_action(comparison(0.12, loose_base), 3, "1111111")
    assert "the baseline itself is known only to ±" in action and "perfslo compare 1111111 HEAD" in action

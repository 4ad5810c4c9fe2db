"""The verdict rules, with the seed document's own numbers and the edges."""

from __future__ import annotations

import pytest

from perfslo_tui.text import format_change
from perfslo_tui.verdict.rules import BudgetStatus, Severity, assess_regression, budget_status, tolerance_band


@pytest.mark.parametrize(
    ("budget", "band"),
    [
        (0.85, (0.8075, 0.8925)),
        (1.2, (1.14, 1.26)),
        (1.15, (1.0925, 1.2075)),
        (0.25, (0.2375, 0.2625)),
        (0.95, (0.9025, 0.9975)),
        (0.35, (0.3325, 0.3675)),
        (1.05, (0.9975, 1.1025)),
    ],
)
def test_band_is_the_seed_tables_min_and_max(budget: float, band: tuple[float, float]) -> None:
    low, high = tolerance_band(budget, 0.05)
    assert low == pytest.approx(band[0])
    assert high == pytest.approx(band[1])


def test_seed_example_check_budget() -> None:
    check = budget_status(0.84, 0.85)
    assert check.within
    assert check.status is BudgetStatus.PASS
    assert f"{check.percent_of_budget:.1f}%" == "98.8%"
    assert check.status.icon == "✅"


def test_seed_violation_message() -> None:
    check = budget_status(1.27, 1.15)
    assert check.status is BudgetStatus.VIOLATION
    assert check.message == "1.27ms exceeds budget 1.15ms by 10.4%"


def test_exactly_100_percent_is_pass_and_exactly_110_is_drift() -> None:
    assert budget_status(0.85, 0.85).status is BudgetStatus.PASS
    assert budget_status(0.85 * 1.1, 0.85).status is BudgetStatus.DRIFT
    assert budget_status(0.935, 0.85).status is BudgetStatus.DRIFT
    assert budget_status(0.9351, 0.85).status is BudgetStatus.VIOLATION
    assert budget_status(0.8501, 0.85).status is BudgetStatus.DRIFT


@pytest.mark.parametrize(
    ("tolerance", "drift_edge", "violation_value"),
    [(0.02, 1.04, 1.0401), (0.10, 1.20, 1.2001), (0.05, 1.10, 1.1001)],
)
def test_tolerance_scales_the_thresholds(tolerance: float, drift_edge: float, violation_value: float) -> None:
    assert budget_status(1.0, 1.0, tolerance).status is BudgetStatus.PASS
    assert budget_status(drift_edge, 1.0, tolerance).status is BudgetStatus.DRIFT
    assert budget_status(violation_value, 1.0, tolerance).status is BudgetStatus.VIOLATION


def test_faster_than_band_is_pass_but_flagged() -> None:
    check = budget_status(0.70, 0.85)  # 82 %: under the band's 95 % minimum
    assert check.status is BudgetStatus.PASS
    assert check.under_band
    assert "under band: budget may be loose, consider tightening" in check.message
    assert not budget_status(0.81, 0.85).under_band  # 95.3 %: inside the band


def test_seed_regression_example() -> None:
    result = assess_regression(0.82, 0.87)
    assert result.percent_change == "+6.1%"
    assert result.severity is Severity.WARNING


@pytest.mark.parametrize(
    ("current", "severity"),
    [
        (0.95, Severity.IMPROVED),  # exactly -5 %
        (0.96, Severity.STABLE),
        (1.0, Severity.STABLE),
        (1.0499, Severity.STABLE),
        (1.05, Severity.WARNING),  # exactly +5 %
        (1.10, Severity.WARNING),  # exactly +10 %
        (1.1001, Severity.REGRESSION),
    ],
)
def test_regression_edges(current: float, severity: Severity) -> None:
    assert assess_regression(1.0, current).severity is severity


def test_change_is_always_signed() -> None:
    assert format_change(0.0) == "+0.0%"
    assert format_change(-0.061) == "-6.1%"
    assert format_change(0.1) == "+10.0%"


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_budget_is_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        budget_status(1.0, bad)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5])
def test_bad_tolerance_is_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        budget_status(1.0, 1.0, bad)

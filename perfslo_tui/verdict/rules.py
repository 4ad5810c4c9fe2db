"""The verdict rules: budget status and regression severity.

Pure functions with no I/O and no third-party imports, so that the gate, the
TUI, the reports and the tests all apply one rule set (the original system's
code and document disagreed; these rules are the ones LUASCRIPT's design document states (docs/origin.md)).

Budget status, with ``t`` the SLO's tolerance:

* PASS when ``value <= budget``;
* DRIFT when ``budget < value <= budget * (1 + 2t)``;
* VIOLATION above that.

At the default ±5 % this is LUASCRIPT's <100 % / 100–110 % / >110 %.

Regression severity, with ``change = (current - baseline) / baseline``:

* IMPROVED when ``change <= -t``;
* STABLE when ``-t < change < t``;
* WARNING when ``t <= change <= 2t`` (investigate);
* REGRESSION when ``change > 2t`` (must fix).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from perfslo_tui.text import format_change, format_percent, format_value

DEFAULT_TOLERANCE = 0.05

# Boundary comparisons are done on ratios, which carry float noise
# (0.85 * 1.1 != 0.935); values this close to a threshold count as on it.
_EPS = 1e-9


class BudgetStatus(StrEnum):
    """Where a measured value stands against its budget."""

    PASS = "PASS"
    DRIFT = "DRIFT"
    VIOLATION = "VIOLATION"

    @property
    def icon(self) -> str:
        """LUASCRIPT's status icon."""
        return _BUDGET_ICONS[self]

    @property
    def rank(self) -> int:
        """Badness, for sorting: PASS < DRIFT < VIOLATION."""
        return _BUDGET_RANK[self]


_BUDGET_ICONS = {
    BudgetStatus.PASS: "✅",
    BudgetStatus.DRIFT: "⚠️",
    BudgetStatus.VIOLATION: "❌",
}
_BUDGET_RANK = {BudgetStatus.PASS: 0, BudgetStatus.DRIFT: 1, BudgetStatus.VIOLATION: 2}


class Severity(StrEnum):
    """How a value moved against a reference (baseline or previous run)."""

    IMPROVED = "improved"
    STABLE = "stable"
    WARNING = "warning"
    REGRESSION = "regression"

    @property
    def rank(self) -> int:
        """Badness, for sorting: improved < stable < warning < regression."""
        return _SEVERITY_RANK[self]

    @property
    def icon(self) -> str:
        """A short icon for tables."""
        return _SEVERITY_ICONS[self]


_SEVERITY_RANK = {
    Severity.IMPROVED: 0,
    Severity.STABLE: 1,
    Severity.WARNING: 2,
    Severity.REGRESSION: 3,
}
_SEVERITY_ICONS = {
    Severity.IMPROVED: "🟢",
    Severity.STABLE: "·",
    Severity.WARNING: "⚠️",
    Severity.REGRESSION: "❌",
}


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    """The result of checking one value against one budget.

    Attributes:
        value_ms: The measured value (a run's median), in milliseconds.
        budget_ms: The SLO's budget in milliseconds.
        tolerance: The SLO's tolerance as a fraction (0.05 for ±5 %).
        status: PASS, DRIFT or VIOLATION.
        percent_of_budget: ``100 * value / budget``.
        under_band: True when the value is below the band's minimum,
            ``budget * (1 - tolerance)``: the budget may be loose.
        unit: The unit of value and budget (``ms`` for time; instruction
            counts and MB for the other metrics; the ``_ms`` names stay for
            the time budgets they were made for).
    """

    value_ms: float
    budget_ms: float
    tolerance: float
    status: BudgetStatus
    percent_of_budget: float
    under_band: bool
    unit: str = "ms"

    @property
    def within(self) -> bool:
        """True when the value is within budget (PASS)."""
        return self.status is BudgetStatus.PASS

    @property
    def over_by_percent(self) -> float:
        """How far over budget the value is, in percent (negative when under)."""
        return self.percent_of_budget - 100.0

    @property
    def message(self) -> str:
        """A one-line human message, LUASCRIPT's wording for a violation."""
        value, budget = format_value(self.value_ms, self.unit), format_value(self.budget_ms, self.unit)
        if self.status is BudgetStatus.PASS:
            text = f"{value} within budget {budget} ({format_percent(self.percent_of_budget)})"
            if self.under_band:
                text += "; under band: budget may be loose, consider tightening"
            return text
        return f"{value} exceeds budget {budget} by {self.over_by_percent:.1f}%"


@dataclass(frozen=True, slots=True)
class RegressionCheck:
    """The result of comparing a current value with a reference value.

    Attributes:
        baseline_ms: The reference value.
        current_ms: The current value.
        change: ``(current - baseline) / baseline`` as a fraction.
        severity: improved, stable, warning or regression.
    """

    baseline_ms: float
    current_ms: float
    change: float
    severity: Severity

    @property
    def percent_change(self) -> str:
        """The change, signed, with one decimal and a % sign (``+6.1%``)."""
        return format_change(self.change)


def tolerance_band(budget_ms: float, tolerance: float) -> tuple[float, float]:
    """Return the band ``(budget * (1 - tolerance), budget * (1 + tolerance))``."""
    return budget_ms * (1.0 - tolerance), budget_ms * (1.0 + tolerance)


def violation_threshold(budget_ms: float, tolerance: float) -> float:
    """Return the value above which a measurement is a VIOLATION."""
    return budget_ms * (1.0 + 2.0 * tolerance)


def budget_status(
    value_ms: float, budget_ms: float, tolerance: float = DEFAULT_TOLERANCE, unit: str = "ms"
) -> BudgetCheck:
    """Classify a measured value against its budget.

    Args:
        value_ms: The measured value in milliseconds (a run's median), or in
            ``unit``.
        budget_ms: The budget in the same unit; must be positive.
        tolerance: The tolerance as a fraction in (0, 1).
        unit: The unit of value and budget.

    Returns:
        The status, percent of budget and the under-band flag.

    Raises:
        ValueError: If the budget is not positive or an input is not finite.
    """
    _check_positive_finite("budget", budget_ms)
    _check_tolerance(tolerance)
    if not math.isfinite(value_ms) or value_ms < 0:
        raise ValueError(f"value must be a finite number >= 0, got {value_ms!r}")
    ratio = value_ms / budget_ms
    if ratio <= 1.0 + _EPS:
        status = BudgetStatus.PASS
    elif ratio <= 1.0 + 2.0 * tolerance + _EPS:
        status = BudgetStatus.DRIFT
    else:
        status = BudgetStatus.VIOLATION
    return BudgetCheck(
        value_ms=value_ms,
        budget_ms=budget_ms,
        tolerance=tolerance,
        status=status,
        percent_of_budget=100.0 * ratio,
        under_band=ratio < 1.0 - tolerance - _EPS,
        unit=unit,
    )


def relative_change(baseline_ms: float, current_ms: float) -> float:
    """Return ``(current - baseline) / baseline`` as a fraction."""
    _check_positive_finite("baseline", baseline_ms)
    return (current_ms - baseline_ms) / baseline_ms


def severity_for_change(change: float, tolerance: float = DEFAULT_TOLERANCE) -> Severity:
    """Classify a relative change (a fraction) with the regression rule."""
    _check_tolerance(tolerance)
    if change <= -tolerance + _EPS:
        return Severity.IMPROVED
    if change < tolerance - _EPS:
        return Severity.STABLE
    if change <= 2.0 * tolerance + _EPS:
        return Severity.WARNING
    return Severity.REGRESSION


def assess_regression(
    baseline_ms: float, current_ms: float, tolerance: float = DEFAULT_TOLERANCE
) -> RegressionCheck:
    """Compare a current value with a baseline value.

    Args:
        baseline_ms: The reference value in milliseconds; must be positive.
        current_ms: The current value in milliseconds.
        tolerance: The SLO's tolerance as a fraction.

    Returns:
        The signed relative change and its severity.
    """
    change = relative_change(baseline_ms, current_ms)
    return RegressionCheck(
        baseline_ms=baseline_ms,
        current_ms=current_ms,
        change=change,
        severity=severity_for_change(change, tolerance),
    )


def _check_positive_finite(name: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_tolerance(tolerance: float) -> None:
    if not (0.0 < tolerance < 1.0):
        raise ValueError(f"tolerance must be in (0, 1), got {tolerance!r}")

"""perfslo: performance SLO budgets, regression gate and live terminal monitor."""

__version__ = "0.1.0"

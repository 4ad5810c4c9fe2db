"""The measurement API under its public name; it lives in :mod:`perfslo_tui.collect.measure`.

``from perfslo_tui.measure import PerfMeasurement`` is what users write, so this
name stays.
"""

from perfslo_tui.collect.measure import (
    DEFAULT_ITERATIONS,
    DEFAULT_MIN_SAMPLE_NS,
    BenchResult,
    PerfMeasurement,
    bench,
    calibrate,
    iterations_from_env,
    reference_work,
)

__all__ = [
    "DEFAULT_ITERATIONS",
    "DEFAULT_MIN_SAMPLE_NS",
    "BenchResult",
    "PerfMeasurement",
    "bench",
    "calibrate",
    "iterations_from_env",
    "reference_work",
]

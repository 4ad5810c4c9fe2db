"""Measurement: time real work and write a run artifact.

The API follows the seed's ``PerfMeasurement``::

    perf = PerfMeasurement()
    perf.measure("transpile-simple", 0.84)          # record a sample (ms)
    perf.check_budget("transpile-simple", 0.84)     # within / % of budget / status
    perf.assess_regression("transpile-simple", 0.82, 0.87)  # +6.1%, warning
    with perf.time("transpile-simple"):             # time a block
        transpile(source)
    perf.bench("transpile-simple", lambda: transpile(source))  # calibrated samples
    perf.write()                                    # artifacts/perf-<sha>-<ms>.json

``bench`` warms up, calibrates an inner loop so that each timed sample lasts
at least ``min_sample_ns`` (a ``perf_counter_ns`` pair costs ~150 ns on the
reference machine, so sub-microsecond work would otherwise measure the timer),
takes ``PERF_ITERATIONS`` samples (default 100) and records per-call ms.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfslo_tui.artifacts import build_run_document, make_metadata, write_run
from perfslo_tui.config import Config, load_config
from perfslo_tui.evaluate import write_time_summary
from perfslo_tui.rules import (
    DEFAULT_TOLERANCE,
    BudgetCheck,
    RegressionCheck,
    assess_regression,
    budget_status,
)

DEFAULT_ITERATIONS = 100
DEFAULT_MIN_SAMPLE_NS = 200_000  # 0.2 ms per sample keeps timer overhead < 0.1 %


def iterations_from_env(default: int = DEFAULT_ITERATIONS) -> int:
    """``PERF_ITERATIONS`` from the environment (a positive integer), or the default.

    Raises:
        ValueError: When the variable is set but not a positive integer.
    """
    raw = os.environ.get("PERF_ITERATIONS")
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"PERF_ITERATIONS must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"PERF_ITERATIONS must be a positive integer, got {raw!r}")
    return value


@dataclass(frozen=True, slots=True)
class BenchResult:
    """What :func:`bench` measured.

    Attributes:
        samples_ms: Per-call milliseconds, one per timed sample.
        inner_loops: Calls per timed sample.
        warmup: Calls made before timing.
    """

    samples_ms: list[float]
    inner_loops: int
    warmup: int


def calibrate(fn: Callable[[], Any], min_sample_ns: int = DEFAULT_MIN_SAMPLE_NS) -> int:
    """Find how many calls make one sample last at least ``min_sample_ns``.

    Doubles the loop count until a timed batch is long enough, like timeit's
    autorange.

    Returns:
        The inner loop count (at least 1).
    """
    loops = 1
    clock = time.perf_counter_ns
    while True:
        start = clock()
        for _ in range(loops):
            fn()
        elapsed = clock() - start
        if elapsed >= min_sample_ns or loops >= 1 << 24:
            return loops
        # Jump close to the target in one step, then let the loop confirm.
        factor = 2 if elapsed <= 0 else max(2, min(10, int(min_sample_ns / elapsed) + 1))
        loops *= factor


def bench(
    fn: Callable[[], Any],
    iterations: int | None = None,
    warmup: int = 3,
    min_sample_ns: int = DEFAULT_MIN_SAMPLE_NS,
    disable_gc: bool = False,
    inner_loops: int | None = None,
) -> BenchResult:
    """Time ``fn``: warm up, calibrate, then take ``iterations`` samples.

    Args:
        fn: The work to time (called with no arguments).
        iterations: Samples to take (default ``PERF_ITERATIONS`` or 100).
        warmup: Calls before timing (and before calibration).
        min_sample_ns: Shortest batch duration the calibration aims for.
        disable_gc: Turn the garbage collector off while timing.
        inner_loops: Fixed calls per sample (skips calibration).

    Returns:
        Per-call milliseconds and the loop count used.
    """
    count = iterations if iterations is not None else iterations_from_env()
    for _ in range(warmup):
        fn()
    loops = inner_loops if inner_loops is not None else calibrate(fn, min_sample_ns)
    clock = time.perf_counter_ns
    samples: list[float] = []
    gc_was_enabled = gc.isenabled()
    if disable_gc:
        gc.collect()
        gc.disable()
    try:
        loop_range = range(loops)
        for _ in range(count):
            start = clock()
            for _ in loop_range:
                fn()
            elapsed = clock() - start
            samples.append(max(elapsed, 1) / loops / 1e6)
    finally:
        if disable_gc and gc_was_enabled:
            gc.enable()
    return BenchResult(samples_ms=samples, inner_loops=loops, warmup=warmup)


class PerfMeasurement:
    """Collect samples for SLOs and write them as one run artifact.

    Args:
        config: The SLO config (default: discovered from the current folder).
        artifacts_dir: Where :meth:`write` puts the run (default: the
            config's artifacts folder).
    """

    def __init__(self, config: Config | None = None, artifacts_dir: Path | None = None) -> None:
        self.config = config if config is not None else load_config()
        self.artifacts_dir = artifacts_dir or self.config.artifacts_dir
        self.samples: dict[str, list[float]] = {}
        self.inner_loops: dict[str, int] = {}

    def measure(self, slo: str, ms: float) -> None:
        """Record one sample (milliseconds) for an SLO."""
        value = float(ms)
        if not value > 0 or value != value or value == float("inf"):
            raise ValueError(f"{slo}: a sample must be a finite number of ms > 0, got {ms!r}")
        self.samples.setdefault(slo, []).append(value)

    def check_budget(self, slo: str, ms: float) -> BudgetCheck:
        """Check a value against the SLO's budget (``within``, ``percent_of_budget``, ``status``).

        Raises:
            KeyError: When the SLO has no budget in the config.
        """
        config = self.config.slos.get(slo)
        if config is None:
            raise KeyError(f"{slo}: no budget configured")
        return budget_status(ms, config.budget_ms, config.tolerance)

    def assess_regression(self, slo: str, baseline_ms: float, current_ms: float) -> RegressionCheck:
        """Compare a current value with a baseline value (``percent_change``, ``severity``)."""
        config = self.config.slos.get(slo)
        tolerance = config.tolerance if config else DEFAULT_TOLERANCE
        return assess_regression(baseline_ms, current_ms, tolerance)

    @contextlib.contextmanager
    def time(self, slo: str) -> Iterator[None]:
        """Time the ``with`` block once and record it as one sample."""
        start = time.perf_counter_ns()
        try:
            yield
        finally:
            elapsed = time.perf_counter_ns() - start
            self.measure(slo, max(elapsed, 1) / 1e6)

    def bench(self, slo: str, fn: Callable[[], Any], **options: Any) -> BenchResult:
        """Measure ``fn`` with :func:`bench` and record all its samples for ``slo``."""
        result = bench(fn, **options)
        self.samples.setdefault(slo, []).extend(result.samples_ms)
        self.inner_loops[slo] = result.inner_loops
        return result

    def document(self, source: str = "perfslo", git: dict[str, Any] | None = None) -> dict[str, Any]:
        """The run document for what has been collected."""
        if not self.samples:
            raise ValueError("nothing measured: no samples to write")
        summary, violations, warnings = write_time_summary(self.samples, self.config)
        return build_run_document(
            self.samples,
            make_metadata(cwd=self.config.root, source=source, git=git),
            summary,
            violations,
            warnings,
            self.inner_loops,
        )

    def write(self, source: str = "perfslo", git: dict[str, Any] | None = None) -> Path:
        """Write the collected samples as one run artifact, atomically.

        Returns:
            The new run file's path.
        """
        return write_run(self.artifacts_dir, self.document(source=source, git=git))

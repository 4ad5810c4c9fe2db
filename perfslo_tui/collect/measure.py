"""Measurement: time real work and write a run artifact.

The API follows LUASCRIPT's ``PerfMeasurement``::

    perf = PerfMeasurement()
    perf.measure("transpile-simple", 0.84)          # record a sample (ms)
    perf.check_budget("transpile-simple", 0.84)     # within / % of budget / status
    perf.assess_regression("transpile-simple", 0.82, 0.87)  # +6.1%, warning
    with perf.time("transpile-simple"):             # time a block
        transpile(source)
    perf.bench("transpile-simple", lambda: transpile(source))  # calibrated samples
    perf.write()                                    # artifacts/perf-<sha>-<ms>.json

``bench`` warms up **until steady** (:func:`warm_until_steady`: timed batches
until the speed stops improving, at least 100 ms, at most 3 s), calibrates an
inner loop so that each timed sample lasts at least ``min_sample_ns`` (a
``perf_counter_ns`` pair costs ~150 ns on the reference machine, so
sub-microsecond work would otherwise measure the timer), takes
``PERF_ITERATIONS`` samples (default 100) and records per-call ms. Whatever
warm-up is left in the samples is found and left out of the value when the run
is loaded (:mod:`perfslo_tui.runs.steady`).

A :class:`PerfMeasurement` started by perfslo (the gate's ``--confirm`` re-runs,
the monitor's ``r``) writes where perfslo reads: ``PERFSLO_ARTIFACTS`` and
``PERFSLO_CONFIG`` win over the discovered config.

Right after each timed sample ``bench`` also times a fixed reference workload
(:func:`reference_work`) and records it as the companion series
``<slo>@ref``. On a shared machine the speed changes by up to 1.7x within
milliseconds (another tenant on the sibling hyperthread); the two timings of
a pair see the same speed, so the evaluation compares medians of the ratio
``sample / reference`` between runs, which cancels the machine's speed. On the
reference machine this cut the run-to-run spread of a run's level from ~18 %
to ~3.4 % (see ``docs/verdicts.md``). The raw samples stay the SLO's value for
budgets; only comparisons between runs use the ratio.

When the environment variable ``PERFSLO_SLO`` names an SLO (perfslo sets it
to re-run one SLO), every other SLO is skipped: ``bench`` calls its function
once without timing it, ``loop`` runs its body once, ``measure`` and ``time``
record nothing.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from perfslo_tui.collect.instructions import count_callable, count_request
from perfslo_tui.collect.memory import peak_memory_mb
from perfslo_tui.collect.profiler import harness_profiler
from perfslo_tui.config import METRIC_UNITS, Config, load_config
from perfslo_tui.runs.files import (
    REFERENCE_SUFFIX,
    build_run_document,
    is_reference_name,
    metric_series,
    write_run,
)
from perfslo_tui.runs.metadata import make_metadata, python_fingerprint
from perfslo_tui.runs.steady import steady_values
from perfslo_tui.verdict.rules import (
    DEFAULT_TOLERANCE,
    BudgetCheck,
    BudgetStatus,
    RegressionCheck,
    assess_regression,
    budget_status,
)

INSTRUCTIONS_ENV = "PERFSLO_INSTRUCTIONS"
_TRUE = {"1", "true", "yes", "on"}
DEFAULT_ITERATIONS = 100
DEFAULT_MIN_SAMPLE_NS = 200_000  # 0.2 ms per sample keeps timer overhead < 0.1 %
# A reference sample lasts about this fraction of a timed sample: long enough
# to see the same machine speed, short enough to keep the cost at ~1.4x.
REFERENCE_FRACTION = 0.4
REFERENCE_MIN_NS = 50_000
# Warm-up until steady: time batches of calls for at least WARMUP_MIN_NS, then
# until the median of the last WARMUP_WINDOW batches is no faster (by more
# than WARMUP_IMPROVEMENT) than the median of the window that ended halfway
# through the warm-up so far: the speed has not improved over the second half
# of the warm-up. A JIT's tiers leave plateaus; comparing with the halfway
# point (not the previous window) sees past a plateau up to as long as the
# warm-up itself. On Node.js 20 the warm-up of small workloads ended within
# 30 ms of execution (where runs became steady, by perfslo_tui/runs/steady.py);
# the minimum is three times that; the cap bounds one that never ends.
WARMUP_MIN_NS = 100_000_000
WARMUP_MAX_NS = 3_000_000_000
WARMUP_WINDOW = 10
WARMUP_IMPROVEMENT = 0.02


def reference_work() -> int:
    """The fixed reference workload timed beside every sample (version 1).

    Pure-Python integer arithmetic in a loop, like most interpreted hot paths.
    Never change it: runs are only comparable while it stays the same.
    """
    total = 0
    for i in range(200):
        total += (i * 7) ^ (total & 0xFFFF)
    return total


def reference_name(slo: str) -> str:
    """The name of an SLO's companion reference series (``<slo>@ref``)."""
    return slo + REFERENCE_SUFFIX


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
        reference_ms: Per-call milliseconds of :func:`reference_work`, timed
            right after each sample (same length as ``samples_ms``), or empty
            when the reference was turned off.
        instructions: Instructions per call counted under valgrind, when
            asked (:meth:`PerfMeasurement.bench`).
        peak_mb: Peak memory allocated per call (MB), when asked.
    """

    samples_ms: list[float]
    inner_loops: int
    warmup: int
    reference_ms: list[float] = field(default_factory=list)
    instructions: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)


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


class WarmupWatch:
    """Decides when a warm-up is over, from the durations of timed batches.

    At least ``WARMUP_MIN_NS``; then until the median of the last
    ``WARMUP_WINDOW`` batches is within ``WARMUP_IMPROVEMENT`` of (or slower
    than) the median of the ``WARMUP_WINDOW`` batches that ended halfway
    through the warm-up so far; at most ``WARMUP_MAX_NS``.
    """

    def __init__(self) -> None:
        self.began = time.perf_counter_ns()
        self.ends: list[int] = []
        self.times: list[int] = []

    def done(self, batch_ns: int) -> bool:
        """Record one batch's duration; True when the warm-up is over."""
        elapsed = time.perf_counter_ns() - self.began
        self.ends.append(elapsed)
        self.times.append(batch_ns)
        window = WARMUP_WINDOW
        if elapsed >= WARMUP_MAX_NS:
            return True
        if elapsed < WARMUP_MIN_NS or len(self.times) < 2 * window:
            return False
        half = max(window, bisect.bisect_left(self.ends, elapsed // 2))
        half = min(half, len(self.times) - window)
        last = sorted(self.times[-window:])[window // 2]
        before = sorted(self.times[half - window : half])[window // 2]
        return last >= before * (1.0 - WARMUP_IMPROVEMENT)


def warm_until_steady(fn: Callable[[], Any], loops: int) -> int:
    """Call ``fn`` in timed batches of ``loops`` until its speed stops improving (:class:`WarmupWatch`).

    Returns:
        The number of calls made.
    """
    clock = time.perf_counter_ns
    watch = WarmupWatch()
    batches = 0
    while True:
        start = clock()
        for _ in range(loops):
            fn()
        batches += 1
        if watch.done(clock() - start):
            return batches * loops


def bench(
    fn: Callable[[], Any],
    iterations: int | None = None,
    warmup: int = 3,
    min_sample_ns: int = DEFAULT_MIN_SAMPLE_NS,
    disable_gc: bool = False,
    inner_loops: int | None = None,
    reference: bool = True,
    until_steady: bool = True,
) -> BenchResult:
    """Time ``fn``: warm up until steady, calibrate, then take ``iterations`` samples.

    Args:
        fn: The work to time (called with no arguments).
        iterations: Samples to take (default ``PERF_ITERATIONS`` or 100).
        warmup: Calls before timing (and before calibration); with
            ``until_steady`` the fewest.
        min_sample_ns: Shortest batch duration the calibration aims for.
        disable_gc: Turn the garbage collector off while timing.
        inner_loops: Fixed calls per sample (skips calibration).
        reference: Time :func:`reference_work` right after each sample so
            comparisons can cancel the machine's changing speed.
        until_steady: After the ``warmup`` calls, keep calling ``fn`` (see
            :func:`warm_until_steady`) until its speed stops improving, then
            calibrate again: a JIT or cache warm-up is over before timing.

    Returns:
        Per-call milliseconds, the reference timings and the loop count used.

    Raises:
        ValueError: When ``iterations``, ``warmup`` or ``inner_loops`` is out of range.
    """
    count = iterations if iterations is not None else iterations_from_env()
    if count < 1:
        raise ValueError(f"iterations must be at least 1, got {count}")
    if warmup < 0:
        raise ValueError(f"warmup must be 0 or more, got {warmup}")
    if inner_loops is not None and inner_loops < 1:
        raise ValueError(f"inner_loops must be at least 1, got {inner_loops}")
    for _ in range(warmup):
        fn()
    loops = inner_loops if inner_loops is not None else calibrate(fn, min_sample_ns)
    warm_calls = warmup
    if until_steady:
        warm_calls += warm_until_steady(fn, loops)
        if inner_loops is None:
            loops = calibrate(fn, min_sample_ns)  # the first calibration saw the slow start
    ref_loops = 0
    if reference:
        reference_work()
        # Size the reference from one timed batch of the work itself.
        start = time.perf_counter_ns()
        for _ in range(loops):
            fn()
        batch_ns = time.perf_counter_ns() - start
        target = max(REFERENCE_MIN_NS, int(batch_ns * REFERENCE_FRACTION))
        ref_loops = calibrate(reference_work, target)
    clock = time.perf_counter_ns
    samples: list[float] = []
    references: list[float] = []
    gc_was_enabled = gc.isenabled()
    if disable_gc:
        gc.collect()
        gc.disable()
    try:
        loop_range = range(loops)
        ref_range = range(ref_loops)
        for _ in range(count):
            start = clock()
            for _ in loop_range:
                fn()
            elapsed = clock() - start
            samples.append(max(elapsed, 1) / loops / 1e6)
            if ref_loops:
                # Right after the sample: both see the same machine speed.
                start = clock()
                for _ in ref_range:
                    reference_work()
                elapsed = clock() - start
                references.append(max(elapsed, 1) / ref_loops / 1e6)
    finally:
        if disable_gc and gc_was_enabled:
            gc.enable()
    return BenchResult(samples_ms=samples, inner_loops=loops, warmup=warm_calls, reference_ms=references)


def write_time_summary(
    samples: Mapping[str, Sequence[float]], config: Config
) -> tuple[dict[str, int], list[dict[str, str]], list[dict[str, str]]]:
    """LUASCRIPT's summary, violations and warnings for a run about to be written.

    Only the budget rule applies here (no history); views re-evaluate.

    Returns:
        ``(summary, violations, warnings)``.
    """
    violations: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []
    passing = failing = 0
    for name, values in samples.items():
        slo = config.slos.get(name)
        if slo is None or not len(values) or is_reference_name(name):
            continue
        check = budget_status(float(statistics.median(steady_values(values))), slo.budget_ms, slo.tolerance)
        if check.status is BudgetStatus.PASS:
            passing += 1
            continue
        failing += 1
        entry = {"slo": name, "message": check.message}
        (violations if check.status is BudgetStatus.VIOLATION else warnings).append(entry)
    summary = {
        "totalViolations": len(violations),
        "totalWarnings": len(warnings),
        "passingBudgets": passing,
        "failingBudgets": failing,
    }
    return summary, violations, warnings


class PerfMeasurement:
    """Collect samples for SLOs and write them as one run artifact.

    Args:
        config: The SLO config (default: ``PERFSLO_CONFIG`` when set, else
            discovered from the current folder).
        artifacts_dir: Where :meth:`write` puts the run (default:
            ``PERFSLO_ARTIFACTS`` when set, else the config's artifacts
            folder). perfslo sets both variables for the bench command it
            runs, so a re-run (or a compare's or bisection's worktree) lands
            in the folder the gate, monitor or compare reads.
    """

    def __init__(self, config: Config | None = None, artifacts_dir: Path | None = None) -> None:
        if config is None:
            from_env = os.environ.get("PERFSLO_CONFIG")
            config = load_config(Path(from_env)) if from_env else load_config()
        self.config = config
        env_artifacts = os.environ.get("PERFSLO_ARTIFACTS")
        self.artifacts_dir = artifacts_dir or (Path(env_artifacts) if env_artifacts else config.artifacts_dir)
        self.samples: dict[str, list[float]] = {}
        self.references: dict[str, list[float]] = {}
        self.inner_loops: dict[str, int] = {}
        # Other metrics' samples by series name (``<slo>@instructions``, ``<slo>@peak_memory``).
        self.metric_samples: dict[str, list[float]] = {}
        # How to re-run this process under valgrind to count instructions
        # (default: the same command line); the pytest plugin sets a node id.
        self.count_argv: list[str] | None = None
        self.count_cwd: Path | None = None
        self._counted: dict[str, int] = {}
        # Set when this process is perfslo's re-run under valgrind: only the
        # requested benchmark runs, nothing is written.
        self.recount = count_request()
        # Set when perfslo asked this process to profile one SLO (PERFSLO_PROFILE):
        # that SLO runs under cProfile, the others are skipped, nothing is recorded.
        self.profiling = harness_profiler(reference_work) if self.recount is None else None

        # What pushing the written run to the shared history did (None: no shared history).
        self.push_note: str | None = None

        # perfslo re-running one SLO names it here; the others are skipped.
        self.only: str | None = os.environ.get("PERFSLO_SLO") or None

    def wanted(self, slo: str) -> bool:
        """False for an SLO that ``PERFSLO_SLO`` leaves out of this run."""
        return self.only is None or slo == self.only

    def measure(self, slo: str, ms: float) -> None:
        """Record one sample (ms) for an SLO.

        Nothing is recorded in a valgrind re-run or a profile, nor for an SLO
        that ``PERFSLO_SLO`` leaves out.
        """
        if self.recount is not None or self.profiling is not None or not self.wanted(slo):
            return
        value = float(ms)
        if not value > 0 or value != value or value == float("inf"):
            raise ValueError(f"{slo}: a sample must be a finite number of ms > 0, got {ms!r}")
        if slo.endswith(REFERENCE_SUFFIX):
            raise ValueError(f"{slo}: SLO names ending in {REFERENCE_SUFFIX!r} are reserved")
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
        """Time the ``with`` block once and record it as one sample (profile it, when asked)."""
        if self.profiling is not None:
            if self.profiling.wants(slo):
                with self.profiling.block():
                    yield
            else:
                yield
            return
        start = time.perf_counter_ns()
        try:
            yield
        finally:
            elapsed = time.perf_counter_ns() - start
            self.measure(slo, max(elapsed, 1) / 1e6)

    def loop(
        self,
        slo: str,
        iterations: int | None = None,
        warmup: int = 3,
        min_sample_ns: int = DEFAULT_MIN_SAMPLE_NS,
        reference: bool = True,
    ) -> Iterator[int]:
        """Time the body of a ``for`` loop: warm-up, calibration, ``PERF_ITERATIONS`` samples.

        For work that is easier to write inline than as a function::

            for _ in perf.loop("transpile-simple"):
                transpile(source)

        The first ``warmup`` passes are not timed; one timed pass sizes the
        inner loop so a sample lasts ``min_sample_ns``; then batches of that
        many passes run until their speed stops improving (as :func:`bench`
        warms up), and every sample times that many passes and records the
        per-pass milliseconds, with the reference workload timed after each
        sample as :func:`bench` does.

        Yields:
            The pass number (ignore it).
        """
        if slo.endswith(REFERENCE_SUFFIX):
            raise ValueError(f"{slo}: SLO names ending in {REFERENCE_SUFFIX!r} are reserved")
        if self.recount is not None:
            return  # a valgrind re-run counts only bench() calls: the body never runs here
        if not self.wanted(slo):
            yield 0
            return
        count = iterations if iterations is not None else iterations_from_env()
        if count < 1:
            raise ValueError(f"iterations must be at least 1, got {count}")
        if self.profiling is not None:
            if self.profiling.wants(slo):
                yield from self.profiling.loop(count, warmup, min_sample_ns)
            return
        clock = time.perf_counter_ns
        passes = 0
        for _ in range(max(warmup, 0)):
            yield passes
            passes += 1
        start = clock()
        yield passes
        passes += 1
        one = max(clock() - start, 1)
        loops = max(1, min(1 << 24, -(-min_sample_ns // one)))
        watch = WarmupWatch()
        while True:
            start = clock()
            for _ in range(loops):
                yield passes
                passes += 1
            if watch.done(clock() - start):
                break
        warmed = passes
        target = max(REFERENCE_MIN_NS, int(one * loops * REFERENCE_FRACTION))
        ref_loops = calibrate(reference_work, target) if reference else 0
        samples: list[float] = []
        references: list[float] = []
        for _ in range(count):
            start = clock()
            for _ in range(loops):
                yield passes
                passes += 1
            samples.append(max(clock() - start, 1) / loops / 1e6)
            if reference:
                start = clock()
                for _ in range(ref_loops):
                    reference_work()
                references.append(max(clock() - start, 1) / ref_loops / 1e6)
        self._record(slo, BenchResult(samples, loops, warmed, references))

    def _record(self, slo: str, result: BenchResult) -> None:
        had = self.samples.get(slo, [])
        paired = len(self.references.get(slo, [])) == len(had)
        self.samples.setdefault(slo, []).extend(result.samples_ms)
        if result.reference_ms and paired:
            self.references.setdefault(slo, []).extend(result.reference_ms)
        else:
            self.references.pop(slo, None)
        self.inner_loops[slo] = result.inner_loops

    def bench(
        self,
        slo: str,
        fn: Callable[[], Any],
        *,
        instructions: bool | None = None,
        memory: bool | None = None,
        **options: Any,
    ) -> BenchResult:
        """Measure ``fn`` for ``slo``: its time with :func:`bench`, and the other metrics it has.

        What is measured follows the SLO's ``metric`` in the config (time by
        default); ``instructions``/``memory`` turn counting instructions
        (under valgrind, see :mod:`perfslo_tui.collect.instructions`) or peak
        memory (:mod:`perfslo_tui.collect.memory`) on or off for this call,
        and ``PERFSLO_INSTRUCTIONS=1`` (the pytest plugin's
        ``--perf-instructions``) turns counting on for every SLO.

        The reference timings go to ``<slo>@ref``, pair by pair, as long as
        every sample of the SLO has one (mixing in :meth:`measure` or
        :meth:`time` samples drops the reference series for that SLO).

        Raises:
            InstructionCountError: When instructions cannot be counted
                (valgrind missing, the workload failing under it, a time limit).
        """
        if slo.endswith(REFERENCE_SUFFIX) or "@" in slo and slo.rpartition("@")[2] in METRIC_UNITS:
            raise ValueError(f"{slo}: SLO names ending in {REFERENCE_SUFFIX!r} or @<metric> are reserved")
        metrics = self._metrics_for(slo, instructions, memory)
        key = self._count_key(slo)
        if self.recount is not None:
            # perfslo's re-run under valgrind: only the requested benchmark
            # runs (count_callable ends the process there); the rest are skipped.
            if "instructions" in metrics:
                count_callable(fn, key)
            return BenchResult([], 0, 0)
        if self.profiling is not None:
            # A profiling run: the requested SLO runs under the profiler, the rest are skipped.
            if self.profiling.wants(slo):
                count = options.get("iterations")
                self.profiling.bench(
                    fn,
                    iterations=count if count is not None else iterations_from_env(),
                    warmup=options.get("warmup", 3),
                    min_sample_ns=options.get("min_sample_ns", DEFAULT_MIN_SAMPLE_NS),
                    inner_loops=options.get("inner_loops"),
                )
            return BenchResult([], 0, 0)
        if not self.wanted(slo):
            fn()  # still exercised, as without collection; not measured
            return BenchResult([], 0, 0)
        result = bench(fn, **options) if "time" in metrics else BenchResult([], 0, 0)
        if "time" in metrics:
            self._record(slo, result)
        if "peak_memory" in metrics:
            peaks = peak_memory_mb(fn)
            self.metric_samples.setdefault(metric_series(slo, "peak_memory"), []).extend(peaks)
            result = replace(result, peak_mb=peaks)
        if "instructions" in metrics:
            count = count_callable(
                fn,
                key,
                argv=self.count_argv,
                cwd=self.count_cwd or self.config.root,
                timeout_s=self.config.instructions_timeout,
            )
            assert count is not None  # only the re-run gets None, handled above
            counts = [float(v) for v in count.samples]
            self.metric_samples.setdefault(metric_series(slo, "instructions"), []).extend(counts)
            result = replace(result, instructions=counts)
        return result

    def _metrics_for(self, slo: str, instructions: bool | None, memory: bool | None) -> list[str]:
        configured = self.config.slos.get(slo)
        metrics = list(configured.metrics) if configured is not None else ["time"]
        if instructions is None and os.environ.get(INSTRUCTIONS_ENV, "").lower() in _TRUE:
            instructions = True
        for metric, wanted in (("instructions", instructions), ("peak_memory", memory)):
            if wanted and metric not in metrics:
                metrics.append(metric)
            elif wanted is False and metric in metrics:
                metrics.remove(metric)
        return metrics

    def _count_key(self, slo: str) -> str:
        """The benchmark's name in a valgrind re-run: the SLO, ``<slo>#2`` the second time."""
        self._counted[slo] = self._counted.get(slo, 0) + 1
        seen = self._counted[slo]
        return slo if seen == 1 else f"{slo}#{seen}"

    def _series(self) -> dict[str, list[float]]:
        """Samples plus the complete reference series, as written to the run."""
        series = dict(self.samples)
        for slo, refs in self.references.items():
            if len(refs) == len(self.samples.get(slo, ())):
                series[reference_name(slo)] = refs
        return series

    def document(self, source: str = "perfslo", git: dict[str, Any] | None = None) -> dict[str, Any]:
        """The run document for what has been collected."""
        if not self.samples and not self.metric_samples:
            raise ValueError("nothing measured: no samples to write")
        summary, violations, warnings = write_time_summary(self.samples, self.config)
        series = self._series()
        iterations = os.environ.get("PERF_ITERATIONS", "").strip()
        fingerprint = python_fingerprint(
            perf_iterations=int(iterations) if iterations.isdigit() and int(iterations) > 0 else None,
            reference=len(series) > len(self.samples),
        )
        return build_run_document(
            {**series, **self.metric_samples},
            make_metadata(cwd=self.config.root, source=source, git=git, fingerprint=fingerprint),
            summary,
            violations,
            warnings,
            self.inner_loops,
        )

    def write(self, source: str = "perfslo", git: dict[str, Any] | None = None) -> Path:
        """Write the collected samples as one run artifact, atomically.

        With a shared history configured (``history_url``,
        ``PERFSLO_DATABASE_URL``) the run is pushed there too; what happened
        is in :attr:`push_note` (a failed push only warns: the file stays).

        Returns:
            The new run file's path; ``os.devnull`` in perfslo's re-run under
            valgrind or a profiling run, which write no run (a profiling run
            writes its profile instead).
        """
        if self.recount is not None:
            return Path(os.devnull)
        if self.profiling is not None:
            self.profiling.write()
            return Path(os.devnull)
        path = write_run(self.artifacts_dir, self.document(source=source, git=git))
        from perfslo_tui.runs.pg import push_new_runs

        self.push_note = push_new_runs([path], self.config.history_url, os.environ)
        if self.push_note is not None and self.push_note.startswith("warning"):
            print(f"perfslo: {self.push_note}", file=sys.stderr)
        return path

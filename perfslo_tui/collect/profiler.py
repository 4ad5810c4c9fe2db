"""Profiling one SLO inside the harness: ``PERFSLO_PROFILE=<slo>`` runs it under cProfile.

perfslo profiles a harness benchmark by running the project's own bench
command with two variables set (as the instruction counts do with
``PERFSLO_COUNT_REQUEST``):

* ``PERFSLO_PROFILE``: the SLO to profile;
* ``PERFSLO_PROFILE_OUTPUT``: the pstats file to write (default
  ``profile-<slo>.pstats`` in the current folder, for a run by hand).

In such a process :class:`~perfslo_tui.collect.measure.PerfMeasurement`
(and so the pytest plugin's ``perf`` fixture) records nothing and writes no
run: every other SLO's ``bench`` and ``loop`` are skipped, and the requested
SLO runs under ``cProfile`` instead of being timed. ``bench`` and ``loop``
warm up and calibrate as usual (unprofiled), then profile as many calls as a
timed run makes, in batches of one sample's calls, stopping early once the
profiled calls took twice what the timed ones take unprofiled (cProfile's
overhead on code made of tiny calls passes 2x: a profile never takes much
longer than a run). Blocks timed with ``time()`` are profiled as they come.
After each batch perfslo's reference workload is timed, unprofiled, as the
harness does after each sample: its mean time goes with the profile, so a
profile diff can cancel the machine's speed.

The pstats file and a record beside it (``<output>.json``: the SLO, the calls
profiled, the reference time) are written atomically after each profiled
``bench``/``loop`` and at exit.

The profiler's clock is the thread's CPU time (``time.thread_time_ns``),
not the wall clock: on a busy machine a process is preempted for whole
milliseconds, and a wall clock charges that to whichever function was
running. Measured under load 10 on two cores, three equal functions had
shares of 0.67/0.25/0.08 by the wall clock and 0.33/0.33/0.33 by CPU time
(``tests/test_profiles.py`` relies on it). The CPU clock costs more per call
(a system call instead of the vDSO); ``PERFSLO_PROFILE_CLOCK=wall`` picks
the wall clock (for code that waits on I/O, where CPU time misses the wait).

Why cProfile: it is deterministic (every call counted, so a benchmark of a
few hundred microseconds still gets a full profile, where a sampling
profiler at 100-1000 Hz would collect a handful of samples) and it ships
with Python. Its overhead is measured in ``benchmarks/profile_overhead.py``.
"""

from __future__ import annotations

import atexit
import contextlib
import cProfile
import json
import marshal
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfslo_tui.atomic import atomic_write_bytes

PROFILE_ENV = "PERFSLO_PROFILE"
PROFILE_OUTPUT_ENV = "PERFSLO_PROFILE_OUTPUT"
PROFILE_CLOCK_ENV = "PERFSLO_PROFILE_CLOCK"
RECORD_SUFFIX = ".json"
# A profile stops once its profiled calls took this many times what the timed
# calls of a run take unprofiled: cProfile's overhead on code made of tiny calls
# can pass 2x, and a profile should not take much longer than a run.
BUDGET_FACTOR = 2.0


@dataclass(frozen=True, slots=True)
class ProfileRequest:
    """What to profile: one SLO, into one pstats file."""

    slo: str
    output: Path


def profile_request(environ: dict[str, str] | None = None) -> ProfileRequest | None:
    """The request when this process was asked to profile an SLO, else None."""
    env = environ if environ is not None else os.environ
    slo = env.get(PROFILE_ENV, "")
    if not slo:
        return None
    output = env.get(PROFILE_OUTPUT_ENV) or f"profile-{re.sub(r'[^0-9A-Za-z._-]', '_', slo)}.pstats"
    return ProfileRequest(slo, Path(output))


@dataclass
class HarnessProfiler:
    """Profiles the requested SLO's calls in this process and writes the pstats file.

    Args:
        request: The SLO and the output file.
        reference: perfslo's reference workload (timed unprofiled, for the machine's speed).
    """

    request: ProfileRequest
    reference: Callable[[], object]
    calls: int = 0
    profiled_s: float = 0.0
    _reference_ns: int = 0
    _reference_calls: int = 0
    _reference_loops: int = 0
    _batch_per_call: list[float] = field(default_factory=list)
    _reference_per_call: list[float] = field(default_factory=list)
    clock: str = field(default_factory=lambda: clock_from_env())
    _profiler: cProfile.Profile = field(init=False)
    _clock: Callable[[], int] = field(init=False)
    _unwritten: bool = False

    def __post_init__(self) -> None:
        if self.clock == "wall":
            self._profiler = cProfile.Profile()
            self._clock = time.perf_counter_ns
        else:
            # CPU time of this thread: time the process spends preempted (a busy
            # machine) is not charged to whichever function happened to run.
            self._profiler = cProfile.Profile(time.thread_time_ns, 1e-9)
            self._clock = time.thread_time_ns
        atexit.register(self.write_if_needed)

    def wants(self, slo: str) -> bool:
        """True for the SLO this process profiles."""
        return slo == self.request.slo

    def bench(
        self,
        fn: Callable[[], Any],
        iterations: int,
        warmup: int,
        min_sample_ns: int,
        inner_loops: int | None,
    ) -> None:
        """Warm up and calibrate as a timed run would, then profile the calls it would time."""
        from perfslo_tui.collect.measure import calibrate

        for _ in range(max(warmup, 0)):
            fn()
        loops = inner_loops if inner_loops is not None else calibrate(fn, min_sample_ns)
        start = time.perf_counter_ns()
        for _ in range(loops):
            fn()
        one_call_ns = max(time.perf_counter_ns() - start, 1) / loops
        calls = iterations * loops
        budget_ns = calls * one_call_ns * BUDGET_FACTOR
        clock = time.perf_counter_ns
        done = 0
        profiled_ns = 0
        batch = range(loops)
        # One sample's worth of calls per batch, the profiler on only inside it (the clock
        # and the reference stay out of the profile); stop past the budget.
        while done < calls and profiled_ns <= budget_ns:
            began, began_own = clock(), self._clock()
            self._enable()
            for _ in batch:
                fn()
            self._profiler.disable()
            elapsed = clock() - began
            profiled_ns += elapsed
            done += loops
            self._reference_after(elapsed, self._clock() - began_own, loops)
        self.profiled_s += profiled_ns / 1e9
        self.calls += done
        self.write()

    def loop(self, iterations: int, warmup: int, min_sample_ns: int) -> Iterator[int]:
        """The ``perf.loop`` passes of the requested SLO, profiled like :meth:`bench`."""
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
        calls = iterations * loops
        budget_ns = calls * one * BUDGET_FACTOR
        done = 0
        profiled_ns = 0
        while done < calls and profiled_ns <= budget_ns:
            began, began_own = clock(), self._clock()
            self._enable()
            try:
                for _ in range(loops):
                    yield passes
                    passes += 1
            finally:
                self._profiler.disable()
            elapsed = clock() - began
            profiled_ns += elapsed
            done += loops
            self._reference_after(elapsed, self._clock() - began_own, loops)
        self.profiled_s += profiled_ns / 1e9
        self.calls += done
        self.write()

    @contextlib.contextmanager
    def block(self) -> Iterator[None]:
        """Profile one ``perf.time`` block (written at the end of the process)."""
        began, began_own = time.perf_counter_ns(), self._clock()
        self._enable()
        try:
            yield
        finally:
            self._profiler.disable()
        elapsed = time.perf_counter_ns() - began
        self.profiled_s += elapsed / 1e9
        self.calls += 1
        self._unwritten = True
        self._reference_after(elapsed, self._clock() - began_own, 1)

    def _enable(self) -> None:
        try:
            self._profiler.enable()
        except ValueError as exc:  # another profiler holds the interpreter's hook (Python 3.12+)
            raise RuntimeError(f"perfslo: cannot profile {self.request.slo}: {exc}") from None

    def _reference_after(self, batch_ns: int, batch_own_ns: int, calls: int) -> None:
        """Time the reference workload right after a profiled batch, unprofiled, for ~0.4 of its length.

        As the harness does for samples, so the profile has a level that does
        not move with the machine's speed (:attr:`level`).
        """
        from perfslo_tui.collect.measure import REFERENCE_FRACTION, REFERENCE_MIN_NS, calibrate

        if self._reference_loops == 0:
            target = max(REFERENCE_MIN_NS, int(batch_ns * REFERENCE_FRACTION))
            self._reference_loops = calibrate(self.reference, target)
        start = self._clock()
        for _ in range(self._reference_loops):
            self.reference()
        reference_ns = max(self._clock() - start, 1)
        self._reference_ns += reference_ns
        self._reference_calls += self._reference_loops
        self._batch_per_call.append(max(batch_own_ns, 1) / calls)
        self._reference_per_call.append(reference_ns / self._reference_loops)

    @property
    def level(self) -> float | None:
        """The fastest batch's time per call over the fastest reference's, or None.

        Minima, as a run's level (:func:`perfslo_tui.verdict.ab.run_level`):
        on a busy machine noise only ever adds time, so the fastest batch is
        the least disturbed; the profile's summed times move with every burst
        of load, this does not.
        """
        if not self._batch_per_call:
            return None
        return min(self._batch_per_call) / min(self._reference_per_call)

    @property
    def reference_ms(self) -> float | None:
        """The reference workload's mean time per call beside the profiled batches, or None."""
        if not self._reference_calls:
            return None
        return self._reference_ns / self._reference_calls / 1e6

    def write_if_needed(self) -> None:
        """Write what ``time`` blocks profiled since the last write (at exit)."""
        if self._unwritten:
            self.write()

    def write(self) -> Path | None:
        """Write the pstats file and its record (atomically); None before anything was profiled."""
        if self.calls == 0:
            return None
        self._unwritten = False
        self._profiler.create_stats()
        stats: dict[Any, Any] = self._profiler.stats  # type: ignore[attr-defined]
        output = self.request.output
        output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(output, marshal.dumps(stats))
        record = {
            "slo": self.request.slo,
            "calls": self.calls,
            "profiled_s": self.profiled_s,
            "reference_ms": self.reference_ms,
            "level": self.level,
            "profiler": "cProfile",
            "clock": self.clock,
            "python": sys.version.split()[0],
        }
        atomic_write_bytes(Path(f"{output}{RECORD_SUFFIX}"), json.dumps(record).encode())
        return output


def clock_from_env() -> str:
    """``cpu`` (the default: the thread's CPU time) or ``wall`` (``PERFSLO_PROFILE_CLOCK=wall``)."""
    return "wall" if os.environ.get(PROFILE_CLOCK_ENV, "").strip().lower() == "wall" else "cpu"


def harness_profiler(reference: Callable[[], object]) -> HarnessProfiler | None:
    """The profiler of this process when ``PERFSLO_PROFILE`` asks for one, else None."""
    request = profile_request()
    if request is None:
        return None
    return HarnessProfiler(request, reference)

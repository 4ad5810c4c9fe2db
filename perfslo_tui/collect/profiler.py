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
warm up and calibrate as usual (unprofiled), then profile up to as many calls
as a timed run makes, stopping early once the profile has taken as long as
the timed run would have (so a profile never takes much longer than the
run; a profiler that doubles the cost of tiny calls profiles half of them).
Blocks timed with ``time()`` are profiled as they come. Before and after,
perfslo's reference workload is timed unprofiled: its time goes with the
profile, so a profile diff can cancel the machine's speed.

The pstats file and a record beside it (``<output>.json``: the SLO, the calls
profiled, the reference time) are written atomically after each profiled
``bench``/``loop`` and at exit.

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
RECORD_SUFFIX = ".json"
# A timed run also times the reference workload after each sample, at about
# 0.4x the sample's length: a profile may take as long as the samples and
# their references together.
TIMED_RUN_FACTOR = 1.4
REFERENCE_BATCH_NS = 2_000_000


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
    reference_ms: list[float] = field(default_factory=list)
    _profiler: cProfile.Profile = field(default_factory=cProfile.Profile)
    _unwritten: bool = False

    def __post_init__(self) -> None:
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
        budget_ns = calls * one_call_ns * TIMED_RUN_FACTOR
        self._time_reference()
        clock = time.perf_counter_ns
        done = 0
        batch = range(loops)
        began = clock()
        # One sample's worth of calls per batch, the profiler on only inside it (the
        # clock check stays out of the profile); stop at the timed run's length.
        while done < calls:
            self._enable()
            for _ in batch:
                fn()
            self._profiler.disable()
            done += loops
            if clock() - began > budget_ns:
                break
        self.profiled_s += (clock() - began) / 1e9
        self.calls += done
        self._time_reference()
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
        budget_ns = calls * one * TIMED_RUN_FACTOR
        self._time_reference()
        done = 0
        began = clock()
        while done < calls:
            self._enable()
            try:
                for _ in range(loops):
                    yield passes
                    passes += 1
            finally:
                self._profiler.disable()
            done += loops
            if clock() - began > budget_ns:
                break
        self.profiled_s += (clock() - began) / 1e9
        self.calls += done
        self._time_reference()
        self.write()

    @contextlib.contextmanager
    def block(self) -> Iterator[None]:
        """Profile one ``perf.time`` block (written at the end of the process)."""
        if not self.reference_ms:
            self._time_reference()
        began = time.perf_counter_ns()
        self._enable()
        try:
            yield
        finally:
            self._profiler.disable()
        self.profiled_s += (time.perf_counter_ns() - began) / 1e9
        self.calls += 1
        self._unwritten = True

    def _enable(self) -> None:
        try:
            self._profiler.enable()
        except ValueError as exc:  # another profiler holds the interpreter's hook (Python 3.12+)
            raise RuntimeError(f"perfslo: cannot profile {self.request.slo}: {exc}") from None

    def _time_reference(self) -> None:
        """The reference workload's best per-call time over a few short batches, unprofiled."""
        from perfslo_tui.collect.measure import calibrate

        loops = calibrate(self.reference, REFERENCE_BATCH_NS)
        best = None
        for _ in range(5):
            start = time.perf_counter_ns()
            for _ in range(loops):
                self.reference()
            per_call = (time.perf_counter_ns() - start) / loops / 1e6
            best = per_call if best is None else min(best, per_call)
        if best is not None:
            self.reference_ms.append(best)

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
            "reference_ms": min(self.reference_ms) if self.reference_ms else None,
            "profiler": "cProfile",
            "python": sys.version.split()[0],
        }
        atomic_write_bytes(Path(f"{output}{RECORD_SUFFIX}"), json.dumps(record).encode())
        return output


def harness_profiler(reference: Callable[[], object]) -> HarnessProfiler | None:
    """The profiler of this process when ``PERFSLO_PROFILE`` asks for one, else None."""
    request = profile_request()
    if request is None:
        return None
    return HarnessProfiler(request, reference)

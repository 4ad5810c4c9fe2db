"""Peak memory of a workload: tracemalloc for Python callables, max RSS for commands.

For a Python callable the sample is the peak of memory allocated through
Python's allocators during one call, above what was allocated before it
(``tracemalloc``): it counts what the workload allocates, not the
interpreter's own footprint, so it does not depend on what else the process
imported. Allocations by native code that bypass Python's allocators (a
C library's own ``malloc``) are not seen. For a command, the sample is the
child's maximum resident set size as the kernel reports it (``wait4``),
which includes everything the process and the children it waited for mapped.

MB here is 2^20 bytes (what ``top`` and ``ps`` call MB).
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

BYTES_PER_MB = 1 << 20
DEFAULT_MEMORY_SAMPLES = 7


def peak_memory_mb(
    fn: Callable[[], Any], samples: int = DEFAULT_MEMORY_SAMPLES, warmup: int = 1
) -> list[float]:
    """The peak memory allocated by each of ``samples`` calls of ``fn``, in MB.

    Args:
        fn: The workload.
        samples: Calls measured, one sample each.
        warmup: Calls first, unmeasured (caches, lazy imports).

    Returns:
        One value per call; at least one byte, so a workload that allocates
        nothing still has a positive sample.

    Raises:
        ValueError: When ``samples`` is below 1.
    """
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    for _ in range(max(warmup, 0)):
        fn()
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    peaks: list[float] = []
    try:
        for _ in range(samples):
            # Garbage of the previous call must not count as this one's base.
            gc.collect()
            tracemalloc.reset_peak()
            base, _peak = tracemalloc.get_traced_memory()
            fn()
            _current, peak = tracemalloc.get_traced_memory()
            peaks.append(max(peak - base, 1) / BYTES_PER_MB)
    finally:
        if not tracing:
            tracemalloc.stop()
    return peaks


def max_rss_mb(ru_maxrss: int) -> float:
    """``ru_maxrss`` from ``wait4``/``getrusage`` in MB (Linux reports KiB, macOS bytes)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return max(ru_maxrss * scale, 1) / BYTES_PER_MB

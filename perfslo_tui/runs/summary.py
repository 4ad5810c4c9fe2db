"""Summary statistics of one SLO's samples in one run: one definition for files, table and views."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True, slots=True)
class SampleStats:
    """Summary statistics of one SLO's samples in one run (milliseconds)."""

    count: int
    min: float
    median: float
    mean: float
    p95: float
    max: float
    stdev: float

    def as_dict(self) -> dict[str, float | int]:
        """Return the stats as a plain dict, as stored in run files."""
        return {
            "count": self.count,
            "min": self.min,
            "median": self.median,
            "mean": self.mean,
            "p95": self.p95,
            "max": self.max,
            "stdev": self.stdev,
        }


def summarize(samples: ArrayLike) -> SampleStats:
    """Summarize samples: count, min, median, mean, p95, max, sample stdev.

    Args:
        samples: One or more finite sample values.

    Returns:
        The summary (stdev is 0.0 for a single sample).

    Raises:
        ValueError: If there are no samples.
    """
    values = np.asarray(samples, dtype=float)
    if values.size == 0:
        raise ValueError("no samples")
    return SampleStats(
        count=int(values.size),
        min=float(values.min()),
        median=float(np.median(values)),
        mean=float(values.mean()),
        p95=float(np.percentile(values, 95)),
        max=float(values.max()),
        stdev=float(values.std(ddof=1)) if values.size > 1 else 0.0,
    )

"""Fast synthetic histories for the scale benchmark.

Run files are written directly with orjson (no fsync, no schema check): the
point is to build 100,000 realistic files in reasonable time. The documents
are what :func:`perfslo_tui.runs.files.build_run_document` writes: 7 SLOs x 100
log-normal samples with their stats, indented like real files (~8 KB each).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson

SLOS = [f"synthetic-{i}" for i in range(7)]
START_MS = 1_790_000_000_000
STEP_MS = 60_000  # a run a minute: every run falls inside the 30-day trend window up to 43k runs
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def run_document(ms: int, samples: np.ndarray) -> dict[str, Any]:
    """One run document for a ``(len(SLOS), n)`` array of samples."""
    medians = np.median(samples, axis=1)
    p95 = np.percentile(samples, 95, axis=1)
    means = samples.mean(axis=1)
    stdev = samples.std(axis=1, ddof=1)
    mins = samples.min(axis=1)
    maxs = samples.max(axis=1)
    slos: dict[str, Any] = {}
    for i, name in enumerate(SLOS):
        slos[name] = {
            "unit": "ms",
            "samples": samples[i].tolist(),
            "stats": {
                "count": int(samples.shape[1]),
                "min": float(mins[i]),
                "median": float(medians[i]),
                "mean": float(means[i]),
                "p95": float(p95[i]),
                "max": float(maxs[i]),
                "stdev": float(stdev[i]),
            },
        }
    seconds, millis = divmod(ms, 1000)
    stamp = np.datetime64(seconds, "s").astype(str)
    return {
        "schema_version": 1,
        "metadata": {
            "timestamp": f"{stamp}.{millis:03d}Z",
            "timestamp_unix": ms,
            "commit": COMMIT,
            "branch": "bench",
            "dirty": False,
            "host": {"hostname": "bench", "cpu": "x86_64", "cpu_count": 2, "os": "Linux", "python": "3.11"},
            "runner": "bench",
            "python": "3.11",
            "tool": "perfslo 0.1.0",
            "source": "perfslo",
        },
        "slos": slos,
        "summary": {"totalViolations": 0, "totalWarnings": 0, "passingBudgets": 7, "failingBudgets": 0},
        "violations": [],
        "warnings": [],
    }


def run_name(ms: int) -> str:
    """The file name perfslo gives a run of COMMIT at ``ms``."""
    return f"perf-{COMMIT[:7]}-{ms}.json"


def write_history(folder: Path, runs: int, start_index: int = 0, seed: int = 1) -> list[Path]:
    """Write ``runs`` run files into ``folder``, one a minute, oldest first.

    Args:
        folder: Created if missing.
        runs: How many files.
        start_index: Index of the first run (its time is START_MS + index minutes).
        seed: Random seed, so histories are reproducible.

    Returns:
        The paths written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + start_index)
    scale = (np.arange(len(SLOS), dtype=float) + 1.0)[:, None]
    paths: list[Path] = []
    for index in range(start_index, start_index + runs):
        samples = rng.lognormal(0.0, 0.1, size=(len(SLOS), 100)) * scale
        ms = START_MS + index * STEP_MS
        path = folder / run_name(ms)
        path.write_bytes(orjson.dumps(run_document(ms, samples), option=orjson.OPT_INDENT_2))
        paths.append(path)
    return paths


CONFIG = """\
confirm_runs = 3
trend_days = 30

""" + "".join(
    f'[slos.{name}]\nbudget = {1.2 * (i + 1):.2f}\ndescription = "synthetic SLO {i}"\n\n'
    for i, name in enumerate(SLOS)
)


def write_project(root: Path, runs: int) -> Path:
    """A project folder: ``perfslo.toml`` plus ``artifacts/`` with ``runs`` runs.

    Returns:
        The artifacts folder.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "perfslo.toml").write_text(CONFIG)
    artifacts = root / "artifacts"
    write_history(artifacts, runs)
    return artifacts

"""LUASCRIPT's own formats (docs/origin.md): run files and ``.perf-baseline.json``.

Run file ``perf-<short-sha>-<Date.now()>.json``: ``measurements: {key:
[{time, ...}]}`` holds every sample in ms; ``stats: {key: {count, min, max,
avg, median, p95, p99} | {error: "no data"}}``. A key with no measurements
but a ``median`` in ``stats`` is imported from that summary (note: LUASCRIPT's
median was the upper median, ``vals[floor(n/2)]``).

Baseline ``.perf-baseline.json``: ``{timestamp, commit, benchmarks: {name:
{avg, median, p95}}}`` (ms, rounded to 3 decimals): summaries only, so it
becomes a perfslo baseline with medians and no samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perfslo_tui.collect.importers.base import (
    ImportedBaseline,
    ImportedRun,
    number,
    parse_iso_ms,
    text_or_none,
    wrong_format,
)
from perfslo_tui.runs.files import ArtifactError
from perfslo_tui.text import clip

RUN_NAME = "luascript-run"
RUN_EXPECTED = "a LUASCRIPT run file (perf-<sha>-<ms>.json with `measurements`)"
RUN_GIVES = "raw samples (measurements[].time, ms), else the stats median; commit, branch, time"

BASELINE_NAME = "luascript-baseline"
BASELINE_EXPECTED = "a LUASCRIPT .perf-baseline.json ({timestamp, commit, benchmarks})"
BASELINE_GIVES = "a perfslo baseline: median, avg (as mean) and p95 per benchmark, no samples"


def looks_like_run(document: dict[str, Any]) -> bool:
    """True for a LUASCRIPT run file."""
    return (
        isinstance(document.get("measurements"), dict)
        and "schema_version" not in document
        and isinstance(document.get("metadata"), dict)
    )


def looks_like_baseline(document: dict[str, Any]) -> bool:
    """True for a LUASCRIPT baseline."""
    benchmarks = document.get("benchmarks")
    return (
        isinstance(benchmarks, dict)
        and "schema_version" not in document
        and all(isinstance(b, dict) and "median" in b for b in benchmarks.values())
    )


def parse_run(path: Path, document: Any) -> ImportedRun:
    """Read a LUASCRIPT run file.

    Raises:
        ArtifactError: When it is not one, or it holds no measurement at all.
    """
    if not isinstance(document, dict) or not looks_like_run(document):
        raise wrong_format(path, RUN_EXPECTED, document)
    measurements: dict[str, Any] = document["measurements"]
    stats = document.get("stats") if isinstance(document.get("stats"), dict) else {}
    assert isinstance(stats, dict)
    run = ImportedRun()
    for key, entries in measurements.items():
        if not isinstance(entries, list):
            raise ArtifactError(path, f"measurements/{clip(key)}: expected a list")
        times: list[float] = []
        for i, entry in enumerate(entries):
            value = number(entry.get("time")) if isinstance(entry, dict) else None
            if value is None:
                raise ArtifactError(path, f"measurements/{clip(key)}/{i}: expected {{time: <ms>}}")
            times.append(value)
        if times:
            run.add(path, str(key), times)
    no_data: list[str] = []
    for key, body in stats.items():
        if key in run.samples:
            continue
        median = number(body.get("median")) if isinstance(body, dict) else None
        if median is None:
            no_data.append(str(key))
            continue
        count = body.get("count")
        run.add_summary(path, str(key), median, "median", count if isinstance(count, int) else None)
    if not run.samples:
        raise ArtifactError(
            path,
            "no measurements: every stats entry is 'no data' (LUASCRIPT's main() never called measure())",
        )
    if no_data:
        names = ", ".join(clip(k, 30) for k in no_data)
        run.notes.append(f"no data for {len(no_data)} benchmark(s): {names}")
    meta = document["metadata"]
    stamp = meta.get("timestamp_unix")
    if isinstance(stamp, int) and not isinstance(stamp, bool) and stamp > 0:
        run.timestamp_ms = stamp
    else:
        run.timestamp_ms = parse_iso_ms(meta.get("timestamp"))
    run.commit = text_or_none(meta.get("commit"), "unknown")
    run.branch = text_or_none(meta.get("branch"), "unknown", "HEAD")
    return run


def parse_baseline(path: Path, document: Any) -> ImportedBaseline:
    """Read a LUASCRIPT baseline.

    Raises:
        ArtifactError: When it is not one.
    """
    if not isinstance(document, dict) or not looks_like_baseline(document):
        raise wrong_format(path, BASELINE_EXPECTED, document)
    slos: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    for name, body in document["benchmarks"].items():
        median = number(body.get("median"))
        if median is None:
            raise ArtifactError(path, f"benchmarks/{clip(name)}/median: expected a number of ms")
        if median <= 0:
            # LUASCRIPT rounded to 3 decimals: a 0.000 median cannot be a reference.
            notes.append(f"skipped {clip(name)!r}: median {median} ms (perfslo needs > 0)")
            continue
        entry = {"median": median}
        for source, target in (("avg", "mean"), ("p95", "p95")):
            value = number(body.get(source))
            if value is not None:
                entry[target] = value
        slos[str(name)] = entry
    if not slos:
        raise ArtifactError(path, "no usable benchmarks in this LUASCRIPT baseline")
    return ImportedBaseline(
        slos=slos,
        timestamp_ms=parse_iso_ms(document.get("timestamp")),
        commit=text_or_none(document.get("commit"), "unknown"),
        notes=notes,
    )

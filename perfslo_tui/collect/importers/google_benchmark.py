"""Google Benchmark JSON (``--benchmark_out=FILE --benchmark_out_format=json``).

Each ``run_type: "iteration"`` entry is one sample: ``real_time`` (wall
clock, per iteration, in ``time_unit``) averaged over its ``iterations``.
With ``--benchmark_repetitions=N`` there are N samples per benchmark. When
only aggregates were reported (``--benchmark_report_aggregates_only``), the
``median`` aggregate (else ``mean``) stands in. Entries with
``error_occurred`` are skipped with a note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perfslo_tui.collect.importers.base import (
    UNIT_TO_MS,
    ImportedRun,
    int_or_none,
    number,
    parse_iso_ms,
    wrong_format,
)
from perfslo_tui.runs.files import ArtifactError
from perfslo_tui.text import clip

NAME = "google-benchmark"
EXPECTED = "a Google Benchmark JSON file (--benchmark_out_format=json)"
GIVES = "one sample per repetition (real_time), else the median aggregate; the run's date"


def looks_like(document: dict[str, Any]) -> bool:
    """True for a Google Benchmark document."""
    benchmarks = document.get("benchmarks")
    return (
        isinstance(document.get("context"), dict)
        and isinstance(benchmarks, list)
        and all(isinstance(b, dict) and "real_time" in b for b in benchmarks)
    )


def parse(path: Path, document: Any) -> ImportedRun:
    """Read a Google Benchmark document.

    Raises:
        ArtifactError: When it is not one.
    """
    if not isinstance(document, dict) or not looks_like(document):
        raise wrong_format(path, EXPECTED, document)
    entries: list[dict[str, Any]] = document["benchmarks"]
    if not entries:
        raise ArtifactError(path, "no benchmarks in this Google Benchmark file")
    samples: dict[str, list[float]] = {}
    loops: dict[str, int] = {}
    aggregates: dict[str, dict[str, float]] = {}
    run = ImportedRun()
    for index, entry in enumerate(entries):
        name = str(entry.get("run_name") or entry.get("name") or "")
        if entry.get("error_occurred"):
            message = clip(entry.get("error_message", ""), 80)
            run.notes.append(f"skipped {clip(name)!r}: the benchmark reported an error: {message}")
            continue
        unit = entry.get("time_unit", "ns")
        if not isinstance(unit, str) or unit not in UNIT_TO_MS:
            raise ArtifactError(path, f"benchmarks/{index}: unknown time_unit {clip(unit, 20)!r}")
        value = number(entry.get("real_time"))
        if value is None:
            raise ArtifactError(path, f"benchmarks/{index}/real_time: expected a number")
        ms = value * UNIT_TO_MS[unit]
        kind = entry.get("run_type", "aggregate" if "aggregate_name" in entry else "iteration")
        if kind == "aggregate":
            if entry.get("aggregate_unit", "time") == "time":
                aggregates.setdefault(name, {})[str(entry.get("aggregate_name"))] = ms
            continue
        samples.setdefault(name, []).append(ms)
        iterations = entry.get("iterations")
        if isinstance(iterations, int) and iterations >= 1:
            loops[name] = iterations
    for name, values in samples.items():
        run.add(path, name, values)
        if name in loops:
            run.inner_loops[name] = loops[name]
    for name, by_kind in aggregates.items():
        if name in samples:
            continue
        for statistic in ("median", "mean"):
            if statistic in by_kind:
                run.add_summary(path, name, by_kind[statistic], statistic, None)
                break
    if not run.samples:
        raise ArtifactError(path, "no usable benchmark results (all errors, or no time aggregates)")
    context = document["context"]
    run.timestamp_ms = parse_iso_ms(context.get("date"))
    run.fingerprint = {"producer": "google-benchmark", "runtime": "native"}
    version = context.get("library_version")
    if isinstance(version, str) and version.strip():
        run.fingerprint["producer_version"] = version.strip()
    cpus = int_or_none(context.get("num_cpus"))
    if cpus is not None:
        run.fingerprint["cpu_count"] = cpus
    return run

"""pytest-benchmark JSON (``--benchmark-json``, ``--benchmark-autosave``).

Raw samples are in ``stats.data`` (seconds per call) only when the file was
written with ``--benchmark-save-data``; otherwise only summaries are kept and
the median stands in.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from perfslo_tui.collect.importers.base import (
    ImportedRun,
    int_or_none,
    number,
    numbers,
    parse_iso_ms,
    text_or_none,
    wrong_format,
)
from perfslo_tui.runs.files import ArtifactError

NAME = "pytest-benchmark"
EXPECTED = "a pytest-benchmark JSON file (--benchmark-json)"
GIVES = "raw samples with --benchmark-save-data (stats.data), else the median; commit, branch, time"


def looks_like(document: dict[str, Any]) -> bool:
    """True for a pytest-benchmark document."""
    benchmarks = document.get("benchmarks")
    return (
        isinstance(benchmarks, list)
        and ("machine_info" in document or "commit_info" in document)
        and all(isinstance(b, dict) and "stats" in b for b in benchmarks)
    )


def parse(path: Path, document: Any) -> ImportedRun:
    """Read a pytest-benchmark document.

    Raises:
        ArtifactError: When it is not one.
    """
    if not isinstance(document, dict) or not looks_like(document):
        raise wrong_format(path, EXPECTED, document)
    benchmarks: list[dict[str, Any]] = document["benchmarks"]
    if not benchmarks:
        raise ArtifactError(path, "no benchmarks in this pytest-benchmark file")
    short_names = Counter(str(b.get("name", "")) for b in benchmarks)
    run = ImportedRun()
    for index, bench in enumerate(benchmarks):
        name = str(bench.get("name") or "")
        if short_names[name] > 1:
            # Same test name in two files: the full node id tells them apart.
            name = str(bench.get("fullname") or name)
        stats = bench.get("stats")
        if not isinstance(stats, dict):
            raise ArtifactError(path, f"benchmarks/{index}/stats: expected an object")
        iterations = stats.get("iterations")
        if isinstance(iterations, int) and not isinstance(iterations, bool) and iterations >= 1:
            run.inner_loops[name] = iterations
        if "data" in stats:
            seconds = numbers(path, stats["data"], f"benchmarks/{index}/stats/data")
            run.add(path, name, [s * 1000.0 for s in seconds])
            continue
        median = number(stats.get("median"))
        if median is None:
            raise ArtifactError(path, f"benchmarks/{index}/stats: no median and no data")
        rounds = stats.get("rounds")
        run.add_summary(path, name, median * 1000.0, "median", rounds if isinstance(rounds, int) else None)
    commit_info = document.get("commit_info")
    if isinstance(commit_info, dict):
        run.commit = text_or_none(commit_info.get("id"), "unversioned", "unknown")
        run.branch = text_or_none(commit_info.get("branch"), "(unknown)", "unknown")
        dirty = commit_info.get("dirty")
        run.dirty = dirty if isinstance(dirty, bool) else None
    run.timestamp_ms = parse_iso_ms(document.get("datetime"))
    run.fingerprint = _fingerprint(document)
    return run


def _fingerprint(document: dict[str, Any]) -> dict[str, Any]:
    """What pytest-benchmark's ``machine_info`` says about where it ran."""
    found: dict[str, Any] = {
        "producer": "pytest-benchmark",
        "producer_version": text_or_none(document.get("version")),
    }
    info = document.get("machine_info")
    if isinstance(info, dict):
        implementation = text_or_none(info.get("python_implementation"))
        lowered = implementation.lower() if implementation else None
        found["runtime"] = "python" if lowered == "cpython" else lowered
        found["runtime_version"] = text_or_none(info.get("python_version"))
        cpu = info.get("cpu") if isinstance(info.get("cpu"), dict) else {}
        assert isinstance(cpu, dict)
        found["cpu_model"] = text_or_none(cpu.get("brand_raw")) or text_or_none(info.get("processor"))
        found["cpu_count"] = int_or_none(cpu.get("count"))
        system, release = text_or_none(info.get("system")), text_or_none(info.get("release"))
        found["os"] = " ".join(part for part in (system, release) if part) or None
    return {key: value for key, value in found.items() if value}

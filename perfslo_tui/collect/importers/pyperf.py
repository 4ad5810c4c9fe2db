"""pyperf JSON (``-o FILE``; ``.json.gz`` too).

Every run's ``values`` are seconds per loop iteration, already divided by
the loop count; warm-up values are left out, as pyperf itself does.
Benchmarks whose unit is not time (``unit`` metadata ``byte``/``integer``)
are skipped with a note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perfslo_tui.collect.importers.base import (
    ImportedRun,
    int_or_none,
    numbers,
    parse_iso_ms,
    text_or_none,
    wrong_format,
)
from perfslo_tui.runs.files import ArtifactError
from perfslo_tui.text import clip

NAME = "pyperf"
EXPECTED = "a pyperf JSON file (-o FILE)"
GIVES = "raw samples (every run's values, warm-ups left out) and the time of the last run"


def looks_like(document: dict[str, Any]) -> bool:
    """True for a pyperf document (suite or single benchmark)."""
    benchmarks = document.get("benchmarks")
    return (
        isinstance(document.get("version"), str)
        and isinstance(benchmarks, list)
        and all(isinstance(b, dict) and "runs" in b for b in benchmarks)
    )


def parse(path: Path, document: Any) -> ImportedRun:
    """Read a pyperf document.

    Raises:
        ArtifactError: When it is not one.
    """
    if not isinstance(document, dict) or not looks_like(document):
        raise wrong_format(path, EXPECTED, document)
    common = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    assert isinstance(common, dict)
    run = ImportedRun()
    latest: int | None = None
    for index, bench in enumerate(document["benchmarks"]):
        own = bench.get("metadata") if isinstance(bench.get("metadata"), dict) else {}
        meta = {**common, **own}
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            raise ArtifactError(path, f"benchmarks/{index}: no name in its metadata")
        unit = meta.get("unit", "second")
        if unit != "second":
            run.notes.append(f"skipped {clip(name)!r}: unit is {clip(unit, 20)!r}, not time")
            continue
        runs = bench["runs"]
        if not isinstance(runs, list):
            raise ArtifactError(path, f"benchmarks/{index}/runs: expected a list")
        seconds: list[float] = []
        for r_index, one in enumerate(runs):
            if not isinstance(one, dict):
                raise ArtifactError(path, f"benchmarks/{index}/runs/{r_index}: expected an object")
            # A calibration run has warm-ups only: nothing timed to keep.
            seconds += numbers(path, one.get("values", []), f"benchmarks/{index}/runs/{r_index}/values")
            run_meta = one.get("metadata") if isinstance(one.get("metadata"), dict) else {}
            assert isinstance(run_meta, dict)
            # One-benchmark files keep date, loops... in the file's metadata.
            when = parse_iso_ms({**meta, **run_meta}.get("date"))
            if when is not None:
                latest = when if latest is None else max(latest, when)
            loops = {**meta, **run_meta}.get("loops")
            inner = {**meta, **run_meta}.get("inner_loops", 1)
            if isinstance(loops, int) and isinstance(inner, int) and loops >= 1 and inner >= 1:
                run.inner_loops[name] = loops * inner
        if not seconds:
            raise ArtifactError(path, f"benchmark {clip(name)!r} has no values (only calibration runs?)")
        run.add(path, name, [s * 1000.0 for s in seconds])
    if not run.samples:
        why = f" ({'; '.join(run.notes)})" if run.notes else ""
        raise ArtifactError(path, f"no time benchmarks in this pyperf file{why}")
    run.timestamp_ms = latest
    run.fingerprint = _fingerprint(document, common)
    return run


def _fingerprint(document: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """What pyperf records about where it ran (``python_version``, ``cpu_model_name``...)."""
    found: dict[str, Any] = {"producer": "pyperf", "producer_version": text_or_none(document.get("version"))}
    implementation = text_or_none(meta.get("python_implementation"))
    found["runtime"] = {"cpython": "python", None: None}.get(implementation, implementation)
    version = text_or_none(meta.get("python_version"))
    found["runtime_version"] = version.split()[0] if version else None
    found["cpu_model"] = text_or_none(meta.get("cpu_model_name"))
    found["cpu_count"] = int_or_none(meta.get("cpu_count"))
    platform = text_or_none(meta.get("platform"))
    found["os"] = " ".join(platform.split("-")[:2]) if platform else None
    return {key: value for key, value in found.items() if value is not None}

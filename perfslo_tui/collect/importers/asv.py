"""airspeed velocity (asv) results files: ``results/<machine>/<commit>-<env>.json``.

Format version 2 (asv >= 0.5). Raw samples are stored only by ``asv run
--record-samples``; otherwise asv's result (the median) stands in.
Parameterised benchmarks become one benchmark per parameter combination,
named ``name(p1, p2)`` as asv prints them. Only time benchmarks are
imported: the unit comes from ``results/benchmarks.json`` when it sits two
folders up (where asv writes it), else from the name (``time_*``,
``timeraw_*``); ``mem_``/``peakmem_``/``track_`` benchmarks are skipped.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson

from perfslo_tui.collect.importers.base import (
    ImportedRun,
    int_or_none,
    number,
    numbers,
    text_or_none,
    wrong_format,
)
from perfslo_tui.runs.files import ArtifactError
from perfslo_tui.text import clip

NAME = "asv"
EXPECTED = "an asv results file (results/<machine>/<commit>-<env>.json, format version 2)"
GIVES = "raw samples with --record-samples, else the median; commit and time"


def looks_like(document: dict[str, Any]) -> bool:
    """True for an asv results file."""
    return "commit_hash" in document and isinstance(document.get("results"), dict)


def _units(path: Path) -> dict[str, str]:
    """Benchmark name -> unit, from asv's ``benchmarks.json`` if it is there."""
    candidate = path.parent.parent / "benchmarks.json"
    try:
        data = orjson.loads(candidate.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(name): str(body.get("unit"))
        for name, body in data.items()
        if isinstance(body, dict) and "unit" in body
    }


def _is_time(name: str, units: dict[str, str]) -> bool:
    if name in units:
        return units[name] == "seconds"
    last = name.rsplit(".", 1)[-1]
    return last.startswith(("time_", "timeraw_"))


def _strings(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) for v in values)


def _at(values: Any, index: int) -> Any:
    """``values[index]`` when ``values`` is a list that long, else None."""
    return values[index] if isinstance(values, list) and index < len(values) else None


def parse(path: Path, document: Any) -> ImportedRun:
    """Read an asv results document.

    Raises:
        ArtifactError: When it is not one, or is of the old format.
    """
    if not isinstance(document, dict) or not looks_like(document):
        raise wrong_format(path, EXPECTED, document)
    if document.get("version") != 2 or not isinstance(document.get("result_columns"), list):
        raise ArtifactError(
            path, f"asv results format version {document.get('version')!r} (this perfslo reads version 2)"
        )
    columns = [str(c) for c in document["result_columns"]]
    units = _units(path)
    run = ImportedRun()
    started: list[int] = []
    for name, row in document["results"].items():
        if not isinstance(row, list):
            raise ArtifactError(path, f"results/{clip(name)}: expected a list")
        cells = dict(zip(columns, row, strict=False))
        when = cells.get("started_at")
        if isinstance(when, int) and not isinstance(when, bool):
            started.append(when)  # every benchmark's start counts towards "when it ran"
        if not _is_time(name, units):
            run.notes.append(f"skipped {clip(name)!r}: not a time benchmark")
            continue
        values = cells.get("result")
        if not isinstance(values, list):
            run.notes.append(f"skipped {clip(name)!r}: no result (the benchmark failed or was skipped)")
            continue
        params = cells.get("params") or []
        if not (isinstance(params, list) and all(_strings(p) for p in params)):
            raise ArtifactError(path, f"results/{clip(name)}: params: expected lists of strings")
        combos = [", ".join(combo) for combo in itertools.product(*params)] if params else [""]
        if len(combos) != len(values):
            problem = f"{len(values)} results for {len(combos)} parameter combinations"
            raise ArtifactError(path, f"results/{clip(name)}: {problem}")
        sample_lists = cells.get("samples")
        repeats = cells.get("stats_repeat")
        numbers_per_sample = cells.get("stats_number")
        for i, (combo, value) in enumerate(zip(combos, values, strict=True)):
            full = f"{name}({combo})" if combo else name
            loops = _at(numbers_per_sample, i)
            if isinstance(loops, int) and not isinstance(loops, bool) and loops >= 1:
                run.inner_loops[full] = loops
            raw = _at(sample_lists, i)
            if isinstance(raw, list) and raw:
                seconds = numbers(path, raw, f"results/{clip(name)}/samples/{i}")
                run.add(path, full, [s * 1000.0 for s in seconds])
                continue
            median = number(value)
            if median is None:
                run.notes.append(f"skipped {clip(full)!r}: no result (failed or skipped)")
                continue
            count = _at(repeats, i)
            run.add_summary(path, full, median * 1000.0, "median", count if isinstance(count, int) else None)
    if not run.samples:
        raise ArtifactError(path, "no time benchmark results in this asv file")
    run.commit = text_or_none(document.get("commit_hash"))
    date = document.get("date")
    run.timestamp_ms = max(started) if started else (date if isinstance(date, int) else None)
    run.fingerprint = _fingerprint(document)
    return run


def _fingerprint(document: dict[str, Any]) -> dict[str, Any]:
    """What asv's machine ``params`` say about where it ran."""
    params = document.get("params") if isinstance(document.get("params"), dict) else {}
    assert isinstance(params, dict)
    found: dict[str, Any] = {
        "producer": "asv",
        "runtime": "python",
        "runtime_version": text_or_none(params.get("python")) or text_or_none(document.get("python")),
        "cpu_model": text_or_none(params.get("cpu")),
        "cpu_count": int_or_none(params.get("num_cpu")),
        "os": text_or_none(params.get("os")),
    }
    return {key: value for key, value in found.items() if value is not None}

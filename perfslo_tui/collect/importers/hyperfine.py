"""hyperfine ``--export-json`` files.

``results[].times`` holds every timed run in seconds (warm-ups are not
exported). hyperfine records neither commit nor time, so the current
checkout's commit and the import time are used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perfslo_tui.collect.importers.base import ImportedRun, number, numbers, wrong_format
from perfslo_tui.runs.files import ArtifactError
from perfslo_tui.text import clip

NAME = "hyperfine"
EXPECTED = "a hyperfine --export-json file"
GIVES = "raw samples (every timed run); no commit or time in the file"


def looks_like(document: dict[str, Any]) -> bool:
    """True for a hyperfine export."""
    results = document.get("results")
    return isinstance(results, list) and all(isinstance(r, dict) and "command" in r for r in results)


def parse(path: Path, document: Any) -> ImportedRun:
    """Read a hyperfine export.

    Raises:
        ArtifactError: When it is not one.
    """
    if not isinstance(document, dict) or not looks_like(document):
        raise wrong_format(path, EXPECTED, document)
    results: list[dict[str, Any]] = document["results"]
    if not results:
        raise ArtifactError(path, "no results in this hyperfine file")
    run = ImportedRun()
    for index, result in enumerate(results):
        name = str(result["command"])
        codes = result.get("exit_codes")
        if isinstance(codes, list) and any(code not in (0, None) for code in codes):
            failed = sum(1 for code in codes if code not in (0, None))
            run.notes.append(f"{clip(name)!r}: {failed} of {len(codes)} runs exited non-zero (hyperfine -i)")
        if "times" in result:
            seconds = numbers(path, result["times"], f"results/{index}/times")
            run.add(path, name, [s * 1000.0 for s in seconds])
            continue
        # hyperfine before 1.7 exported no per-run times.
        median = number(result.get("median"))
        statistic = "median"
        if median is None:
            median, statistic = number(result.get("mean")), "mean"
        if median is None:
            raise ArtifactError(path, f"results/{index}: no times, median or mean")
        run.add_summary(path, name, median * 1000.0, statistic, None)
    # hyperfine records nothing about the machine: only that it timed whole commands.
    run.fingerprint = {"producer": "hyperfine", "runtime": "command"}
    return run

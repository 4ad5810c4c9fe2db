"""The import formats by name, as ``perfslo import FORMAT`` takes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfslo_tui.collect.importers import (
    asv,
    google_benchmark,
    hyperfine,
    luascript,
    pyperf,
    pytest_benchmark,
)
from perfslo_tui.collect.importers.base import Imported


@dataclass(frozen=True, slots=True)
class Format:
    """One import format.

    Attributes:
        name: The name on the command line.
        expected: What a file of this format is, for error lines.
        gives: What perfslo gets from it (samples or a summary, commit, time).
        looks_like: Cheap structural test, used to hint at the right format.
        parse: ``(path, document) -> ImportedRun | ImportedBaseline``.
    """

    name: str
    expected: str
    gives: str
    looks_like: Callable[[dict[str, Any]], bool]
    parse: Callable[[Path, Any], Imported]


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            pytest_benchmark.NAME,
            pytest_benchmark.EXPECTED,
            pytest_benchmark.GIVES,
            pytest_benchmark.looks_like,
            pytest_benchmark.parse,
        ),
        Format(pyperf.NAME, pyperf.EXPECTED, pyperf.GIVES, pyperf.looks_like, pyperf.parse),
        Format(hyperfine.NAME, hyperfine.EXPECTED, hyperfine.GIVES, hyperfine.looks_like, hyperfine.parse),
        Format(
            google_benchmark.NAME,
            google_benchmark.EXPECTED,
            google_benchmark.GIVES,
            google_benchmark.looks_like,
            google_benchmark.parse,
        ),
        Format(asv.NAME, asv.EXPECTED, asv.GIVES, asv.looks_like, asv.parse),
        Format(
            luascript.RUN_NAME,
            luascript.RUN_EXPECTED,
            luascript.RUN_GIVES,
            luascript.looks_like_run,
            luascript.parse_run,
        ),
        Format(
            luascript.BASELINE_NAME,
            luascript.BASELINE_EXPECTED,
            luascript.BASELINE_GIVES,
            luascript.looks_like_baseline,
            luascript.parse_baseline,
        ),
    )
}


def guess_format(document: dict[str, Any]) -> str | None:
    """The name of the first format whose shape the document has, or None."""
    for fmt in FORMATS.values():
        try:
            if fmt.looks_like(document):
                return fmt.name
        except (AttributeError, TypeError):
            continue
    return None

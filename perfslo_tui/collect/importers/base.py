"""What every importer shares: the parsed result types and strict readers.

An importer is a pure function ``parse(path, document) -> ImportedRun |
ImportedBaseline``: it never writes, never looks at the config, and raises
:class:`~perfslo_tui.runs.files.ArtifactError` (``path: problem``, one line)
when the document is not what it expects. Renaming and writing happen in
:mod:`perfslo_tui.collect.importers.apply`.

All times leave an importer in milliseconds.
"""

from __future__ import annotations

import datetime as dt
import gzip
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from perfslo_tui.runs.files import MAX_FILE_BYTES, ArtifactError, read_json
from perfslo_tui.text import clip

# Multipliers from a source time unit to milliseconds.
UNIT_TO_MS: Mapping[str, float] = {
    "ns": 1e-6,
    "us": 1e-3,
    "ms": 1.0,
    "s": 1e3,
    "second": 1e3,
    "seconds": 1e3,
}


@dataclass(slots=True)
class ImportedRun:
    """One run's worth of benchmarks read from another tool's file.

    Attributes:
        samples: Per source benchmark name, the samples in ms. For a summary-
            only benchmark this is one value: the source's median (or mean,
            see ``summary_only``).
        summary_only: Per benchmark that had no raw samples in the source,
            which statistic stands in for them (``"median"`` or ``"mean"``).
        source_counts: Per benchmark, how many timed samples the source had
            (rounds, repetitions, runs); for summary-only benchmarks the count
            the summary was computed from, when the file says.
        inner_loops: Per benchmark, calls per sample when the source says.
        timestamp_ms: When the source says it ran (epoch ms), or None.
        commit: The source's git commit, or None when it does not record one.
        branch: The source's branch, or None.
        dirty: The source's dirty flag, or None.
        notes: Things worth telling the user (skipped benchmarks and why).
        fingerprint: How the source measured, as far as the file says
            (runtime, CPU, OS...; see :mod:`perfslo_tui.runs.metadata`).
            Never this machine's facts: the file may come from another.
    """

    samples: dict[str, list[float]] = field(default_factory=dict)
    summary_only: dict[str, str] = field(default_factory=dict)
    source_counts: dict[str, int] = field(default_factory=dict)
    inner_loops: dict[str, int] = field(default_factory=dict)
    timestamp_ms: int | None = None
    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = None
    notes: list[str] = field(default_factory=list)
    fingerprint: dict[str, Any] = field(default_factory=dict)

    def add(self, path: Path, name: str, samples_ms: list[float], count: int | None = None) -> None:
        """Add one benchmark's raw samples (ms), refusing duplicates and bad values."""
        self._check(path, name, samples_ms)
        self.samples[name] = samples_ms
        self.source_counts[name] = count if count is not None else len(samples_ms)

    def add_summary(self, path: Path, name: str, value_ms: float, statistic: str, count: int | None) -> None:
        """Add a benchmark the source kept only a summary of (one stand-in sample)."""
        self._check(path, name, [value_ms])
        self.samples[name] = [value_ms]
        self.summary_only[name] = statistic
        if count is not None:
            self.source_counts[name] = count

    def _check(self, path: Path, name: str, values: list[float]) -> None:
        if not name:
            raise ArtifactError(path, "a benchmark has an empty name")
        if name in self.samples:
            raise ArtifactError(path, f"benchmark {clip(name)!r} appears twice")
        if not values:
            raise ArtifactError(path, f"benchmark {clip(name)!r} has no samples")
        for value in values:
            if not (math.isfinite(value) and value > 0):
                raise ArtifactError(
                    path, f"benchmark {clip(name)!r} has a time of {value!r} ms (perfslo needs times > 0)"
                )


@dataclass(frozen=True, slots=True)
class ImportedBaseline:
    """A baseline read from another tool's file (summaries, no samples).

    Attributes:
        slos: Per source benchmark name: ``median`` and optionally ``mean``
            and ``p95`` in ms.
        timestamp_ms: When the source baseline was made (epoch ms), or None.
        commit: The commit it was made at, or None.
        notes: Things worth telling the user.
    """

    slos: dict[str, dict[str, float]]
    timestamp_ms: int | None
    commit: str | None
    notes: list[str]


Imported = ImportedRun | ImportedBaseline


def load_document(path: Path, expected: str) -> Any:
    """Read a JSON (or gzip-compressed JSON) file for an importer.

    Args:
        path: The file.
        expected: What the format expects, for the error line
            (e.g. ``"a hyperfine --export-json file"``).

    Raises:
        ArtifactError: Unreadable, empty, truncated or invalid JSON, naming
            what was expected.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(2)
    except FileNotFoundError:
        raise ArtifactError(path, f"no such file (expected {expected})") from None
    except IsADirectoryError:
        raise ArtifactError(path, f"is a directory (expected {expected})") from None
    except OSError as exc:
        raise ArtifactError(path, f"cannot read: {exc.strerror or exc}") from None
    if head == b"\x1f\x8b":  # gzip magic: pyperf writes .json.gz when asked to
        return _load_gzip(path, expected)
    try:
        return read_json(path)
    except ArtifactError as exc:
        raise ArtifactError(path, f"{exc.problem}; expected {expected}") from None


def _load_gzip(path: Path, expected: str) -> Any:
    try:
        with gzip.open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError) as exc:
        raise ArtifactError(path, f"broken gzip file ({exc}); expected {expected}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ArtifactError(path, f"too large once decompressed; expected {expected}")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ArtifactError(
            path, f"invalid JSON inside gzip (truncated or corrupt?); expected {expected}"
        ) from None


def wrong_format(path: Path, expected: str, document: Any) -> ArtifactError:
    """The error for a document of another format, with a hint when we recognise it."""
    from perfslo_tui.collect.importers.registry import guess_format

    if not isinstance(document, dict):
        got = f"a JSON {type(document).__name__}"
        if isinstance(document, list):
            got = "a JSON array"
        return ArtifactError(path, f"not {expected}: got {got}")
    guess = guess_format(document)
    hint = f" (it looks like {guess}: try `perfslo import {guess} {path.name}`)" if guess else ""
    if not guess and "schema_version" in document and "slos" in document:
        hint = " (it is already a perfslo run: put it in the artifacts folder as it is)"
    return ArtifactError(path, f"not {expected}{hint}")


def number(value: Any) -> float | None:
    """A finite int/float (not bool) as float, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def numbers(path: Path, values: Any, where: str) -> list[float]:
    """A list of finite numbers, or an error naming ``where``."""
    if not isinstance(values, list):
        raise ArtifactError(path, f"{where}: expected a list of numbers")
    out: list[float] = []
    for value in values:
        parsed = number(value)
        if parsed is None:
            raise ArtifactError(path, f"{where}: {clip(value, 30)!r} is not a finite number")
        out.append(parsed)
    return out


def parse_iso_ms(value: Any) -> int | None:
    """Epoch ms from an ISO-8601 string; naive times are taken as local time.

    Returns None when the value is missing or unparsable: the time is a nice
    to have, never a reason to refuse a file.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # pyperf records local time without an offset
    return int(moment.timestamp() * 1000)


def int_or_none(value: Any) -> int | None:
    """A whole number (an int, or a string of digits), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def text_or_none(value: Any, *unknown: str) -> str | None:
    """A non-empty string that is not one of the source's "unknown" spellings."""
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    if not stripped or stripped in unknown:
        return None
    return stripped

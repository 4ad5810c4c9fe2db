"""Run and baseline files: format, schema checks, atomic writes, git metadata.

A run file is ``perf-<short-commit>-<epoch-ms>.json`` in the artifacts folder
and follows ``schema/run.schema.json``. Files are written to a hidden temp file
in the same folder, flushed, and then hard-linked into place, so a reader sees
either nothing or the whole file, and a run never replaces another (the link
fails if the name exists and the next millisecond is tried).
"""

from __future__ import annotations

import functools
import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from perfslo_tui.atomic import atomic_write_bytes
from perfslo_tui.config import METRIC_UNITS
from perfslo_tui.runs.machine import UNKNOWN, machine_key
from perfslo_tui.runs.metadata import clean_fingerprint, now_ms
from perfslo_tui.runs.steady import SteadyClass, SteadyState, SteadySummary, detect_steady
from perfslo_tui.runs.summary import summarize
from perfslo_tui.text import clip, short_commit, utc_iso

# Version 2 adds series in other units (instruction counts, MB); a run with
# only times is still written as version 1, which every perfslo reads.
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
# Baselines keep medians and samples by series name, whatever the unit.
BASELINE_SCHEMA_VERSION = 1
RUN_FILE_RE = re.compile(r"^perf-(?P<commit>[^/\\]+?)-(?P<ms>\d{10,16})\.json$")
BASELINE_NAME = ".perf-baseline.json"
BASELINE_HISTORY_DIR = "baselines"
# A run file larger than this is refused before parsing: 7 SLOs x 100 samples
# is ~8 KB, so 64 MiB leaves room for a million samples and stops a runaway.
MAX_FILE_BYTES = 64 * 1024 * 1024


# Companion series name suffix: ``<slo>@ref`` holds the reference workload's
# timings, one per sample of ``<slo>`` (see perfslo_tui.collect.measure).
REFERENCE_SUFFIX = "@ref"


def is_reference_name(name: str) -> bool:
    """True for a companion reference series (``<slo>@ref``), not an SLO."""
    return name.endswith(REFERENCE_SUFFIX) and len(name) > len(REFERENCE_SUFFIX)


def metric_series(slo: str, metric: str) -> str:
    """The series name of one metric of an SLO: ``<slo>`` for time, ``<slo>@<metric>`` otherwise."""
    return slo if metric == "time" else f"{slo}@{metric}"


def series_metric(name: str) -> tuple[str, str]:
    """An SLO's name and what a series holds: ``time``, ``ref`` or another metric."""
    base, at, suffix = name.rpartition("@")
    if at and base and (suffix in METRIC_UNITS or "@" + suffix == REFERENCE_SUFFIX):
        return base, suffix
    return name, "time"


def series_unit(name: str) -> str:
    """The unit of a series' samples, from its name (the reference workload is timed in ms)."""
    _slo, kind = series_metric(name)
    return METRIC_UNITS.get(kind, "ms")


def is_slo_series(name: str) -> bool:
    """True for an SLO's own time series (not a reference or another metric's)."""
    return series_metric(name)[1] == "time"


class ArtifactError(Exception):
    """A file that cannot be used, rendered as ``path: problem`` on one line."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True, slots=True)
class RunFile:
    """A run read from disk and checked against the schema.

    Attributes:
        path: Where it was read from.
        run_id: The file name, unique within the folder.
        timestamp_ms: Epoch milliseconds the run finished.
        commit: The git commit (full or short) or ``unknown``.
        branch: The git branch or ``unknown``.
        dirty: True when the work tree had uncommitted changes.
        source: What produced it (``perfslo``, ``pytest``, ``import:pyperf``...).
        samples: Per SLO, the raw samples in milliseconds.
        fingerprint: How it was measured (``metadata.fingerprint``: the
            known fields with the right types; empty for older files).
        machine: The machine key (:func:`perfslo_tui.runs.machine.machine_key`).
    """

    path: Path
    run_id: str
    timestamp_ms: int
    commit: str
    branch: str
    dirty: bool
    source: str
    samples: Mapping[str, Sequence[float]]
    fingerprint: Mapping[str, Any] = field(default_factory=dict)
    machine: str = UNKNOWN


@dataclass(frozen=True, slots=True)
class Baseline:
    """The reference runs are compared with.

    Attributes:
        path: The baseline file.
        established: ISO time it was established.
        commit: Commit of the run it came from.
        source_run: File name of that run, if known.
        medians: Per SLO, the baseline median (ms): of its steady samples
            when it has samples (a warm-up is left out, as for runs).
        samples: Per SLO, the baseline samples (may be empty when imported
            from a format that kept only summaries).
        fingerprint: The source run's measurement fingerprint (empty when
            unknown).
        steady: Per SLO with samples, their steady state (an ``@ref``
            series has its SLO's).
        slo_commits: Per SLO whose baseline came from another run than the
            rest (kept from a previous baseline), that run's commit.
        slo_source_runs: The same SLOs' source runs.
        machine: The machine key of the run it came from; None for a
            baseline written before perfslo recorded it.
    """

    path: Path
    established: str
    commit: str
    source_run: str | None
    medians: Mapping[str, float]
    samples: Mapping[str, Sequence[float]]
    fingerprint: Mapping[str, Any] = field(default_factory=dict)
    steady: Mapping[str, SteadySummary] = field(default_factory=dict)
    slo_commits: Mapping[str, str] = field(default_factory=dict)
    slo_source_runs: Mapping[str, str | None] = field(default_factory=dict)
    machine: str | None = None

    def commit_of(self, name: str) -> str:
        """The commit an SLO's baseline was measured at."""
        return self.slo_commits.get(name, self.commit)

    def source_run_of(self, name: str) -> str | None:
        """The run an SLO's baseline came from, if known."""
        return self.slo_source_runs[name] if name in self.slo_source_runs else self.source_run


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """Return a bundled JSON schema (``run`` or ``baseline``)."""
    text = resources.files("perfslo_tui.runs").joinpath("schema", f"{name}.schema.json").read_bytes()
    schema: dict[str, Any] = orjson.loads(text)
    return schema


@functools.cache
def _validator(name: str) -> Callable[[Any], str | None]:
    import jsonschema  # deferred: its import costs ~100 ms, not needed to write

    cls = jsonschema.validators.validator_for(load_schema(name))
    validator = cls(load_schema(name))

    def first_error(document: Any) -> str | None:
        error = jsonschema.exceptions.best_match(validator.iter_errors(document))
        if error is None:
            return None
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        message = error.message
        if len(message) > 160:
            # Clip the middle: the head quotes the bad value, the tail says what is wrong.
            message = message[:60] + " … " + message[-97:]
        return f"schema: at {where}: {message}"

    return first_error


def schema_problem(document: Any, name: str = "run") -> str | None:
    """Return the first schema problem of a document, or None when valid."""
    return _validator(name)(document)


def is_run_file_name(name: str) -> bool:
    """True for names like ``perf-a1b2c3d-1703081234567.json``."""
    return RUN_FILE_RE.match(name) is not None


def read_json(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Read and parse a JSON file, or raise ArtifactError with a clear reason."""
    try:
        # O_NONBLOCK: a FIFO named like a run must not hang the reader forever;
        # it (like a device or a directory) is refused after the fstat below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ArtifactError(path, "file disappeared while reading") from None
    except IsADirectoryError:
        raise ArtifactError(path, "is a directory, not a run file") from None
    except OSError as exc:
        raise ArtifactError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise ArtifactError(path, "is a directory, not a run file")
            if not stat.S_ISREG(mode):
                raise ArtifactError(path, "not a regular file (a FIFO, socket or device)")
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ArtifactError(path, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise ArtifactError(path, f"too large (over {max_bytes // (1024 * 1024)} MiB)")
    # Tools on Windows (PowerShell, .NET) often start UTF-8 files with a BOM.
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        raise ArtifactError(path, "empty file")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        problem = str(exc).split(":")[0]
        if "utf-8" in str(exc).lower():
            problem = "not valid UTF-8"
        raise ArtifactError(path, f"invalid JSON: {problem} (truncated or corrupt?)") from None
    except RecursionError:
        raise ArtifactError(path, "invalid JSON: nested too deeply") from None


def json_type_name(value: Any) -> str:
    """The JSON name of a parsed value's type (``array``, ``null``...), for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def parse_run(path: Path, document: Any) -> RunFile:
    """Check a parsed run document against the schema and return the run.

    Raises:
        ArtifactError: When it is not a run or fails the schema.
    """
    if not isinstance(document, dict):
        raise ArtifactError(path, f"not a run: expected a JSON object, got {json_type_name(document)}")
    version = document.get("schema_version")
    if version is None and "measurements" in document:
        raise ArtifactError(
            path, "a LUASCRIPT-format run: convert it with `perfslo import luascript-run FILE`"
        )
    if version not in READABLE_VERSIONS and isinstance(version, int):
        raise ArtifactError(
            path, f"unsupported schema_version {version} (this perfslo reads 1 and 2; upgrade perfslo)"
        )
    problem = _samples_problem(document) or schema_problem(_without_samples(document), "run")
    if problem:
        raise ArtifactError(path, problem)
    meta = document["metadata"]
    return RunFile(
        path=path,
        run_id=path.name,
        timestamp_ms=int(meta["timestamp_unix"]),
        commit=str(meta.get("commit") or "unknown"),
        branch=str(meta.get("branch") or "unknown"),
        dirty=bool(meta.get("dirty", False)),
        source=str(meta.get("source") or "perfslo"),
        samples={name: body["samples"] for name, body in document["slos"].items()},
        fingerprint=clean_fingerprint(meta.get("fingerprint")),
        machine=machine_key(meta),
    )


# The largest believable sample per unit: a day in ms, 10^15 instructions a
# call, 10^7 MB (10 TB) of peak memory.
_SAMPLE_MAX = {"ms": 86_400_000.0, "instructions": 1e15, "MB": 1e7}


def _without_samples(document: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy with each sample list cut to its first item.

    The schema check is then independent of the sample count; the samples
    themselves are checked with numpy by :func:`_samples_problem`.
    """
    slos = document.get("slos")
    if not isinstance(slos, dict):
        return document
    cut: dict[str, Any] = {}
    for name, body in slos.items():
        if isinstance(body, dict) and isinstance(body.get("samples"), list):
            body = dict(body, samples=body["samples"][:1])
        cut[name] = body
    return dict(document, slos=cut)


def _samples_problem(document: dict[str, Any]) -> str | None:
    """Check every sample list: numbers (not bools), finite, > 0, at most a day."""
    slos = document.get("slos")
    if not isinstance(slos, dict):
        return None  # the schema check names this problem
    for name, body in slos.items():
        if not isinstance(body, dict) or not isinstance(body.get("samples"), list):
            continue
        samples = body["samples"]
        unit = series_unit(str(name))
        declared = body.get("unit", unit)
        if isinstance(declared, str) and declared != unit and declared in _SAMPLE_MAX:
            where = f"schema: at slos/{clip(name)}/unit"
            return f"{where}: {declared!r} does not fit the series (its unit is {unit!r})"
        where = f"schema: at slos/{clip(name)}/samples"
        if len(samples) > 1_000_000:
            return f"{where}: too many samples ({len(samples)}; at most 1000000)"
        if not all(type(v) is float or type(v) is int for v in samples):
            return f"{where}: every sample must be a number of {unit}"
        values = np.asarray(samples, dtype=float)
        high = _SAMPLE_MAX[unit]
        if values.size and not (np.all(np.isfinite(values)) and values.min() > 0 and values.max() <= high):
            return f"{where}: samples must be finite, > 0 and at most {high:.0f} {unit}"
    return None


def read_run(path: Path) -> RunFile:
    """Read one run file.

    Raises:
        ArtifactError: Naming the file and the problem.
    """
    return parse_run(path, read_json(path))


def build_run_document(
    samples: Mapping[str, Sequence[float]],
    metadata: Mapping[str, Any],
    summary: Mapping[str, int] | None = None,
    violations: Sequence[Mapping[str, str]] = (),
    warnings: Sequence[Mapping[str, str]] = (),
    inner_loops: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Assemble a run document from raw samples.

    Version 1 when every series is a time in ms, version 2 when a series
    holds another metric (``<slo>@instructions``, ``<slo>@peak_memory``).

    Args:
        samples: Per series, the raw samples in its unit (ms for an SLO's
            times, see :func:`series_unit`).
        metadata: From :func:`make_metadata`.
        summary: LUASCRIPT's summary counts as evaluated at write time.
        violations: ``[{slo, message}]`` as evaluated at write time.
        warnings: ``[{slo, message}]`` as evaluated at write time.
        inner_loops: Per SLO, calls per timed sample.

    Returns:
        The document, ready for :func:`write_run`.
    """
    slos: dict[str, Any] = {}
    states = steady_states(samples)
    for name, values in samples.items():
        floats = [float(v) for v in values]
        cut = steady_cut(states[name])
        body: dict[str, Any] = {
            "unit": series_unit(name),
            "samples": floats,
            "stats": summarize(floats[cut:]).as_dict(),
        }
        if cut:
            body["steady_from"] = cut
        if inner_loops and name in inner_loops:
            body["inner_loops"] = int(inner_loops[name])
        slos[name] = body
    version = SCHEMA_VERSION if any(body["unit"] != "ms" for body in slos.values()) else 1
    return {
        "schema_version": version,
        "metadata": dict(metadata),
        "slos": slos,
        "summary": dict(summary or {}),
        "violations": [dict(v) for v in violations],
        "warnings": [dict(w) for w in warnings],
    }


def steady_states(samples: Mapping[str, Sequence[float]]) -> dict[str, SteadyState]:
    """Each series' steady state in one run (:func:`~perfslo_tui.runs.steady.detect_steady`).

    An SLO with a paired ``<slo>@ref`` series (perfslo's harness) is tested on
    the ratios sample / reference: the machine's changing speed, which both
    timings of a pair see, cancels, and what is left is the code's own
    warm-up. The ``@ref`` series gets its SLO's state, so pairs stay pairs.
    A series that cannot be tested (bad values) is taken as flat, and so is
    another metric's (instruction counts, peak memory: they do not warm up
    the way times do, and a count is one sample per run).
    """
    states: dict[str, SteadyState] = {}
    for name, values in samples.items():
        if is_reference_name(name):
            continue
        if series_metric(name)[1] != "time":
            states[name] = SteadyState(0, SteadyClass.FLAT, len(values), (), tested=False)
            continue
        reference = samples.get(name + REFERENCE_SUFFIX)
        try:
            if reference is not None and len(reference) == len(values):
                ratios = np.asarray(values, dtype=float) / np.asarray(reference, dtype=float)
                states[name] = detect_steady(ratios)
            else:
                states[name] = detect_steady(values)
        except (ValueError, ZeroDivisionError, FloatingPointError):
            states[name] = SteadyState(0, SteadyClass.FLAT, len(values), (), tested=False)
    for name, values in samples.items():
        if not is_reference_name(name):
            continue
        own = states.get(name[: -len(REFERENCE_SUFFIX)])
        if own is None or own.count != len(values):
            own = SteadyState(0, SteadyClass.FLAT, len(values), (), tested=False)
        states[name] = own
    return states


def steady_cut(state: SteadyState) -> int:
    """Samples left out of a series' value: the warm-up, or none when the run has no steady state."""
    return state.steady_from if state.steady else 0


# ---------------------------------------------------------------- writing


def _dump(document: Any) -> bytes:
    try:
        return orjson.dumps(document, option=orjson.OPT_INDENT_2)
    except TypeError as exc:
        raise ValueError(f"cannot serialise run: {exc}") from None


def run_file_name(commit: str, timestamp_ms: int) -> str:
    """``perf-<short-commit>-<epoch-ms>.json``, with the commit made path-safe."""
    short = re.sub(r"[^0-9A-Za-z._]", "_", commit)[:12] if commit else "unknown"
    if commit and re.fullmatch(r"[0-9a-f]{8,64}", commit):
        short = short_commit(commit)
    return f"perf-{short or 'unknown'}-{timestamp_ms}.json"


def write_run(artifacts_dir: Path, document: Mapping[str, Any]) -> Path:
    """Write a run document into the artifacts folder, atomically.

    The name comes from the metadata's commit and time; if a run of that name
    exists, the next millisecond is used (and recorded), so no run is ever
    overwritten.

    Args:
        artifacts_dir: The artifacts folder (created if missing).
        document: A run document; it is validated against the schema first.

    Returns:
        The path of the new run file.

    Raises:
        ValueError: When the document fails the schema.
        OSError: On write errors (nothing partial is left behind).
    """
    problem = schema_problem(document, "run")
    if problem:
        raise ValueError(f"refusing to write an invalid run: {problem}")
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    doc = dict(document)
    meta = dict(doc["metadata"])
    ms = int(meta["timestamp_unix"])
    for _attempt in range(1000):
        meta["timestamp_unix"] = ms
        meta["timestamp"] = utc_iso(ms)
        doc["metadata"] = meta
        target = artifacts_dir / run_file_name(str(meta["commit"]), ms)
        try:
            return atomic_write_bytes(target, _dump(doc), overwrite=False)
        except FileExistsError:
            ms += 1
    raise OSError(f"{artifacts_dir}: could not find a free run file name")


# ---------------------------------------------------------------- baseline


def parse_baseline(path: Path, document: Any) -> Baseline:
    """Check a parsed baseline document and return it.

    Raises:
        ArtifactError: When it is not a perfslo baseline.
    """
    if isinstance(document, dict) and "benchmarks" in document and "schema_version" not in document:
        raise ArtifactError(
            path, "a LUASCRIPT-format baseline: convert it with `perfslo import luascript-baseline FILE`"
        )
    if not isinstance(document, dict):
        raise ArtifactError(path, f"not a baseline: expected a JSON object, got {json_type_name(document)}")
    problem = schema_problem(document, "baseline")
    if problem:
        raise ArtifactError(path, problem)
    slos = document["slos"]
    samples = {name: list(body.get("samples") or []) for name, body in slos.items()}
    medians: dict[str, float] = {}
    steady: dict[str, SteadySummary] = {}
    states = steady_states({name: values for name, values in samples.items() if values})
    for name, body in slos.items():
        values = samples[name]
        if not values:
            medians[name] = float(body["median"])
            continue
        # The steady part's median, as for runs (an older baseline stored the
        # median of all its samples, warm-up included).
        state = states[name]
        steady[name] = SteadySummary(state.kind, state.steady_from, state.count, state.change)
        medians[name] = float(np.median(values[steady_cut(state) :]))
    commit = str(document.get("commit") or "unknown")
    source_run = document.get("source_run")
    # An SLO kept from an earlier baseline records its own origin.
    own = {name: body for name, body in slos.items() if "commit" in body or "source_run" in body}
    return Baseline(
        path=path,
        established=str(document["established"]),
        commit=commit,
        source_run=source_run,
        medians=medians,
        samples=samples,
        fingerprint=clean_fingerprint(document.get("fingerprint")),
        steady=steady,
        slo_commits={name: str(body.get("commit") or commit) for name, body in own.items()},
        slo_source_runs={name: body.get("source_run", source_run) for name, body in own.items()},
        machine=_baseline_machine(document.get("machine")),
    )


def _baseline_machine(value: Any) -> str | None:
    """The machine key a baseline records, if it is a plausible one."""
    if isinstance(value, str) and 0 < len(value) <= 64 and value.isprintable():
        return value
    return None


def read_baseline(path: Path) -> Baseline | None:
    """Read the baseline file; None when there is none.

    Raises:
        ArtifactError: When the file exists but cannot be used.
    """
    if not path.exists():
        return None
    return parse_baseline(path, read_json(path))


def baseline_document_from_run(run: RunFile, established_ms: int | None = None) -> dict[str, Any]:
    """Build a baseline document keeping a run's samples, steady medians and fingerprint."""
    ms = established_ms if established_ms is not None else now_ms()
    slos: dict[str, Any] = {}
    states = steady_states(run.samples)
    for name, values in run.samples.items():
        cut = steady_cut(states[name])
        summary = summarize(list(values)[cut:])
        slos[name] = {
            "median": summary.median,
            "mean": summary.mean,
            "p95": summary.p95,
            "samples": [float(v) for v in values],
        }
        if cut:
            slos[name]["steady_from"] = cut
    document: dict[str, Any] = {
        "schema_version": BASELINE_SCHEMA_VERSION,
        "kind": "baseline",
        "established": utc_iso(ms),
        "timestamp_unix": run.timestamp_ms,
        "source_run": run.run_id,
        "commit": run.commit,
        "branch": run.branch,
        "machine": run.machine,
        "slos": slos,
    }
    if run.fingerprint:
        document["fingerprint"] = dict(run.fingerprint)
    return document


def keep_missing_slos(document: dict[str, Any], previous_path: Path) -> dict[str, str]:
    """Carry over the previous baseline's SLOs that ``document`` lacks, with their origin.

    A run that measured only some SLOs (a one-SLO re-run, an import of part of
    a suite) must not take the others' baselines away: each missing SLO keeps
    its previous entry, marked with the commit and run it came from.

    Args:
        document: The new baseline document; its ``slos`` gains the kept entries.
        previous_path: The current baseline file (may be missing or unusable,
            then nothing is kept).

    Returns:
        Per kept SLO, the commit its baseline comes from.
    """
    try:
        previous = read_json(previous_path)
    except (ArtifactError, OSError):
        return {}
    return keep_missing_from(document, previous)


def keep_missing_from(document: dict[str, Any], previous: Any) -> dict[str, str]:
    """:func:`keep_missing_slos` with the previous baseline document at hand (the shared history's).

    Nothing is kept from a baseline of another machine: a baseline never
    mixes machines.

    Returns:
        Per kept SLO, the commit its baseline comes from.
    """
    if not isinstance(previous, dict) or schema_problem(previous, "baseline") is not None:
        return {}
    before, now = previous.get("machine"), document.get("machine")
    if isinstance(before, str) and isinstance(now, str) and before != now:
        return {}
    slos = document["slos"]
    kept: dict[str, str] = {}
    for name, body in previous["slos"].items():
        if name in slos:
            continue
        entry = dict(body)
        entry.setdefault("commit", str(previous.get("commit") or "unknown"))
        entry.setdefault("source_run", previous.get("source_run"))
        slos[name] = entry
        kept[name] = str(entry["commit"])
    return kept


def write_baseline(artifacts_dir: Path, document: Mapping[str, Any]) -> tuple[Path, Path | None]:
    """Install a new baseline, keeping the one it replaces.

    The previous baseline is first copied (atomically) to
    ``baselines/perf-baseline-<epoch-ms>.json``; only then is the new one
    renamed into place.

    Returns:
        The baseline path and where the previous one was kept (or None).

    Raises:
        ValueError: When the document fails the schema.
        OSError: On write errors; the old baseline stays intact.
    """
    problem = schema_problem(document, "baseline")
    if problem:
        raise ValueError(f"refusing to write an invalid baseline: {problem}")
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    target = artifacts_dir / BASELINE_NAME
    kept: Path | None = None
    # Only a regular file has content to keep (reading a FIFO would block forever).
    if target.is_file():
        history = artifacts_dir / BASELINE_HISTORY_DIR
        history.mkdir(exist_ok=True)
        old = target.read_bytes()
        ms = now_ms()
        while True:
            candidate = history / f"perf-baseline-{ms}.json"
            try:
                kept = atomic_write_bytes(candidate, old, overwrite=False)
                break
            except FileExistsError:
                ms += 1
    atomic_write_bytes(target, _dump(document), overwrite=True)
    return target, kept

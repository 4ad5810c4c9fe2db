"""Profiles kept beside the runs: ``<artifacts>/profiles/``.

Each profile is two files, named like the runs (``perf-<commit>-<ms>.json``)::

    profiles/prof-<commit>-<ms>-<slo>.pstats          the profile as the profiler wrote it
    profiles/prof-<commit>-<ms>-<slo>.profile.json    what it is: SLO, commit, how it was made

The record says which SLO and commit it profiles (``dirty`` when uncommitted
edits were measured), the run it was made beside (the SLO's latest run at
that commit, if any), how many benchmark calls it covers and the reference
workload's time in its process (both for :func:`~perfslo_tui.profiles.diff.diff_profiles`),
and the checkout it was made in (to make file paths relative). Both files
are written atomically; a record that cannot be read is reported, never
fatal to the others.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from perfslo_tui.atomic import atomic_write, atomic_write_bytes
from perfslo_tui.profiles.diff import ProfileDiff, diff_profiles
from perfslo_tui.profiles.formats import read_profile
from perfslo_tui.profiles.model import Profile, ProfileError
from perfslo_tui.text import short_commit

PROFILES_DIR = "profiles"
RECORD_SUFFIX = ".profile.json"
EXTENSIONS = {
    "pstats": ".pstats",
    "speedscope": ".speedscope.json",
    "cpuprofile": ".cpuprofile",
    "perf": ".perf.txt",
    "collapsed": ".folded",
}
MAX_RECORD_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    """One kept profile and what it is.

    Attributes:
        slo: The SLO profiled.
        commit: The commit profiled (empty outside git).
        dirty: Uncommitted edits were part of what was profiled.
        made_ms: When it was made (ms since the epoch).
        profiler: How: ``cProfile`` (perfslo's harness) or the profile command.
        format: The file's format (``pstats``, ``speedscope``, ...).
        file: The profile's file name in the profiles folder.
        calls: Benchmark calls it covers (1 for a whole process).
        reference_ms: The reference workload's mean time in the profiled
            process, or None.
        level: The fastest profiled batch's time per call over the fastest
            reference time per call (perfslo's harness), or None.
        folder: The profiles folder.
    """

    slo: str
    commit: str
    dirty: bool
    made_ms: int
    profiler: str
    format: str
    file: str
    calls: int
    reference_ms: float | None
    wall_s: float
    root: str
    run_id: str | None
    folder: Path
    level: float | None = None

    @property
    def path(self) -> Path:
        """The profile file."""
        return self.folder / self.file

    @property
    def record_path(self) -> Path:
        """The record file beside it."""
        return self.folder / (profile_stem_of(self.file) + RECORD_SUFFIX)

    @property
    def label(self) -> str:
        """``a1b2c3d (with uncommitted edits)`` or ``a1b2c3d``."""
        commit = short_commit(self.commit) if self.commit else "no commit"
        return f"{commit} (with uncommitted edits)" if self.dirty else commit

    def read(self) -> Profile:
        """The profile, its paths relative to the checkout it was made in.

        Raises:
            ProfileError: One line naming the file and the problem.
        """
        return read_profile(self.path, roots=[self.root] if self.root else [])


def profiles_dir(artifacts: Path) -> Path:
    """``<artifacts>/profiles``."""
    return artifacts / PROFILES_DIR


def profile_stem(commit: str, made_ms: int, slo: str) -> str:
    """``prof-a1b2c3d-1703081234567-parse``: named like the runs, the SLO made path-safe."""
    short = short_commit(commit) if commit else "unknown"
    short = re.sub(r"[^0-9A-Za-z._]", "_", short) or "unknown"
    slug = re.sub(r"[^0-9A-Za-z._-]", "_", slo)[:60] or "slo"
    return f"prof-{short}-{made_ms}-{slug}"


def profile_stem_of(file: str) -> str:
    """The stem of a profile file name (its format's extension removed)."""
    for extension in sorted(EXTENSIONS.values(), key=len, reverse=True):
        if file.endswith(extension):
            return file[: -len(extension)]
    return file.rsplit(".", 1)[0]


def save_profile(
    artifacts: Path,
    source: Path,
    *,
    slo: str,
    commit: str,
    dirty: bool,
    made_ms: int,
    profiler: str,
    profile_format: str,
    calls: int,
    reference_ms: float | None,
    wall_s: float,
    root: Path | str,
    run_id: str | None,
    level: float | None = None,
) -> ProfileRecord:
    """Copy a profile into ``<artifacts>/profiles/`` and write its record (both atomically).

    Raises:
        OSError: When the folder or a file cannot be written (nothing half-written is left).
    """
    folder = profiles_dir(artifacts)
    folder.mkdir(parents=True, exist_ok=True)
    stem = profile_stem(commit, made_ms, slo)
    extension = EXTENSIONS.get(profile_format, ".profile")
    target = folder / f"{stem}{extension}"
    with source.open("rb") as handle:
        atomic_write(target, lambda out: shutil.copyfileobj(handle, out))
    record = ProfileRecord(
        slo=slo,
        commit=commit,
        dirty=dirty,
        made_ms=made_ms,
        profiler=profiler,
        format=profile_format,
        file=target.name,
        calls=max(int(calls), 1),
        reference_ms=reference_ms,
        wall_s=wall_s,
        root=str(root),
        run_id=run_id,
        folder=folder,
        level=level,
    )
    document = {
        "schema_version": 1,
        "slo": slo,
        "commit": commit,
        "dirty": dirty,
        "made_unix_ms": made_ms,
        "profiler": profiler,
        "format": profile_format,
        "file": target.name,
        "calls": record.calls,
        "reference_ms": reference_ms,
        "level": level,
        "wall_s": wall_s,
        "root": str(root),
        "run_id": run_id,
    }
    atomic_write_bytes(record.record_path, orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return record


def read_record(path: Path) -> ProfileRecord:
    """Read one record file.

    Raises:
        ProfileError: ``<path>: <problem>`` for an unreadable or malformed record.
    """
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise ProfileError(f"{path}: too large for a profile record")
        data: Any = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise ProfileError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile record must be a JSON object")
    try:
        reference = data.get("reference_ms")
        level = data.get("level")
        record = ProfileRecord(
            slo=_text(data, "slo"),
            commit=_text(data, "commit", allow_empty=True),
            dirty=bool(data.get("dirty", False)),
            made_ms=int(data["made_unix_ms"]),
            profiler=_text(data, "profiler", allow_empty=True),
            format=_text(data, "format"),
            file=_text(data, "file"),
            calls=max(int(data.get("calls", 1)), 1),
            reference_ms=float(reference) if isinstance(reference, int | float) and reference > 0 else None,
            wall_s=float(data.get("wall_s", 0.0)),
            root=str(data.get("root") or ""),
            run_id=str(data["run_id"]) if data.get("run_id") else None,
            folder=path.parent,
            level=float(level) if isinstance(level, int | float) and level > 0 else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"{path}: a malformed profile record ({type(exc).__name__}: {exc})") from None
    if "/" in record.file or record.file.startswith("."):
        raise ProfileError(f"{path}: the record names a file outside the profiles folder")
    return record


def _text(data: dict[str, Any], key: str, allow_empty: bool = False) -> str:
    value = data.get(key)
    if not isinstance(value, str) or (not value and not allow_empty):
        raise ValueError(f"'{key}' must be a {'' if allow_empty else 'non-empty '}string")
    return value


def list_profiles(artifacts: Path, slo: str | None = None) -> tuple[list[ProfileRecord], dict[Path, str]]:
    """Every kept profile (of one SLO), newest first, and the records that could not be read.

    Returns:
        ``(records, errors)``: errors map a record's path to a one-line reason.
    """
    folder = profiles_dir(artifacts)
    records: list[ProfileRecord] = []
    errors: dict[Path, str] = {}
    if not folder.is_dir():
        return records, errors
    for path in sorted(folder.glob(f"*{RECORD_SUFFIX}")):
        if path.name.startswith("."):
            continue
        try:
            record = read_record(path)
        except ProfileError as exc:
            errors[path] = str(exc)
            continue
        if slo is not None and record.slo != slo:
            continue
        if not record.path.is_file():
            errors[path] = f"{path}: its profile file {record.file} is missing"
            continue
        records.append(record)
    records.sort(key=lambda r: -r.made_ms)
    return records, errors


def latest_profile(
    artifacts: Path, slo: str, commit: str | None = None, include_dirty: bool = True
) -> ProfileRecord | None:
    """The newest kept profile of ``slo`` (at ``commit`` when given; a commit prefix matches)."""
    records, _errors = list_profiles(artifacts, slo)
    for record in records:
        if commit is not None and not _same_commit(record.commit, commit):
            continue
        if record.dirty and not include_dirty:
            continue
        return record
    return None


def _same_commit(first: str, second: str) -> bool:
    if not first or not second:
        return False
    shorter, longer = sorted((first, second), key=len)
    return len(shorter) >= 7 and longer.startswith(shorter)


@dataclass(frozen=True, slots=True)
class KeptComparison:
    """Two kept profiles of one SLO and their diff.

    Attributes:
        before: The earlier commit's profile (the baseline's, GOOD).
        after: The later one's (now, BAD).
        diff: Function by function, largest contribution first.
    """

    before: ProfileRecord
    after: ProfileRecord
    diff: ProfileDiff


def compare_records(before: ProfileRecord, after: ProfileRecord) -> KeptComparison:
    """Read two kept profiles and diff them (per benchmark call, speed-adjusted where known).

    Raises:
        ProfileError: When either cannot be read, or they cannot be compared.
    """
    diff = diff_profiles(
        before.read(),
        after.read(),
        before_calls=before.calls,
        after_calls=after.calls,
        before_reference=before.reference_ms,
        after_reference=after.reference_ms,
        before_level=before.level,
        after_level=after.level,
    )
    return KeptComparison(before, after, diff)


def compare_kept(artifacts: Path, slo: str, before_commit: str, after_commit: str) -> KeptComparison | None:
    """The diff of the newest kept profiles of ``slo`` at two commits, or None when one is missing.

    Raises:
        ProfileError: When a kept profile cannot be read.
    """
    before = latest_profile(artifacts, slo, before_commit, include_dirty=False)
    after = latest_profile(artifacts, slo, after_commit)
    if before is None or after is None or before.path == after.path:
        return None
    return compare_records(before, after)

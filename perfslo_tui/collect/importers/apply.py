"""Turning an imported file into perfslo artifacts: rename, write, never twice.

A run becomes a normal run file (:func:`~perfslo_tui.runs.files.write_run`:
schema-checked, atomic, never overwriting) with ``metadata.source =
"import:<format>"`` and an ``import`` block recording the file, its SHA-256 and
which benchmarks had only a summary. Importing the same bytes again is
refused (``force`` overrides): a duplicate run would count twice towards
confirmation streaks and noise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from perfslo_tui.collect.importers.base import ImportedBaseline, ImportedRun, load_document
from perfslo_tui.collect.importers.registry import FORMATS
from perfslo_tui.runs.files import (
    BASELINE_SCHEMA_VERSION,
    ArtifactError,
    build_run_document,
    write_baseline,
    write_run,
)
from perfslo_tui.runs.metadata import git_info, make_metadata
from perfslo_tui.text import clip, utc_iso


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What importing one file did.

    Attributes:
        source: The imported file.
        format: The format name.
        kind: ``"run"`` or ``"baseline"``.
        written: The run file or baseline written (None when skipped).
        benchmarks: Benchmarks imported.
        samples: Samples written in total.
        renamed: Source name -> SLO name, for the names the rename table changed.
        summary_only: SLO name -> statistic, for benchmarks without raw samples.
        notes: Things the user should know (skipped benchmarks...).
        kept_baseline: Where the replaced baseline was kept.
        duplicate_of: The run this file was already imported as (nothing written).
    """

    source: Path
    format: str
    kind: str
    written: Path | None
    benchmarks: int
    samples: int
    renamed: dict[str, str] = field(default_factory=dict)
    summary_only: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    kept_baseline: Path | None = None
    duplicate_of: Path | None = None


def apply_rename(path: Path, names: list[str], rename: Mapping[str, str]) -> dict[str, str]:
    """Map source names to SLO names; unmapped names are kept as they are.

    Raises:
        ArtifactError: When two benchmarks end up with the same SLO name.
    """
    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name in names:
        target = rename.get(name, name)
        if target in seen:
            raise ArtifactError(
                path, f"benchmarks {clip(seen[target])!r} and {clip(name)!r} both map to SLO {clip(target)!r}"
            )
        if len(target) > 200:
            raise ArtifactError(path, f"benchmark name too long for an SLO name (200 max): {clip(target)!r}")
        seen[target] = name
        mapping[name] = target
    return mapping


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_import(artifacts_dir: Path, sha256: str) -> Path | None:
    """A run file in the folder imported from a file with this SHA-256, if any."""
    if not artifacts_dir.is_dir():
        return None
    for candidate in sorted(artifacts_dir.glob("perf-*.json")):
        try:
            document = orjson.loads(candidate.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        meta = document.get("metadata") if isinstance(document, dict) else None
        block = meta.get("import") if isinstance(meta, dict) else None
        if isinstance(block, dict) and block.get("sha256") == sha256:
            return candidate
    return None


def import_file(
    fmt: str,
    path: Path,
    artifacts_dir: Path,
    rename: Mapping[str, str],
    root: Path,
    force: bool = False,
) -> ImportOutcome:
    """Import one file of format ``fmt`` into the artifacts folder.

    Args:
        fmt: A key of :data:`~perfslo_tui.collect.importers.registry.FORMATS`.
        path: The file to import.
        artifacts_dir: Where runs and the baseline live.
        rename: Source benchmark name -> SLO name (the config's ``rename``).
        root: The project folder, for git metadata when the file has none.
        force: Import even when the same bytes were imported before.

    Returns:
        What was written.

    Raises:
        ArtifactError: When the file is unreadable or not of that format.
        OSError: On write errors (nothing partial is left behind).
    """
    spec = FORMATS[fmt]
    document = load_document(path, spec.expected)
    imported = spec.parse(path, document)
    sha = _sha256(path)
    if isinstance(imported, ImportedBaseline):
        return _write_baseline(fmt, path, imported, artifacts_dir, rename, sha)
    return _write_run(fmt, path, imported, artifacts_dir, rename, root, sha, force)


def _write_run(
    fmt: str,
    path: Path,
    imported: ImportedRun,
    artifacts_dir: Path,
    rename: Mapping[str, str],
    root: Path,
    sha: str,
    force: bool,
) -> ImportOutcome:
    mapping = apply_rename(path, list(imported.samples), rename)
    renamed = {src: dst for src, dst in mapping.items() if src != dst}
    samples = {mapping[name]: values for name, values in imported.samples.items()}
    summary_only = {mapping[name]: stat for name, stat in imported.summary_only.items()}
    total = sum(len(v) for v in samples.values())
    if not force:
        previous = find_import(artifacts_dir, sha)
        if previous is not None:
            return ImportOutcome(
                path,
                fmt,
                "run",
                None,
                len(samples),
                total,
                renamed,
                summary_only,
                list(imported.notes),
                duplicate_of=previous,
            )
    git: dict[str, Any]
    if imported.commit is not None:
        git = {
            "commit": imported.commit,
            "branch": imported.branch or "unknown",
            "dirty": bool(imported.dirty),
        }
    else:
        # The file does not say which commit it measured: the checkout it is
        # imported from (or PERFSLO_COMMIT / CI variables) is the best guess.
        git = git_info(root)
        if imported.branch is not None:
            git["branch"] = imported.branch
    # Only what the file says: it may have been measured on another machine.
    fingerprint = {"producer": fmt, **imported.fingerprint}
    meta = make_metadata(
        timestamp_ms=imported.timestamp_ms, source=f"import:{fmt}", git=git, fingerprint=fingerprint
    )
    meta["import"] = {
        "format": fmt,
        "file": str(path),
        "sha256": sha,
        "summary_only": summary_only,
        "source_counts": {mapping[n]: c for n, c in imported.source_counts.items()},
        "renamed": renamed,
    }
    inner = {mapping[name]: loops for name, loops in imported.inner_loops.items() if name in mapping}
    document = build_run_document(samples, meta, inner_loops=inner)
    try:
        written = write_run(artifacts_dir, document)
    except ValueError as exc:  # the schema refused it: say which file it came from
        raise ArtifactError(path, str(exc)) from None
    return ImportOutcome(
        path, fmt, "run", written, len(samples), total, renamed, summary_only, list(imported.notes)
    )


def _write_baseline(
    fmt: str,
    path: Path,
    imported: ImportedBaseline,
    artifacts_dir: Path,
    rename: Mapping[str, str],
    sha: str,
) -> ImportOutcome:
    mapping = apply_rename(path, list(imported.slos), rename)
    renamed = {src: dst for src, dst in mapping.items() if src != dst}
    slos = {mapping[name]: dict(body) for name, body in imported.slos.items()}
    document: dict[str, Any] = {
        "schema_version": BASELINE_SCHEMA_VERSION,
        "kind": "baseline",
        "established": utc_iso(imported.timestamp_ms) if imported.timestamp_ms is not None else "unknown",
        "source_run": None,
        "commit": imported.commit or "unknown",
        "branch": "unknown",
        "slos": slos,
        "source": f"import:{fmt}",
        "import": {"format": fmt, "file": str(path), "sha256": sha, "renamed": renamed},
    }
    if imported.timestamp_ms is not None:
        document["timestamp_unix"] = imported.timestamp_ms
    try:
        written, kept = write_baseline(artifacts_dir, document)
    except ValueError as exc:
        raise ArtifactError(path, str(exc)) from None
    summary = {name: "median" for name in slos}
    return ImportOutcome(
        path,
        fmt,
        "baseline",
        written,
        len(slos),
        0,
        renamed,
        summary,
        list(imported.notes),
        kept_baseline=kept,
    )

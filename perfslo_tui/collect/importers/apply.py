"""Turning an imported file into perfslo artifacts: rename, write, never twice.

A run becomes a normal run file (:func:`~perfslo_tui.runs.files.write_run`:
schema-checked, atomic, never overwriting) with ``metadata.source =
"import:<format>"`` and an ``import`` block recording the file, its SHA-256 and
which benchmarks had only a summary. Importing the same bytes again is
refused (``force`` overrides): a duplicate run would count twice towards
confirmation streaks and noise.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from perfslo_tui.collect.importers.base import ImportedBaseline, ImportedRun, load_document
from perfslo_tui.collect.importers.registry import FORMATS
from perfslo_tui.runs.files import (
    BASELINE_NAME,
    BASELINE_SCHEMA_VERSION,
    ArtifactError,
    build_run_document,
    keep_missing_slos,
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


def check_matches(path: Path, mapping: Mapping[str, str], configured: Collection[str]) -> list[str]:
    """Refuse an import none of whose names is a configured SLO; return the unmatched names.

    Such an import would be accepted silently and compare nothing: say which
    names came, which SLOs are configured, and how ``rename`` maps one to the
    other. With no SLO configured at all there is nothing to match.

    Raises:
        ArtifactError: When SLOs are configured and no imported name is one.
    """
    if not configured or not mapping:
        return []
    targets = list(mapping.values())
    unmatched = [name for name in targets if name not in configured]
    if len(unmatched) < len(targets):
        return unmatched
    sources = list(mapping)
    slos = sorted(configured)
    shown = ", ".join(repr(clip(n, 30)) for n in sources[:3]) + (", …" if len(sources) > 3 else "")
    source = sources[0]
    guess = difflib.get_close_matches(source, slos, n=1, cutoff=0.0)
    example = f'[rename] "{clip(source, 30)}" = "{clip(guess[0] if guess else slos[0], 30)}"'
    raise ArtifactError(
        path,
        f"none of its {len(sources)} benchmark name(s) ({shown}) is a configured SLO; "
        f"map them in the config's rename table, e.g. {example}",
    )


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
    configured: Collection[str] = (),
) -> ImportOutcome:
    """Import one file of format ``fmt`` into the artifacts folder.

    Args:
        fmt: A key of :data:`~perfslo_tui.collect.importers.registry.FORMATS`.
        path: The file to import.
        artifacts_dir: Where runs and the baseline live.
        rename: Source benchmark name -> SLO name (the config's ``rename``).
        root: The project folder, for git metadata when the file has none.
        force: Import even when the same bytes were imported before.
        configured: The configured SLO names: an import that matches none of
            them is refused (with the ``rename`` hint).

    Returns:
        What was written.

    Raises:
        ArtifactError: When the file is unreadable, not of that format, or
            matches no configured SLO.
        OSError: On write errors (nothing partial is left behind).
    """
    spec = FORMATS[fmt]
    document = load_document(path, spec.expected)
    imported = spec.parse(path, document)
    sha = _sha256(path)
    if isinstance(imported, ImportedBaseline):
        return _write_baseline(fmt, path, imported, artifacts_dir, rename, sha, configured)
    return _write_run(fmt, path, imported, artifacts_dir, rename, root, sha, force, configured)


def _write_run(
    fmt: str,
    path: Path,
    imported: ImportedRun,
    artifacts_dir: Path,
    rename: Mapping[str, str],
    root: Path,
    sha: str,
    force: bool,
    configured: Collection[str],
) -> ImportOutcome:
    mapping = apply_rename(path, list(imported.samples), rename)
    unmatched = check_matches(path, mapping, configured)
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
    notes = list(imported.notes) + _unmatched_note(unmatched)
    return ImportOutcome(path, fmt, "run", written, len(samples), total, renamed, summary_only, notes)


def _unmatched_note(unmatched: list[str]) -> list[str]:
    if not unmatched:
        return []
    shown = ", ".join(clip(n, 40) for n in unmatched[:5]) + (", …" if len(unmatched) > 5 else "")
    return [f"{len(unmatched)} name(s) match no configured SLO (shown without a budget): {shown}"]


def _write_baseline(
    fmt: str,
    path: Path,
    imported: ImportedBaseline,
    artifacts_dir: Path,
    rename: Mapping[str, str],
    sha: str,
    configured: Collection[str],
) -> ImportOutcome:
    mapping = apply_rename(path, list(imported.slos), rename)
    unmatched = check_matches(path, mapping, configured)
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
    # SLOs the imported file does not have keep their current baseline.
    carried = keep_missing_slos(document, artifacts_dir / BASELINE_NAME)
    try:
        written, kept = write_baseline(artifacts_dir, document)
    except ValueError as exc:
        raise ArtifactError(path, str(exc)) from None
    summary = {name: "median" for name in slos if name not in carried}
    notes = list(imported.notes) + _unmatched_note(unmatched)
    carried_slos = [n for n in carried if not n.endswith("@ref")]
    if carried_slos:
        shown = ", ".join(clip(n, 40) for n in carried_slos[:5]) + (", …" if len(carried_slos) > 5 else "")
        notes.append(f"{len(carried_slos)} SLO(s) not in the file keep their previous baseline: {shown}")
    return ImportOutcome(
        path,
        fmt,
        "baseline",
        written,
        len(slos) - len(carried),
        0,
        renamed,
        summary,
        notes,
        kept_baseline=kept,
    )

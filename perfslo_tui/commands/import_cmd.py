"""``perfslo import FORMAT FILE…``: other tools' results as perfslo runs."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HELP = "import other tools' benchmark results (pytest-benchmark, pyperf, hyperfine, ...) as runs"

# Kept here (not imported from the registry) so that building the parser
# stays cheap; tests check the two lists agree.
FORMAT_NAMES = (
    "pytest-benchmark",
    "pyperf",
    "hyperfine",
    "google-benchmark",
    "asv",
    "luascript-run",
    "luascript-baseline",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``perfslo import``."""
    parser.add_argument("format", choices=FORMAT_NAMES, metavar="FORMAT", help=", ".join(FORMAT_NAMES))
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="result files to import")
    parser.add_argument(
        "--force", action="store_true", help="import a file again even if the same bytes were imported"
    )


def run(args: argparse.Namespace) -> int:
    """Import each file; report each on its own line. Exit 2 if any file failed."""
    from perfslo_tui.actions.bench import artifacts_from_env
    from perfslo_tui.collect.importers import import_file
    from perfslo_tui.commands import load_context
    from perfslo_tui.runs.files import ArtifactError
    from perfslo_tui.text import printable

    config = load_context(args)
    # perfslo sets PERFSLO_ARTIFACTS for its bench command, which may well be
    # "hyperfine --export-json x.json ... && perfslo import hyperfine x.json".
    artifacts = (
        config.artifacts_dir if args.artifacts is not None else artifacts_from_env(config.artifacts_dir)
    )
    failed = 0
    written: list[Path] = []
    for path in args.files:
        try:
            outcome = import_file(
                args.format,
                path,
                artifacts,
                config.rename,
                config.root,
                force=args.force,
                configured=list(config.slos),
            )
        except ArtifactError as exc:
            print(f"perfslo: {printable(str(exc), 400)}", file=sys.stderr)
            failed += 1
            continue
        except OSError as exc:
            print(f"perfslo: {path}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            failed += 1
            continue
        name = printable(str(path), 200)
        if outcome.duplicate_of is not None:
            print(f"{name}: already imported as {outcome.duplicate_of.name} (use --force to import again)")
            continue
        what = f"{outcome.benchmarks} benchmark(s)"
        if outcome.kind == "run":
            what += f", {outcome.samples} sample(s)"
        print(f"{name} -> {outcome.written} ({what})")
        if outcome.kind == "run" and outcome.written is not None:
            written.append(outcome.written)
        if outcome.kept_baseline is not None:
            print(f"  previous baseline kept as {outcome.kept_baseline}")
        for source, target in outcome.renamed.items():
            print(f"  {printable(source, 80)} -> SLO {printable(target, 80)}")
        only = sorted(outcome.summary_only)
        if only and outcome.kind == "run":
            listed = ", ".join(printable(n, 40) for n in only[:5]) + (" ..." if len(only) > 5 else "")
            print(
                f"  no raw samples in the file for {len(only)} benchmark(s), imported its summary: {listed}"
            )
        for note in outcome.notes:
            print(f"  note: {printable(note, 200)}")
    from perfslo_tui.runs.pg import push_new_runs

    pushed = push_new_runs(written, config.history_url, os.environ)
    if pushed is not None:
        print(f"perfslo: {pushed}", file=sys.stderr if pushed.startswith("warning") else sys.stdout)
    return 2 if failed else 0

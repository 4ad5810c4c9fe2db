"""``perfslo check``: the CI gate."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfslo_tui.commands.gate_source import GateSource
    from perfslo_tui.config import Config
    from perfslo_tui.verdict.model import Evaluation

HELP = "evaluate the latest run against budgets and baseline (exit 1 on confirmed violations)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``perfslo check``."""
    from perfslo_tui.commands import add_machine_option

    add_machine_option(parser)
    parser.add_argument("--run", type=Path, help="evaluate this run file instead of the latest")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    parser.add_argument("--output", "-o", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--confirm",
        type=int,
        metavar="N",
        help="a violation must be seen in N consecutive runs; re-runs the bench command "
        "up to N times to confirm or clear it (a suspected regression vs the baseline, in a git "
        "repository: an interleaved compare of the baseline's commit against HEAD instead)",
    )
    parser.add_argument(
        "--no-step-summary",
        action="store_true",
        help="do not append the Markdown report to $GITHUB_STEP_SUMMARY",
    )


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the report; return the gate's exit code."""
    from perfslo_tui.commands import UsageError, load_context
    from perfslo_tui.commands.gate_source import open_gate

    config = load_context(args)
    if args.confirm is not None and args.confirm < 1:
        raise UsageError("--confirm must be at least 1")
    # A loader rather than a one-off load: --confirm refreshes it after each re-run.
    source = open_gate(config, args.run, args.machine, args.confirm)
    try:
        return _gate(args, config, source)
    finally:
        source.loader.close()


def _gate(args: argparse.Namespace, config: Config, source: GateSource) -> int:
    from perfslo_tui.commands import UsageError, note_machines
    from perfslo_tui.commands.gate_source import newest_local_run_id
    from perfslo_tui.runs.selection import describe_choice
    from perfslo_tui.text import printable
    from perfslo_tui.verdict.engine import evaluate

    history = source.loader.refresh()
    run_id = source.run_id
    if history.shared is not None and history.run_count == 0:
        shown = describe_choice(source.loader.choice, history.machines)
        raise UsageError(f"{history.shared}: no runs of {shown} (push some with `perfslo push`)")
    if history.run_count == 0:
        folder_problem = history.errors.get(history.folder)
        if folder_problem is not None:  # the folder itself: that one line says it all
            raise UsageError(f"{history.folder}: {folder_problem}")
        for path, reason in sorted(history.errors.items()):
            print(f"perfslo: {printable(str(path), 300)}: {printable(reason, 300)}", file=sys.stderr)
        if config.artifacts_dir.exists() and not config.artifacts_dir.is_dir():
            raise UsageError(f"{config.artifacts_dir}: the artifacts path is a file, not a folder")
        if history.errors:
            count = len(history.errors)
            raise UsageError(f"{config.artifacts_dir}: no usable runs ({count} unusable file(s) above)")
        from perfslo_tui.actions.next_step import next_step

        step = next_step(config, history)
        raise UsageError(step.line() if step is not None else f"{config.artifacts_dir}: no usable runs")
    if run_id is not None and history.run(run_id) is None:
        raise UsageError(
            f"{printable(run_id, 200)} is not among the runs of "
            f"{describe_choice(history.machine or 'all', history.machines)} (see --machine)"
        )
    note_machines(history)
    for path, reason in sorted(history.errors.items()):
        # File names and reasons are untrusted: one escaped line per file.
        print(
            f"perfslo: warning: skipped {printable(str(path), 300)}: {printable(reason, 300)}",
            file=sys.stderr,
        )

    evaluation = evaluate(history, config, run_id=run_id, confirm_runs=args.confirm)
    if args.confirm is not None and (run_id is None or source.follow_local):
        from perfslo_tui.actions.confirm import confirm

        pick = None
        if source.follow_local:
            db = getattr(source.loader, "db", None)

            def pick() -> str | None:
                return newest_local_run_id(config, db)

        evaluation = confirm(config, source.loader, evaluation, args.confirm, pick_run=pick)

    _warn_if_from_the_future(evaluation)
    return _report(args, config, evaluation)


def _report(args: argparse.Namespace, config: Config, evaluation: Evaluation) -> int:
    from perfslo_tui.atomic import atomic_write_bytes

    report = _render(evaluation, args.format, config)
    sys.stdout.write(report)
    if args.output is not None:
        atomic_write_bytes(args.output, report.encode())
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path and not args.no_step_summary:
        markdown = report if args.format == "markdown" else _render(evaluation, "markdown", config)
        try:
            with open(summary_path, "a", encoding="utf-8") as handle:
                handle.write(markdown)
        except OSError as exc:
            print(
                f"perfslo: warning: cannot write $GITHUB_STEP_SUMMARY ({summary_path}): {exc.strerror}",
                file=sys.stderr,
            )
    return evaluation.verdict.exit_code


_FUTURE_SLACK_MS = 24 * 3600 * 1000  # CI clocks skew by minutes, not by a day


def _warn_if_from_the_future(evaluation: object) -> None:
    """A run dated ahead of now stays the latest until then: say so (it is still evaluated)."""
    import time

    from perfslo_tui.text import printable, utc_iso
    from perfslo_tui.verdict.model import Evaluation

    assert isinstance(evaluation, Evaluation)
    run = evaluation.run
    if run is not None and run.ts_ms > time.time() * 1000 + _FUTURE_SLACK_MS:
        print(
            f"perfslo: warning: {printable(run.run_id)} is dated {utc_iso(run.ts_ms)[:19]}Z, in the future "
            "(a wrong clock or an edited file); it is evaluated as the latest run",
            file=sys.stderr,
        )


def _render(evaluation: object, fmt: str, config: object = None) -> str:
    from perfslo_tui.config import Config
    from perfslo_tui.verdict.model import Evaluation

    assert isinstance(evaluation, Evaluation)
    profile_diffs = None
    if isinstance(config, Config) and any(r.confirmed_regression for r in evaluation.all_results):
        from perfslo_tui.actions.profile import regression_profile_diffs
        from perfslo_tui.text import printable

        # Only what `perfslo profile` kept is read: the gate never profiles.
        profile_diffs, problems = regression_profile_diffs(config.artifacts_dir, evaluation)
        for problem in problems:
            print(f"perfslo: warning: {printable(problem, 300)}", file=sys.stderr)
    if fmt == "json":
        from perfslo_tui.report.json_report import render_json

        return render_json(evaluation, profile_diffs)
    if fmt == "markdown":
        from perfslo_tui.actions.bench import reproduce_commands
        from perfslo_tui.report.markdown import render_markdown

        # The PR comment says how to reproduce: the project's bench command, then the gate.
        reproduce = reproduce_commands(config) if isinstance(config, Config) else "perfslo check"
        return render_markdown(evaluation, reproduce, profile_diffs)
    from perfslo_tui.report.text import render_text

    return render_text(evaluation, profile_diffs)

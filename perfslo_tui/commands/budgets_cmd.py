"""``perfslo budgets``: evidence-based budgets, flagged where loose or tight, written with ``--write``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfslo_tui.config import Config
    from perfslo_tui.verdict.budgets import BudgetAdvice

HELP = "suggest budgets from the recent clean runs; flag loose and tight ones (--write applies them)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``perfslo budgets``."""
    from perfslo_tui.verdict.budgets import DEFAULT_RULE, DEFAULT_RUNS, RULES

    parser.add_argument(
        "--runs",
        type=int,
        default=DEFAULT_RUNS,
        metavar="N",
        help=f"the evidence: the last N clean comparable runs of each SLO (default {DEFAULT_RUNS})",
    )
    parser.add_argument(
        "--slo", action="append", default=[], metavar="NAME", help="only this SLO (repeatable)"
    )
    parser.add_argument(
        "--rule",
        choices=sorted(RULES),
        default=DEFAULT_RULE,
        help=f"how the budget is suggested (default {DEFAULT_RULE}: {RULES[DEFAULT_RULE].text}; "
        "see docs/budgets.md)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--write",
        action="store_true",
        help="rewrite the loose, tight and missing budgets in the config (shows the diff; keeps a backup)",
    )


def run(args: argparse.Namespace) -> int:
    """Print the advice; with ``--write`` apply it to the config file."""
    from perfslo_tui.commands import UsageError, load_context, load_history
    from perfslo_tui.text import printable
    from perfslo_tui.verdict.budgets import advise
    from perfslo_tui.verdict.engine import evaluate

    config = load_context(args)
    if args.runs < 2:
        raise UsageError("--runs must be at least 2")
    if not config.slos:
        where = config.path or "no config file found"
        raise UsageError(f"{where}: no SLOs configured: nothing to suggest budgets for")
    unknown = [name for name in args.slo if name not in config.slos]
    if unknown:
        raise UsageError(f"--slo {printable(unknown[0], 80)}: not an SLO of {config.path}")
    history = load_history(config)
    for path, reason in sorted(history.errors.items()):
        print(
            f"perfslo: warning: skipped {printable(str(path), 300)}: {printable(reason, 300)}",
            file=sys.stderr,
        )
    evaluation = evaluate(history, config)
    advice = advise(history, evaluation, config, runs=args.runs, rule=args.rule, only=args.slo)
    if args.format == "json":
        from perfslo_tui.report.budgets_report import render_budgets_json

        sys.stdout.write(render_budgets_json(advice, args.runs))
    else:
        from perfslo_tui.report.budgets_report import render_budgets_text

        sys.stdout.write(render_budgets_text(advice, args.runs, config, writing=args.write))
    if not args.write:
        return 0
    return _write(config, advice, json_output=args.format == "json")


def _write(config: Config, advice: list[BudgetAdvice], json_output: bool) -> int:
    from perfslo_tui.actions.budget_file import BudgetChange, RewriteError, apply_rewrite, plan_rewrite
    from perfslo_tui.commands import UsageError
    from perfslo_tui.text import printable

    out = sys.stderr if json_output else sys.stdout
    if config.path is None:
        raise UsageError("no config file found: nothing to rewrite")
    changes = [
        BudgetChange(a.slo, a.key, a.suggested, a.comment)
        for a in advice
        if a.action != "keep" and a.suggested is not None
    ]
    if not changes:
        print("Nothing to write: every budget is within the evidence.", file=out)
        return 0
    try:
        rewrite = plan_rewrite(config.path, changes)
        print(rewrite.diff, end="", file=out)
        backup = apply_rewrite(rewrite)
    except RewriteError as exc:
        raise UsageError(str(exc)) from None
    for slo in rewrite.uncommented:
        print(f"note: {printable(slo, 80)} is an inline table: its new budget has no comment", file=out)
    print(f"Wrote {len(changes)} budget(s) to {config.path}", file=out)
    if backup is not None:
        print(f"Previous file kept as {backup}", file=out)
    return 0

"""``perfslo compare BASE [HEAD]``: did HEAD change the SLOs against BASE, measured side by side?

BASE and HEAD are checked out in temporary git worktrees, prepared with
``bench_setup`` and measured alternately (ABBA) by the bench command until
every SLO is settled or the pair budget is spent (:mod:`perfslo_tui.actions.compare`).
HEAD is the commit ``HEAD`` unless named; ``--working-tree`` measures the
working tree as it is, uncommitted edits and new files included. Progress
goes to stderr, the verdict to stdout.

Exit codes (for a CI step): 0 every SLO same or improved; 1 an SLO
regressed; 3 no regression shown but some SLO unknown (not settled within
the budget: the line says what would settle it); 2 bad input or a failure
(BASE not a commit, a dirty tree, bench setup or command failing, the same
code on both sides, Ctrl-C). On every exit the worktrees are removed and the
checkout is untouched; compare writes no run into the artifacts folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perfslo_tui.actions.compare import CompareProgress, CompareResult

HELP = "measure BASE and HEAD side by side (interleaved, in git worktrees): regressed, improved or same"

EXIT_SAME = 0
EXIT_REGRESSED = 1
EXIT_ERROR = 2
EXIT_UNKNOWN = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``perfslo compare``."""
    parser.add_argument("base", metavar="BASE", help="the commit to compare against (any git revision)")
    parser.add_argument("head", metavar="HEAD", nargs="?", help="the commit to measure (default: HEAD)")
    parser.add_argument(
        "--working-tree",
        action="store_true",
        help="measure the working tree as it is (uncommitted edits and new files) instead of HEAD",
    )
    parser.add_argument(
        "--allow-dirty",
        action="store_true",
        help="compare the commit HEAD although tracked files have uncommitted changes (not measured)",
    )
    parser.add_argument("--slo", metavar="NAME", help="measure and decide only this SLO")
    parser.add_argument("--max-pairs", type=int, default=None, metavar="N", help="pair budget (default: 40)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="the result's format")
    parser.add_argument(
        "--setup",
        metavar="COMMAND",
        help="prepare each worktree with this command instead of the config's bench_setup"
        " ({worktree} is its path)",
    )
    parser.add_argument(
        "--max-time",
        type=float,
        metavar="SECONDS",
        help="time budget: no new pair starts after this long (default: none, only the pair budget)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, metavar="SECONDS", help="per bench run (default: 1800)"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    """Compare; print progress on stderr and the verdict on stdout; return the exit code."""
    from perfslo_tui.actions.bench import BenchCommandError
    from perfslo_tui.actions.compare import CompareError, compare, resolve_target
    from perfslo_tui.commands import (
        UsageError,
        interrupted_in_worktrees,
        load_context,
        pair_budget,
        require_bench_command,
    )
    from perfslo_tui.text import printable, short_commit

    config = load_context(args)
    max_pairs = pair_budget(args.max_pairs)
    if args.working_tree and args.head is not None:
        raise UsageError("give HEAD or --working-tree, not both")
    require_bench_command(config, "compare")
    only = [args.slo] if args.slo else None
    started = time.monotonic()
    try:
        target = resolve_target(
            config, args.base, args.head, working_tree=args.working_tree, allow_dirty=args.allow_dirty
        )
        head_name = "working tree" if args.working_tree else f"{args.head or 'HEAD'}"
        if not args.quiet:
            print(
                f"perfslo compare: BASE {printable(args.base, 60)} ({short_commit(target.base_commit)})"
                f" vs {printable(head_name, 60)} ({short_commit(target.head_commit)}),"
                f" up to {max_pairs} pairs",
                file=sys.stderr,
                flush=True,
            )
        result = compare(
            config,
            args.base,
            target=target,
            bench_setup=args.setup,
            slo=args.slo,
            only=only,
            max_pairs=max_pairs,
            run_timeout=args.timeout,
            max_seconds=args.max_time,
            progress=None if args.quiet else _print_progress,
        )
    except CompareError as exc:
        raise UsageError(str(exc)) from None
    except BenchCommandError as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        raise interrupted_in_worktrees("compare", started) from None
    code = exit_code(result)
    if args.format == "json":
        sys.stdout.write(json.dumps(result_json(result, args.base, code), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(result, args.base, code))
    return code


def exit_code(result: CompareResult) -> int:
    """1 when an SLO regressed, else 3 when one is unknown, else 0."""
    from perfslo_tui.verdict.ab import ABVerdict

    verdict = result.verdict
    if verdict is ABVerdict.REGRESSED:
        return EXIT_REGRESSED
    if verdict is ABVerdict.UNKNOWN:
        return EXIT_UNKNOWN
    return EXIT_SAME


_ICON = {"regressed": "❌", "improved": "✅", "same": "✅", "unknown": "⚠️"}


def _print_progress(progress: CompareProgress) -> None:
    from perfslo_tui.actions.compare import describe
    from perfslo_tui.text import printable

    if progress.status.startswith("pair ") and ": running " in progress.status:
        return  # one line per pair, not per run
    if progress.pairs_done == 0 or progress.status.startswith("checking out"):
        print(f"  {printable(progress.status, 120)}", file=sys.stderr, flush=True)
        return
    estimates = " · ".join(
        f"{printable(name, 40)} {describe(decision)}" for name, decision in progress.decisions.items()
    )
    print(
        f"  pair {progress.pairs_done:2d}/{progress.max_pairs} {progress.elapsed:5.0f}s  {estimates}",
        file=sys.stderr,
        flush=True,
    )


def render_text(result: CompareResult, base: str, code: int) -> str:
    """The verdict per SLO, one line each, and the overall verdict with its exit code."""
    from perfslo_tui.text import printable, short_commit

    lines = [
        f"compare BASE {printable(base, 60)} ({short_commit(result.base_commit)})"
        f" vs {printable(result.head_name, 80)}: {result.pairs} pairs in {result.elapsed:.0f}s"
    ]
    for name, decision in result.decisions.items():
        icon = _ICON[decision.verdict.value]
        lines.append(f"  {icon} {printable(name, 60)}: {printable(decision.message, 300)}")
        if decision.action and decision.pairs_needed is not None and not decision.unsteady:
            lines.append(f"     → run again with --max-pairs {decision.pairs_needed}")
        elif decision.action:
            lines.append(f"     → {printable(decision.action, 200)}")
    lines.append(f"verdict: {result.verdict.value.upper()} (exit {code})")
    return "\n".join(lines) + "\n"


def result_json(result: CompareResult, base: str, code: int) -> dict[str, Any]:
    """The comparison as a JSON document (changes and intervals as fractions)."""
    from perfslo_tui.verdict.model import finite_or_none

    slos: dict[str, Any] = {}
    for name, d in result.decisions.items():
        slos[name] = {
            "verdict": d.verdict.value,
            "change": finite_or_none(d.change),
            "ci_low": finite_or_none(d.ci_low),
            "ci_high": finite_or_none(d.ci_high),
            "tolerance": d.tolerance,
            "pairs": d.pairs,
            "left_out": d.skipped,
            "settled": d.settled,
            "pairs_needed": d.pairs_needed,
            "message": d.message,
            "action": d.action,
        }
    return {
        "base": {"rev": base, "commit": result.base_commit},
        "head": {"rev": result.head_label, "commit": result.head_commit},
        "pairs": result.pairs,
        "elapsed_s": round(result.elapsed, 3),
        "verdict": result.verdict.value,
        "exit_code": code,
        "slos": slos,
    }

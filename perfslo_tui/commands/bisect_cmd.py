"""``perfslo bisect GOOD BAD --slo NAME``: the first commit where an SLO got slower.

GOOD and BAD are measured side by side first; only a confirmed slowdown is
bisected. Each tested commit is decided against GOOD with a sequential test
on interleaved runs (more pairs while unknown, up to ``--max-pairs``); a
commit whose ``bench_setup`` or bench command fails, or that stays
undecided, is skipped (as ``git bisect skip``). See
:mod:`perfslo_tui.actions.bisect`. Progress goes to stderr, the culprit and
the evidence (change and interval of every tested commit) to stdout.

Exit codes: 0 a culprit is named; 1 BAD is not slower than GOOD (nothing to
bisect); 3 not settled (GOOD against BAD unknown, or skipped commits leave
several candidates); 2 bad input or a failure (GOOD not an ancestor of BAD,
GOOD or BAD failing, the same-code trap, Ctrl-C). On every exit the worktrees
are removed and the checkout is untouched; bisect writes no run into the
artifacts folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perfslo_tui.actions.bisect import BisectProgress, BisectResult, TestedCommit

HELP = "find the first commit where an SLO got slower (a statistical bisection in git worktrees)"

EXIT_FOUND = 0
EXIT_NO_REGRESSION = 1
EXIT_ERROR = 2
EXIT_UNSETTLED = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``perfslo bisect``."""
    parser.add_argument("good", metavar="GOOD", help="a commit where the SLO was fast")
    parser.add_argument(
        "bad", metavar="BAD", help="a later commit where it is slow (GOOD must be its ancestor)"
    )
    parser.add_argument("--slo", metavar="NAME", required=True, help="the SLO that got slower")
    parser.add_argument(
        "--max-pairs", type=int, default=None, metavar="N", help="pair budget of each decision (default: 40)"
    )
    parser.add_argument(
        "--setup",
        metavar="COMMAND",
        help="prepare each worktree with this command instead of the config's bench_setup"
        " ({worktree} is its path)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, metavar="SECONDS", help="per bench run (default: 1800)"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="the result's format")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    """Bisect; progress on stderr, culprit and evidence on stdout; return the exit code."""
    from perfslo_tui.actions.bisect import BisectError, bisect, resolve_range, steps_for
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
    require_bench_command(config, "bisect")
    started = time.monotonic()
    last: list[BisectProgress] = []

    def progress(update: BisectProgress) -> None:
        last[:] = [update]
        if not args.quiet:
            print(
                f"  [{_clock(update.elapsed)}] {printable(update.status, 140)}", file=sys.stderr, flush=True
            )

    try:
        span = resolve_range(config, args.good, args.bad)
        if not args.quiet:
            count = len(span.commits)
            print(
                f"perfslo bisect {printable(args.slo, 60)}: GOOD {short_commit(span.good)} .. BAD"
                f" {short_commit(span.bad)}: {count} commit(s), at most {steps_for(count - 1)} to test"
                f" after GOOD vs BAD; up to {max_pairs} pairs each",
                file=sys.stderr,
                flush=True,
            )
        result = bisect(
            config,
            args.good,
            args.bad,
            args.slo,
            max_pairs=max_pairs,
            bench_setup=args.setup,
            run_timeout=args.timeout,
            progress=progress,
            span=span,
        )
    except BisectError as exc:
        _print_partial(last)
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        _print_partial(last)
        raise interrupted_in_worktrees("bisect", started) from None
    code = exit_code(result)
    if args.format == "json":
        sys.stdout.write(json.dumps(result_json(result, code), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(result, max_pairs))
    return code


def exit_code(result: BisectResult) -> int:
    """0 culprit named, 1 no slowdown between GOOD and BAD, 3 not settled."""
    from perfslo_tui.verdict.ab import ABVerdict

    if result.culprit is not None:
        return EXIT_FOUND
    if result.step.verdict in (ABVerdict.SAME, ABVerdict.IMPROVED):
        return EXIT_NO_REGRESSION
    return EXIT_UNSETTLED


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:d}:{secs:02d}"


def _print_partial(last: list[BisectProgress]) -> None:
    """What was decided before a stop: nothing measured is lost."""
    if not last or not last[0].tested:
        return
    sys.stdout.write("tested before the stop:\n")
    for tested in last[0].tested:
        sys.stdout.write(_evidence_line(tested) + "\n")
    sys.stdout.flush()


def _evidence_line(tested: TestedCommit) -> str:
    from perfslo_tui.text import printable, short_commit

    return (
        f"  #{tested.position:<4} {short_commit(tested.commit)}  {tested.verdict.value:<9}"
        f" {printable(tested.evidence, 160)}  {printable(tested.subject, 60)}"
    )


def render_text(result: BisectResult, max_pairs: int = 40) -> str:
    """The culprit (or why none is named) and the evidence, as text."""
    from perfslo_tui.actions.bisect import suggested_command
    from perfslo_tui.text import printable, short_commit
    from perfslo_tui.verdict.ab import ABVerdict

    slo = printable(result.slo, 60)
    good, bad = short_commit(result.good), short_commit(result.bad)
    lines: list[str] = []
    step = result.step
    span = f"GOOD {good} vs BAD {bad}: {step.verdict.value} {step.interval} after {step.pairs} pairs"
    if step.verdict is not ABVerdict.REGRESSED:
        if step.verdict is ABVerdict.UNKNOWN:
            action = step.action
            lines.append(f"⚠️ {slo}: not settled whether BAD is slower: {span}")
            if action:
                lines.append(f"   {action} (--max-pairs)")
        else:
            lines.append(f"✅ {slo}: BAD is not slower than GOOD ({span}): nothing to bisect")
        lines.append(_footer(result))
        return "\n".join(lines) + "\n"
    subjects = {t.commit: t.subject for t in result.tested}
    if result.culprit is not None:
        subject = subjects.get(result.culprit, "")
        position = result.commits.index(result.culprit) + 1
        lines.append(
            f"first bad commit for {slo}: {result.culprit[:12]} (#{position} of {len(result.commits)})"
            f"  {printable(subject, 80)}"
        )
    else:
        names = ", ".join(short_commit(c) for c in result.candidates)
        lines.append(
            f"⚠️ {slo}: the first bad commit is one of {len(result.candidates)}: {names}"
            " (commits between could not be decided; see below)"
        )
    lines.append(f"the slowdown: {span}")
    lines.append(f"evidence (each commit against GOOD {good}; bad = nearer BAD's level than GOOD's):")
    for tested in sorted(result.tested, key=lambda t: t.position):
        lines.append(_evidence_line(tested))
    lines.append(_footer(result))
    if result.culprit is not None:
        culprit = short_commit(result.culprit)
        lines.append(
            f"next: perfslo profile {printable(result.slo, 60)} --at {culprit} --against {culprit}^"
            "  (which functions got slower in it)"
        )
    else:
        # Commits left undecided: twice the pair budget each of them had.
        command = suggested_command(result.slo, result.good, result.bad)
        lines.append(f"next: {command} --max-pairs {2 * max_pairs}")
    return "\n".join(lines) + "\n"


def _footer(result: BisectResult) -> str:
    return (
        f"{len(result.commits)} commit(s) in range, {len(result.tested)} tested,"
        f" {result.runs} bench runs, {_clock(result.elapsed)}"
    )


def result_json(result: BisectResult, code: int) -> dict[str, Any]:
    """The result as JSON-ready data."""

    def decision(d: Any) -> dict[str, Any] | None:
        if d is None:
            return None
        return {
            "verdict": d.verdict.value,
            "change": d.change,
            "ci_low": d.ci_low if d.ci_low > -1e300 else None,
            "ci_high": d.ci_high if d.ci_high < 1e300 else None,
            "pairs": d.pairs,
            "skipped_pairs": d.skipped,
        }

    return {
        "slo": result.slo,
        "good": result.good,
        "bad": result.bad,
        "exit_code": code,
        "culprit": result.culprit,
        "candidates": list(result.candidates),
        "step": decision(result.step),
        "commits": list(result.commits),
        "tested": [
            {
                "commit": t.commit,
                "position": t.position,
                "subject": t.subject,
                "verdict": t.verdict.value,
                "change": decision(t.change),
                "pairs": t.pairs,
                "seconds": t.seconds,
                "reason": t.reason,
            }
            for t in result.tested
        ],
        "runs": result.runs,
        "elapsed_s": result.elapsed,
    }

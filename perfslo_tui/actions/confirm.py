"""Confirmation by re-running: ``perfslo check --confirm N``.

A violation or regression blocks only once confirmed: seen in N consecutive
runs (for a regression, with a significant pooled change; see
:mod:`perfslo_tui.verdict.engine`). When the latest run shows a problem that is not
yet confirmed, or could not be judged (busy machine, no steady state), the
bench command is run again until the problem is confirmed or clears: at most
N re-runs that count, 2N in all. A run that shows nothing suspicious costs no
re-run at all.

Three rules keep the result honest:

* a confirmed failure is final: once an evaluation is FAILED, the gate stops
  re-running and reports it (a later busy run can never turn it into a pass);
* every re-run must land where the gate reads: a bench command that finished
  without a new run in the gate's artifacts folder stops the gate with one
  line, instead of re-judging the same old run;
* the counter says what happened: each re-run is numbered out of the most
  there can be, and one that could not be judged says so and is not counted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from perfslo_tui.actions.bench import BenchCommandError, run_to_completion
from perfslo_tui.config import Config
from perfslo_tui.runs.store import RunStore
from perfslo_tui.text import printable
from perfslo_tui.verdict.engine import evaluate
from perfslo_tui.verdict.model import Evaluation, Verdict


def needs_confirmation(evaluation: Evaluation) -> bool:
    """True when some SLO shows a problem that more runs could confirm or clear."""
    if evaluation.verdict is Verdict.FAILED:
        return False  # a confirmed failure is final
    return any(r.needs_confirmation for r in evaluation.slos)


def _names(evaluation: Evaluation) -> str:
    # SLO names come from run files: printed safely.
    return ", ".join(printable(r.name, 60) for r in evaluation.slos if r.needs_confirmation)


def confirm_by_rerunning(
    config: Config,
    store: RunStore,
    evaluation: Evaluation,
    confirm_runs: int,
    rerun: Callable[[], object] | None = None,
    announce: bool = True,
) -> Evaluation:
    """Re-run the benchmarks until unconfirmed problems confirm or clear.

    Args:
        config: The project's config (for the bench command).
        store: The loaded run store; refreshed after each re-run.
        evaluation: The evaluation of the latest run.
        confirm_runs: N: consecutive runs needed; at most N re-runs that
            could be judged, and 2N in all.
        rerun: What produces one more run (default: the configured bench
            command, run to completion). Benchmarks pass an in-process one.
        announce: Print a line on stderr before and after each re-run.

    Returns:
        The evaluation of the latest run after re-running (the first FAILED
        one, if any: a confirmed failure is never undone).

    Raises:
        BenchCommandError: When the bench command is missing or fails, or
            finished without writing a new run into the artifacts folder.
    """
    produce = rerun if rerun is not None else lambda: run_to_completion(config)
    counted = 0
    spent = 0
    most = 2 * confirm_runs
    # A re-run that could not be judged decides nothing, so it does not use
    # up one of the N; at most 2N re-runs happen in all.
    while needs_confirmation(evaluation) and counted < confirm_runs and spent < most:
        spent += 1
        if announce:
            print(
                f"perfslo: re-run {spent} of at most {most} ({counted} of {confirm_runs} judged so far):"
                f" confirming or clearing {_names(evaluation)}",
                file=sys.stderr,
            )
        before = store.run_count
        produce()
        history = store.refresh()
        if not history.changes.added:
            raise BenchCommandError(
                f"the bench command finished but wrote no new run into {store.artifacts_dir} "
                f"(runs before: {before}, after: {store.run_count}); it must write its run where "
                "PERFSLO_ARTIFACTS points, which perfslo sets for it"
            )
        evaluation = evaluate(history, config, confirm_runs=confirm_runs, previous=evaluation)
        pending = [r for r in evaluation.slos if r.needs_confirmation]
        unjudged = [r for r in pending if r.unjudged]
        if pending and len(unjudged) == len(pending):
            if announce:
                why = "; ".join(f"{printable(r.name, 60)}: {printable(r.unjudged, 120)}" for r in unjudged)
                print(f"perfslo: re-run {spent} could not be judged ({why}): not counted", file=sys.stderr)
            continue
        counted += 1
        if announce:
            print(f"perfslo: re-run {spent}: {_outcome(evaluation)}", file=sys.stderr)
    return evaluation


def _outcome(evaluation: Evaluation) -> str:
    """What one re-run changed, in a few words."""
    if evaluation.verdict is Verdict.FAILED:
        names = ", ".join(printable(r.name, 60) for r in evaluation.blocking)
        return f"confirmed ({names}): FAILED"
    pending = _names(evaluation)
    return f"still unconfirmed: {pending}" if pending else "cleared"

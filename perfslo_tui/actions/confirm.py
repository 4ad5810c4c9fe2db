"""Confirmation by re-running: ``perfslo check --confirm N``.

A violation or regression blocks only once confirmed: seen in N consecutive
runs (for a regression, with a significant pooled change; see
:mod:`perfslo_tui.verdict.engine`). When the latest run shows a problem that is not
yet confirmed, the bench command is run again, at most N times, until the
problem is confirmed or it clears. A run that shows nothing suspicious costs
no re-run at all.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from perfslo_tui.actions.bench import run_to_completion
from perfslo_tui.config import Config
from perfslo_tui.runs.selection import RunLoader
from perfslo_tui.verdict.engine import evaluate
from perfslo_tui.verdict.model import Evaluation


def needs_confirmation(evaluation: Evaluation) -> bool:
    """True when some SLO shows a problem that more runs could confirm or clear."""
    return any(r.needs_confirmation for r in evaluation.slos)


def confirm_by_rerunning(
    config: Config,
    store: RunLoader,
    evaluation: Evaluation,
    confirm_runs: int,
    rerun: Callable[[], object] | None = None,
    announce: bool = True,
    pick_run: Callable[[], str | None] | None = None,
) -> Evaluation:
    """Re-run the benchmarks until unconfirmed problems confirm or clear.

    Args:
        config: The project's config (for the bench command).
        store: The loaded history (folder or shared); refreshed after each re-run.
        evaluation: The evaluation of the latest run.
        confirm_runs: N: consecutive runs needed; at most N re-runs that
            were not measured on a busy machine, and 2N in all.
        rerun: What produces one more run (default: the configured bench
            command, run to completion). Benchmarks pass an in-process one.
        announce: Print a line on stderr before each re-run.
        pick_run: Which run to evaluate after a re-run (default: the latest
            of the history; the gate on a shared history picks the newest
            local run, as other machines push meanwhile).

    Returns:
        The evaluation of the latest run after re-running.

    Raises:
        BenchCommandError: When the bench command is missing or fails.
    """
    produce = rerun if rerun is not None else lambda: run_to_completion(config)
    reruns = 0
    spent = 0
    # A re-run measured on a busy machine decides nothing, so it does not use
    # up one of the N; at most 2N re-runs happen in all.
    while needs_confirmation(evaluation) and reruns < confirm_runs and spent < 2 * confirm_runs:
        spent += 1
        if announce:
            # SLO names come from run files: print them safely. Imported
            # here: the core never loads the report package up front.
            from perfslo_tui.text import printable

            names = ", ".join(printable(r.name, 60) for r in evaluation.slos if r.needs_confirmation)
            print(
                f"perfslo: unconfirmed problem ({names}); "
                f"re-running the benchmarks ({reruns + 1}/{confirm_runs})",
                file=sys.stderr,
            )
        produce()
        history = store.refresh()
        run_id = pick_run() if pick_run is not None else None
        evaluation = evaluate(history, config, run_id=run_id, confirm_runs=confirm_runs, previous=evaluation)
        pending = [r for r in evaluation.slos if r.needs_confirmation]
        if not pending or not all(r.busy for r in pending):
            reruns += 1
    return evaluation

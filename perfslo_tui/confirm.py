"""Confirmation by re-running: ``perfslo check --confirm N``.

A violation or regression blocks only once seen in N consecutive runs. When
the latest run shows one that is not yet confirmed, the bench command is run
again (at most N times in all) until it is confirmed or it clears.
"""

from __future__ import annotations

import sys

from perfslo_tui.bench_command import BenchCommandError, run_to_completion
from perfslo_tui.config import Config
from perfslo_tui.evaluate import Evaluation, evaluate
from perfslo_tui.store import RunStore


def needs_confirmation(evaluation: Evaluation) -> bool:
    """True when some SLO shows an unconfirmed violation or regression."""
    return any(
        (r.violation and not r.confirmed_violation) or (r.regression and not r.confirmed_regression)
        for r in evaluation.slos
    )


def confirm_by_rerunning(
    config: Config, store: RunStore, evaluation: Evaluation, confirm_runs: int
) -> Evaluation:
    """Re-run the bench command until unconfirmed problems confirm or clear.

    Returns:
        The evaluation of the latest run after re-running.

    Raises:
        BenchCommandError: When the bench command is missing or fails.
    """
    reruns = 0
    while needs_confirmation(evaluation) and reruns < confirm_runs:
        reruns += 1
        print(
            f"perfslo: unconfirmed problem; re-running the bench command ({reruns}/{confirm_runs})",
            file=sys.stderr,
        )
        try:
            run_to_completion(config)
        except BenchCommandError:
            raise
        store.refresh()
        evaluation = evaluate(
            store.table, config, store.baseline, errors=store.errors, confirm_runs=confirm_runs
        )
    return evaluation

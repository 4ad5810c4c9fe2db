"""Confirmation: ``perfslo check --confirm N``.

A violation or regression blocks only once confirmed. A run that shows
nothing suspicious costs nothing. Otherwise:

* **A suspected regression against the baseline** (``SLOResult.suspected_regression``)
  in a git repository with a bench command is settled by an interleaved
  compare of the baseline's commit against HEAD (the working tree when it
  has uncommitted changes): both measured alternately, in the same time
  window, in temporary worktrees (:mod:`perfslo_tui.actions.compare`). Its
  decision is attached to the SLO's result and decides: regressed past the
  regression threshold → confirmed (FAILED), same or improved → cleared,
  unknown → WARNING with the action that would settle it.
* **Everything else** (a budget violation, a run that could not be judged,
  a project that is not a git repository, a baseline whose commit is not in
  the repository, a compare that cannot run) is confirmed by re-running the
  bench command until the problem is seen in N consecutive runs (for a
  regression, with a significant pooled change; see
  :mod:`perfslo_tui.verdict.engine`) or it clears: at most N re-runs that
  count, 2N in all.

Three rules keep the re-runs honest:

* a confirmed failure is final: once an evaluation is FAILED, the gate stops
  re-running and reports it (a later busy run can never turn it into a pass);
* every re-run must land where the gate reads: a bench command that finished
  without a new run in the gate's artifacts folder stops the gate with one
  line, instead of re-judging the same old run;
* the counter says what happened: each re-run is numbered out of the most
  there can be, and one that could not be judged says so and is not counted.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from perfslo_tui.actions.bench import BenchCommandError, run_to_completion, supports_single_slo
from perfslo_tui.config import Config
from perfslo_tui.runs.selection import RunLoader
from perfslo_tui.text import printable, short_commit
from perfslo_tui.verdict.ab import ABConfirmation
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
    store: RunLoader,
    evaluation: Evaluation,
    confirm_runs: int,
    rerun: Callable[[], object] | None = None,
    announce: bool = True,
    keep: Mapping[str, ABConfirmation] | None = None,
    pick_run: Callable[[], str | None] | None = None,
) -> Evaluation:
    """Re-run the benchmarks until unconfirmed problems confirm or clear.

    Args:
        config: The project's config (for the bench command).
        store: The loaded history (folder or shared); refreshed after each re-run.
        evaluation: The evaluation of the latest run.
        confirm_runs: N: consecutive runs needed; at most N re-runs that
            could be judged, and 2N in all.
        rerun: What produces one more run (default: the configured bench
            command, run to completion). Benchmarks pass an in-process one.
        announce: Print a line on stderr before and after each re-run.
        keep: Compares already attached (by SLO): attached again to every
            new evaluation, so a compare's decision is never undone by a re-run.
        pick_run: Which run to evaluate after a re-run (default: the latest
            of the history; the gate on a shared history picks the newest
            local run, as other machines push meanwhile).

    Returns:
        The evaluation of the latest run after re-running (the first FAILED
        one, if any: a confirmed failure is never undone).

    Raises:
        BenchCommandError: When the bench command is missing or fails, or
            finished without writing a new run into the artifacts folder.
    """
    produce = rerun if rerun is not None else lambda: run_to_completion(config)
    known_runs = evaluation.run_count
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
        before = known_runs
        produce()
        history = store.refresh()
        known_runs = history.run_count
        if not history.changes.added:
            shared = history.shared
            where = f"the shared history {shared}" if shared is not None else str(config.artifacts_dir)
            raise BenchCommandError(
                f"the bench command finished but wrote no new run into {where} "
                f"(runs before: {before}, after: {history.run_count}); it must write its run where "
                "PERFSLO_ARTIFACTS points, which perfslo sets for it"
            )
        run_id = pick_run() if pick_run is not None else None
        evaluation = evaluate(history, config, run_id=run_id, confirm_runs=confirm_runs, previous=evaluation)
        evaluation = attach_ab_confirmations(evaluation, keep or {})
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


def attach_ab_confirmations(
    evaluation: Evaluation, confirmations: Mapping[str, ABConfirmation]
) -> Evaluation:
    """A copy of ``evaluation`` with each compare attached to the result of its SLO."""
    if not confirmations:
        return evaluation
    slos = tuple(
        dataclasses.replace(r, ab_confirmation=confirmations[r.name]) if r.name in confirmations else r
        for r in evaluation.slos
    )
    return dataclasses.replace(evaluation, slos=slos)


@dataclass(frozen=True, slots=True)
class ComparePlan:
    """What an interleaved compare would settle, and whether it can run.

    Attributes:
        slos: The SLOs with a suspected regression against the baseline.
        base_commit: The baseline's commit, resolved in the repository ("" when it cannot run).
        working_tree: HEAD is the working tree (it has uncommitted changes).
        reason: Why the compare cannot run (None when it can).
    """

    slos: tuple[str, ...]
    base_commit: str = ""
    working_tree: bool = False
    reason: str | None = None


def plan_compare(config: Config, evaluation: Evaluation) -> ComparePlan:
    """The SLOs an interleaved compare of the baseline's commit against HEAD would settle."""
    from perfslo_tui.actions.worktree import WorktreeError, dirty_paths, repository_root, resolve_commit

    suspects = tuple(r.name for r in evaluation.slos if r.suspected_regression)
    baseline = evaluation.baseline
    if not suspects or baseline is None:
        return ComparePlan(())
    if not config.bench_command:
        return ComparePlan(suspects, reason="no bench_command configured")
    try:
        repo = repository_root(config.root)
    except WorktreeError:
        return ComparePlan(suspects, reason=f"{config.root} is not in a git repository")
    try:
        base = resolve_commit(repo, baseline.commit)
        dirty = bool(dirty_paths(repo))
    except WorktreeError:
        where = printable(short_commit(baseline.commit), 20)
        return ComparePlan(suspects, reason=f"the baseline's commit {where} is not in this repository")
    return ComparePlan(suspects, base, dirty)


def confirm_by_comparing(
    config: Config,
    evaluation: Evaluation,
    plan: ComparePlan,
    announce: bool = True,
    max_pairs: int | None = None,
) -> dict[str, ABConfirmation]:
    """Run the interleaved compare of the plan and return its decisions as confirmations.

    Raises:
        CompareError: When the compare cannot be made or fails (one line).
    """
    from perfslo_tui.actions.compare import WORKING_TREE, CompareProgress, compare, describe
    from perfslo_tui.verdict.ab import DEFAULT_MAX_PAIRS

    budget = max_pairs or DEFAULT_MAX_PAIRS
    head = WORKING_TREE if plan.working_tree else "HEAD"
    if announce:
        changes = ", ".join(
            f"{printable(r.name, 60)} {r.vs_baseline.label}"
            for r in evaluation.slos
            if r.name in plan.slos and r.vs_baseline is not None
        )
        print(
            f"perfslo: suspected regression vs baseline ({changes}); confirming by an interleaved compare"
            f" of the baseline's commit {short_commit(plan.base_commit)} against {head}"
            f" (up to {budget} pairs)",
            file=sys.stderr,
            flush=True,
        )

    def show(progress: CompareProgress) -> None:
        if progress.status not in ("measuring", "settled"):
            return
        estimates = " · ".join(f"{printable(n, 40)} {describe(d)}" for n, d in progress.decisions.items())
        print(f"  pair {progress.pairs_done:2d}/{budget} {estimates}", file=sys.stderr, flush=True)

    only = plan.slos
    slo = only[0] if len(only) == 1 and supports_single_slo(config) else None
    result = compare(
        config,
        plan.base_commit,
        working_tree=plan.working_tree,
        allow_dirty=True,
        slo=slo,
        only=only,
        max_pairs=budget,
        progress=show if announce else None,
    )
    label = WORKING_TREE if plan.working_tree else f"HEAD {short_commit(result.head_commit)}"
    return {
        name: ABConfirmation(decision, result.base_commit, label)
        for name, decision in result.decisions.items()
    }


def confirm(
    config: Config,
    store: RunLoader,
    evaluation: Evaluation,
    confirm_runs: int,
    announce: bool = True,
    max_pairs: int | None = None,
    pick_run: Callable[[], str | None] | None = None,
) -> Evaluation:
    """Confirm or clear the latest run's unconfirmed problems (see the module docstring).

    Returns:
        The evaluation to report: suspected regressions carry their compare's
        decision; other problems were re-run until confirmed or cleared.

    Raises:
        BenchCommandError: When a re-run is needed and the bench command fails.
    """
    from perfslo_tui.actions.compare import CompareError

    confirmations: dict[str, ABConfirmation] = {}
    plan = plan_compare(config, evaluation)
    if plan.slos and plan.reason is None:
        try:
            confirmations = confirm_by_comparing(config, evaluation, plan, announce, max_pairs)
        except CompareError as exc:
            if announce:
                print(
                    f"perfslo: warning: cannot confirm by compare ({printable(str(exc), 300)});"
                    " confirming by re-running instead",
                    file=sys.stderr,
                )
        evaluation = attach_ab_confirmations(evaluation, confirmations)
    elif plan.slos and announce:
        print(f"perfslo: {plan.reason}: confirming by re-running", file=sys.stderr)
    return confirm_by_rerunning(
        config, store, evaluation, confirm_runs, announce=announce, keep=confirmations, pick_run=pick_run
    )

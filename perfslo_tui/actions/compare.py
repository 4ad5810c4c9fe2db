"""Compare two versions of a project by interleaved re-measurement (``perfslo compare``).

BASE and HEAD are each checked out in a temporary worktree and prepared with
``bench_setup`` (:func:`perfslo_tui.actions.worktree.project_checkout`). The
project's bench command then runs alternately for the two sides in ABBA
order (BASE HEAD, HEAD BASE, BASE HEAD, ...), so load on the machine hits
both alike; each run writes its run file into the side's own temporary
artifacts folder (``PERFSLO_ARTIFACTS``), never into the project's. After
every pair the new runs' samples feed one
:class:`~perfslo_tui.verdict.ab.SequentialAB` per SLO, and the progress
callback sees the pairs done and each SLO's current estimate. It stops when
every SLO is settled or the pair budget is spent. The first pair runs with
the loaded-files tracer of :mod:`perfslo_tui.actions.same_code`, and a
comparison whose sides would measure the same code is refused.

HEAD can be the working tree as it is (uncommitted edits and new files
included): it is snapshotted into a commit without touching the index
(:func:`~perfslo_tui.actions.worktree.snapshot_working_tree`).

Pure library: no printing, no CLI or TUI. Every failure is a
:class:`CompareError` of one line; the worktrees and their runs are removed
on every exit (Ctrl-C and cancel included).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from perfslo_tui.actions.bench import BenchCancelled, BenchCommandError
from perfslo_tui.actions.same_code import (
    loaded_pair_trap_check,
    static_trap_check,
    trace_environment,
)
from perfslo_tui.actions.worktree import (
    ProjectCheckout,
    WorktreeError,
    dirty_paths,
    project_checkout,
    read_bench_runs,
    repository_root,
    resolve_commit,
    scratch_folder,
    snapshot_working_tree,
)
from perfslo_tui.config import Config
from perfslo_tui.runs.files import ArtifactError
from perfslo_tui.text import short_commit
from perfslo_tui.verdict.ab import (
    DEFAULT_MAX_PAIRS,
    DEFAULT_TOLERANCE,
    MIN_PAIRS,
    ABDecision,
    ABVerdict,
    SequentialAB,
)

BASE, HEAD = "base", "head"
WORKING_TREE = "working tree"


class CompareError(Exception):
    """Bad input or a failure while comparing: one line for the user (exit 2)."""


class CompareCancelled(CompareError):
    """The comparison was cancelled (its ``cancel`` event was set)."""


@dataclass(frozen=True, slots=True)
class SideRun:
    """One bench process of one side: what it measured.

    Attributes:
        pair: The pair it belongs to (0-based).
        side: ``base`` or ``head``.
        samples: Per SLO, the samples in time order (reference series left out).
        seconds: Wall time of the bench command.
        references: Per SLO, its reference series (``<slo>@ref``) when the
            run has one, paired sample by sample.
    """

    pair: int
    side: str
    samples: Mapping[str, Sequence[float]]
    seconds: float
    references: Mapping[str, Sequence[float]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CompareProgress:
    """Reported at each stage and after every run.

    Attributes:
        pairs_done: Whole pairs measured so far.
        max_pairs: The pair budget.
        decisions: Per SLO, the decision so far (empty before the first pair).
        elapsed: Seconds since the comparison started (setup included).
        last_order: The order of the last whole pair, e.g. ``("head", "base")``.
        status: What is happening now (``checking out BASE 1a2b3c4``,
            ``bench setup for HEAD``, ``pair 3: running HEAD``).
        base_commit: BASE's commit, once resolved.
        head_commit: HEAD's commit (a snapshot for the working tree), once resolved.
    """

    pairs_done: int
    max_pairs: int
    decisions: Mapping[str, ABDecision]
    elapsed: float
    last_order: tuple[str, str] | None = None
    status: str = ""
    base_commit: str = ""
    head_commit: str = ""


@dataclass(frozen=True, slots=True)
class CompareResult:
    """The outcome of a comparison.

    Attributes:
        base_commit: BASE's full commit id.
        head_commit: HEAD's full commit id (a snapshot commit for the working tree).
        head_label: HEAD's name as given (``working tree`` for the snapshot).
        decisions: Per SLO, the final decision.
        pairs: Pairs measured.
        elapsed: Seconds in all.
        runs: Every bench process's samples, in the order run.
    """

    base_commit: str
    head_commit: str
    head_label: str
    decisions: Mapping[str, ABDecision]
    pairs: int
    elapsed: float
    runs: Sequence[SideRun] = field(default_factory=tuple)

    @property
    def verdict(self) -> ABVerdict:
        """Regressed if any SLO regressed, else unknown if any is, else improved if any is, else same."""
        kinds = {d.verdict for d in self.decisions.values()}
        for kind in (ABVerdict.REGRESSED, ABVerdict.UNKNOWN, ABVerdict.IMPROVED):
            if kind in kinds:
                return kind
        return ABVerdict.SAME

    @property
    def head_name(self) -> str:
        """``working tree`` or ``HEAD (1a2b3c4d5e6f)``: what HEAD was, for messages."""
        if self.head_label == WORKING_TREE:
            return WORKING_TREE
        return f"{self.head_label} ({short_commit(self.head_commit)})"


ProgressCallback = Callable[[CompareProgress], None]


@dataclass(frozen=True, slots=True)
class Target:
    """What a comparison measures, resolved: BASE and HEAD commits and HEAD's label."""

    checkout: Path
    base_commit: str
    head_commit: str
    head_label: str


def resolve_target(
    config: Config,
    base: str,
    head: str | None = None,
    *,
    working_tree: bool = False,
    allow_dirty: bool = False,
) -> Target:
    """Resolve BASE and HEAD to commits, refusing a dirty tree that HEAD would not include.

    Args:
        config: The project's config (its folder names the repository).
        base: The BASE revision.
        head: The HEAD revision (default ``HEAD``); ignored with ``working_tree``.
        working_tree: HEAD is the working tree as it is (snapshotted).
        allow_dirty: Compare the commit HEAD although tracked files have
            uncommitted changes (they are not measured).

    Raises:
        CompareError: One line: not a repository, BASE or HEAD not a
            commit, a dirty tree.
    """
    try:
        checkout = repository_root(config.root)
        base_commit = _resolve(checkout, base, "BASE")
        if working_tree:
            snapshot = snapshot_working_tree(checkout, exclude=[config.artifacts_dir])
            return Target(checkout, base_commit, snapshot, WORKING_TREE)
        head_label = head or "HEAD"
        head_commit = _resolve(checkout, head_label, "HEAD")
        if not allow_dirty and head_commit == resolve_commit(checkout, "HEAD"):
            changed = dirty_paths(checkout)
            if changed:
                shown = ", ".join(changed[:3]) + (" …" if len(changed) > 3 else "")
                raise CompareError(
                    f"{checkout}: uncommitted changes in {len(changed)} tracked file(s) ({shown})"
                    " would not be measured: commit them, compare the working tree (--working-tree),"
                    " or --allow-dirty"
                )
    except WorktreeError as exc:
        raise CompareError(str(exc)) from None
    return Target(checkout, base_commit, head_commit, head_label)


def compare(
    config: Config,
    base: str,
    head: str | None = None,
    *,
    working_tree: bool = False,
    allow_dirty: bool = False,
    bench_setup: str | None = None,
    slo: str | None = None,
    only: Collection[str] | None = None,
    max_pairs: int = DEFAULT_MAX_PAIRS,
    min_pairs: int = MIN_PAIRS,
    tolerances: Mapping[str, float] | None = None,
    run_timeout: float | None = None,
    progress: ProgressCallback | None = None,
    check_same_code: bool = True,
    temp_parent: Path | None = None,
    cancel: threading.Event | None = None,
    target: Target | None = None,
    max_seconds: float | None = None,
) -> CompareResult:
    """Measure BASE and HEAD interleaved until every SLO is settled or the budget is spent.

    Args:
        config: The project's config (bench command, SLOs, tolerances).
        base: The BASE commit (any git revision).
        head: The HEAD commit (default ``HEAD``); ignored with ``working_tree``.
        working_tree: Compare the working tree as it is (uncommitted edits
            and new files included) against BASE.
        allow_dirty: Compare the commit HEAD even though tracked files have
            uncommitted changes (they are not measured).
        bench_setup: The setup command (default: the config's ``bench_setup``).
        slo: Measure only this SLO (the bench command's ``{slo}``).
        only: Decide only on these SLOs (others the runs measure are ignored).
        max_pairs: The pair budget.
        min_pairs: Fewest pairs before a verdict.
        tolerances: Per SLO, the ± band of "same" (default: the config's,
            else 5 %).
        run_timeout: Seconds one bench run may take.
        progress: Called at each stage and after every run (may raise
            ``KeyboardInterrupt`` to stop: the worktrees are removed all the same).
        check_same_code: Refuse when both sides would measure the same code.
        temp_parent: Where the temporary folder is made (default: the system's).
        cancel: When set, the comparison stops (the running command too) and
            :class:`CompareCancelled` is raised.
        target: BASE and HEAD already resolved (:func:`resolve_target`);
            ``base``, ``head``, ``working_tree`` and ``allow_dirty`` are then unused.
        max_seconds: A time budget: no new pair starts after this many
            seconds (setup included); what is unknown then is final.

    Returns:
        The decisions.

    Raises:
        CompareError: Naming the problem in one line (BASE not a commit,
            dirty tree, setup failing, worktree not made, bench command
            failing or writing no run, same code on both sides, cancelled).
    """
    started = time.monotonic()
    if min_pairs < 2 or max_pairs < min_pairs:
        raise CompareError(f"the pair budget must be at least {max(min_pairs, 2)} pairs, got {max_pairs}")
    if target is None:
        target = resolve_target(config, base, head, working_tree=working_tree, allow_dirty=allow_dirty)
    session = _Session(target, max_pairs, started, progress, cancel)
    try:
        with contextlib.ExitStack() as stack:
            parent = stack.enter_context(scratch_folder("perfslo-compare-", temp_parent))
            sides: dict[str, ProjectCheckout] = {}
            for name, commit in ((BASE, target.base_commit), (HEAD, target.head_commit)):
                prepare = bench_setup if bench_setup is not None else config.bench_setup
                then = ", then bench setup" if prepare else ""
                session.report(f"checking out {name.upper()} {short_commit(commit)}{then}")
                sides[name] = stack.enter_context(
                    project_checkout(
                        config, commit, parent, name, repo=target.checkout, setup=bench_setup, cancel=cancel
                    )
                )
            session.check_cancel()
            if check_same_code:
                problems = [
                    problem
                    for side in sides.values()
                    for problem in static_trap_check(side.worktree, target.checkout, side.env)
                ]
                if problems:
                    raise CompareError("same code on both sides: " + problems[0])
            return _measure(
                session,
                sides,
                parent,
                slo=slo,
                only=only,
                min_pairs=min_pairs,
                tolerances=tolerances,
                config=config,
                run_timeout=run_timeout,
                check_same_code=check_same_code,
                max_seconds=max_seconds,
            )
    except BenchCancelled:
        raise CompareCancelled("compare cancelled") from None
    except WorktreeError as exc:
        if cancel is not None and cancel.is_set():
            raise CompareCancelled("compare cancelled") from None
        raise CompareError(str(exc)) from None


def _resolve(checkout: Path, rev: str, label: str) -> str:
    try:
        return resolve_commit(checkout, rev)
    except WorktreeError as exc:
        raise CompareError(f"{label} {exc}") from None


@dataclass
class _Session:
    target: Target
    max_pairs: int
    started: float
    progress: ProgressCallback | None
    cancel: threading.Event | None
    pairs_done: int = 0
    decisions: dict[str, ABDecision] = field(default_factory=dict)
    last_order: tuple[str, str] | None = None

    def report(self, status: str) -> None:
        self.check_cancel()
        if self.progress is not None:
            self.progress(
                CompareProgress(
                    self.pairs_done,
                    self.max_pairs,
                    dict(self.decisions),
                    time.monotonic() - self.started,
                    self.last_order,
                    status,
                    self.target.base_commit,
                    self.target.head_commit,
                )
            )

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise CompareCancelled("compare cancelled")


def _measure(
    session: _Session,
    sides: Mapping[str, ProjectCheckout],
    parent: Path,
    *,
    slo: str | None,
    only: Collection[str] | None,
    min_pairs: int,
    tolerances: Mapping[str, float] | None,
    config: Config,
    run_timeout: float | None,
    check_same_code: bool,
    max_seconds: float | None = None,
) -> CompareResult:
    trace = trace_environment(parent / "trace") if check_same_code else None
    procedures: dict[str, SequentialAB] = {}
    runs: list[SideRun] = []
    max_pairs = session.max_pairs
    for pair in range(max_pairs):
        order = (BASE, HEAD) if pair % 2 == 0 else (HEAD, BASE)
        measured: dict[str, Mapping[str, Sequence[float]]] = {}
        measured_refs: dict[str, Mapping[str, Sequence[float]]] = {}
        for name in order:
            session.report(f"pair {pair + 1}: running {name.upper()}")
            side = sides[name]
            extra: dict[str, str] = {}
            if trace is not None and pair == 0:
                extra = trace.environment(side.env, parent / "trace" / f"loaded-{name}")
            began = time.monotonic()
            samples, references = _run_once(side, slo, run_timeout, extra, session.cancel)
            runs.append(SideRun(pair, name, samples, time.monotonic() - began, references))
            measured[name] = samples
            measured_refs[name] = references
        if trace is not None and pair == 0:
            problems = loaded_pair_trap_check(
                sides[BASE], sides[HEAD], session.target.checkout, parent / "trace"
            )
            if problems:
                raise CompareError("same code on both sides: " + problems[0])
        names = sorted(set(measured[BASE]) & set(measured[HEAD]))
        if only is not None:
            missing = sorted(set(only) - set(names))
            if missing:
                raise CompareError(
                    f"{', '.join(missing)}: not measured by both BASE and HEAD runs"
                    f" (BASE: {', '.join(sorted(measured[BASE])) or 'none'};"
                    f" HEAD: {', '.join(sorted(measured[HEAD])) or 'none'})"
                )
            names = [n for n in names if n in only]
        if not names:
            raise CompareError(
                "BASE and HEAD runs share no SLO"
                f" (BASE: {', '.join(sorted(measured[BASE])) or 'none'};"
                f" HEAD: {', '.join(sorted(measured[HEAD])) or 'none'})"
            )
        for name in names:
            if name not in procedures:
                tolerance = _tolerance(name, tolerances, config)
                procedures[name] = SequentialAB(tolerance=tolerance, max_pairs=max_pairs, min_pairs=min_pairs)
            session.decisions[name] = procedures[name].add_pair(
                measured[BASE][name],
                measured[HEAD][name],
                measured_refs[BASE].get(name),
                measured_refs[HEAD].get(name),
            )
        session.pairs_done = pair + 1
        session.last_order = order
        if max_seconds is not None and time.monotonic() - session.started >= max_seconds:
            # The time budget is spent: the pairs so far are all there will be.
            for procedure in procedures.values():
                procedure.max_pairs = min(procedure.max_pairs, max(session.pairs_done, min_pairs))
            session.decisions = {name: procedure.decision() for name, procedure in procedures.items()}
        settled = session.pairs_done >= min_pairs and all(d.settled for d in session.decisions.values())
        session.report("settled" if settled or session.pairs_done >= max_pairs else "measuring")
        if settled:
            break
    final = {name: procedure.decision() for name, procedure in procedures.items()}
    return CompareResult(
        base_commit=session.target.base_commit,
        head_commit=session.target.head_commit,
        head_label=session.target.head_label,
        decisions=final,
        pairs=session.pairs_done,
        elapsed=time.monotonic() - session.started,
        runs=tuple(runs),
    )


def _tolerance(name: str, tolerances: Mapping[str, float] | None, config: Config) -> float:
    if tolerances and name in tolerances:
        return tolerances[name]
    slo_config = config.slos.get(name)
    return slo_config.tolerance if slo_config is not None else DEFAULT_TOLERANCE


def _run_once(
    side: ProjectCheckout,
    slo: str | None,
    run_timeout: float | None,
    env: Mapping[str, str],
    cancel: threading.Event | None,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    label = f"{side.label.upper()} ({short_commit(side.commit)})"
    try:
        new = side.run_bench(slo=slo, timeout=run_timeout, extra_env=env, cancel=cancel)
    except BenchCancelled:
        raise
    except BenchCommandError as exc:
        raise CompareError(f"{label}: {exc}") from None
    if not new:
        raise CompareError(
            f"{label}: the bench command wrote no run file into PERFSLO_ARTIFACTS"
            f" ({side.artifacts}): it must write its runs where that variable says"
        )
    try:
        return read_bench_runs(new)
    except ArtifactError as exc:
        raise CompareError(f"{label}: {exc}") from None


def describe(decision: ABDecision) -> str:
    """The estimate so far, for progress: ``+12.3% (95% CI +8.1…+16.6%) regressed``.

    ``measuring`` until the decision is settled; before three kept pairs
    there is no interval yet (``+12.3% (no interval yet) measuring``).
    """
    if decision.pairs == 0:
        left_out = f" ({decision.skipped} left out: no steady state)" if decision.skipped else ""
        return f"no pair kept yet{left_out}"
    word = decision.verdict.value if decision.settled else "measuring"
    return f"{decision.interval} {word}"

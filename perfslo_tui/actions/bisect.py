"""``perfslo bisect GOOD BAD --slo NAME``: the first commit where an SLO got slower.

A plain binary search with one run per commit (``asv find``) trusts a single
noisy timing at every step, and one wrong step names the wrong commit. Here
every step is a sequential statistical decision on interleaved runs, as
Chromium's Pinpoint does:

1. **GOOD against BAD.** Both are checked out in temporary worktrees
   (:func:`~perfslo_tui.actions.worktree.project_checkout`, with
   ``bench_setup``) and measured in pairs, ABBA order, until the sequential
   test of :mod:`perfslo_tui.verdict.ab` settles (within the SLO's
   tolerance). Only *regressed* goes on: the size of the step, ``Δ``, is its
   estimate. The first pair also runs the same-code checks of
   :mod:`perfslo_tui.actions.same_code`.
2. **Each tested commit M against GOOD.** Pairs (GOOD, M) are measured until
   the pair differences show M's level on one side of the midpoint between
   GOOD and BAD (``log(1 + Δ) / 2``): the same sequential procedure
   (:func:`~perfslo_tui.verdict.ab.decide`, trimmed-mean interval at the
   per-look confidence, a look after every ABBA block), asked whether the
   shifted differences lie above zero (*like BAD*: bad) or below it (*same as
   GOOD*: good). When the pair budget is spent first the commit is
   *undecided* and skipped, like a commit whose ``bench_setup`` or bench
   command fails (``git bisect skip``): the search tries a neighbour.
3. The commit list is BAD's first-parent line back to GOOD; the culprit is
   the first bad commit, or, with skipped commits in the way, the few
   commits it must be one of.

GOOD's worktree stays for the whole search (it is measured at every step);
each tested commit gets its own, removed after its decision. The user's
checkout, index and branches are never touched; every worktree is removed
on every exit, Ctrl-C included. Pure library: progress goes to a callback.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from perfslo_tui.actions.bench import BenchCancelled, BenchCommandError, build_command
from perfslo_tui.actions.same_code import (
    loaded_pair_trap_check,
    static_trap_check,
    trace_environment,
)
from perfslo_tui.actions.worktree import (
    ProjectCheckout,
    WorktreeError,
    git,
    project_checkout,
    read_bench_runs,
    repository_root,
    resolve_commit,
    scratch_folder,
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
    decide,
)

# The shifted test must never answer "same": only above or below the midpoint.
_NO_SAME = 1e-12


class BisectError(Exception):
    """Bad input or a failure that stops the bisection: one line (exit 2)."""


class BisectCancelled(BisectError):
    """The bisection was cancelled (its ``cancel`` event was set)."""


class CommitVerdict(StrEnum):
    """What a tested commit turned out to be."""

    GOOD = "good"
    BAD = "bad"
    UNDECIDED = "undecided"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class TestedCommit:
    """One commit the search measured (or tried to).

    Attributes:
        commit: Its full id.
        subject: Its subject line.
        position: Its place in the range (1 = the first commit after GOOD).
        verdict: Good, bad, undecided (the budget ran out) or skipped.
        change: M against GOOD: the decision on the unshifted pair
            differences (its estimate and interval), None when skipped.
        pairs: Pairs measured (left-out pairs included).
        seconds: Wall time it took (checkout and setup included).
        reason: Why it was skipped or undecided.
    """

    commit: str
    subject: str
    position: int
    verdict: CommitVerdict
    change: ABDecision | None
    pairs: int
    seconds: float
    reason: str = ""

    @property
    def evidence(self) -> str:
        """``+14.8% (95% CI +12.1…+17.5%) vs GOOD, 6 pairs`` or the reason it was skipped."""
        if self.change is None or self.change.pairs == 0:
            return self.reason or "not measured"
        text = f"{self.change.interval} vs GOOD, {self.pairs} pairs"
        return f"{text}; {self.reason}" if self.reason else text


@dataclass(frozen=True, slots=True)
class BisectProgress:
    """Reported at each stage and after every pair.

    Attributes:
        status: What is happening (``testing a1b2c3d (16 of 32): pair 3``).
        tested: The commits decided so far, in the order tested.
        left: Commits still between the last good and the first bad one.
        steps_left: Tests still needed at most (``ceil(log2(left + 1))``).
        runs: Bench runs so far.
        elapsed: Seconds so far.
    """

    status: str
    tested: tuple[TestedCommit, ...]
    left: int
    steps_left: int
    runs: int
    elapsed: float


@dataclass(frozen=True, slots=True)
class BisectResult:
    """The outcome.

    Attributes:
        slo: The SLO.
        good: GOOD's full id.
        bad: BAD's full id.
        commits: Commits from GOOD (excluded) to BAD (included), oldest first.
        step: GOOD against BAD.
        culprit: The first bad commit, when one is named.
        candidates: When skipped commits leave it open, the commits the
            first bad one is among (oldest first); else empty.
        tested: Every tested commit, in the order tested.
        runs: Bench runs in all.
        elapsed: Seconds in all.
    """

    slo: str
    good: str
    bad: str
    commits: tuple[str, ...]
    step: ABDecision
    culprit: str | None
    candidates: tuple[str, ...] = ()
    tested: tuple[TestedCommit, ...] = ()
    runs: int = 0
    elapsed: float = 0.0

    @property
    def regressed(self) -> bool:
        """GOOD against BAD showed a slowdown (the search ran)."""
        return self.step.verdict is ABVerdict.REGRESSED


ProgressCallback = Callable[[BisectProgress], None]


@dataclass(frozen=True, slots=True)
class Range:
    """GOOD, BAD and the commits between, resolved.

    Attributes:
        checkout: The repository's top folder.
        good: GOOD's full id.
        bad: BAD's full id.
        commits: BAD's first-parent line after GOOD, oldest first (BAD last).
        subjects: Each commit's subject line.
    """

    checkout: Path
    good: str
    bad: str
    commits: tuple[str, ...]
    subjects: dict[str, str] = field(default_factory=dict)


def resolve_range(config: Config, good: str, bad: str) -> Range:
    """Resolve GOOD and BAD and list the commits between them.

    Raises:
        BisectError: Not a repository, GOOD or BAD not a commit, GOOD not an
            ancestor of BAD, or not on BAD's first-parent line.
    """
    try:
        checkout = repository_root(config.root)
        good_id = _resolve(checkout, good, "GOOD")
        bad_id = _resolve(checkout, bad, "BAD")
        if good_id == bad_id:
            raise BisectError(
                f"GOOD and BAD are the same commit ({short_commit(good_id)}): nothing to bisect"
            )
        if not _is_ancestor(checkout, good_id, bad_id):
            raise BisectError(
                f"GOOD {good} ({short_commit(good_id)}) is not an ancestor of BAD {bad}"
                f" ({short_commit(bad_id)}): bisect needs GOOD to come before BAD in BAD's history"
            )
        lines = git(checkout, "log", "--first-parent", "--reverse", "--format=%H %s", f"{good_id}..{bad_id}")
    except WorktreeError as exc:
        raise BisectError(str(exc)) from None
    commits: list[str] = []
    subjects: dict[str, str] = {}
    for line in lines.splitlines():
        commit, _, subject = line.partition(" ")
        commits.append(commit)
        subjects[commit] = subject
    first_parent = git(checkout, "rev-parse", f"{commits[0]}^") if commits else ""
    if not commits or first_parent != good_id:
        raise BisectError(
            f"GOOD {short_commit(good_id)} is an ancestor of BAD but not on its first-parent line"
            f" (it came in through a merge): pick GOOD from `git log --first-parent {bad}`"
        )
    return Range(checkout, good_id, bad_id, tuple(commits), subjects)


def _is_ancestor(checkout: Path, first: str, second: str) -> bool:
    import subprocess

    done = subprocess.run(
        ["git", "merge-base", "--is-ancestor", first, second],
        cwd=checkout,
        capture_output=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode == 0


def _resolve(checkout: Path, rev: str, label: str) -> str:
    try:
        return resolve_commit(checkout, rev)
    except WorktreeError as exc:
        raise BisectError(f"{label} {exc}") from None


def suggested_command(slo: str, good: str, bad: str) -> str:
    """The command line that bisects ``slo`` between two commits (shell-quoted)."""
    import shlex

    return f"perfslo bisect {short_commit(good)} {short_commit(bad)} --slo {shlex.quote(slo)}"


def steps_for(left: int) -> int:
    """Tests a binary search needs at most over ``left`` undecided commits."""
    return math.ceil(math.log2(left + 1)) if left > 0 else 0


def bisect(
    config: Config,
    good: str,
    bad: str,
    slo: str,
    *,
    max_pairs: int = DEFAULT_MAX_PAIRS,
    min_pairs: int = MIN_PAIRS,
    tolerance: float | None = None,
    bench_setup: str | None = None,
    run_timeout: float | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    check_same_code: bool = True,
    temp_parent: Path | None = None,
    span: Range | None = None,
) -> BisectResult:
    """Find the first commit between GOOD and BAD where ``slo`` got slower.

    Args:
        config: The project's config (bench command, ``bench_setup``, SLOs).
        good: A commit where the SLO was fast.
        bad: A later commit (GOOD its ancestor) where it is slow.
        slo: The SLO to follow (the bench command's ``{slo}``).
        max_pairs: The pair budget of each decision.
        min_pairs: Fewest pairs before a decision.
        tolerance: The ± band of "same" for GOOD against BAD (default: the
            SLO's, else 5 %).
        bench_setup: The setup command (default: the config's).
        run_timeout: Seconds one bench run may take.
        progress: Called at each stage and after every pair (may raise
            ``KeyboardInterrupt``: the worktrees are removed all the same).
        cancel: When set, the search stops and :class:`BisectCancelled` is raised.
        check_same_code: Refuse when the worktrees would measure the checkout's code.
        temp_parent: Where the temporary folder is made.
        span: GOOD, BAD and the commits between, already resolved.

    Raises:
        BisectError: One line: bad input, GOOD/BAD cannot be measured, the
            same-code trap, cancelled.
    """
    started = time.monotonic()
    if min_pairs < 2 or max_pairs < min_pairs:
        raise BisectError(f"the pair budget must be at least {max(min_pairs, 2)} pairs, got {max_pairs}")
    span = span if span is not None else resolve_range(config, good, bad)
    slo_config = config.slos.get(slo)
    band = tolerance if tolerance is not None else slo_config.tolerance if slo_config else DEFAULT_TOLERANCE
    session = _Session(config, span, slo, started, progress, cancel, max_pairs, min_pairs, run_timeout)
    try:
        build_command(config, slo)
    except BenchCommandError as exc:
        raise BisectError(str(exc)) from None
    try:
        with contextlib.ExitStack() as stack:
            parent = stack.enter_context(scratch_folder("perfslo-bisect-", temp_parent))
            setup = bench_setup if bench_setup is not None else config.bench_setup
            then = ", then bench setup" if setup else ""
            session.report(f"checking out GOOD {short_commit(span.good)}{then}", len(span.commits))
            good_side = stack.enter_context(
                project_checkout(
                    config, span.good, parent, "good", repo=span.checkout, setup=bench_setup, cancel=cancel
                )
            )
            session.report(f"checking out BAD {short_commit(span.bad)}{then}", len(span.commits))
            with project_checkout(
                config, span.bad, parent, "bad", repo=span.checkout, setup=bench_setup, cancel=cancel
            ) as bad_side:
                if check_same_code:
                    for side in (good_side, bad_side):
                        problems = static_trap_check(side.worktree, span.checkout, side.env)
                        if problems:
                            raise BisectError("same code in every worktree: " + problems[0])
                step = session.measure_step(good_side, bad_side, band, parent, check_same_code)
            if step.verdict is not ABVerdict.REGRESSED:
                return session.result(step, None)
            return session.search(good_side, parent, step, bench_setup)
    except BenchCancelled:
        raise BisectCancelled("bisect cancelled") from None
    except WorktreeError as exc:
        if cancel is not None and cancel.is_set():
            raise BisectCancelled("bisect cancelled") from None
        raise BisectError(str(exc)) from None


@dataclass
class _Session:
    config: Config
    span: Range
    slo: str
    started: float
    progress: ProgressCallback | None
    cancel: threading.Event | None
    max_pairs: int
    min_pairs: int
    run_timeout: float | None
    runs: int = 0
    tested: list[TestedCommit] = field(default_factory=list)
    left: int = 0

    def report(self, status: str, left: int | None = None) -> None:
        self.check_cancel()
        if left is not None:
            self.left = left
        if self.progress is not None:
            self.progress(
                BisectProgress(
                    status,
                    tuple(self.tested),
                    self.left,
                    steps_for(self.left),
                    self.runs,
                    time.monotonic() - self.started,
                )
            )

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise BisectCancelled("bisect cancelled")

    def result(self, step: ABDecision, culprit: str | None, candidates: Sequence[str] = ()) -> BisectResult:
        return BisectResult(
            slo=self.slo,
            good=self.span.good,
            bad=self.span.bad,
            commits=self.span.commits,
            step=step,
            culprit=culprit,
            candidates=tuple(candidates),
            tested=tuple(self.tested),
            runs=self.runs,
            elapsed=time.monotonic() - self.started,
        )

    # ------------------------------------------------------------------ measuring

    def run(
        self, side: ProjectCheckout, env: dict[str, str] | None = None
    ) -> tuple[list[float], list[float]]:
        """One bench run of ``side``: the SLO's samples and its reference series (empty when unpaired)."""
        self.check_cancel()
        label = f"{side.label.upper()} ({short_commit(side.commit)})"
        try:
            new = side.run_bench(slo=self.slo, timeout=self.run_timeout, extra_env=env, cancel=self.cancel)
        except BenchCancelled:
            raise
        except BenchCommandError as exc:
            raise _SideFailed(side.label, f"{label}: {exc}") from None
        finally:
            self.runs += 1
        if not new:
            raise _SideFailed(
                side.label,
                f"{label}: the bench command wrote no run file into PERFSLO_ARTIFACTS ({side.artifacts})",
            )
        try:
            by_slo, references = read_bench_runs(new)
        except ArtifactError as exc:
            raise _SideFailed(side.label, f"{label}: {exc}") from None
        samples = by_slo.get(self.slo, [])
        if not samples:
            raise _SideFailed(side.label, f"{label}: the bench command's run has no samples of {self.slo}")
        return samples, references.get(self.slo, [])

    def pair(
        self,
        first: ProjectCheckout,
        second: ProjectCheckout,
        number: int,
        procedure: SequentialAB,
        envs: dict[str, dict[str, str]] | None = None,
    ) -> ABDecision:
        """One pair, in ABBA order (``first`` is GOOD); returns the unshifted decision."""
        order = (first, second) if number % 2 == 0 else (second, first)
        measured: dict[str, tuple[list[float], list[float]]] = {}
        for side in order:
            measured[side.label] = self.run(side, (envs or {}).get(side.label))
        base, head = measured[first.label], measured[second.label]
        return procedure.add_pair(base[0], head[0], base[1] or None, head[1] or None)

    def measure_step(
        self,
        good: ProjectCheckout,
        bad: ProjectCheckout,
        tolerance: float,
        parent: Path,
        check_same_code: bool,
    ) -> ABDecision:
        """GOOD against BAD until the sequential test settles."""
        procedure = SequentialAB(tolerance=tolerance, max_pairs=self.max_pairs, min_pairs=self.min_pairs)
        trace = trace_environment(parent / "trace") if check_same_code else None
        decision = procedure.decision()
        for number in range(self.max_pairs):
            self.report(
                f"GOOD {short_commit(good.commit)} vs BAD {short_commit(bad.commit)}: pair {number + 1}"
                + (f", {_estimate(decision)}" if decision.pairs else "")
            )
            envs = None
            if trace is not None and number == 0:
                envs = {
                    side.label: trace.environment(side.env, parent / "trace" / f"loaded-{side.label}")
                    for side in (good, bad)
                }
            try:
                decision = self.pair(good, bad, number, procedure, envs)
            except _SideFailed as exc:
                raise BisectError(str(exc)) from None
            if trace is not None and number == 0:
                problems = loaded_pair_trap_check(good, bad, self.span.checkout, parent / "trace")
                if problems:
                    raise BisectError("same code in every worktree: " + problems[0])
            if decision.settled and procedure.pairs_done >= self.min_pairs:
                break
        return procedure.decision()

    def classify(
        self, good: ProjectCheckout, side: ProjectCheckout, midpoint: float, position: int
    ) -> TestedCommit:
        """Pairs (GOOD, M) until M's level lies clearly on GOOD's or BAD's side of the midpoint."""
        began = time.monotonic()
        procedure = SequentialAB(
            tolerance=DEFAULT_TOLERANCE, max_pairs=self.max_pairs, min_pairs=self.min_pairs
        )
        subject = self.span.subjects.get(side.commit, "")
        verdict = CommitVerdict.UNDECIDED
        change = procedure.decision()
        total = len(self.span.commits)
        for number in range(self.max_pairs):
            shown = f", {change.interval} vs GOOD" if change.pairs else ""
            self.report(
                f"testing {short_commit(side.commit)} ({position} of {total}): pair {number + 1}{shown}"
            )
            try:
                change = self.pair(good, side, number, procedure)
            except _SideFailed as exc:
                if exc.side == good.label:  # GOOD stopped working: no decision can be made any more
                    raise BisectError(str(exc)) from None
                return TestedCommit(
                    side.commit,
                    subject,
                    position,
                    CommitVerdict.SKIPPED,
                    None,
                    procedure.pairs_done,
                    time.monotonic() - began,
                    str(exc),
                )
            shifted = [d - midpoint for d in procedure.differences]
            budget = max(self.max_pairs - procedure.skipped, self.min_pairs)
            side_of = decide(
                shifted,
                tolerance=_NO_SAME,
                max_pairs=budget,
                min_pairs=self.min_pairs,
                skipped=procedure.skipped,
            )
            if side_of.verdict is ABVerdict.REGRESSED:
                verdict = CommitVerdict.BAD
                break
            if side_of.verdict is ABVerdict.IMPROVED:
                verdict = CommitVerdict.GOOD
                break
        reason = ""
        if verdict is CommitVerdict.UNDECIDED:
            reason = f"undecided after {procedure.pairs_done} pairs (the pair budget): skipped"
        return TestedCommit(
            side.commit,
            subject,
            position,
            verdict,
            procedure.decision(),
            procedure.pairs_done,
            time.monotonic() - began,
            reason,
        )

    # ------------------------------------------------------------------ searching

    def search(
        self, good: ProjectCheckout, parent: Path, step: ABDecision, bench_setup: str | None
    ) -> BisectResult:
        commits = self.span.commits
        midpoint = math.log1p(step.change) / 2.0
        low, high = -1, len(commits) - 1  # low: known good (GOOD itself), high: known bad (BAD)
        skipped: set[int] = set()
        while high - low > 1:
            index = _pick(low, high, skipped)
            if index is None:
                break
            commit = commits[index]
            self.report(
                f"checking out {short_commit(commit)} ({index + 1} of {len(commits)})", high - low - 1
            )
            label = f"c{index + 1}"
            try:
                with project_checkout(
                    self.config,
                    commit,
                    parent,
                    label,
                    repo=self.span.checkout,
                    setup=bench_setup,
                    cancel=self.cancel,
                ) as side:
                    tested = self.classify(good, side, midpoint, index + 1)
            except WorktreeError as exc:
                if self.cancel is not None and self.cancel.is_set():
                    raise
                tested = TestedCommit(
                    commit,
                    self.span.subjects.get(commit, ""),
                    index + 1,
                    CommitVerdict.SKIPPED,
                    None,
                    0,
                    0.0,
                    str(exc),
                )
            self.tested.append(tested)
            if tested.verdict is CommitVerdict.GOOD:
                low = index
            elif tested.verdict is CommitVerdict.BAD:
                high = index
            else:
                skipped.add(index)
            self.report(f"{short_commit(commit)}: {tested.verdict.value}", high - low - 1 - len(skipped))
        if high - low == 1:
            return self.result(step, commits[high])
        return self.result(step, None, commits[low + 1 : high + 1])


class _SideFailed(Exception):
    """A side's bench run failed or wrote nothing usable (skips a tested commit; stops on GOOD or BAD)."""

    def __init__(self, side: str, message: str) -> None:
        super().__init__(message)
        self.side = side


def _pick(low: int, high: int, skipped: set[int]) -> int | None:
    """The untested commit nearest the middle of (low, high), or None when all are skipped."""
    middle = (low + high) // 2
    candidates = [i for i in range(low + 1, high) if i not in skipped]
    if not candidates:
        return None
    return min(candidates, key=lambda i: (abs(i - middle), i))


def _estimate(decision: ABDecision) -> str:
    return f"{decision.interval}"

"""Interleaved A/B decisions: did HEAD regress, improve, or stay the same as BASE?

The data are **pairs of whole processes**: one run of BASE and one of HEAD,
back to back, in ABBA order (BASE-HEAD, HEAD-BASE, ...), each process
reporting its steady samples (:mod:`perfslo_tui.runs.steady`). A pair's
difference is ``level(HEAD) - level(BASE)``, a process's level being the log
of its fastest steady sample, over its reference workload's fastest time when
the run has the reference series (:func:`run_level`).

Why pairs of processes, and several: on the reference machine a process
carries its own bias of ~3-5 % (memory layout, hash seed; Mytkowicz et al.,
ASPLOS 2009), so intervals from one process's samples are far too narrow
(``docs/compare.md``). The pair differences are the
independent observations; the machine's load hits both halves of a pair
alike, and ABBA order cancels a linear drift and any first/second bias.

The rule, applied after every whole ABBA block (an even number of pairs) from
``MIN_PAIRS`` on:

* the centre of the pair differences is their 20 % trimmed mean, with the
  Tukey-McLaughlin interval (``scipy.stats.mstats.trimmed_mean_ci``): a few
  pairs hit by a burst of load or a change of the machine's speed do not
  decide, and do not widen the interval much;
* **same** when the whole interval lies within ``±tolerance`` (an
  equivalence test: the change is *shown* to be small);
* **regressed** / **improved** when the interval lies above / below zero;
* otherwise **unknown**, and more pairs are measured, up to a budget.

Looking after every block inflates the error of a fixed-size test, so each
look uses the ``LOOK_CONFIDENCE`` level; measured by simulation over the
looks of a 20-pair budget it keeps the chance of a false regressed/improved
verdict on identical code under 5 % (see :data:`LOOK_CONFIDENCE`). The
interval reported is that one: the procedure's 95 % interval.

The gate attaches a finished decision to an SLO's result as an
:class:`ABConfirmation` (``perfslo check --confirm``), so every view reads
the same verdict.

This module is pure numpy/scipy (scipy imported inside the functions that
need it, never at start-up): no TUI, report or action imports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike

from perfslo_tui.runs.steady import SteadyState, detect_steady
from perfslo_tui.text import short_commit

DEFAULT_TOLERANCE = 0.05
# Fewest pairs before the first look (two ABBA blocks).
MIN_PAIRS = 4
DEFAULT_MAX_PAIRS = 20
# Share of pairs trimmed at each end before taking the mean.
TRIM = 0.2
# Confidence of the interval at each look. Chosen by simulation (see
# benchmarks/ab_compare.py --simulate): with looks after every ABBA block up
# to 20 pairs, this level kept false regressed/improved verdicts on identical
# code below 5 % overall.
LOOK_CONFIDENCE = 0.99
# More pairs than this are not proposed: at the measured noise, measuring
# cannot settle the question in reasonable time.
MAX_SUGGESTED_PAIRS = 200


class ABVerdict(StrEnum):
    """What the pairs say about HEAD against BASE."""

    REGRESSED = "regressed"
    IMPROVED = "improved"
    SAME = "same"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ABDecision:
    """The decision after some pairs.

    Attributes:
        verdict: Regressed, improved, same or unknown.
        pairs: Pairs the decision is based on.
        change: Estimated relative change of HEAD against BASE.
        ci_low: Lower end of the interval of the change (relative).
        ci_high: Upper end of the interval of the change (relative).
        tolerance: The ± band within which HEAD counts as the same.
        noise: Robust standard deviation of one pair's log difference
            (``sqrt(n)`` times the trimmed mean's standard error), or None
            with fewer than three pairs.
        settled: True when measuring more would not change the verdict: a
            verdict other than unknown, or the pair budget is spent.
        pairs_needed: Estimated total pairs to settle an unknown verdict at
            the measured noise, or None when not unknown or beyond
            ``MAX_SUGGESTED_PAIRS``.
        skipped: Pairs left out because a side had no steady state.
    """

    verdict: ABVerdict
    pairs: int
    change: float
    ci_low: float
    ci_high: float
    tolerance: float
    noise: float | None
    settled: bool
    pairs_needed: int | None = None
    skipped: int = 0

    @property
    def interval(self) -> str:
        """``+12.3% (95% CI +8.1…+16.6%)``; no interval before three pairs."""
        if math.isinf(self.ci_high):
            return f"{self.change:+.1%} (no interval yet)"
        return f"{self.change:+.1%} (95% CI {self.ci_low:+.1%}…{self.ci_high:+.1%})"

    @property
    def message(self) -> str:
        """One line saying what the pairs show, and what to do when they do not settle it."""
        base = f"{self.verdict.value} {self.interval} after {self.pairs} pairs"
        if self.skipped:
            base += f" ({self.skipped} left out: no steady state)"
        if self.verdict is ABVerdict.SAME:
            return f"same: {self.interval} is within ±{self.tolerance:.0%} after {self.pairs} pairs"
        if self.verdict is not ABVerdict.UNKNOWN:
            return base
        if not self.settled:
            return f"measuring: {self.interval} after {self.pairs} pairs"
        if self.unsteady:
            return (
                f"unknown: {self.interval} after {self.pairs} pairs; {self.skipped} pairs left out"
                " because a run had no steady state"
            )
        if self.pairs_needed is None:
            return (
                f"inconclusive: {self.interval} after {self.pairs} pairs; at this noise more than"
                f" {MAX_SUGGESTED_PAIRS} pairs would be needed: stabilise the machine or the benchmark"
            )
        return (
            f"unknown: {self.interval} after {self.pairs} pairs;"
            f" about {self.pairs_needed} pairs would settle it"
        )

    @property
    def unsteady(self) -> bool:
        """True when at least as many pairs were left out (no steady state) as kept."""
        return self.skipped > 0 and self.skipped >= self.pairs

    @property
    def action(self) -> str | None:
        """What would settle an unknown verdict (``raise the pair budget to 48``), or None."""
        if self.verdict is not ABVerdict.UNKNOWN or not self.settled:
            return None
        if self.unsteady:
            return "raise the warm-up or the sample count (PERF_ITERATIONS): runs did not settle"
        if self.pairs_needed is None:
            return None
        return f"raise the pair budget to {self.pairs_needed}"


def run_level(
    samples: ArrayLike | Sequence[float], reference: ArrayLike | Sequence[float] | None = None
) -> float:
    """A process's level: the log of its fastest (steady) sample, over its reference's when paired.

    The minimum, not the median: on a busy machine timing noise is one-sided
    (preemption, the sibling hyperthread, cache pressure only ever add time;
    Chen and Revels, "Robust benchmarking in noisy environments", 2016), so the
    fastest sample is the steadiest estimate of the code's own cost. With the
    reference workload timed beside each sample (``<slo>@ref``, perfslo's
    harness), dividing by the reference's fastest time also cancels the speed
    the machine ran at in that process (it runs at two speeds). Chosen by
    measurement: on 12 trials of 16 pairs under a CPU hog at load 3-7, the
    robust spread of a pair's difference was 2.1 % with the reference ratio,
    4.6 % with the raw minimum, 5.6 % with the 10th percentile and 11 % with
    the median (``benchmarks/ab_compare.py``; validated on fresh trials there).

    Args:
        samples: The process's steady samples.
        reference: The reference timings paired with them, or None.

    Raises:
        ValueError: When there are no samples or one is not positive.
    """
    x = np.asarray(samples, dtype=float)
    if x.size == 0 or not (np.all(np.isfinite(x)) and float(x.min()) > 0):
        raise ValueError("a run level needs positive finite samples")
    level = float(np.log(x.min()))
    if reference is not None:
        r = np.asarray(reference, dtype=float)
        if r.shape == x.shape and np.all(np.isfinite(r)) and float(r.min()) > 0:
            level -= float(np.log(r.min()))
    return level


def _critical(pairs: int, confidence: float) -> float:
    from scipy import stats as sps

    kept = pairs - 2 * _trimmed_each_side(pairs)
    return float(sps.t.ppf(0.5 + confidence / 2.0, max(kept - 1, 1)))


def _trimmed_each_side(pairs: int) -> int:
    # The count trimr removes at each end (rounded, as with inclusive=True).
    return int(round(pairs * TRIM))


def pairs_to_settle(
    noise: float, change: float, tolerance: float, confidence: float = LOOK_CONFIDENCE
) -> int | None:
    """Total pairs for the interval to settle, at this noise and measured change.

    Same needs the half-width below ``tolerance - |change|``; regressed or
    improved needs it below ``|change|``; the smaller count wins. The
    half-width at ``n`` pairs is the one :func:`decide` will use:
    ``t(n) * noise / sqrt(n)`` with the trimmed mean's Student quantile.

    Args:
        noise: Robust standard deviation of one pair's log difference
            (:attr:`ABDecision.noise`).
        change: The measured change (relative).
        tolerance: The ± band of "same" (relative).
        confidence: The interval's confidence at a look.

    Returns:
        The total number of pairs (a whole number of ABBA blocks), or None
        when more than ``MAX_SUGGESTED_PAIRS`` would be needed.
    """
    m = abs(math.log1p(change))
    t = math.log1p(tolerance)
    margin = max(t - m, m)
    if margin <= 0:
        return None
    for n in range(MIN_PAIRS, MAX_SUGGESTED_PAIRS + 1, 2):
        if _critical(n, confidence) * noise / math.sqrt(n) < margin:
            return n
    return None


def decide(
    differences: ArrayLike | Sequence[float],
    tolerance: float = DEFAULT_TOLERANCE,
    max_pairs: int = DEFAULT_MAX_PAIRS,
    min_pairs: int = MIN_PAIRS,
    confidence: float = LOOK_CONFIDENCE,
    skipped: int = 0,
) -> ABDecision:
    """Decide from the pair differences measured so far.

    Args:
        differences: Per pair, ``log(HEAD level) - log(BASE level)``, in the
            order measured.
        tolerance: The ± band within which HEAD counts as the same.
        max_pairs: The pair budget: at this many pairs an unknown verdict
            is final.
        min_pairs: Fewest pairs before any verdict.
        confidence: Interval confidence at each look.
        skipped: Pairs left out (reported only).

    Returns:
        The decision. Before ``min_pairs``, or between whole ABBA blocks, the
        verdict is unknown and not settled.

    Raises:
        ValueError: On a tolerance outside (0, 1) or a budget below ``min_pairs``.
    """
    if not 0.0 < tolerance < 1.0:
        raise ValueError(f"tolerance must be in (0, 1), got {tolerance}")
    if max_pairs < min_pairs or min_pairs < 2:
        raise ValueError(f"need 2 <= min_pairs <= max_pairs, got {min_pairs} and {max_pairs}")
    d = np.asarray(differences, dtype=float).ravel()
    if not np.all(np.isfinite(d)):
        raise ValueError("pair differences must be finite")
    n = int(d.size)
    if n == 0:
        return ABDecision(
            ABVerdict.UNKNOWN, 0, 0.0, -math.inf, math.inf, tolerance, None, False, skipped=skipped
        )
    from scipy.stats import mstats

    noise: float | None
    if n >= 3 and float(d.max()) > float(d.min()):
        low, high = (float(v) for v in mstats.trimmed_mean_ci(d, limits=(TRIM, TRIM), alpha=1 - confidence))
        centre = (low + high) / 2.0
        noise = float(mstats.trimmed_stde(d, limits=(TRIM, TRIM))) * math.sqrt(n)
    else:
        centre = float(np.mean(d))
        low, high = (centre, centre) if n >= 3 else (-math.inf, math.inf)
        noise = 0.0 if n >= 3 else None
    look = n >= min_pairs and (n % 2 == 0 or n >= max_pairs)
    t = math.log1p(tolerance)
    verdict = ABVerdict.UNKNOWN
    if look:
        if -t < low and high < t:
            verdict = ABVerdict.SAME
        elif low > 0:
            verdict = ABVerdict.REGRESSED
        elif high < 0:
            verdict = ABVerdict.IMPROVED
    settled = verdict is not ABVerdict.UNKNOWN or n >= max_pairs
    needed = None
    if verdict is ABVerdict.UNKNOWN and noise is not None:
        needed = pairs_to_settle(noise, math.expm1(centre), tolerance, confidence)
        if needed is not None:
            needed = max(needed, n + 2)
    return ABDecision(
        verdict=verdict,
        pairs=n,
        change=math.expm1(centre),
        ci_low=math.expm1(low),
        ci_high=math.expm1(high),
        tolerance=tolerance,
        noise=noise,
        settled=settled,
        pairs_needed=needed,
        skipped=skipped,
    )


@dataclass
class SequentialAB:
    """The sequential A/B procedure for one SLO: feed pairs, read the decision.

    Each pair is one BASE process's samples and one HEAD process's samples.
    Each side's samples are tested for steady state first; a pair where a
    side has none is left out (and counted), so a run that never settled
    counts neither for nor against a regression.

    Attributes:
        tolerance: The ± band within which HEAD counts as the same.
        max_pairs: The pair budget.
        min_pairs: Fewest pairs before any verdict.
        differences: The kept pairs' log differences, in order.
        skipped: Pairs left out because a side had no steady state.
        last_states: The steady states of the last pair (BASE, HEAD).
    """

    tolerance: float = DEFAULT_TOLERANCE
    max_pairs: int = DEFAULT_MAX_PAIRS
    min_pairs: int = MIN_PAIRS
    differences: list[float] = field(default_factory=list)
    skipped: int = 0
    last_states: tuple[SteadyState, SteadyState] | None = None

    def add_pair(
        self,
        base_samples: Sequence[float],
        head_samples: Sequence[float],
        base_reference: Sequence[float] | None = None,
        head_reference: Sequence[float] | None = None,
    ) -> ABDecision:
        """Add one BASE/HEAD pair of runs (their samples in time order) and decide.

        The reference series are used only when both sides have one paired
        with their samples: a pair's two levels must be of the same kind.

        Returns:
            The decision with this pair included.
        """
        base, head = detect_steady(base_samples), detect_steady(head_samples)
        self.last_states = (base, head)
        if not (base.steady and head.steady):
            self.skipped += 1
            return self.decision()
        base_ref = _steady_part(base_reference, base)
        head_ref = _steady_part(head_reference, head)
        if base_ref is None or head_ref is None:
            base_ref = head_ref = None
        self.differences.append(run_level(head.samples, head_ref) - run_level(base.samples, base_ref))
        return self.decision()

    def add_difference(self, difference: float) -> ABDecision:
        """Add one pair's log difference directly (levels computed elsewhere)."""
        self.differences.append(float(difference))
        return self.decision()

    @property
    def pairs_done(self) -> int:
        """Pairs measured, kept or left out."""
        return len(self.differences) + self.skipped

    def decision(self) -> ABDecision:
        """The decision on the pairs so far (the budget counts left-out pairs too)."""
        result = decide(
            self.differences,
            tolerance=self.tolerance,
            max_pairs=max(self.max_pairs - self.skipped, self.min_pairs),
            min_pairs=self.min_pairs,
            skipped=self.skipped,
        )
        if not result.settled and self.pairs_done >= self.max_pairs:
            return ABDecision(
                verdict=result.verdict,
                pairs=result.pairs,
                change=result.change,
                ci_low=result.ci_low,
                ci_high=result.ci_high,
                tolerance=result.tolerance,
                noise=result.noise,
                settled=True,
                pairs_needed=result.pairs_needed,
                skipped=result.skipped,
            )
        return result

    @property
    def settled(self) -> bool:
        """True when the decision will not change with more pairs (or the budget is spent)."""
        return self.decision().settled


def _steady_part(reference: Sequence[float] | None, state: SteadyState) -> list[float] | None:
    """The reference timings of the steady samples, or None when they do not pair up."""
    if reference is None or len(reference) != state.count:
        return None
    return [float(v) for v in reference[state.steady_from :]]


@dataclass(frozen=True, slots=True)
class ABConfirmation:
    """A finished interleaved re-measurement of one SLO against the baseline's commit.

    The gate (``perfslo check --confirm``) attaches it to the SLO's result
    when it confirmed a suspected regression by comparing instead of
    re-running; the result's policy then follows :attr:`decision`.

    Attributes:
        decision: The settled decision (regressed, improved, same or unknown).
        base_commit: The baseline's commit (BASE).
        head: What was measured as HEAD: ``HEAD a1b2c3d4e5f6`` or ``working tree``.
    """

    decision: ABDecision
    base_commit: str
    head: str

    @property
    def verdict(self) -> ABVerdict:
        """The decision's verdict."""
        return self.decision.verdict

    @property
    def regressed(self) -> bool:
        """The compare showed a regression: a confirmed one."""
        return self.decision.verdict is ABVerdict.REGRESSED

    @property
    def cleared(self) -> bool:
        """The compare showed no regression (same, or improved)."""
        return self.decision.verdict in (ABVerdict.SAME, ABVerdict.IMPROVED)

    @property
    def label(self) -> str:
        """``confirmed by compare (8 pairs)``, ``cleared by compare (12 pairs)`` or ``unsettled …``."""
        word = "confirmed" if self.regressed else "cleared" if self.cleared else "not settled"
        return f"{word} by interleaved compare ({self.decision.pairs} pairs)"

    @property
    def action(self) -> str | None:
        """What would settle an unknown decision, as a command where one exists; else None."""
        decision = self.decision
        if decision.verdict is not ABVerdict.UNKNOWN:
            return None
        if decision.pairs_needed is not None and not decision.unsteady:
            base = short_commit(self.base_commit)
            return f"run `perfslo compare {base} --max-pairs {decision.pairs_needed}`"
        return decision.action

    @property
    def message(self) -> str:
        """One line: what was compared and what the pairs show (and the action, if unknown)."""
        text = f"interleaved compare, {self.head} vs baseline {short_commit(self.base_commit)}: "
        text += self.decision.message
        action = self.action
        if action is not None:
            text += f"; {action}"
        return text

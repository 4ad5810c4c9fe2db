"""When a comparison is inconclusive, and what would settle it.

"Inconclusive" used to be printed whenever an SLO's 95 % interval was wider
than its tolerance: on a noisy machine, on every SLO of every run, confirmed
violations included, with advice nobody could act on. Now it is said only
when the answer hangs on it and the gate cannot settle it itself:

* the change itself is past the tolerance (something looks slower: a change
  within the tolerance reads "stable", and its interval is shown beside it)
  and its interval straddles the regression threshold (twice the
  tolerance): from this run alone it may or may not be a regression; and
* the gate's own confirmation (``confirm_runs`` runs pooled against the
  baseline) would still be too imprecise: its 95 % half-width would exceed
  the tolerance, so a change at the threshold and no change could not be
  told apart.

The action comes from where the uncertainty comes from (:class:`NoiseParts`):

* the judged run's own samples (within-run error larger than the run-to-run
  noise): ``raise PERF_ITERATIONS to N``, with N from the standard error's
  1/√n;
* the run-to-run noise, when a few more runs would do:
  ``run `perfslo check --confirm K```;
* otherwise (more than :data:`MAX_RERUNS` runs needed, or the baseline's own
  uncertainty is wider than the tolerance): ``run `perfslo compare BASE
  HEAD```, which measures both commits interleaved in the same time window,
  so the machine's drift hits both alike.
"""

from __future__ import annotations

import math

from perfslo_tui.text import format_change
from perfslo_tui.verdict.model import Comparison
from perfslo_tui.verdict.stats import Z95

# More re-runs than this are not a sensible advice: interleaving is.
MAX_RERUNS = 10
# PERF_ITERATIONS advice is capped: past this, samples are not the problem.
MAX_ITERATIONS = 5000


def settle_action(cmp: Comparison, confirm: int, base: str, command: bool = False) -> str:
    """What would settle an inconclusive comparison with the baseline, or ``""`` when it is not.

    Args:
        cmp: The judged run against the baseline.
        confirm: The gate's ``confirm_runs``.
        base: The baseline's short commit (for the ``perfslo compare`` advice).
        command: The SLO is a command timed whole by ``perfslo run``: its
            sample count is the SLO's ``runs`` in the config, not
            ``PERF_ITERATIONS``.

    Returns:
        The text after ``inconclusive:``, or an empty string when the
        comparison settles the question or the gate's re-runs can.
    """
    estimate, parts = cmp.estimate, cmp.parts
    if estimate is None or parts is None or not cmp.judged:
        return ""
    threshold = 2.0 * cmp.tolerance
    if cmp.change <= cmp.tolerance or not estimate.ci_low <= threshold < estimate.ci_high:
        return ""
    target_var = (math.log1p(cmp.tolerance) / Z95) ** 2
    per_run = parts.run_noise**2 + parts.current_se**2
    if per_run / max(confirm, 1) + parts.reference_var <= target_var:
        return ""  # the gate's confirmation can settle it: unconfirmed, not inconclusive
    interval = f"[{format_change(estimate.ci_low)}, {format_change(estimate.ci_high)}]"
    what = (
        f"{format_change(estimate.change)} {interval}"
        f" vs baseline cannot tell a regression (> {format_change(threshold)}) from none;"
    )
    compare = f"run `perfslo compare {base} HEAD` (both commits measured interleaved, on this machine, now)"
    if parts.reference_var >= target_var:
        spread = math.expm1(Z95 * math.sqrt(parts.reference_var))
        return f"{what} the baseline itself is known only to ±{spread:.1%}: {compare}"
    room = target_var - parts.reference_var
    if parts.current_se > parts.run_noise:
        # Within-run error dominates: more samples shrink it as 1/sqrt(n).
        se_target_sq = confirm * room - parts.run_noise**2
        if se_target_sq > 0 and parts.samples > 0:
            needed = math.ceil(parts.samples * parts.current_se**2 / se_target_sq)
            if needed <= MAX_ITERATIONS:
                count = max(needed, parts.samples + 1)
                knob = "the SLO's `runs` in the config" if command else "PERF_ITERATIONS"
                return f"{what} raise {knob} to {count} (the run's own samples are too few)"
    runs = math.ceil(per_run / room)
    noise = f"run-to-run noise ±{math.expm1(parts.run_noise):.1%}"
    if runs <= MAX_RERUNS:
        return f"{what} {noise}: run `perfslo check --confirm {runs}`"
    return f"{what} {noise} would need {runs} runs: {compare}"

"""Evidence-based budgets: what each SLO's recent clean runs say its budget should be.

Pure functions over the :class:`~perfslo_tui.runs.history.RunHistory` and the
:class:`~perfslo_tui.verdict.model.Evaluation` (``perfslo budgets`` prints
them; :mod:`perfslo_tui.actions.budget_file` writes them into the config).

For each configured SLO and metric the evidence is the last ``runs`` *clean
comparable* runs:

* clean: not measured on a busy machine (the reference workload ran more
  than 10 % slower than the machine's quiet level, :func:`~perfslo_tui.verdict.levels.is_busy`;
  only times have a reference, instruction counts and memory are never busy);
* comparable: committed code (not a dirty work tree), and after the SLO's
  latest step change in the trend window when the step came with a new
  commit (the level before it is other code; a step within one commit is
  the machine, and its runs stay evidence).

From their medians (what the budget check compares): the median, the p95, the
run-to-run spread and the trend. The suggested budget is the rule's value
rounded *up* to two significant figures. The rule was chosen by measurement
(``benchmarks/budgets.py``, ``docs/budgets.md``).

A budget is flagged:

* **tight** when the rule's value (before rounding) is above it: normal
  noise alone would put more than the rule allows past the budget (DRIFT);
* **loose** when the median uses less than 70 % of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

import numpy as np
import polars as pl

from perfslo_tui.config import BUDGET_KEYS, METRIC_UNITS, Config, SLOConfig
from perfslo_tui.runs.files import REFERENCE_SUFFIX, metric_series
from perfslo_tui.runs.history import RunHistory, with_samples
from perfslo_tui.text import format_change, format_percent, format_value
from perfslo_tui.verdict.levels import RunLevel, is_busy, quiet_level, run_level
from perfslo_tui.verdict.model import Evaluation, SLOResult
from perfslo_tui.verdict.stats import DriftEstimate, drift, run_to_run_noise

DEFAULT_RUNS = 20
# Fewer clean runs than this give no suggestion: a p95 of four values is their maximum.
MIN_RUNS = 5
# A budget whose median run uses less than this is loose.
LOOSE_USE = 0.70
# Busy runs are found against the quiet level of this many runs per evidence run.
_LOOK_BACK = 3
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Rule:
    """A way to turn the evidence into a budget.

    Attributes:
        name: Its short name (``--rule``).
        text: How it reads in a report: ``p95 × (1 + 2t)``.
        value: ``(run medians, tolerance) -> budget`` before rounding.
    """

    name: str
    text: str
    value: Callable[[np.ndarray, float], float]


def _p95(values: np.ndarray) -> float:
    return float(np.quantile(values, 0.95))


def _noise(values: np.ndarray) -> float:
    """Run-to-run spread (relative SD, robust), 0 when too few runs to tell."""
    return run_to_run_noise(values) or 0.0


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule("p95", "p95 × (1 + 2t)", lambda v, t: _p95(v) * (1 + 2 * t)),
        Rule("max", "max × (1 + t)", lambda v, t: float(np.max(v)) * (1 + t)),
        Rule(
            "p95-noise",
            "max(p95 × (1 + 2t), median × e^(3σ))",
            lambda v, t: max(_p95(v) * (1 + 2 * t), float(np.median(v)) * math.exp(3 * _noise(v))),
        ),
    )
}
DEFAULT_RULE = "p95"


def round_up(value: float, figures: int = 2) -> float:
    """``value`` rounded up to ``figures`` significant figures: 1.234 → 1.3, 0.0871 → 0.088."""
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"a budget must be a finite number > 0, got {value!r}")
    exact = Decimal(repr(value))
    exponent = exact.adjusted() - figures + 1
    return float(exact.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_CEILING))


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the recent clean comparable runs of one SLO's metric say.

    Attributes:
        runs: The run medians used, oldest first.
        run_ids: Their run files.
        busy: Runs of the window left out as measured on a busy machine.
        dirty: Runs left out as measured on a dirty work tree.
        since_step: The run the window starts at because of a step change.
        median: Median of the run medians.
        p95: 95th percentile of the run medians.
        spread: Run-to-run spread (relative SD, robust), if enough runs.
        trend: Robust drift over the runs, if enough runs and a time span.
    """

    runs: tuple[float, ...]
    run_ids: tuple[str, ...]
    busy: int
    dirty: int
    since_step: str | None
    median: float
    p95: float
    spread: float | None
    trend: DriftEstimate | None

    @property
    def count(self) -> int:
        """Runs used."""
        return len(self.runs)

    def over(self, budget: float) -> int:
        """Runs whose median is over ``budget`` (DRIFT or worse)."""
        return sum(1 for v in self.runs if v > budget * (1 + 1e-9))


@dataclass(frozen=True, slots=True)
class BudgetAdvice:
    """One SLO's metric: its budget, the evidence, the suggestion and the flag.

    Attributes:
        slo: The SLO's name.
        metric: ``time``, ``instructions`` or ``peak_memory``.
        unit: The metric's unit.
        key: The config key of its budget (``budget``, ``budget_mb``...).
        budget: The current budget, or None.
        tolerance: The metric's tolerance.
        evidence: The evidence, or None without enough clean runs.
        rule: The rule used.
        exact: The rule's value before rounding, or None.
        suggested: The suggested budget (rounded up), or None.
        flag: ``tight``, ``loose``, ``ok``, ``no budget`` or ``no evidence``.
        target: The metric's target, if any (a suggestion never goes below it).
    """

    slo: str
    metric: str
    unit: str
    key: str
    budget: float | None
    tolerance: float
    evidence: Evidence | None
    rule: Rule
    exact: float | None
    suggested: float | None
    flag: str
    target: float | None = None

    @property
    def action(self) -> str:
        """``raise``, ``lower``, ``add`` or ``keep``: what ``--write`` would do."""
        if self.suggested is None or self.flag in ("ok", "no evidence"):
            return "keep"
        if self.budget is None:
            return "add"
        if self.suggested > self.budget:
            return "raise"
        if self.suggested < self.budget:
            return "lower"
        return "keep"

    @property
    def used(self) -> float | None:
        """The evidence's median as a fraction of the budget."""
        if self.evidence is None or self.budget is None:
            return None
        return self.evidence.median / self.budget

    @property
    def reason(self) -> str:
        """Why it is flagged, in one line."""
        ev = self.evidence
        if ev is None:
            return "not enough clean runs to judge"
        fmt = self.format
        if self.flag == "no budget":
            return f"measured without a budget: median {fmt(ev.median)}, p95 {fmt(ev.p95)}"
        assert self.budget is not None
        used = format_percent(100 * ev.median / self.budget)
        if self.flag == "tight":
            over = ev.over(self.budget)
            return (
                f"{over} of {ev.count} clean runs over budget; p95 {fmt(ev.p95)} is "
                f"{format_percent(100 * ev.p95 / self.budget)} of it: normal noise violates it"
            )
        if self.flag == "loose":
            return f"median {fmt(ev.median)} uses {used} of the budget (under {LOOSE_USE * 100:.0f} %)"
        return f"median {fmt(ev.median)} uses {used} of the budget"

    @property
    def comment(self) -> str:
        """The note ``--write`` leaves beside the new budget (``git blame`` finds it)."""
        ev = self.evidence
        assert ev is not None and self.suggested is not None
        was = "none" if self.budget is None else self.format(self.budget)
        verb = {"raise": "raised", "lower": "lowered", "add": "added"}.get(self.action, "set")
        return (
            f"{verb} from {was} by perfslo budgets: {self.flag}, p95 {self.format(ev.p95)} "
            f"of {ev.count} clean runs, rule {self.rule.text}"
        )

    def format(self, value: float) -> str:
        """A value in this metric's unit."""
        return format_value(value, self.unit)


def advise(
    history: RunHistory,
    evaluation: Evaluation,
    config: Config,
    *,
    runs: int = DEFAULT_RUNS,
    rule: str = DEFAULT_RULE,
    only: Sequence[str] = (),
) -> list[BudgetAdvice]:
    """The budget advice for every configured SLO and metric (in config order).

    Args:
        history: The loaded runs.
        evaluation: The evaluation of the latest run (its step changes mark
            where the comparable runs start).
        config: The SLOs and budgets.
        runs: How many clean comparable runs the evidence takes (the latest).
        rule: The name of the rule in :data:`RULES`.
        only: Limit to these SLOs (empty: all).

    Returns:
        One advice per SLO and metric.

    Raises:
        KeyError: For an unknown rule.
    """
    chosen = RULES[rule]
    out: list[BudgetAdvice] = []
    for name, slo in config.slos.items():
        if only and name not in only:
            continue
        result = evaluation.result(name)
        for spec in slo.metric_budgets():
            metric_result = result.for_metric(spec.metric) if result is not None else None
            evidence = gather_evidence(history, metric_series(name, spec.metric), metric_result, runs)
            out.append(judge(slo, spec.metric, spec.budget, spec.tolerance, spec.target, evidence, chosen))
    return out


def judge(
    slo: SLOConfig,
    metric: str,
    budget: float | None,
    tolerance: float,
    target: float | None,
    evidence: Evidence | None,
    rule: Rule,
) -> BudgetAdvice:
    """Apply a rule to the evidence and flag the current budget."""
    unit = METRIC_UNITS[metric]
    key = BUDGET_KEYS[metric]
    if evidence is None or evidence.count < MIN_RUNS:
        return BudgetAdvice(
            slo.name, metric, unit, key, budget, tolerance, evidence, rule, None, None, "no evidence", target
        )
    exact = rule.value(np.asarray(evidence.runs, dtype=float), tolerance)
    suggested = round_up(exact)
    if target is not None and suggested < target:
        # A budget under the target would make the config invalid: the target goes first.
        suggested = target
    if budget is None:
        flag = "no budget"
    elif exact > budget * (1 + 1e-9):
        flag = "tight"
    elif evidence.median < LOOSE_USE * budget and suggested < budget:
        # (A spread so wide that the rounded suggestion is not lower needs the room.)
        flag = "loose"
    else:
        flag = "ok"
    return BudgetAdvice(
        slo.name, metric, unit, key, budget, tolerance, evidence, rule, exact, suggested, flag, target
    )


def gather_evidence(
    history: RunHistory, series: str, result: SLOResult | None, runs: int = DEFAULT_RUNS
) -> Evidence | None:
    """The last ``runs`` clean comparable runs of one series, or None when it has none.

    Args:
        history: The loaded runs.
        series: The series (``<slo>``, ``<slo>@peak_memory``...).
        result: The series' result in the latest evaluation (its step).
        runs: How many runs to keep.
    """
    frame = history.series.get(series)
    if frame is None or frame.height == 0:
        return None
    since_step: str | None = None
    step = result.step if result is not None else None
    if step is not None:
        start = frame.filter(pl.col("run_id") == step.run_id)
        if start.height and _new_code_at(frame, int(start["ts_ms"][0]), str(start["commit"][0])):
            since_step = step.run_id
            frame = frame.filter(pl.col("ts_ms") >= int(start["ts_ms"][0]))
    dirty = int(frame.tail(runs * _LOOK_BACK)["dirty"].sum())
    frame = frame.filter(~pl.col("dirty")).tail(runs * _LOOK_BACK)
    if frame.height == 0:
        return Evidence((), (), 0, dirty, since_step, math.nan, math.nan, None, None)
    levels = _levels(history, series, frame)
    quiet = quiet_level(levels)
    clean_ids = {lv.run_id for lv in levels if not is_busy(lv, quiet)}
    busy_rows = frame.filter(~pl.col("run_id").is_in(list(clean_ids)))
    kept = frame.filter(pl.col("run_id").is_in(list(clean_ids))).tail(runs)
    busy = busy_rows.filter(pl.col("ts_ms") >= (int(kept["ts_ms"][0]) if kept.height else 0)).height
    values = np.asarray(kept["median"].to_list(), dtype=float)
    if values.size == 0:
        return Evidence((), (), busy, dirty, since_step, math.nan, math.nan, None, None)
    days = np.asarray(kept["ts_ms"].to_list(), dtype=float) / DAY_MS
    trend = drift(days, values) if values.size >= MIN_RUNS and days[-1] > days[0] else None
    return Evidence(
        runs=tuple(float(v) for v in values),
        run_ids=tuple(str(r) for r in kept["run_id"].to_list()),
        busy=busy,
        dirty=dirty,
        since_step=since_step,
        median=float(np.median(values)),
        p95=_p95(values),
        spread=run_to_run_noise(values),
        trend=trend,
    )


def _new_code_at(frame: pl.DataFrame, ts_ms: int, commit: str) -> bool:
    """True when the run before a step was measured at another commit.

    A step between runs of one commit is the machine, not the code (a busy
    spell the reference did not catch, a CPU frequency change): it is the
    noise a budget has to live with, so the runs before it stay evidence.
    """
    before = frame.filter(pl.col("ts_ms") < ts_ms).tail(1)
    return before.height == 0 or str(before["commit"][0]) != commit


def _levels(history: RunHistory, series: str, frame: pl.DataFrame) -> list[RunLevel]:
    """The runs of ``frame`` as levels, with the machine's speed where a reference was timed."""
    samples = history.table.get_column("samples")
    refs: dict[str, list[float]] = {}
    ref_frame = history.series.get(series + REFERENCE_SUFFIX)
    if ref_frame is not None:
        wanted = with_samples(ref_frame.filter(pl.col("run_id").is_in(frame["run_id"].implode())), samples)
        refs = dict(zip(wanted["run_id"].to_list(), wanted["samples"].to_list(), strict=True))
    rows = with_samples(frame, samples)
    return [
        run_level(r["run_id"], r["commit"], float(r["median"]), r["samples"], refs.get(r["run_id"]))
        for r in rows.select("run_id", "commit", "median", "samples").iter_rows(named=True)
    ]


def trend_text(evidence: Evidence, tolerance: float) -> str:
    """``steady``, or ``+4.0% over 6 days`` when the runs drift by half the tolerance or more."""
    trend = evidence.trend
    if trend is None:
        return "—"
    if trend.significant and abs(trend.total) >= tolerance / 2:
        span = trend.span_days
        when = f"{span:.0f} days" if span >= 2 else f"{span * 24:.0f} hours"
        return f"{format_change(trend.total)} over {when}"
    return "steady"

"""Goals beside the budgets: progress toward an SLO's target, and how old the baseline is.

Pure values computed by the engine from the run table, the config and what
the loader found (the commits between the baseline and the latest run come
from ``RunHistory.baseline_distance``: git runs in the runs stage, never here).
Views read the properties; the wording lives here so that every view says the
same thing.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from perfslo_tui.config import TARGET_KEYS
from perfslo_tui.runs.files import Baseline
from perfslo_tui.runs.history import BaselineDistance, RunInfo
from perfslo_tui.text import format_percent, format_value, short_commit

DAY_MS = 86_400_000
# Values this close to the target count as on it (float noise in ratios).
_EPS = 1e-9
REBASELINE_COMMAND = "perfslo baseline --establish"
BUDGETS_COMMAND = "perfslo budgets"


@dataclass(frozen=True, slots=True)
class TargetProgress:
    """Where one SLO's metric stands against its target.

    Attributes:
        metric: The metric (``time``, ``instructions``, ``peak_memory``).
        unit: Its unit.
        target: The target, in the unit.
        value: This run's median.
        budget: The budget, if any (for "85 % of budget").
        streak: Consecutive runs, ending with this one, at or under the target.
        confirm_runs: Runs needed before a met target counts (and is celebrated).
    """

    metric: str
    unit: str
    target: float
    value: float
    budget: float | None
    streak: int
    confirm_runs: int

    @property
    def met(self) -> bool:
        """This run is at or under the target."""
        return self.value <= self.target * (1.0 + _EPS)

    @property
    def confirmed(self) -> bool:
        """The target was met in ``confirm_runs`` consecutive runs (not one lucky run)."""
        return self.met and self.streak >= self.confirm_runs

    @property
    def newly_met(self) -> bool:
        """This run is the one that confirmed the target: celebrated once, here."""
        return self.met and self.streak == self.confirm_runs

    @property
    def to_go(self) -> float:
        """How far above the target this run is (0 when met)."""
        return max(0.0, self.value - self.target)

    @property
    def key(self) -> str:
        """The config key the target was set with (``target``, ``target_mb``...)."""
        return TARGET_KEYS[self.metric]

    @property
    def progress(self) -> str:
        """``target 1.0ms: 0.15ms to go``, ``… met (3/3 runs)`` or ``… met in this run (1/3 runs)``."""
        target = f"target {format_value(self.target, self.unit)}"
        if not self.met:
            return f"{target}: {format_value(self.to_go, self.unit)} to go"
        seen = min(self.streak, self.confirm_runs)
        if self.confirmed:
            return f"{target} met ({seen}/{self.confirm_runs} runs)"
        return f"{target} met in this run ({seen}/{self.confirm_runs} runs)"

    @property
    def compact(self) -> str:
        """``target 1ms: 0.15ms to go``, ``target met`` or ``target 1/3``: for small cards."""
        if not self.met:
            return (
                f"target {format_value(self.target, self.unit)}: {format_value(self.to_go, self.unit)} to go"
            )
        if self.confirmed:
            return "target met"
        return f"target {min(self.streak, self.confirm_runs)}/{self.confirm_runs}"

    @property
    def tiny(self) -> str:
        """``0.15ms to target``, ``target met`` or ``target 1/3``: when even :attr:`compact` does not fit."""
        if not self.met:
            return f"{format_value(self.to_go, self.unit)} to target"
        return self.compact

    @property
    def summary(self) -> str:
        """The progress; a confirmed target adds what to do next (for views that show the % of budget)."""
        if self.confirmed:
            return f"{self.progress}; tighten the budget to keep the gain (`{BUDGETS_COMMAND}`)"
        return self.progress

    @property
    def line(self) -> str:
        """``85.0% of budget · target 1.0ms: 0.15ms to go``; a confirmed target adds what to do next."""
        if self.budget is not None and self.budget > 0:
            return f"{format_percent(100.0 * self.value / self.budget)} of budget · {self.summary}"
        return self.summary

    @property
    def celebration(self) -> str:
        """The one-off line for the run that confirmed the target, with the next step."""
        return (
            f"🎯 target {format_value(self.target, self.unit)} met: "
            f"{format_value(self.value, self.unit)} in {self.confirm_runs} runs in a row; "
            f"tighten the budget to keep the gain (`{BUDGETS_COMMAND}`)"
        )


def target_progress(
    metric: str,
    unit: str,
    target: float | None,
    budget: float | None,
    value: float | None,
    streak: int,
    confirm_runs: int,
) -> TargetProgress | None:
    """The progress toward a target, or None without a target or a value."""
    if target is None or value is None or not math.isfinite(value):
        return None
    return TargetProgress(metric, unit, target, value, budget, streak, max(1, confirm_runs))


@dataclass(frozen=True, slots=True)
class BaselineAge:
    """How old the baseline is, at the evaluated run.

    Attributes:
        commit: The baseline's commit.
        days: Days from establishing the baseline to the evaluated run (0
            when it was established later), or None when its date cannot be
            read.
        commits: Commits from the baseline's commit to the evaluated run's,
            or None when git could not tell (no repository, a shallow clone,
            an unknown commit).
        max_days: ``baseline_max_age_days`` from the config, if set.
        max_commits: ``baseline_max_commits`` from the config, if set.
    """

    commit: str
    days: float | None
    commits: int | None
    max_days: float | None = None
    max_commits: int | None = None

    @property
    def too_old(self) -> bool:
        """Past ``baseline_max_age_days``."""
        return self.days is not None and self.max_days is not None and self.days > self.max_days

    @property
    def too_many_commits(self) -> bool:
        """Past ``baseline_max_commits``."""
        return self.commits is not None and self.max_commits is not None and self.commits > self.max_commits

    @property
    def stale(self) -> bool:
        """Past either limit."""
        return self.too_old or self.too_many_commits

    @property
    def age(self) -> str:
        """``12 days, 34 commits``, ``3 hours``, ``12 days`` (no git), or ``age unknown``."""
        parts: list[str] = []
        if self.days is not None:
            parts.append(_days_text(self.days))
        if self.commits is not None:
            parts.append(f"{self.commits} commit{'' if self.commits == 1 else 's'}")
        return ", ".join(parts) if parts else "age unknown"

    @property
    def short(self) -> str:
        """``12d · 34 commits`` for the header (narrow)."""
        parts: list[str] = []
        if self.days is not None:
            hours = self.days * 24
            parts.append(f"{self.days:.0f}d" if self.days >= 1 else f"{hours:.0f}h" if hours >= 1 else "<1h")
        if self.commits is not None:
            parts.append(f"{self.commits} commit{'' if self.commits == 1 else 's'}")
        return " · ".join(parts)

    @property
    def brief(self) -> str:
        """The limits passed, for the header: ``baseline 5 commits behind (max 3)``, or empty.

        Only what was passed (a 5-commit-old baseline is not stale for being
        under an hour old), with the limit, so the warning says why.
        """
        parts: list[str] = []
        if self.too_old and self.days is not None and self.max_days is not None:
            parts.append(f"{_days_text(self.days)} old (max {self.max_days:g} days)")
        if self.too_many_commits and self.commits is not None:
            parts.append(f"{self.commits} commits behind (max {self.max_commits})")
        return f"baseline {' and '.join(parts)}" if parts else ""

    @property
    def warnings(self) -> list[str]:
        """One line per limit passed, with what to do."""
        lines: list[str] = []
        if self.too_old and self.days is not None and self.max_days is not None:
            lines.append(
                f"baseline {short_commit(self.commit)} is {_days_text(self.days)} old "
                f"(baseline_max_age_days = {self.max_days:g}): re-establish it (`{REBASELINE_COMMAND}`)"
            )
        if self.too_many_commits and self.commits is not None:
            lines.append(
                f"baseline {short_commit(self.commit)} is {self.commits} commits behind "
                f"(baseline_max_commits = {self.max_commits}): re-establish it (`{REBASELINE_COMMAND}`)"
            )
        return lines


def _days_text(days: float) -> str:
    if days * 24 < 1:
        return "under an hour"
    if days < 1:
        hours = days * 24
        return f"{hours:.0f} hour{'' if round(hours) == 1 else 's'}"
    return f"{days:.0f} day{'' if round(days) == 1 else 's'}"


def established_ms(baseline: Baseline) -> int | None:
    """When the baseline was established (epoch ms), or None when its date cannot be read."""
    text = baseline.established.strip()
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def baseline_age(
    baseline: Baseline | None,
    run: RunInfo | None,
    distance: BaselineDistance | None,
    max_days: float | None = None,
    max_commits: int | None = None,
) -> BaselineAge | None:
    """The baseline's age at ``run``, or None without a baseline or a run.

    The commits come from the loader's count when it was made for this
    baseline and this run's commit (evaluating an older run has no count).
    """
    if baseline is None or run is None:
        return None
    since = established_ms(baseline)
    days = None if since is None else max(0.0, (run.ts_ms - since) / DAY_MS)
    commits = None
    if distance is not None and distance.baseline_commit == baseline.commit and distance.commit == run.commit:
        commits = distance.commits
    return BaselineAge(baseline.commit, days, commits, max_days, max_commits)

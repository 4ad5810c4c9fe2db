"""Profile diff: which functions got slower or faster between two profiles, and by how much of the total.

Functions are matched by file and name (not line: lines move between
commits; paths are already made relative to each profile's checkout). Each
side's self times are first brought to a common footing:

* **per benchmark call**: a harness profile knows how many calls of the
  benchmark it profiled, and each side's times are divided by its count
  (whole-process profiles count one);
* **speed-adjusted**: a harness profile also times perfslo's reference
  workload, unprofiled, right after every profiled batch, and keeps the
  fastest batch's time per call over the fastest reference's as its *level*
  (minima, as the runs' levels: noise on a busy machine only adds time).
  With a level on both sides the AFTER side's total is set to
  ``BEFORE total × level(AFTER) / level(BEFORE)`` and its functions keep
  their shares of it: a machine that ran slower or in bursts (another tenant, a
  lower clock) does not read as every function slowing down, and the
  functions' shares (which do not move with the machine's speed) say where
  the change went. Without levels, the mean reference times scale AFTER;
* **sample counts** (a format that only counts samples) are compared as
  shares of their profile's total.

Self times add up to the total, so each function's change is its
**contribution** to the change of the total: the rows are sorted by the size
of that contribution, and the contributions sum to the total change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from perfslo_tui.profiles.model import Profile, ProfileError

# Rows whose contribution is below this share of the BEFORE total are dropped.
MIN_CONTRIBUTION = 0.0005


@dataclass(frozen=True, slots=True)
class FunctionChange:
    """One function's self time before and after, normalised.

    Attributes:
        name: The function's name.
        file: Its file (relative to the project where inside it).
        before_s: Self time before (per benchmark call, or share).
        after_s: Self time after, on the same footing.
        contribution: ``(after - before) / total before``: its part of the
            total's relative change.
    """

    name: str
    file: str
    before_s: float
    after_s: float
    contribution: float

    @property
    def delta_s(self) -> float:
        """After minus before."""
        return self.after_s - self.before_s

    @property
    def relative(self) -> float:
        """The function's own relative change (inf for a new function, -1 for a gone one)."""
        if self.before_s <= 0:
            return math.inf if self.after_s > 0 else 0.0
        return self.after_s / self.before_s - 1.0

    @property
    def verb(self) -> str:
        """``slower``, ``faster``, ``new`` or ``gone``."""
        if self.before_s <= 0:
            return "new"
        if self.after_s <= 0:
            return "gone"
        return "slower" if self.delta_s > 0 else "faster"

    @property
    def label(self) -> str:
        """``parse (src/parse.py)`` or ``parse``."""
        return f"{self.name} ({self.file})" if self.file else self.name


@dataclass(frozen=True, slots=True)
class ProfileDiff:
    """Two profiles compared function by function.

    Attributes:
        before_total: The BEFORE side's total (normalised).
        after_total: The AFTER side's total (normalised).
        changes: Every function that moved, largest contribution first.
        unit: ``s`` (per benchmark call) or ``share`` (sample counts as
            shares of their total).
        speed_factor: What the AFTER side was multiplied by to cancel the
            machine's speed (1.0 when not known).
    """

    before_total: float
    after_total: float
    changes: tuple[FunctionChange, ...]
    unit: str = "s"
    speed_factor: float = 1.0

    @property
    def total_change(self) -> float:
        """The total's relative change (0 when BEFORE is empty)."""
        if self.before_total <= 0:
            return 0.0
        return self.after_total / self.before_total - 1.0

    def top(self, count: int = 10) -> list[FunctionChange]:
        """The ``count`` largest contributions."""
        return list(self.changes[:count])

    def lines(self, count: int = 5) -> list[str]:
        """One line per top change: ``+12.0% of total  parse (src/p.py)  1.20 → 2.40 ms per call (+100%)``."""
        return [describe_change(change, self.unit) for change in self.top(count)]


def describe_change(change: FunctionChange, unit: str) -> str:
    """One function's change in words."""
    if unit == "share":
        amounts = f"{change.before_s:.1%} → {change.after_s:.1%} of samples"
    else:
        amounts = f"{_ms(change.before_s)} → {_ms(change.after_s)} ms per call"
    own = change.verb if change.verb in ("new", "gone") else f"{change.relative:+.0%}"
    return f"{change.contribution:+.1%} of total  {change.label}  {amounts} ({own})"


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.4f}".rstrip("0").rstrip(".") if ms else "0"


def diff_profiles(
    before: Profile,
    after: Profile,
    *,
    before_calls: int = 1,
    after_calls: int = 1,
    before_reference: float | None = None,
    after_reference: float | None = None,
    before_level: float | None = None,
    after_level: float | None = None,
) -> ProfileDiff:
    """Compare two profiles of the same benchmark.

    Args:
        before: The BEFORE profile (the baseline's commit, GOOD).
        after: The AFTER profile (now, BAD).
        before_calls: Benchmark calls the BEFORE profile covers.
        after_calls: Benchmark calls the AFTER profile covers.
        before_reference: The reference workload's mean time in BEFORE's process.
        after_reference: The same in AFTER's process.
        before_level: BEFORE's level (fastest batch over fastest reference).
        after_level: AFTER's level.

    Raises:
        ProfileError: When one profile counts samples and the other seconds.
    """
    if before.unit != after.unit:
        raise ProfileError(
            f"cannot compare a profile in {before.unit} ({before.format}) with one in"
            f" {after.unit} ({after.format}): make both with the same profiler"
        )
    speed = 1.0
    if before_reference and after_reference and before_reference > 0 and after_reference > 0:
        speed = before_reference / after_reference
    if before.unit == "s":
        before_scale = 1.0 / max(before_calls, 1)
        after_scale = speed / max(after_calls, 1)
        unit = "s"
    else:
        before_scale = 1.0 / before.total_s if before.total_s > 0 else 0.0
        after_scale = 1.0 / after.total_s if after.total_s > 0 else 0.0
        unit, speed = "share", 1.0
    before_times = _self_times(before, before_scale)
    after_times = _self_times(after, after_scale)
    before_total = math.fsum(before_times.values())
    after_total = math.fsum(after_times.values())
    if (
        unit == "s"
        and before_level
        and after_level
        and before_level > 0
        and after_level > 0
        and after_total > 0
    ):
        # The levels give the total's change; AFTER's functions keep their shares of it.
        target = before_total * after_level / before_level
        rescale = target / after_total
        after_times = {key: value * rescale for key, value in after_times.items()}
        speed *= rescale
        after_total = target
    changes: list[FunctionChange] = []
    for key in before_times.keys() | after_times.keys():
        old = before_times.get(key, 0.0)
        new = after_times.get(key, 0.0)
        contribution = (new - old) / before_total if before_total > 0 else 0.0
        if abs(contribution) < MIN_CONTRIBUTION:
            continue
        changes.append(FunctionChange(key[1], key[0], old, new, contribution))
    changes.sort(key=lambda c: (-abs(c.contribution), c.file, c.name))
    return ProfileDiff(before_total, after_total, tuple(changes), unit, speed)


def _self_times(profile: Profile, scale: float) -> dict[tuple[str, str], float]:
    times: dict[tuple[str, str], float] = {}
    for stat in profile.functions:
        key = stat.frame.key
        times[key] = times.get(key, 0.0) + stat.self_s * scale
    return times

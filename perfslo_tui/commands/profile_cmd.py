"""``perfslo profile SLO``: where an SLO's time goes, and what changed since another commit.

``perfslo profile parse`` runs the SLO's benchmark under a profiler in the
checkout as it is (perfslo's harness: cProfile; a command benchmark: the
config's ``profile_command``), keeps the profile in ``<artifacts>/profiles/``
and prints its hot spots. ``--at REV`` profiles another commit in a temporary
worktree (with ``bench_setup``). ``--against REV`` (or ``--baseline``) also
profiles REV, or reuses a profile kept of it, and prints which functions got
slower or faster, by their share of the total. ``--file`` shows a profile
file without running anything.

Exit codes: 0 done; 2 bad input or a failure (no profiler, a profile command
failing or writing nothing, an unreadable profile, REV not a commit, Ctrl-C).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfslo_tui.profiles.model import Profile
    from perfslo_tui.profiles.store import KeptComparison, ProfileRecord

HELP = "profile an SLO's benchmark (hot spots), optionally diffed against another commit's profile"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``perfslo profile``."""
    parser.add_argument("slo", metavar="SLO", help="the SLO to profile")
    parser.add_argument("--at", metavar="REV", help="profile this commit (in a temporary worktree)")
    against = parser.add_mutually_exclusive_group()
    against.add_argument("--against", metavar="REV", help="diff against a profile of this commit")
    against.add_argument("--baseline", action="store_true", help="diff against the baseline's commit")
    parser.add_argument(
        "--fresh", action="store_true", help="profile the --against commit again even when a profile is kept"
    )
    parser.add_argument("--file", type=Path, metavar="PATH", help="show this profile file (runs nothing)")
    parser.add_argument("--top", type=int, default=15, metavar="N", help="rows to show (default: 15)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="for the profiling run (default: 1800)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    """Profile (and diff); print the hot spots and the diff; return the exit code."""
    from perfslo_tui.actions.profile import ProfilingError, profile_at_commit, profile_slo
    from perfslo_tui.commands import UsageError, load_context
    from perfslo_tui.profiles.formats import read_profile
    from perfslo_tui.profiles.model import ProfileError

    if args.top < 1:
        raise UsageError(f"--top must be at least 1, got {args.top}")
    if args.file is not None:
        try:
            profile = read_profile(args.file)
        except ProfileError as exc:
            raise UsageError(str(exc)) from None
        sys.stdout.write(render_hot_spots(profile, 1, args.top, f"{args.file} ({profile.format})"))
        return 0
    config = load_context(args)
    started = time.monotonic()

    def progress(text: str) -> None:
        if not args.quiet:
            from perfslo_tui.text import printable

            print(f"  {printable(text, 160)}", file=sys.stderr, flush=True)

    try:
        before_rev = _against(config, args)
        if args.at:
            outcome = profile_at_commit(config, args.slo, args.at, progress=progress, timeout=args.timeout)
        else:
            outcome = profile_slo(config, args.slo, progress=progress, timeout=args.timeout)
        record = outcome.record
        sys.stdout.write(render_hot_spots(outcome.profile, record.calls, args.top, _title(record)))
        if before_rev is not None:
            comparison = _compare(config, args, before_rev, record, progress)
            sys.stdout.write(render_diff(comparison, args.top))
    except (ProfilingError, ProfileError) as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        raise UsageError(
            f"profile interrupted (Ctrl-C) after {time.monotonic() - started:.0f}s:"
            " temporary folders and worktrees removed, your checkout untouched"
        ) from None
    return 0


def _against(config: object, args: argparse.Namespace) -> str | None:
    from perfslo_tui.commands import UsageError
    from perfslo_tui.config import Config
    from perfslo_tui.runs.files import read_baseline

    assert isinstance(config, Config)
    if args.against:
        return str(args.against)
    if not args.baseline:
        return None
    baseline = read_baseline(config.baseline_path)
    if baseline is None:
        raise UsageError(f"{config.baseline_path}: no baseline yet (perfslo baseline --establish)")
    if not baseline.commit or baseline.commit == "unknown":
        raise UsageError(f"{config.baseline_path}: the baseline has no commit to profile")
    return baseline.commit


def _compare(
    config: object, args: argparse.Namespace, rev: str, after: ProfileRecord, progress: object
) -> KeptComparison:
    from perfslo_tui.actions.profile import ProfilingError, profile_at_commit
    from perfslo_tui.actions.worktree import WorktreeError, repository_root, resolve_commit
    from perfslo_tui.config import Config
    from perfslo_tui.profiles.store import compare_records, latest_profile

    assert isinstance(config, Config)
    try:
        commit = resolve_commit(repository_root(config.root), rev)
    except WorktreeError as exc:
        raise ProfilingError(str(exc)) from None
    kept = None if args.fresh else latest_profile(config.artifacts_dir, args.slo, commit, include_dirty=False)
    if kept is not None and kept.path == after.path:
        kept = None
    if kept is None:
        kept = profile_at_commit(
            config,
            args.slo,
            commit,
            progress=progress,  # type: ignore[arg-type]
            timeout=args.timeout,
        ).record
    elif not args.quiet:
        print(f"  reusing the kept profile of {kept.label}: {kept.path}", file=sys.stderr)
    return compare_records(kept, after)


def _title(record: ProfileRecord) -> str:
    return (
        f"{record.slo} at {record.label} ({record.profiler}, {record.calls} call(s),"
        f" {record.wall_s:.1f}s): {record.path}"
    )


def _amount(seconds: float, unit: str, calls: int) -> str:
    if unit != "s":
        return f"{seconds:.0f}"
    ms = seconds * 1e3 / max(calls, 1)
    return f"{ms:.3f}" if ms < 10 else f"{ms:.1f}"


def render_hot_spots(profile: Profile, calls: int, count: int, title: str) -> str:
    """The ``count`` functions with the most self time, as a text table."""
    from perfslo_tui.text import printable

    per = " per call" if calls > 1 and profile.unit == "s" else ""
    unit = "ms" if profile.unit == "s" else "samples"
    lines = [f"profile of {printable(title, 300)}"]
    if profile.sampled:
        lines.append("  (sampled: times are estimates from samples; calls are not counted)")
    self_head, total_head = f"self {unit}{per}", f"total {unit}{per}"
    lines.append(f"  {self_head:>18}  {'self':>6}  {total_head:>19}  {'total':>6}  {'calls':>9}  function")
    for stat in profile.top(count):
        frame = stat.frame
        where = f"  {printable(frame.location, 80)}" if frame.location else ""
        calls_text = str(stat.calls) if stat.calls else "-"
        lines.append(
            f"  {_amount(stat.self_s, profile.unit, calls):>18}  {profile.share(stat.self_s):>6.1%}"
            f"  {_amount(stat.total_s, profile.unit, calls):>19}  {profile.share(stat.total_s):>6.1%}"
            f"  {calls_text:>9}  {printable(frame.name, 80)}{where}"
        )
    return "\n".join(lines) + "\n"


def render_diff(comparison: KeptComparison, count: int) -> str:
    """Which functions got slower or faster, largest contribution first."""
    from perfslo_tui.profiles.diff import describe_change
    from perfslo_tui.text import printable

    diff = comparison.diff
    before, after = comparison.before, comparison.after
    footing = "per benchmark call" if diff.unit == "s" else "as shares of each profile's samples"
    speed = f", AFTER speed-adjusted ×{diff.speed_factor:.3f}" if diff.speed_factor != 1.0 else ""
    lines = [
        f"diff: {before.label} → {after.label}: the profile's total {diff.total_change:+.1%}"
        f" ({footing}{speed})"
    ]
    if not diff.changes:
        lines.append("  no function moved by more than 0.05% of the total")
    for change in diff.top(count):
        lines.append(f"  {printable(describe_change(change, diff.unit), 300)}")
    lines.append(f"  before: {before.path}")
    return "\n".join(lines) + "\n"

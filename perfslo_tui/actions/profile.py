"""Profile one SLO: in the checkout as it is, or at another commit in a temporary worktree.

How an SLO is profiled follows what runs it:

* **a profile command** (``profile_command`` of the SLO, else of the config):
  run as configured, ``{slo}`` the SLO's name and ``{output}`` a path in a
  temporary folder, both shell-quoted; the file (or the newest file in the
  folder) the profiler wrote there is read (pstats, speedscope, Chrome
  ``.cpuprofile``, ``perf script``, collapsed stacks);
* **perfslo's harness** (the default): the project's bench command runs with
  ``PERFSLO_PROFILE=<slo>`` and ``PERFSLO_PROFILE_OUTPUT=<file>``: the
  harness runs that SLO under cProfile and writes no run
  (:mod:`perfslo_tui.collect.profiler`). ``PERFSLO_ARTIFACTS`` points into
  the temporary folder as well, so no run of a profiled process (slowed by
  the profiler) ever reaches the artifacts folder.

A command benchmark (an SLO with ``command``) without a profile command is
refused with the recipes' pointer. The profile is kept in
``<artifacts>/profiles/`` (:mod:`perfslo_tui.profiles.store`).

At another commit (:func:`profile_at_commit`) the commit is checked out in a
temporary worktree and prepared with ``bench_setup``
(:func:`~perfslo_tui.actions.worktree.project_checkout`), and the profile is
refused when its file paths show it ran the code of the user's checkout
instead (the same-code trap). Every failure is a :class:`ProfilingError` of
one line; temporary folders and worktrees are removed on every exit.
"""

from __future__ import annotations

import dataclasses
import shlex
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from perfslo_tui.actions.bench import BenchCancelled, BenchCommandError, run_to_completion
from perfslo_tui.actions.same_code import static_trap_check
from perfslo_tui.actions.worktree import (
    WorktreeError,
    project_checkout,
    repository_root,
    resolve_commit,
    scratch_folder,
)
from perfslo_tui.collect.profiler import PROFILE_ENV, PROFILE_OUTPUT_ENV, RECORD_SUFFIX
from perfslo_tui.config import Config
from perfslo_tui.profiles.formats import read_profile
from perfslo_tui.profiles.model import Profile, ProfileError
from perfslo_tui.profiles.store import KeptComparison, ProfileRecord, compare_kept, save_profile
from perfslo_tui.runs.metadata import git_info, now_ms
from perfslo_tui.text import short_commit
from perfslo_tui.verdict.model import Evaluation

OUTPUT_PLACEHOLDER = "{output}"
DEFAULT_TIMEOUT_S = 1800.0
# Exit status of a shell that did not find the command.
_NOT_FOUND = 127

Progress = Callable[[str], None]


class ProfilingError(Exception):
    """Profiling failed: one line for the user."""


class ProfilingCancelled(ProfilingError):
    """Profiling was cancelled (its ``cancel`` event was set)."""


@dataclass(frozen=True, slots=True)
class ProfileOutcome:
    """A profile made and kept.

    Attributes:
        record: What was kept in ``<artifacts>/profiles/``.
        profile: The profile as read.
        command: The command that ran.
        wall_s: Seconds the profiling command took.
    """

    record: ProfileRecord
    profile: Profile
    command: str
    wall_s: float


@dataclass(frozen=True, slots=True)
class _Made:
    path: Path
    profile: Profile
    calls: int
    reference_ms: float | None
    level: float | None
    profiler: str
    command: str
    wall_s: float


def profile_template(config: Config, slo: str) -> str | None:
    """The SLO's profile command (its own, else the config's), or None for the harness."""
    slo_config = config.slos.get(slo)
    if slo_config is not None and slo_config.profile_command:
        return slo_config.profile_command
    return config.profile_command


def how_profiled(config: Config, slo: str) -> str:
    """``cProfile through the bench command`` or ``profile command: …``, for progress lines.

    Raises:
        ProfilingError: When the SLO cannot be profiled (a command benchmark
            without a profile command, no bench command).
    """
    template = profile_template(config, slo)
    if template:
        return f"profile command: {template}"
    slo_config = config.slos.get(slo)
    where = config.path or "the config"
    if slo_config is not None and slo_config.command:
        raise ProfilingError(
            f"{slo} is a command benchmark ({slo_config.command}): set profile_command in {where}"
            " (recipes for node --cpu-prof, py-spy and perf in docs/when-an-slo-fails.md)"
        )
    if not config.bench_command:
        raise ProfilingError(f"{where}: no bench_command configured, and no profile_command")
    return "cProfile through the bench command"


def _make(
    config: Config,
    slo: str,
    scratch: Path,
    roots: list[str],
    *,
    extra_env: Mapping[str, str] | None,
    cancel: threading.Event | None,
    timeout: float | None,
) -> _Made:
    """Run the profiler for ``slo`` with ``config`` (the checkout's or a worktree's) into ``scratch``."""
    how_profiled(config, slo)  # refuses what cannot be profiled
    template = profile_template(config, slo)
    runs = scratch / "runs"
    runs.mkdir(exist_ok=True)
    env = {**(extra_env or {}), "PERFSLO_ARTIFACTS": str(runs)}
    if template:
        output = scratch / "profile"
        command = template.replace(OUTPUT_PLACEHOLDER, shlex.quote(str(output)))
        side = dataclasses.replace(config, bench_command=command, artifacts_dir=runs)
        for name in (PROFILE_ENV, PROFILE_OUTPUT_ENV):
            env.pop(name, None)
        profiler = f"profile command: {template}"
    else:
        output = scratch / "profile.pstats"
        env.update({PROFILE_ENV: slo, PROFILE_OUTPUT_ENV: str(output)})
        side = dataclasses.replace(config, artifacts_dir=runs)
        profiler = "cProfile (perfslo harness)"
    began = time.monotonic()
    try:
        done = run_to_completion(side, slo=slo, timeout=timeout, extra_env=env, cancel=cancel)
    except BenchCancelled:
        raise ProfilingCancelled(f"profiling {slo} cancelled") from None
    except BenchCommandError as exc:
        what = "profile command" if template else "bench command (profiling)"
        text = str(exc).replace("bench command", what, 1)
        if f"exited {_NOT_FOUND}:" in text:
            text += " (is the profiler installed and on PATH?)"
        raise ProfilingError(text) from None
    wall = time.monotonic() - began
    command = done.command
    found = _written(output)
    if found is None:
        if template:
            raise ProfilingError(f"the profile command wrote nothing at {{output}} ({output}): {command}")
        raise ProfilingError(
            f"the bench command wrote no profile of {slo}: perfslo's harness profiles an SLO it"
            " measures with bench(), loop() or time() (PERFSLO_PROFILE); for other benchmarks"
            " set profile_command"
        )
    try:
        profile = read_profile(found, roots=roots)
    except ProfileError as exc:
        raise ProfilingError(str(exc)) from None
    calls, reference, level = 1, None, None
    if not template:
        calls, reference, level = _harness_record(Path(f"{output}{RECORD_SUFFIX}"))
    return _Made(found, profile, calls, reference, level, profiler, command, wall)


def _written(output: Path) -> Path | None:
    """The profile file at ``output``, or the newest non-empty file in it when it is a folder."""
    if output.is_file():
        return output if output.stat().st_size > 0 else None
    if output.is_dir():
        files = [p for p in output.rglob("*") if p.is_file() and p.stat().st_size > 0]
        if files:
            return max(files, key=lambda p: (p.stat().st_mtime_ns, p.stat().st_size))
    return None


def _harness_record(path: Path) -> tuple[int, float | None, float | None]:
    """Calls, mean reference time and level from the harness's record beside the pstats file."""
    try:
        data = orjson.loads(path.read_bytes())
        calls = max(int(data.get("calls", 1)), 1)
    except (OSError, orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
        return 1, None, None
    reference, level = data.get("reference_ms"), data.get("level")
    return (
        calls,
        float(reference) if isinstance(reference, int | float) and reference > 0 else None,
        float(level) if isinstance(level, int | float) and level > 0 else None,
    )


def _checkout_root(config: Config) -> Path:
    try:
        return repository_root(config.root)
    except WorktreeError:
        return config.root.resolve()


def profile_slo(
    config: Config,
    slo: str,
    *,
    run_id: str | None = None,
    cancel: threading.Event | None = None,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    progress: Progress | None = None,
    temp_parent: Path | None = None,
) -> ProfileOutcome:
    """Profile ``slo`` in the checkout as it is and keep the profile.

    Args:
        config: The project's config.
        slo: The SLO to profile.
        run_id: The run the profile goes with (the SLO's latest), if any.
        cancel: Stops the profiler when set.
        timeout: Seconds the profiling command may take.
        progress: Told what is happening, in a few words.
        temp_parent: Where the temporary folder goes (default: the system's).

    Raises:
        ProfilingError: One line (cannot be profiled, the command failed or
            wrote nothing, an unreadable profile, cancelled).
    """
    root = _checkout_root(config)
    git = git_info(config.root)
    commit = "" if git["commit"] == "unknown" else str(git["commit"])
    made = now_ms()
    if progress is not None:
        progress(f"profiling {slo}: {how_profiled(config, slo)}")
    try:
        with scratch_folder("perfslo-profile-", temp_parent) as scratch:
            result = _make(config, slo, scratch, [str(root)], extra_env=None, cancel=cancel, timeout=timeout)
            record = _keep(
                config, slo, result, commit, bool(git["dirty"]) and bool(commit), made, root, run_id
            )
    except WorktreeError as exc:
        raise ProfilingError(str(exc)) from None
    return ProfileOutcome(record, result.profile, result.command, result.wall_s)


def profile_at_commit(
    config: Config,
    slo: str,
    rev: str,
    *,
    run_id: str | None = None,
    cancel: threading.Event | None = None,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    progress: Progress | None = None,
    temp_parent: Path | None = None,
) -> ProfileOutcome:
    """Profile ``slo`` at commit ``rev`` in a temporary worktree (with ``bench_setup``) and keep it.

    The config used is the worktree's own copy when the commit has one (its
    SLOs and bench command as they were), the artifacts folder the user's.

    Raises:
        ProfilingError: One line (not a repository, not a commit, the setup
            failing, the same-code trap, and all of :func:`profile_slo`'s).
    """
    try:
        checkout = repository_root(config.root)
        commit = resolve_commit(checkout, rev)
    except WorktreeError as exc:
        raise ProfilingError(str(exc)) from None
    made = now_ms()
    try:
        with scratch_folder("perfslo-profile-", temp_parent) as parent:
            if progress is not None:
                setup = ", then bench setup" if config.bench_setup else ""
                progress(f"checking out {short_commit(commit)}{setup}")
            with project_checkout(config, commit, parent, "profile", repo=checkout, cancel=cancel) as side:
                problems = static_trap_check(side.worktree, checkout, side.env)
                if problems:
                    raise ProfilingError(f"same code in the worktree and your checkout: {problems[0]}")
                side_config = _side_config(side.config, config)
                if progress is not None:
                    progress(f"profiling {slo} at {short_commit(commit)}: {how_profiled(side_config, slo)}")
                scratch = parent / "out"
                scratch.mkdir()
                result = _make(
                    side_config,
                    slo,
                    scratch,
                    [str(side.worktree)],
                    extra_env=side.env,
                    cancel=cancel,
                    timeout=timeout,
                )
                _refuse_checkout_code(result.path, side.worktree, checkout)
                record = _keep(config, slo, result, commit, False, made, side.worktree, run_id)
    except WorktreeError as exc:
        if cancel is not None and cancel.is_set():
            raise ProfilingCancelled(f"profiling {slo} cancelled") from None
        raise ProfilingError(str(exc)) from None
    return ProfileOutcome(record, result.profile, result.command, result.wall_s)


def _side_config(side: Config, user: Config) -> Config:
    """The worktree's config, with the user's profile commands where the old commit had none."""
    if side.profile_command or not user.profile_command:
        return side
    return dataclasses.replace(side, profile_command=user.profile_command)


def _refuse_checkout_code(path: Path, worktree: Path, checkout: Path) -> None:
    """Refuse a worktree profile whose functions come from the user's checkout (the same-code trap)."""
    try:
        raw = read_profile(path)
    except ProfileError:
        return
    inside = str(checkout).rstrip("/") + "/"
    tree = str(worktree.resolve()).rstrip("/") + "/"
    for stat in raw.functions:
        file = stat.frame.file
        if file.startswith(inside) and not file.startswith(tree) and "/site-packages/" not in file:
            raise ProfilingError(
                f"same code: the profile at the other commit ran {file} from your checkout, not the"
                " worktree's copy (an editable install or PYTHONPATH?): set bench_setup to install"
                " the worktree's code"
            )


def _keep(
    config: Config,
    slo: str,
    made: _Made,
    commit: str,
    dirty: bool,
    made_ms: int,
    root: Path,
    run_id: str | None,
) -> ProfileRecord:
    try:
        return save_profile(
            config.artifacts_dir,
            made.path,
            slo=slo,
            commit=commit,
            dirty=dirty,
            made_ms=made_ms,
            profiler=made.profiler,
            profile_format=made.profile.format,
            calls=made.calls,
            reference_ms=made.reference_ms,
            level=made.level,
            wall_s=made.wall_s,
            root=root,
            run_id=run_id,
        )
    except OSError as exc:
        where = config.artifacts_dir / "profiles"
        raise ProfilingError(f"{where}: cannot keep the profile: {exc.strerror or exc}") from None


def regression_profile_diffs(
    artifacts: Path, evaluation: Evaluation
) -> tuple[dict[str, KeptComparison], list[str]]:
    """The kept profile diffs behind each confirmed time regression, for the gate's report.

    For every SLO whose time regression against the baseline is confirmed,
    the newest kept profiles of the baseline's commit and of the commit the
    SLO was measured at (``perfslo profile SLO --baseline`` keeps both) are
    diffed. Nothing is profiled here: the gate only reads what was kept.

    Returns:
        ``(diffs, problems)``: the comparisons by SLO name (SLOs without both
        profiles are absent), and one line per kept profile that could not be read.
    """
    diffs: dict[str, KeptComparison] = {}
    problems: list[str] = []
    for result in evaluation.slos:
        cmp = result.vs_baseline
        if not result.confirmed_regression or result.metric != "time" or cmp is None:
            continue
        before, after = cmp.reference_commit, result.measured_commit
        if not before or not after or before == "unknown" or after == "unknown":
            continue
        try:
            comparison = compare_kept(artifacts, result.name, before, after)
        except ProfileError as exc:
            problems.append(str(exc))
            continue
        if comparison is not None:
            diffs[result.name] = comparison
    return diffs, problems

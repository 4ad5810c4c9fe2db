"""Temporary git worktrees: one commit of the project, checked out, prepared and measured.

Anything that measures a commit other than the checkout (``perfslo compare``,
``perfslo check --confirm``, a bisection, a profile at the baseline's commit)
goes through this module:

* :func:`repository_root`, :func:`resolve_commit`, :func:`dirty_paths` and
  :func:`snapshot_working_tree` name what to check out (a snapshot commit
  holds the working tree as it is, uncommitted edits and new files included);
* :func:`scratch_folder` is a temporary folder removed on every exit;
* :func:`project_checkout` checks a commit out into it as a detached worktree
  (hooks off), prepares it with the project's ``bench_setup`` command
  (``{worktree}`` is the worktree's path, shell-quoted) and yields a
  :class:`ProjectCheckout`: the project's config mapped into the worktree,
  with its own artifacts folder, and :meth:`ProjectCheckout.run_bench` to run
  the bench command there and get the run files it wrote. The worktree is
  removed again on every exit, also on Ctrl-C or an exception.

The user's checkout, index and branches are never touched: git only writes
the worktree's own admin folder (``.git/worktrees/<name>``), removed with
it, and, for a snapshot, loose objects that no ref points to.

A worktree only helps when the bench command measures the worktree's code;
:mod:`perfslo_tui.actions.same_code` checks that it does.

Usage (a sketch of a bisection step)::

    with scratch_folder() as parent:
        with project_checkout(config, commit, parent, "bisect") as side:
            runs = side.run_bench(slo="parse")
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from perfslo_tui.actions.bench import command_env, run_to_completion
from perfslo_tui.actions.process import signal_group
from perfslo_tui.config import Config

WORKTREE_PLACEHOLDER = "{worktree}"
RUN_GLOB = "perf-*.json"


class WorktreeError(Exception):
    """A problem making, preparing or using a worktree: one line for the user."""


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GIT_OPTIONAL_LOCKS"] = "0"  # never refresh the user's index as a side effect
    for name in ("GIT_INDEX_FILE", "GIT_DIR", "GIT_WORK_TREE"):
        env.pop(name, None)
    return env


def git(
    repo: Path, *args: str, env: Mapping[str, str] | None = None, check: bool = True, strip: bool = True
) -> str:
    """Run git in ``repo`` (hooks off, no optional locks) and return its stdout (stripped by default).

    Raises:
        WorktreeError: When git cannot run, or exits non-zero with ``check``.
    """
    command = ["git", "-c", "core.hooksPath=/dev/null", *args]
    try:
        done = subprocess.run(
            command,
            cwd=repo,
            env=dict(env) if env is not None else _git_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise WorktreeError(f"cannot run git in {repo}: {exc}") from None
    if check and done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [""])[-1]
        raise WorktreeError(f"git {' '.join(args[:2])} failed in {repo}: {last}")
    return done.stdout.strip() if strip else done.stdout


def repository_root(path: Path) -> Path:
    """The top folder of the git work tree holding ``path``.

    Raises:
        WorktreeError: When ``path`` is not inside a git work tree.
    """
    try:
        top = git(path, "rev-parse", "--show-toplevel")
    except WorktreeError:
        raise WorktreeError(f"{path}: not inside a git repository (a worktree needs one)") from None
    if not top:
        raise WorktreeError(f"{path}: not inside a git work tree")
    return Path(top).resolve()


def resolve_commit(repo: Path, rev: str) -> str:
    """The full commit id ``rev`` names.

    Raises:
        WorktreeError: ``'xyz' is not a commit in /repo``.
    """
    if not rev or rev.startswith("-") or "\x00" in rev:
        raise WorktreeError(f"{rev!r} is not a commit in {repo}")
    out = git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False)
    if not out:
        raise WorktreeError(f"{rev!r} is not a commit in {repo}")
    return out.splitlines()[0]


def dirty_paths(repo: Path) -> list[str]:
    """Tracked files with uncommitted changes (staged or not), as git names them."""
    out = git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=no", strip=False)
    entries = out.split("\x00")
    paths: list[str] = []
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":  # a rename or copy is followed by its source path
            i += 1
    return paths


def same_tree(repo: Path, first: str, second: str) -> bool:
    """True when two commits hold the same files (e.g. a working-tree snapshot with no edits and HEAD)."""
    return git(repo, "rev-parse", f"{first}^{{tree}}") == git(repo, "rev-parse", f"{second}^{{tree}}")


def snapshot_working_tree(repo: Path, exclude: Sequence[Path] = ()) -> str:
    """A commit holding the working tree as it is now, made without touching the index.

    Tracked files as edited, deletions, and new files that are not ignored.
    The commit's parent is HEAD; no ref points to it. It is made through a
    temporary copy of the index (``git add -A`` into the copy,
    ``write-tree``, ``commit-tree``), so the user's index is not written.

    Args:
        repo: The repository's top folder.
        exclude: Folders whose changes are left out (they keep HEAD's
            version): the artifacts folder, whose runs are data, not code,
            and may be many.

    Returns:
        The snapshot commit's id.

    Raises:
        WorktreeError: When git cannot make it (e.g. a repository without commits).
    """
    head = resolve_commit(repo, "HEAD")
    index = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    with tempfile.TemporaryDirectory(prefix="perfslo-index-") as scratch:
        temp_index = Path(scratch) / "index"
        if index.is_file():
            # A warm copy: only changed files are hashed again. copy2 keeps the index's
            # mtime, which git's racy-entry check compares file times with: a fresh mtime
            # would make an edit of the same size in the same second look unchanged.
            shutil.copy2(index, temp_index)
        env = _git_env()
        env["GIT_INDEX_FILE"] = str(temp_index)
        if not index.is_file():
            git(repo, "read-tree", head, env=env)
        pathspec = ["."]
        ignored: list[str] = []
        for folder in exclude:
            try:
                inside = folder.resolve().relative_to(repo.resolve())
            except ValueError:
                continue
            if not inside.parts:
                continue
            if git(repo, "check-ignore", inside.as_posix(), check=False):  # prints it when ignored
                # git refuses an exclude pathspec naming an ignored folder ("paths are
                # ignored"): add around it, then put HEAD's entries back (tracked files
                # in an ignored folder are still updated by `add -A`).
                ignored.append(inside.as_posix())
            else:
                pathspec.append(f":(exclude,top){inside.as_posix()}")
        git(repo, "add", "-A", "--", *pathspec, env=env)
        for folder_name in ignored:
            git(repo, "reset", "-q", head, "--", folder_name, env=env)
        tree = git(repo, "write-tree", env=env)
    return git(
        repo,
        "-c",
        "user.name=perfslo",
        "-c",
        "user.email=perfslo@localhost",
        "commit-tree",
        tree,
        "-p",
        head,
        "-m",
        "perfslo: working tree snapshot",
    )


@contextlib.contextmanager
def scratch_folder(prefix: str = "perfslo-", parent: Path | None = None) -> Iterator[Path]:
    """A new temporary folder, removed with everything in it on every exit (Ctrl-C too).

    Raises:
        WorktreeError: ``cannot make a temporary folder in /x: No such file or directory``.
    """
    try:
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    except OSError as exc:
        where = parent or tempfile.gettempdir()
        raise WorktreeError(f"cannot make a temporary folder in {where}: {exc.strerror or exc}") from None
    try:
        yield folder
    finally:
        _remove_tree(folder)


def _remove_tree(path: Path) -> None:
    for _attempt in range(3):
        try:
            shutil.rmtree(path, ignore_errors=True)
            return
        except KeyboardInterrupt:  # a second Ctrl-C: finish the clean-up all the same
            continue


@contextlib.contextmanager
def temporary_worktree(repo: Path, commit: str, name: str, parent: Path) -> Iterator[Path]:
    """Check ``commit`` out in ``parent/name`` as a detached worktree; remove it on exit.

    Removal runs on every exit: normal, exception or Ctrl-C (a second Ctrl-C
    during the removal does not stop it).

    Yields:
        The worktree's path.

    Raises:
        WorktreeError: When the worktree cannot be made.
    """
    path = parent / name
    try:
        git(repo, "worktree", "add", "--detach", "--force", str(path), commit)
    except BaseException as exc:  # Ctrl-C while git checks files out: remove what it made
        if not path.is_file():
            _remove_worktree(repo, path)
            git(repo, "worktree", "prune", check=False)  # an entry git made before it failed
        if isinstance(exc, WorktreeError):
            raise WorktreeError(f"cannot make a worktree of {commit[:12]} at {path}: {exc}") from None
        raise
    try:
        yield path
    finally:
        _remove_worktree(repo, path)


def _remove_worktree(repo: Path, path: Path) -> None:
    for _attempt in range(3):
        try:
            git(repo, "worktree", "remove", "--force", "--force", str(path), check=False)
            if path.exists():  # git could not remove it: do it by hand, then drop its entry
                shutil.rmtree(path, ignore_errors=True)
                git(repo, "worktree", "prune", check=False)
            return
        except KeyboardInterrupt:  # finish the clean-up; the caller re-raises its own
            continue
        except WorktreeError:
            shutil.rmtree(path, ignore_errors=True)
            return


def run_setup(
    template: str,
    worktree: Path,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 1800,
    cancel: threading.Event | None = None,
) -> None:
    """Run the ``bench_setup`` command in a worktree (``{worktree}`` → its quoted path).

    It runs in its own process group, stopped whole on a timeout, on
    ``cancel`` or on Ctrl-C: an ``npm ci`` does not run on after perfslo
    removed its worktree.

    Raises:
        WorktreeError: ``bench setup failed (exit 1) in /tmp/...: <command>: <last line>``.
    """
    command = template.replace(WORKTREE_PLACEHOLDER, shlex.quote(str(worktree)))
    with tempfile.TemporaryFile() as output:
        try:
            process = subprocess.Popen(
                command,
                shell=True,
                cwd=worktree,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:  # ValueError: a NUL character
            reason = getattr(exc, "strerror", None) or exc
            raise WorktreeError(f"cannot start bench setup {command!r}: {reason}") from None
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    raise WorktreeError(f"bench setup cancelled in {worktree}")
                if deadline is not None and time.monotonic() > deadline:
                    raise WorktreeError(
                        f"bench setup timed out after {timeout:.0f}s in {worktree}: {command}"
                    )
                try:
                    returncode = process.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    continue
        finally:
            signal_group(process.pid)  # on failure the setup stops; on success its leftovers do
            process.wait()
        output.seek(0, os.SEEK_END)
        output.seek(max(0, output.tell() - 4096))
        tail = output.read().decode(errors="replace")
    if returncode != 0:
        lines = tail.strip().splitlines()
        last = lines[-1][:200] if lines else ""
        raise WorktreeError(f"bench setup failed (exit {returncode}) in {worktree}: {command}: {last}")


# ------------------------------------------------------------ a prepared checkout


@dataclass(frozen=True, slots=True)
class ProjectCheckout:
    """One commit of the project in a temporary worktree, ready to run the bench command.

    Attributes:
        label: Its name in messages and environment (``base``, ``head``, ...).
        commit: The commit checked out.
        worktree: The worktree's top folder.
        config: The project's config mapped into the worktree: ``root`` is
            the config's folder inside it, ``path`` the worktree's copy of the
            config file (the user's file when the commit has none), and
            ``artifacts_dir`` a folder of its own outside the worktree.
        env: The bench command's environment: :func:`command_env` plus
            ``PERFSLO_COMMIT`` (the commit), ``PERFSLO_WORKTREE`` (its path),
            ``PERFSLO_SIDE`` (the label), and the worktree's ``.venv/bin`` and
            ``node_modules/.bin`` first on ``PATH`` when ``bench_setup`` made
            them (as ``npm run`` does).
    """

    label: str
    commit: str
    worktree: Path
    config: Config
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def artifacts(self) -> Path:
        """Where the bench command writes its runs here."""
        return self.config.artifacts_dir

    def run_bench(
        self,
        slo: str | None = None,
        timeout: float | None = None,
        extra_env: Mapping[str, str] | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Path]:
        """Run the bench command in the worktree and return the run files it wrote.

        Args:
            slo: Run only this SLO (when the command has ``{slo}``).
            timeout: Seconds the command may take.
            extra_env: More environment (wins over :attr:`env`).
            cancel: Stops the command when set.

        Returns:
            The new run files, sorted (none when it wrote none).

        Raises:
            BenchCommandError: When the command fails, times out or is cancelled.
        """
        before = set(self.artifacts.glob(RUN_GLOB))
        env = {**self.env, **(extra_env or {})}
        run_to_completion(self.config, slo=slo, timeout=timeout, extra_env=env, cancel=cancel)
        return sorted(set(self.artifacts.glob(RUN_GLOB)) - before)


def read_bench_runs(paths: Sequence[Path]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """The samples in the run files a bench run wrote, per SLO, and the reference series they pair with.

    Each file is removed once read: the next run's files are told apart by
    name alone. A reference series (``<slo>@ref``) is kept only when it has
    as many samples as its SLO.

    Raises:
        ArtifactError: A file is not a run perfslo can read (one line).
    """
    from perfslo_tui.runs.files import REFERENCE_SUFFIX, is_reference_name, read_run

    samples: dict[str, list[float]] = {}
    references: dict[str, list[float]] = {}
    for path in paths:
        try:
            run = read_run(path)
        finally:
            path.unlink(missing_ok=True)
        for name, values in run.samples.items():
            if is_reference_name(name):
                references.setdefault(name[: -len(REFERENCE_SUFFIX)], []).extend(float(v) for v in values)
            else:
                samples.setdefault(name, []).extend(float(v) for v in values)
    return samples, {k: v for k, v in references.items() if len(v) == len(samples.get(k, ()))}


@contextlib.contextmanager
def project_checkout(
    config: Config,
    commit: str,
    parent: Path,
    label: str,
    *,
    repo: Path | None = None,
    setup: str | None = None,
    setup_timeout: float | None = 1800,
    cancel: threading.Event | None = None,
) -> Iterator[ProjectCheckout]:
    """Check ``commit`` out under ``parent``, prepare it, yield it; remove the worktree on exit.

    Args:
        config: The project's config (its folder must be inside the repository).
        commit: The commit to check out (a full id: see :func:`resolve_commit`).
        parent: The folder the worktree and its artifacts folder go in
            (usually a :func:`scratch_folder`).
        label: A short name: the worktree is ``parent/label``, its runs go to
            ``parent/runs-label``.
        repo: The repository's top folder (default: found from ``config.root``).
        setup: The ``bench_setup`` command (default: the config's); None or
            empty for none.
        setup_timeout: Seconds the setup may take.
        cancel: Stops the setup when set.

    Raises:
        WorktreeError: One line: the worktree cannot be made, the config's
            folder is outside the repository, or the setup fails.
    """
    top = repo if repo is not None else repository_root(config.root)
    try:
        relative = config.root.resolve().relative_to(top)
    except ValueError:
        raise WorktreeError(f"{config.root} (the config's folder) is outside the repository {top}") from None
    command = config.bench_setup if setup is None else setup
    with temporary_worktree(top, commit, label, parent) as worktree:
        artifacts = parent / f"runs-{label}"
        artifacts.mkdir(exist_ok=True)
        root = worktree / relative
        side_config = dataclasses.replace(config, root=root, artifacts_dir=artifacts)
        if config.path is not None:
            own = root / config.path.name
            side_config = dataclasses.replace(side_config, path=own if own.is_file() else config.path)
        env = command_env(side_config)
        env.update({"PERFSLO_COMMIT": commit, "PERFSLO_WORKTREE": str(worktree), "PERFSLO_SIDE": label})
        if command:
            try:
                run_setup(command, worktree, env=env, timeout=setup_timeout, cancel=cancel)
            except WorktreeError as exc:
                raise WorktreeError(f"{label.upper()}: {exc}") from None
        own_tools = (worktree / ".venv" / "bin", worktree / "node_modules" / ".bin")
        tools = [str(p) for p in own_tools if p.is_dir()]
        if tools:
            env["PATH"] = os.pathsep.join([*tools, env.get("PATH", "")])
        yield ProjectCheckout(label, commit, worktree, side_config, env)

"""The same-code trap: refuse a comparison whose two sides would measure the same code.

A worktree only helps when the bench command measures the worktree's code.
It does not when the code is resolved from the user's checkout: an editable
install (``pip install -e``), ``PYTHONPATH``, ``NODE_PATH``, a
``node_modules`` symlink (``npm link``), or an installed copy that both sides
import. Two checks, both generic:

* before running (:func:`static_trap_check`): ``PYTHONPATH`` / ``NODE_PATH``
  entries and ``node_modules`` symlinks that lead into the checkout;
* after a side's first run (:func:`loaded_files_trap_check`): the bench
  command runs with a tracer (a ``sitecustomize`` for Python, ``--require``
  for Node, see :func:`trace_environment`) that lists every source file the
  process loaded. A loaded file that is one of the project's tracked files
  *in the checkout*, or one that both sides loaded from the same place
  outside their worktrees and that matches a tracked file of the project
  (an installed copy), means both sides measure the same code: refused.

Producers that load no Python or CommonJS module (a compiled binary, ESM
imports) are not covered by the second check; ``bench_setup`` should build
them inside ``{worktree}``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from perfslo_tui.actions.worktree import ProjectCheckout, git

TRACE_FILE_ENV = "PERFSLO_TRACE_FILE"

_SITECUSTOMIZE = '''\
"""perfslo compare: list the source files this process loaded (written at exit)."""
import atexit
import os
import sys


def _perfslo_dump() -> None:
    path = os.environ.get("PERFSLO_TRACE_FILE")
    if not path:
        return
    files = set()
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if name:
            files.add(os.path.realpath(name))
    with open(path + "." + str(os.getpid()), "w", encoding="utf-8") as handle:
        handle.write("\\n".join(sorted(files)))


atexit.register(_perfslo_dump)
# Chain to the sitecustomize this one shadows, if any.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
sys.modules.pop("sitecustomize", None)
try:
    import sitecustomize  # noqa: F401
except ImportError:
    pass
'''

_NODE_TRACER = """\
// perfslo compare: list the CommonJS files this process loaded (written at exit).
'use strict';
process.on('exit', () => {
  const target = process.env.PERFSLO_TRACE_FILE;
  if (!target) return;
  const fs = require('fs');
  const real = (f) => { try { return fs.realpathSync(f); } catch { return f; } };
  const files = Object.keys(require.cache).map(real);
  fs.writeFileSync(`${target}.${process.pid}`, files.sort().join('\\n'));
});
"""


@dataclass(frozen=True, slots=True)
class TraceSetup:
    """Where the tracer lives and what it adds to a bench command's environment."""

    folder: Path

    def environment(self, base: Mapping[str, str], trace_file: Path) -> dict[str, str]:
        """``base`` plus the tracer: ``PYTHONPATH`` first entry, ``NODE_OPTIONS --require``."""
        env = dict(base)
        python_dir = str(self.folder / "python")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (python_dir, env.get("PYTHONPATH", "")) if p)
        node_options = env.get("NODE_OPTIONS", "")
        tracer = shlex.quote(str(self.folder / "node" / "trace.js"))
        env["NODE_OPTIONS"] = f"{node_options} --require {tracer}".strip()
        env[TRACE_FILE_ENV] = str(trace_file)
        return env


def trace_environment(folder: Path) -> TraceSetup:
    """Write the Python and Node tracers into ``folder``."""
    (folder / "python").mkdir(parents=True, exist_ok=True)
    (folder / "node").mkdir(parents=True, exist_ok=True)
    (folder / "python" / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
    (folder / "node" / "trace.js").write_text(_NODE_TRACER, encoding="utf-8")
    return TraceSetup(folder)


def read_trace(trace_file: Path) -> set[Path]:
    """Every file listed by the tracers of all processes that wrote ``trace_file.<pid>``."""
    files: set[Path] = set()
    for part in trace_file.parent.glob(trace_file.name + ".*"):
        with contextlib.suppress(OSError):
            files.update(Path(line) for line in part.read_text(encoding="utf-8").splitlines() if line)
    return files


def tracked_files(worktree: Path) -> set[str]:
    """The worktree's tracked files, relative (``git ls-files``)."""
    return set(git(worktree, "ls-files", "-z").split("\x00")) - {""}


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def static_trap_check(worktree: Path, checkout: Path, env: Mapping[str, str]) -> list[str]:
    """Problems visible before running anything: paths that lead a side into the checkout.

    Args:
        worktree: The side's worktree.
        checkout: The user's checkout (the repository's main work tree).
        env: The environment the bench command will get.

    Returns:
        One line per problem (empty when none is found).
    """
    problems: list[str] = []
    checkout = checkout.resolve()
    worktree_real = worktree.resolve()
    for var in ("PYTHONPATH", "NODE_PATH"):
        for entry in (env.get(var) or "").split(os.pathsep):
            if not entry:
                continue
            real = Path(entry).resolve()
            if _inside(real, checkout) and not _inside(real, worktree_real):
                problems.append(
                    f"{var} entry {entry} is inside your checkout {checkout}: both sides would load that code"
                )
    modules = worktree / "node_modules"
    candidates = [modules] if modules.is_symlink() else []
    if modules.is_dir() and not modules.is_symlink():
        for item in modules.iterdir():
            if item.name.startswith("@") and item.is_dir() and not item.is_symlink():
                candidates.extend(item.iterdir())
            else:
                candidates.append(item)
    for link in candidates:
        if link.is_symlink():
            real = link.resolve()
            if _inside(real, checkout) and not _inside(real, worktree_real):
                problems.append(f"{link} links to {real} in your checkout: both sides would load that code")
    return problems


def loaded_files_trap_check(
    side: str,
    loaded: set[Path],
    worktree: Path,
    checkout: Path,
    tracked: set[str],
    other_loaded: set[Path] | None = None,
    other_worktree: Path | None = None,
) -> list[str]:
    """Problems shown by the files a side's bench process loaded.

    Args:
        side: ``BASE`` or ``HEAD`` (for the message).
        loaded: Real paths of the files the side's process(es) loaded.
        worktree: The side's worktree.
        checkout: The user's checkout.
        tracked: The project's tracked files (relative paths).
        other_loaded: The other side's loaded files, when known.
        other_worktree: The other side's worktree.

    Returns:
        One line per problem (at most one per kind, naming an example file).
    """
    checkout = checkout.resolve()
    worktree = worktree.resolve()
    from_checkout: list[Path] = []
    for path in sorted(loaded):
        if _inside(path, worktree) or not _inside(path, checkout):
            continue
        if path.relative_to(checkout).as_posix() in tracked:
            from_checkout.append(path)
    problems: list[str] = []
    if from_checkout:
        problems.append(
            f"{side} loaded {from_checkout[0]} (and {len(from_checkout) - 1} more of the project's files)"
            f" from your checkout, not from its worktree: an editable install, PYTHONPATH or a link"
            f" points at {checkout}; both sides would measure the same code"
        )
    if other_loaded is not None and other_worktree is not None:
        other_worktree = other_worktree.resolve()
        suffixes = {t for t in tracked if "/" in t}
        shared: list[Path] = []
        for path in sorted(loaded & other_loaded):
            if _inside(path, worktree) or _inside(path, other_worktree) or _inside(path, checkout):
                continue
            parts = path.parts
            if any("/".join(parts[i:]) in suffixes for i in range(max(len(parts) - 6, 1), len(parts) - 1)):
                shared.append(path)
        if shared:
            problems.append(
                f"both sides loaded {shared[0]} (and {len(shared) - 1} more copies of the project's files)"
                " from outside their worktrees: an installed copy is measured on both sides;"
                " install each worktree's own code in bench_setup"
            )
    return problems


def loaded_pair_trap_check(
    first: ProjectCheckout, second: ProjectCheckout, checkout: Path, traces: Path
) -> list[str]:
    """Problems shown by the files both sides' traced bench processes loaded.

    Each side's trace is ``traces/loaded-<label>`` (:func:`trace_environment`);
    its label, upper-cased, names it in the messages. The first side is also
    checked against the second (both loading one copy).

    Returns:
        One line per problem, the first side's first.
    """
    loaded = {side.label: read_trace(traces / f"loaded-{side.label}") for side in (first, second)}
    tracked = tracked_files(first.worktree) | tracked_files(second.worktree)
    problems = loaded_files_trap_check(
        first.label.upper(),
        loaded[first.label],
        first.worktree,
        checkout,
        tracked,
        loaded[second.label],
        second.worktree,
    )
    problems += loaded_files_trap_check(
        second.label.upper(), loaded[second.label], second.worktree, checkout, tracked
    )
    return problems

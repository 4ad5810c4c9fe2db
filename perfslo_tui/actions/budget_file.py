"""Rewriting budgets in the config file, keeping its comments and layout.

``perfslo budgets --write`` changes only the budget keys it was asked to, in
``perfslo.toml`` or ``[tool.perfslo]`` of ``pyproject.toml``, through tomlkit
(which keeps comments, order and spacing). It refuses, with one line, a file
it cannot rewrite safely:

* one tomlkit does not reproduce byte for byte (then it could not promise to
  leave the rest alone);
* a rewrite whose parsed result differs from the old one in anything but the
  planned budgets, or that the config loader would refuse (a budget under a
  target);
* a read-only file, or one that changed since it was read.

The new file is written atomically (:mod:`perfslo_tui.atomic`) after the old
one is copied to ``<name>.perfslo-<UTC time>.bak`` beside it; a changed
budget carries a comment saying what it was and why it changed, so the file's
history (``git log -p``, ``git blame``) keeps the reason.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import stat
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfslo_tui.atomic import atomic_write_bytes
from perfslo_tui.config import PYPROJECT_FILE, ConfigError, parse_config

# Our note in a budget's comment, after whatever the user wrote there.
_OUR_NOTE = re.compile(r"\s*(?:—\s*)?(?:raised|lowered|added|set) from .* by perfslo budgets\b.*$")


class RewriteError(Exception):
    """The config cannot be rewritten safely; one line naming the file and the problem."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True, slots=True)
class BudgetChange:
    """One budget to set.

    Attributes:
        slo: The SLO's name.
        key: The budget key (``budget``, ``budget_instructions``, ``budget_mb``).
        value: The new budget.
        note: Why, written as a comment beside it.
    """

    slo: str
    key: str
    value: float
    note: str


@dataclass(frozen=True, slots=True)
class Rewrite:
    """A planned rewrite of the config file.

    Attributes:
        path: The config file.
        old: Its bytes when read.
        new: The bytes to write.
        diff: The unified diff from old to new.
        uncommented: Changes that could not carry a comment (an inline table).
    """

    path: Path
    old: bytes
    new: bytes
    diff: str
    uncommented: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """True when the rewrite changes anything."""
        return self.old != self.new


def plan_rewrite(path: Path, changes: Sequence[BudgetChange]) -> Rewrite:
    """Plan setting ``changes`` in the config at ``path``; nothing is written.

    Raises:
        RewriteError: When the file cannot be rewritten safely.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        old = path.read_bytes()
    except OSError as exc:
        raise RewriteError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = old.decode("utf-8")
    except UnicodeDecodeError:
        raise RewriteError(path, "not UTF-8: not rewritten") from None
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise RewriteError(path, f"tomlkit cannot parse it ({_first_line(exc)}): not rewritten") from None
    if tomlkit.dumps(document) != text:
        raise RewriteError(
            path,
            "tomlkit does not reproduce this file byte for byte, so it cannot be rewritten without "
            "touching other lines: not rewritten (apply the suggested budgets by hand)",
        )
    expected = _parsed(text, path)
    slos = _slos_table(expected, path)
    uncommented: list[str] = []
    for change in changes:
        table = _table(document, path, change.slo)
        if not _set(table, change):
            uncommented.append(change.slo)
        slos[change.slo][change.key] = change.value
    new_text = tomlkit.dumps(document)
    if _parsed(new_text, path) != expected:
        raise RewriteError(path, "the rewrite would change more than the budgets: not rewritten")
    try:
        parse_config(_perfslo_table(expected, path), path)
    except ConfigError as exc:
        problem = f"{exc.key}: {exc.problem}" if exc.key else exc.problem
        raise RewriteError(path, f"the new budgets would make the config invalid ({problem})") from None
    diff = "".join(
        difflib.unified_diff(
            text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=f"{path} (before)",
            tofile=f"{path} (after)",
        )
    )
    return Rewrite(path, old, new_text.encode("utf-8"), diff, tuple(uncommented))


def apply_rewrite(rewrite: Rewrite, now: dt.datetime | None = None) -> Path | None:
    """Write a planned rewrite atomically, keeping a backup of the old file.

    Args:
        rewrite: From :func:`plan_rewrite`.
        now: The time stamped on the backup's name (default: now).

    Returns:
        Where the old file was kept, or None when there was nothing to change.

    Raises:
        RewriteError: When the file is read-only or changed since it was read;
            on a write error the old file is intact.
    """
    path = rewrite.path
    if not rewrite.changed:
        return None
    try:
        info = path.stat()
        current = path.read_bytes()
    except OSError as exc:
        raise RewriteError(path, f"cannot read: {exc.strerror or exc}") from None
    # The mode bits, not os.access: root may write anything, but a file made
    # read-only says "do not rewrite me" to root too.
    if not info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise RewriteError(path, "read-only: not rewritten (make it writable, or apply the diff by hand)")
    if current != rewrite.old:
        raise RewriteError(path, "changed since perfslo read it: not rewritten (run it again)")
    stamp = (now or dt.datetime.now(tz=dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    backup: Path | None = None
    try:
        for attempt in range(100):
            suffix = f"-{attempt}" if attempt else ""
            candidate = path.with_name(f"{path.name}.perfslo-{stamp}{suffix}.bak")
            try:
                backup = atomic_write_bytes(candidate, rewrite.old, overwrite=False)
                break
            except FileExistsError:
                continue
        if backup is None:
            raise RewriteError(path, "could not find a free backup name: not rewritten")
        atomic_write_bytes(path, rewrite.new)
        os.chmod(path, stat.S_IMODE(info.st_mode))
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise RewriteError(
            path, f"cannot write{where}: {exc.strerror or exc}; the old file is intact"
        ) from None
    return backup


def _set(table: Any, change: BudgetChange) -> bool:
    """Set one budget, with the note as its comment; False when no comment fits (inline table)."""
    import tomlkit
    from tomlkit.items import InlineTable

    value = _number(change.value, table.get(change.key))
    item = tomlkit.item(value)
    if isinstance(table, InlineTable):
        table[change.key] = item
        return False
    previous = table.item(change.key) if change.key in table else None
    user_comment = ""
    spacing = "  "
    if previous is not None:
        comment = previous.trivia.comment.lstrip("#").strip()
        user_comment = _OUR_NOTE.sub("", comment).strip()
        spacing = previous.trivia.comment_ws or spacing
    note = f"{user_comment} — {change.note}" if user_comment else change.note
    item.comment(note)
    item.trivia.comment_ws = spacing
    if previous is not None:
        table[change.key] = item
        return True
    # After the table's last key, not at its very end: blank lines and
    # comments that end a table belong to what follows.
    keys = [key.key for key, _value in table.value.body if key is not None]
    try:
        table.value._insert_after(keys[-1], change.key, item)
    except (AttributeError, IndexError, KeyError):  # no key yet, or another tomlkit
        table.add(change.key, item)
    return True


def _number(value: float, old: Any) -> float | int:
    """The new value as TOML will show it: an integer where the old one was, and it is whole."""
    if float(value).is_integer() and (isinstance(old, int) and not isinstance(old, bool) or value >= 1000):
        return int(value)
    return float(value)


def _parsed(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RewriteError(path, f"invalid TOML ({exc}): not rewritten") from None


def _perfslo_table(data: dict[str, Any], path: Path) -> dict[str, Any]:
    if path.name == PYPROJECT_FILE:
        tool = data.get("tool")
        table = tool.get("perfslo") if isinstance(tool, dict) else None
        if not isinstance(table, dict):
            raise RewriteError(path, "no [tool.perfslo] table: not rewritten")
        return table
    return data


def _slos_table(data: dict[str, Any], path: Path) -> dict[str, Any]:
    slos = _perfslo_table(data, path).get("slos")
    if not isinstance(slos, dict):
        raise RewriteError(path, "no SLO tables: not rewritten")
    return slos


def _table(document: Any, path: Path, slo: str) -> Any:
    """The SLO's table in the tomlkit document."""
    root = document
    if path.name == PYPROJECT_FILE:
        root = document["tool"]["perfslo"]
    try:
        table = root["slos"][slo]
    except (KeyError, TypeError):
        raise RewriteError(path, f"no table for SLO {slo!r}: not rewritten") from None
    from tomlkit.items import InlineTable, Table

    if not isinstance(table, Table | InlineTable):
        raise RewriteError(
            path,
            f"SLO {slo!r} is written with dotted keys ({slo}.budget = …) spread over its parent table, "
            "which tomlkit cannot change in place: not rewritten (apply the suggested budgets by hand, "
            f"or give it its own [slos.{slo}] table)",
        )
    return table


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__

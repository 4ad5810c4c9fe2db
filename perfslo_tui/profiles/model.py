"""What a profile says, whatever profiler wrote it: functions, their times, a call tree.

Every reader in :mod:`perfslo_tui.profiles.formats` turns its format into a
:class:`Profile`: per function its own (self) time, its total time (itself
and everything it called, counted once per stack even when it recurses) and
its calls where the profiler counts them; and a call tree under one root.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Nodes of a call tree below this share of the profile's total are folded into
# their parent's self time: a tree a person can read, and a bounded size.
TREE_MIN_SHARE = 0.002
TREE_MAX_DEPTH = 60
TREE_MAX_NODES = 6000
FOLDED_NAME = "… smaller calls"


class ProfileError(Exception):
    """A profile that cannot be read or made: one line naming the file and the problem."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One function as the profiler names it.

    Attributes:
        name: The function's name (``parse``, ``<built-in method sorted>``).
        file: Its file (made relative to the project where it lies inside
            it; empty for built-ins and native code without a file).
        line: Its first line (0 when unknown).
    """

    name: str
    file: str = ""
    line: int = 0

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the function across versions: file and name, not the line (lines move)."""
        return (self.file, self.name)

    @property
    def location(self) -> str:
        """``src/parse.py:12``, the file alone, or empty."""
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, slots=True)
class FunctionStat:
    """One function's times in a profile.

    Attributes:
        frame: The function.
        calls: Calls counted (0 when the profiler samples and cannot count).
        self_s: Time in the function itself.
        total_s: Time in it and its callees (each stack counted once).
    """

    frame: Frame
    calls: int
    self_s: float
    total_s: float


@dataclass(frozen=True, slots=True)
class CallNode:
    """A node of the call tree: a function reached by one path from the root.

    Attributes:
        frame: The function.
        total_s: Time in this path's calls of it, callees included.
        self_s: Time in the function itself on this path.
        calls: Calls on this path (0 when unknown).
        children: Its callees, slowest first.
    """

    frame: Frame
    total_s: float
    self_s: float
    calls: int = 0
    children: tuple[CallNode, ...] = ()


@dataclass(frozen=True, slots=True)
class Profile:
    """A profile in perfslo's terms.

    Attributes:
        format: What it was read from: ``pstats``, ``speedscope``,
            ``cpuprofile``, ``perf`` or ``collapsed``.
        functions: Every function, slowest self time first.
        root: The call tree's root (a synthetic node named ``all``).
        total_s: The sum of all self times.
        unit: ``s`` when times are seconds, ``samples`` when the format only
            counts samples (collapsed stacks, perf events other than clocks).
        sampled: Times are estimates from samples (calls unknown) rather than
            measured per call.
    """

    format: str
    functions: tuple[FunctionStat, ...]
    root: CallNode
    total_s: float
    unit: str = "s"
    sampled: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def top(self, count: int = 20, by: str = "self") -> list[FunctionStat]:
        """The ``count`` functions with the most self (or ``total``) time."""
        if by == "total":
            return sorted(self.functions, key=lambda f: (-f.total_s, f.frame.key))[:count]
        return list(self.functions[:count])

    def share(self, seconds: float) -> float:
        """``seconds`` as a fraction of the profile's total (0 for an empty profile)."""
        return seconds / self.total_s if self.total_s > 0 else 0.0


# --------------------------------------------------------------- building from stacks


@dataclass(slots=True)
class _Node:
    frame: Frame
    self_s: float = 0.0
    calls: int = 0
    children: dict[Frame, _Node] = field(default_factory=dict)

    def child(self, frame: Frame) -> _Node:
        node = self.children.get(frame)
        if node is None:
            node = self.children[frame] = _Node(frame)
        return node


class StackTree:
    """A call tree grown from stacks (sampled or evented profiles) and turned into a :class:`Profile`."""

    def __init__(self) -> None:
        self.root = _Node(Frame("all"))

    def add(self, stack: Sequence[Frame], weight: float, calls: int = 0) -> None:
        """Add ``weight`` to the leaf of ``stack`` (outermost frame first)."""
        node = self.root
        for frame in stack:
            node = node.child(frame)
        node.self_s += weight
        node.calls += calls

    def node(self, stack: Sequence[Frame]) -> _Node:
        """The node of ``stack`` (made when missing), for evented formats that open and close frames."""
        node = self.root
        for frame in stack:
            node = node.child(frame)
        return node

    def profile(self, format_name: str, unit: str = "s", sampled: bool = True) -> Profile:
        """The profile: function times (recursion counted once per stack) and the pruned tree."""
        selfs: dict[Frame, float] = {}
        totals: dict[Frame, float] = {}
        calls: dict[Frame, int] = {}
        subtotals: dict[int, float] = {}
        open_frames: dict[Frame, int] = {}
        # Iterative depth-first walk (a profile's stacks may be deeper than Python's recursion limit).
        work: list[tuple[_Node, bool]] = [(self.root, False)]
        while work:
            node, leaving = work.pop()
            if not leaving:
                work.append((node, True))
                if node is not self.root:
                    open_frames[node.frame] = open_frames.get(node.frame, 0) + 1
                work.extend((child, False) for child in node.children.values())
                continue
            total = node.self_s + math.fsum(subtotals[id(c)] for c in node.children.values())
            subtotals[id(node)] = total
            if node is self.root:
                continue
            frame = node.frame
            selfs[frame] = selfs.get(frame, 0.0) + node.self_s
            calls[frame] = calls.get(frame, 0) + node.calls
            open_frames[frame] -= 1
            if open_frames[frame] == 0:  # no caller on this stack is the same function
                totals[frame] = totals.get(frame, 0.0) + total
        functions = tuple(
            sorted(
                (FunctionStat(f, calls.get(f, 0), selfs.get(f, 0.0), totals.get(f, 0.0)) for f in totals),
                key=lambda s: (-s.self_s, -s.total_s, s.frame.key),
            )
        )
        tree = _freeze(self.root, subtotals)
        return Profile(format_name, functions, tree, math.fsum(selfs.values()), unit, sampled)


def _freeze(root: _Node, subtotals: dict[int, float]) -> CallNode:
    """The tree as frozen nodes; small or deep branches folded into one ``… smaller calls`` node."""
    floor = subtotals[id(root)] * TREE_MIN_SHARE
    budget = [TREE_MAX_NODES]

    def freeze(node: _Node, depth: int) -> CallNode:
        kept: list[CallNode] = []
        folded = 0.0
        children = sorted(node.children.values(), key=lambda c: -subtotals[id(c)])
        for child in children:
            child_total = subtotals[id(child)]
            if child_total >= floor and child_total > 0 and depth < TREE_MAX_DEPTH and budget[0] > 0:
                budget[0] -= 1
                kept.append(freeze(child, depth + 1))
            else:
                folded += child_total
        if folded > 0:
            kept.append(CallNode(Frame(FOLDED_NAME), folded, folded))
        return CallNode(node.frame, subtotals[id(node)], node.self_s, node.calls, tuple(kept))

    return freeze(root, 0)


def function_profile(
    format_name: str,
    functions: Iterable[FunctionStat],
    root: CallNode,
    unit: str = "s",
    sampled: bool = False,
) -> Profile:
    """A profile from function times measured directly (pstats), slowest self time first."""
    ordered = tuple(sorted(functions, key=lambda s: (-s.self_s, -s.total_s, s.frame.key)))
    total = math.fsum(s.self_s for s in ordered)
    return Profile(format_name, ordered, root, total, unit, sampled)

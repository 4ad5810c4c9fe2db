"""Reading profiles: pstats (cProfile), speedscope, Chrome ``.cpuprofile``, ``perf script``, collapsed stacks.

:func:`read_profile` finds the format from the content, not the name:

* **pstats**: what ``cProfile`` dumps (perfslo's harness, ``python -m cProfile -o``).
  Function times are exact; the call tree is built from the caller/callee
  pairs the profiler records (gprof's way: a function called from several
  places has its callees split in proportion to the time of each call site).
* **speedscope** JSON (``py-spy record --format speedscope``, and what
  speedscope exports): sampled or evented profiles; every thread is merged.
* **Chrome .cpuprofile** (``node --cpu-prof``, Chrome DevTools): the
  ``(idle)`` node is left out (it is not the program's time).
* **perf script** text (``perf record -g`` then ``perf script``): one sample per
  block, stacks leaf first; clock events (``cpu-clock``, ``task-clock``)
  weigh their period in ns, other events count samples.
* **collapsed stacks** (``a;b;c 12`` per line: ``stackcollapse-*.pl``,
  ``py-spy record --format raw``): counts of samples.

A file that is none of these, or is one with a broken structure, raises
:class:`~perfslo_tui.profiles.model.ProfileError` with one line. File paths
inside the project are made relative to it (``roots``), and paths into a
``site-packages`` folder keep only the part after it, so profiles of two
checkouts of the same project (a worktree and the user's checkout) name the
same functions the same way.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from perfslo_tui.profiles.model import (
    TREE_MAX_DEPTH,
    TREE_MAX_NODES,
    TREE_MIN_SHARE,
    CallNode,
    Frame,
    FunctionStat,
    Profile,
    ProfileError,
    StackTree,
    function_profile,
)

MAX_PROFILE_BYTES = 1 << 30
FORMATS = ("pstats", "speedscope", "cpuprofile", "perf", "collapsed")
# Functions of the profiler itself, left out of what a harness profile shows.
_PROFILER_NOISE = ("_lsprof.Profiler",)
_SPEEDSCOPE_UNITS = {"seconds": 1.0, "milliseconds": 1e-3, "microseconds": 1e-6, "nanoseconds": 1e-9}


def normalise_path(file: str, roots: Sequence[str] = ()) -> str:
    """A function's file as profiles of different checkouts agree on it.

    ``~`` (cProfile's built-ins) becomes empty; a ``file://`` URL a path; a path
    under one of ``roots`` relative to it; a path into ``site-packages`` the
    part after it.
    """
    if file in ("~", ""):
        return ""
    if file.startswith("file://"):
        file = file[len("file://") :]
    for root in roots:
        prefix = root.rstrip("/") + "/"
        if file.startswith(prefix):
            return file[len(prefix) :]
    marker = "site-packages/"
    if marker in file:
        return file.rsplit(marker, 1)[1]
    return file


def read_profile(path: Path, roots: Sequence[str | Path] = ()) -> Profile:
    """Read a profile in any format perfslo knows.

    Args:
        path: The profile file.
        roots: Folders whose paths are made relative (the checkout or
            worktree the profile was made in).

    Raises:
        ProfileError: ``/x/prof.json: not a profile perfslo can read (...)``.
    """
    root_names = [str(r) for r in roots]
    try:
        size = path.stat().st_size
        if size > MAX_PROFILE_BYTES:
            raise ProfileError(f"{path}: too large to read ({size / 2**20:.0f} MB)")
        data = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the profile: {exc.strerror or exc}") from None
    if not data.strip():
        raise ProfileError(f"{path}: the profile is empty")
    try:
        return _parse(path, data, root_names)
    except ProfileError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise ProfileError(f"{path}: a broken profile ({type(exc).__name__}: {str(exc)[:120]})") from None


def _parse(path: Path, data: bytes, roots: Sequence[str]) -> Profile:
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError:
            document = None
        if isinstance(document, dict):
            if "profiles" in document and "shared" in document:
                return _speedscope(path, document, roots)
            if "nodes" in document:
                return _cpuprofile(path, document, roots)
            raise ProfileError(
                f"{path}: JSON, but neither a speedscope profile nor a Chrome .cpuprofile"
                " (no 'profiles'/'shared' or 'nodes')"
            )
        if document is not None:
            raise ProfileError(f"{path}: JSON, but not a profile (a {type(document).__name__} at the top)")
    if data[:1] in (b"{", b"\xfb"):  # marshal's dict, as pstats writes it (0xfb: with the ref flag)
        stats = _load_pstats(data)
        if stats is not None:
            return _pstats(path, stats, roots)
    text = _text(data)
    if text is not None:
        if _PERF_SAMPLE.search(text) and _PERF_FRAME.search(text):
            return _perf_script(path, text)
        if _COLLAPSED.match(text.lstrip().split("\n", 1)[0]):
            return _collapsed(path, text, roots)
    raise ProfileError(
        f"{path}: not a profile perfslo can read (pstats, speedscope, Chrome .cpuprofile,"
        " perf script or collapsed stacks)"
    )


def _text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


# ------------------------------------------------------------------------------ pstats


def _load_pstats(data: bytes) -> dict[Any, Any] | None:
    import marshal

    try:
        stats = marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return None
    if not isinstance(stats, dict) or not stats:
        return None
    for key, value in list(stats.items())[:5]:
        if not (isinstance(key, tuple) and len(key) == 3 and isinstance(value, tuple) and len(value) == 5):
            return None
    return stats


def _pstats(path: Path, stats: Mapping[Any, Any], roots: Sequence[str]) -> Profile:
    frames: dict[Any, Frame] = {}
    for key in stats:
        file, line, name = key
        frames[key] = Frame(str(name), normalise_path(str(file), roots), int(line))
    noise = {key for key, frame in frames.items() if any(n in frame.name for n in _PROFILER_NOISE)}
    functions: dict[Frame, FunctionStat] = {}
    callees: dict[Any, dict[Any, tuple[float, int]]] = {}
    for key, (_cc, nc, tt, ct, callers) in stats.items():
        if key in noise:
            continue
        frame = frames[key]
        old = functions.get(frame)
        calls, self_s, total_s = int(nc), float(tt), float(ct)
        if old is not None:  # two entries one frame (same file, line and name): add them up
            calls, self_s, total_s = calls + old.calls, self_s + old.self_s, total_s + old.total_s
        functions[frame] = FunctionStat(frame, calls, self_s, total_s)
        for caller, edge in (callers or {}).items():
            if caller in noise or caller not in stats:
                continue
            edge_ct = float(edge[3]) if isinstance(edge, tuple) else 0.0
            edge_calls = int(edge[1]) if isinstance(edge, tuple) else int(edge)
            callees.setdefault(caller, {})[key] = (edge_ct, edge_calls)
    total = math.fsum(f.self_s for f in functions.values())
    called = {callee for targets in callees.values() for callee in targets}
    tops = [key for key in stats if key not in noise and key not in called]
    if not tops:  # every function has a caller (a cycle at the top): start from the slowest
        tops = sorted((k for k in stats if k not in noise), key=lambda k: -float(stats[k][3]))[:1]
    floor = total * TREE_MIN_SHARE
    budget = [TREE_MAX_NODES]

    def build(key: Any, scale: float, on_path: frozenset[Any], depth: int) -> CallNode:
        _cc, nc, tt, ct, _callers = stats[key]
        kept: list[CallNode] = []
        folded = 0.0
        inner = on_path | {key}
        edges = sorted(callees.get(key, {}).items(), key=lambda item: -item[1][0])
        for callee, (edge_ct, _edge_calls) in edges:
            if callee in inner:
                continue  # recursion: its time is inside this node already
            share = edge_ct * scale
            callee_ct = float(stats[callee][3])
            if share >= floor and share > 0 and depth < TREE_MAX_DEPTH and budget[0] > 0 and callee_ct > 0:
                budget[0] -= 1
                kept.append(build(callee, share / callee_ct, inner, depth + 1))
            else:
                folded += share
        if folded > 0:
            kept.append(CallNode(Frame("… smaller calls"), folded, folded))
        return CallNode(
            frames[key], float(ct) * scale, float(tt) * scale, round(int(nc) * scale), tuple(kept)
        )

    children = sorted((build(key, 1.0, frozenset(), 1) for key in tops), key=lambda n: -n.total_s)
    root = CallNode(Frame("all"), total, 0.0, 0, tuple(c for c in children if c.total_s > 0))
    return function_profile("pstats", functions.values(), root)


# -------------------------------------------------------------------------- speedscope


def _speedscope(path: Path, document: Mapping[str, Any], roots: Sequence[str]) -> Profile:
    shared = document.get("shared")
    raw_frames = shared.get("frames") if isinstance(shared, dict) else None
    profiles = document.get("profiles")
    if not isinstance(raw_frames, list) or not isinstance(profiles, list) or not profiles:
        raise ProfileError(f"{path}: a speedscope file without frames or profiles")
    frames = [_speedscope_frame(f, roots) for f in raw_frames]
    tree = StackTree()
    units: set[str] = set()
    for entry in profiles:
        if not isinstance(entry, dict):
            raise ProfileError(f"{path}: a speedscope profile that is not an object")
        unit = str(entry.get("unit", "none"))
        scale = _SPEEDSCOPE_UNITS.get(unit)
        units.add("s" if scale is not None else "samples")
        scale = scale if scale is not None else 1.0
        kind = entry.get("type")
        if kind == "sampled":
            samples = entry.get("samples") or []
            weights = entry.get("weights") or [1] * len(samples)
            if len(weights) != len(samples):
                raise ProfileError(f"{path}: speedscope samples and weights differ in length")
            for stack, weight in zip(samples, weights, strict=True):
                tree.add([frames[i] for i in stack], float(weight) * scale)
        elif kind == "evented":
            _speedscope_events(path, entry, frames, scale, tree)
        else:
            raise ProfileError(f"{path}: unknown speedscope profile type {str(kind)[:40]!r}")
    unit = "s" if units == {"s"} else "samples"
    return tree.profile("speedscope", unit=unit, sampled=True)


def _speedscope_frame(raw: Any, roots: Sequence[str]) -> Frame:
    if not isinstance(raw, dict) or "name" not in raw:
        raise ProfileError("a speedscope frame without a name")
    line = raw.get("line") or 0
    return Frame(str(raw["name"]), normalise_path(str(raw.get("file") or ""), roots), int(line))


def _speedscope_events(
    path: Path, entry: Mapping[str, Any], frames: Sequence[Frame], scale: float, tree: StackTree
) -> None:
    stack: list[Frame] = []
    last = float(entry.get("startValue", 0.0))
    for event in entry.get("events") or []:
        at = float(event["at"])
        if stack and at > last:
            tree.node(stack).self_s += (at - last) * scale
        last = at
        frame = frames[int(event["frame"])]
        if event["type"] == "O":
            stack.append(frame)
            tree.node(stack).calls += 1
        elif event["type"] == "C":
            if not stack or stack[-1] != frame:
                raise ProfileError(f"{path}: speedscope events close a frame that is not open ({frame.name})")
            stack.pop()
        else:
            raise ProfileError(f"{path}: unknown speedscope event type {str(event['type'])[:20]!r}")


# -------------------------------------------------------------------------- cpuprofile


def _cpuprofile(path: Path, document: Mapping[str, Any], roots: Sequence[str]) -> Profile:
    nodes = document.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise ProfileError(f"{path}: a .cpuprofile without nodes")
    by_id: dict[int, Mapping[str, Any]] = {}
    for node in nodes:
        by_id[int(node["id"])] = node
    parent: dict[int, int] = {}
    for node in nodes:
        for child in node.get("children") or []:
            parent[int(child)] = int(node["id"])
    self_us: dict[int, float] = {}
    samples = document.get("samples") or []
    deltas = document.get("timeDeltas") or []
    if samples and len(deltas) == len(samples):
        # A sample's time is the gap to the next one (Chrome's attribution); the last gets the mean.
        mean = (sum(deltas[1:]) / (len(deltas) - 1)) if len(deltas) > 1 else 0.0
        for i, node_id in enumerate(samples):
            gap = float(deltas[i + 1]) if i + 1 < len(deltas) else mean
            self_us[int(node_id)] = self_us.get(int(node_id), 0.0) + max(gap, 0.0)
    else:
        hits = {int(n["id"]): int(n.get("hitCount", 0)) for n in nodes}
        span = float(document.get("endTime", 0)) - float(document.get("startTime", 0))
        count = sum(hits.values())
        each = span / count if count and span > 0 else 1.0
        self_us = {k: v * each for k, v in hits.items()}
    tree = StackTree()
    for node_id, micros in self_us.items():
        if micros <= 0 or node_id not in by_id:
            continue
        stack: list[Frame] = []
        current: int | None = node_id
        seen: set[int] = set()
        while current is not None and current in by_id:
            if current in seen:
                raise ProfileError(f"{path}: a .cpuprofile whose nodes form a cycle")
            seen.add(current)
            call = by_id[current].get("callFrame") or {}
            name = str(call.get("functionName") or "(anonymous)")
            if current in parent or name != "(root)":
                line = int(call.get("lineNumber", -1)) + 1
                stack.append(Frame(name, normalise_path(str(call.get("url") or ""), roots), max(line, 0)))
            current = parent.get(current)
        stack.reverse()
        if stack and stack[-1].name == "(idle)":
            continue  # waiting, not the program's time
        tree.add(stack, micros * 1e-6)
    return tree.profile("cpuprofile", unit="s", sampled=True)


# ------------------------------------------------------------------------- perf script

# A sample's header (``comm pid[/tid] [cpu] seconds.micros:``) and a stack line (``\taddr sym (dso)``).
_PERF_SAMPLE = re.compile(r"^\S.*?\s\d+(?:/\d+)?\s+(?:\[\d+\]\s+)?\d+\.\d+:", re.M)
_PERF_FRAME = re.compile(r"^\s+[0-9a-f]+\s+\S.*\(.*\)\s*$", re.M)
_PERF_HEADER = re.compile(r":\s+(\d+)\s+([A-Za-z][\w\-.:/]*?):?\s*$")
_PERF_LINE = re.compile(r"^\s+([0-9a-f]+)\s+(.+?)\s+\((.*)\)\s*$")
_CLOCK_EVENTS = ("cpu-clock", "task-clock")


def _perf_script(path: Path, text: str) -> Profile:
    samples: list[tuple[list[Frame], float | None]] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines or lines[0][:1].isspace():
            continue
        header = lines[0]
        period: float | None = None
        match = _PERF_HEADER.search(header)
        if match and match.group(2).split(":")[0] in _CLOCK_EVENTS:
            period = int(match.group(1)) * 1e-9
        stack: list[Frame] = []
        for line in lines[1:]:
            frame_match = _PERF_LINE.match(line)
            if frame_match is None:
                continue
            symbol = re.sub(r"\+0x[0-9a-f]+$", "", frame_match.group(2))
            dso = frame_match.group(3)
            if symbol == "[unknown]":
                symbol = f"[unknown] {os.path.basename(dso)}"
            stack.append(Frame(symbol, dso))
        stack.append(Frame(header.split()[0]))  # the command's name, outermost
        stack.reverse()
        samples.append((stack, period))
    if not samples:
        raise ProfileError(f"{path}: perf script output without samples")
    # Clock events weigh their period (ns); any other event only counts samples.
    clock = all(period is not None for _stack, period in samples)
    tree = StackTree()
    for stack, period in samples:
        tree.add(stack, period if clock and period is not None else 1.0)
    return tree.profile("perf", unit="s" if clock else "samples", sampled=True)


# ------------------------------------------------------------------------ collapsed stacks

_COLLAPSED = re.compile(r"^\S.*\s\d+(\.\d+)?$")
_NAMED_FRAME = re.compile(r"^(.*?) \((.+?)(?::(\d+))?\)$")


def _collapsed(path: Path, text: str, roots: Sequence[str]) -> Profile:
    tree = StackTree()
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        stack_text, _, count = line.rpartition(" ")
        try:
            weight = float(count)
        except ValueError:
            raise ProfileError(f"{path}:{number}: not a collapsed stack line ('frames count')") from None
        frames: list[Frame] = []
        for part in stack_text.split(";"):
            named = _NAMED_FRAME.match(part)
            if named:
                file = normalise_path(named.group(2), roots)
                frames.append(Frame(named.group(1), file, int(named.group(3) or 0)))
            else:
                frames.append(Frame(part))
        tree.add(frames, weight)
    return tree.profile("collapsed", unit="samples", sampled=True)


__all__ = ["FORMATS", "FunctionStat", "normalise_path", "read_profile"]

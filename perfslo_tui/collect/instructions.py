"""Deterministic mode: count the instructions a workload executes, under valgrind.

Wall time on a shared machine moves by 5-50 % from run to run; the number of
instructions a program executes under a CPU simulator does not depend on what
else the machine is doing. This module counts them with valgrind (Debian's
3.19), for two kinds of workload:

**A Python callable** (``bench(fn, instructions=True)``). perfslo re-runs the
benchmark's own process (``[sys.executable, *sys.orig_argv[1:]]``, or a pytest
node id) under ``valgrind --tool=callgrind``, with ``PYTHONHASHSEED=0`` and a
request in the environment variable ``PERFSLO_COUNT_REQUEST``. In that re-run
every benchmark is skipped except the requested one, which
:func:`run_marked` calls in batches of ``N`` and ``2N`` calls between two
markers, then the process exits. Each batch's instructions are dumped by
callgrind on its own; the per-call count is ``(I(2N) - I(N)) / N`` minus the
same difference for an empty function, so interpreter start-up, imports, the
markers, the harness loop and the call itself all cancel out. Two markers exist:

* ``client-request`` (x86-64, the default there): callgrind's client requests
  (``ZERO_STATS``, ``DUMP_STATS_AT``, ``START_INSTRUMENTATION``), issued
  through 28 bytes of machine code placed in an executable page with
  :mod:`mmap` and called with :mod:`ctypes`, so no compiler and no
  ``valgrind.h`` are needed. Start-up runs uninstrumented (about 2.4x faster:
  a script importing perfslo took 4.4 s instead of 10.6 s) and every dump
  carries a label, so batches can never be mistaken for one another.
* ``getppid`` (any architecture): ``--dump-before=getppid`` and
  ``os.getppid()`` as the marker. Instrumented from the start (slower), and
  the dumps are recognised only by their number, so a workload that calls
  ``getppid()`` itself is refused.

Only the thread that runs the benchmark is counted (``--separate-threads``):
background threads of native libraries (jemalloc's decay thread in polars, for
one) do timer-driven work that made counts differ by up to 8,000 instructions
per batch between identical runs; without them identical runs count the same.

**A command** (``node bench.js``, a compiled program; :func:`count_command`)
runs under ``valgrind --tool=cachegrind --cache-sim=no --trace-children=yes``
and every process it starts is counted. With a ``{n}`` placeholder in the
command (the number of iterations the program runs), it is counted at ``n=N``
and ``n=2N`` and the per-iteration count is the difference over ``N``, so the
runtime's start-up cancels; without one, the whole process is the sample.

Counts are exact integers of executed guest instructions (``Ir``); no cache or
cycle estimate is produced here, so there is nothing to store apart from them.
This module depends on the standard library only.
"""

from __future__ import annotations

import ctypes
import gc
import json
import math
import mmap
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, Protocol

from perfslo_tui.actions.process import signal_group
from perfslo_tui.collect.command_timing import needs_shell

REQUEST_ENV = "PERFSLO_COUNT_REQUEST"
INSTALL_HINT = "install it (Debian/Ubuntu: apt-get install valgrind)"
CLIENT_REQUEST = "client-request"
GETPPID = "getppid"
METHODS = (CLIENT_REQUEST, GETPPID)
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_REPEATS = 3
# One batch of N calls executes at least this many instructions: the few
# hundred a batch's boundaries can vary by are then < 0.01 % of it, and the
# whole count (~12 such batches) takes ~1-2 s under callgrind.
DEFAULT_TARGET_INSTRUCTIONS = 20_000_000
MAX_CALLS = 1 << 22
# Interpreted Python executed ~5-7 instructions per ns natively here; used
# only to predict whether a count fits in the time limit.
_NATIVE_INSTRUCTIONS_PER_NS = 5
# Upper end of the slowdowns measured here (cachegrind ~15x, callgrind ~40x,
# Node start-up ~50x); used only to refuse work that would exceed the limit.
SLOWDOWN = 60
COMMAND_PLACEHOLDER = "{n}"
_TAIL_CHARS = 400
_LABEL_PREFIX = "perfslo "

# amd64 client request (valgrind.h, VALGRIND_DO_CLIENT_REQUEST_EXPR) as a
# function ``size_t request(size_t args[6])``: rax = args, rdx = 0 (the result
# when not under valgrind), the magic rotate preamble, ``xchg rbx, rbx``, and
# return rdx. Natively it just returns 0, so it is safe to call outside valgrind.
_AMD64_REQUEST = bytes.fromhex(
    "4889f8"  # mov rax, rdi
    "31d2"  # xor edx, edx
    "48c1c703"  # rol rdi, 3
    "48c1c70d"  # rol rdi, 13
    "48c1c73d"  # rol rdi, 61
    "48c1c733"  # rol rdi, 51
    "4887db"  # xchg rbx, rbx
    "4889d0"  # mov rax, rdx
    "c3"  # ret
)
_CALLGRIND_BASE = (ord("C") << 24) | (ord("T") << 16)
_DUMP_STATS_AT = _CALLGRIND_BASE + 3
_ZERO_STATS = _CALLGRIND_BASE + 1
_START_INSTRUMENTATION = _CALLGRIND_BASE + 4
_STOP_INSTRUMENTATION = _CALLGRIND_BASE + 5


class InstructionCountError(Exception):
    """Instructions could not be counted; the message is one line naming why."""


@dataclass(frozen=True, slots=True)
class InstructionCount:
    """What a count measured.

    Attributes:
        samples: Instructions per call (per iteration for a command with
            ``{n}``, per process without), one per repeat.
        method: How they were counted, in words.
        wall_s: Wall-clock seconds the count took, valgrind included.
        calls: ``N``: calls (iterations) in the smaller batch; 1 for whole
            processes.
        overhead_per_call: Harness instructions per call already subtracted
            (the loop and the call of an empty function); 0 for commands.
        processes: Valgrind runs it took.
        raw: The raw totals behind the samples, in the order measured (per
            batch for Python, per process for commands).
    """

    samples: list[int]
    method: str
    wall_s: float
    calls: int
    overhead_per_call: int = 0
    processes: int = 1
    raw: list[int] = field(default_factory=list)

    @property
    def median(self) -> int:
        """The median sample (the lower middle one for an even count)."""
        ordered = sorted(self.samples)
        return ordered[(len(ordered) - 1) // 2]


# --------------------------------------------------------------------------- valgrind


_VERSION_CACHE: dict[str, str | None] = {}


def _find_valgrind(valgrind: str, env: Mapping[str, str] | None) -> tuple[str | None, str | None]:
    """(path, problem): the valgrind executable to use, or why there is none."""
    search = (env if env is not None else os.environ).get("PATH", os.defpath)
    path = shutil.which(valgrind, path=search)
    if path is None:
        return None, f"valgrind not found on PATH: {INSTALL_HINT} to count instructions"
    if path not in _VERSION_CACHE:
        try:
            done = subprocess.run(
                [path, "--version"], capture_output=True, text=True, timeout=30, check=False
            )
            ok = done.returncode == 0 and done.stdout.startswith("valgrind")
            reason = (done.stderr or done.stdout).strip().splitlines()[-1:] if not ok else []
            _VERSION_CACHE[path] = None if ok else f"{path} --version failed: {' '.join(reason)}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            _VERSION_CACHE[path] = f"{path} does not run: {exc}"
    problem = _VERSION_CACHE[path]
    if problem is not None:
        return None, f"valgrind is broken ({problem}): {INSTALL_HINT} to count instructions"
    return path, None


def valgrind_available(valgrind: str = "valgrind", env: Mapping[str, str] | None = None) -> str | None:
    """Why instructions cannot be counted here, in one line, or None when they can.

    Args:
        valgrind: The executable's name or path.
        env: Environment whose ``PATH`` is searched (default: ours).
    """
    return _find_valgrind(valgrind, env)[1]


def default_method() -> str:
    """The marker used for Python workloads on this machine (client requests on x86-64)."""
    return CLIENT_REQUEST if platform.machine().lower() in ("x86_64", "amd64") else GETPPID


# --------------------------------------------------------------------------- the re-run side


class _Markers(Protocol):
    def begin(self, label: str) -> None: ...

    def end(self) -> None: ...

    def close(self) -> None: ...


class _ClientRequests:
    """Callgrind client requests from Python (see the module docstring)."""

    def __init__(self) -> None:
        if default_method() != CLIENT_REQUEST:
            raise InstructionCountError(
                f"callgrind client requests are implemented for x86-64 only, not {platform.machine()}; "
                f"use method={GETPPID!r}"
            )
        try:
            page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        except (OSError, ValueError) as exc:
            raise InstructionCountError(
                f"cannot map an executable page for callgrind client requests ({exc}); use method={GETPPID!r}"
            ) from None
        page.write(_AMD64_REQUEST)
        self._page = page  # the code lives as long as this object
        address = ctypes.addressof(ctypes.c_char.from_buffer(page))
        self._call = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p)(address)
        self._args = (ctypes.c_size_t * 6)()
        self._label = ctypes.create_string_buffer(b"")
        self._request(_START_INSTRUMENTATION)

    def _request(self, code: int, arg: int = 0) -> int:
        self._args[0] = code
        self._args[1] = arg
        return int(self._call(ctypes.addressof(self._args)))

    def begin(self, label: str) -> None:
        # The label is built before the counters are zeroed: only the batch
        # and a constant marker cost lie between the two requests.
        self._label = ctypes.create_string_buffer(label.encode())
        self._request(_ZERO_STATS)

    def end(self) -> None:
        self._request(_DUMP_STATS_AT, ctypes.addressof(self._label))

    def close(self) -> None:
        self._request(_STOP_INSTRUMENTATION)


class _GetppidMarkers:
    """``os.getppid()`` as the marker, for ``--dump-before=getppid``."""

    def begin(self, label: str) -> None:
        os.getppid()

    def end(self) -> None:
        os.getppid()

    def close(self) -> None:
        pass


def _noop() -> None:
    pass


# Two identical loops on purpose: CPython specialises a loop's call site for
# the function it calls, so the empty function gets its own loop and neither
# loop ever sees the other's callee.
def _work_batch(fn: Callable[[], object], n: int) -> None:
    for _ in range(n):
        fn()


def _noop_batch(fn: Callable[[], object], n: int) -> None:
    for _ in range(n):
        fn()


def batch_plan(calls: int, repeats: int) -> list[tuple[str, int, int]]:
    """The measured batches, in order: ``(kind, repeat, calls)``; kind is ``work`` or ``noop``."""
    plan = [("work", r, n) for r in range(repeats) for n in (calls, 2 * calls)]
    return plan + [("noop", 0, calls), ("noop", 0, 2 * calls)]


def batch_label(kind: str, repeat: int, n: int) -> str:
    """The label a batch's dump carries."""
    return f"{_LABEL_PREFIX}{kind} {repeat} {n}"


def _latest_batch_total(dump_dir: Path) -> int | None:
    """Instructions of this process's latest callgrind dump (its benchmark thread), if any."""
    pid = os.getpid()
    main = threading.current_thread() is threading.main_thread()
    dumps = [d for p in dump_dir.glob(f"callgrind.out.{pid}.*") if (d := _read_dump(p)) and d.part > 0]
    if not dumps:
        return None
    last = max(d.part for d in dumps)
    return sum(d.total for d in dumps if d.part == last and (d.thread == 1 or not main))


def _calibrate_by_count(
    fn: Callable[[], object], markers: _Markers, labels: list[str], dump_dir: Path, target: int
) -> int:
    """The smallest power of two ``N`` whose batch executes ``target`` instructions, read from the dumps.

    Instruction counts are deterministic, so ``N`` is too: a timing-based
    ``N`` moved between 8 and 32 from run to run on this busy machine, and
    the count with it by 0.1 %.
    """
    n = 1
    while True:
        label = batch_label("calib", 0, n)
        markers.begin(label)
        _work_batch(fn, n)
        markers.end()
        labels.append(label)
        total = _latest_batch_total(dump_dir)
        if total is None:
            raise InstructionCountError(
                f"no callgrind dump appeared in {dump_dir}: this process is not running under "
                "perfslo's valgrind command"
            )
        if total >= target or n >= MAX_CALLS:
            return n
        grow = 1 << max(1, math.ceil(math.log2(target / max(total, 1))))
        n = min(n * grow, MAX_CALLS)


def run_marked(
    fn: Callable[[], object],
    calls: int | None = None,
    *,
    repeats: int = DEFAULT_REPEATS,
    warmup: int = 1,
    method: str | None = None,
    disable_gc: bool = False,
    dump_dir: Path | None = None,
    target_instructions: int = DEFAULT_TARGET_INSTRUCTIONS,
) -> tuple[int, list[str]]:
    """Call ``fn`` in marked batches of ``N`` and ``2N`` calls: the count-mode harness.

    This is what ``bench()`` runs instead of timing when it is the re-run
    under valgrind. Outside valgrind the markers do nothing, so with
    ``calls`` given it can run anywhere (it then just calls ``fn``).

    Sequence: ``warmup`` plain calls; then either calibration (``calls`` is
    None: marked batches of 1, 2, 4... calls, read back from callgrind's dumps
    in ``dump_dir``, until one executes ``target_instructions``) or one
    unmeasured batch of ``calls``; either specialises the measuring loop and
    fills the workload's caches. Then one unmeasured batch of the empty
    function, and the marked batches of :func:`batch_plan`: for each repeat
    ``N`` and ``2N`` calls of ``fn``, then ``N`` and ``2N`` of the empty
    function. Nothing runs between the batches: a ``gc.collect()`` there
    (tried, to give every batch the same collector state) reshuffled
    pymalloc's pools and made the repeats differ by 0.63 %, against 0.018 %
    (N=10) and 0.003 % (N=40) without it.

    Args:
        fn: The workload.
        calls: ``N`` (at least 1), or None to calibrate under valgrind.
        repeats: Pairs of batches (at least 1); each gives one sample.
        warmup: Plain calls first.
        method: ``client-request`` or ``getppid`` (default: :func:`default_method`).
        disable_gc: Keep the garbage collector off inside the batches.
        dump_dir: Callgrind's output folder (needed to calibrate).
        target_instructions: What one batch of ``N`` calls should execute.

    Returns:
        ``N`` and the labels of all marked batches (calibration included), in order.

    Raises:
        InstructionCountError: The marker cannot be set up here, or the
            calibration finds no dumps (not under valgrind).
        ValueError: An argument out of range.
    """
    if (calls is not None and calls < 1) or repeats < 1 or warmup < 0:
        raise ValueError(f"need calls >= 1, repeats >= 1, warmup >= 0; got {calls}, {repeats}, {warmup}")
    if calls is None and dump_dir is None:
        raise ValueError("calls=None (calibrate) needs dump_dir, callgrind's output folder")
    chosen = method or default_method()
    if chosen not in METHODS:
        raise ValueError(f"unknown method {chosen!r} (known: {', '.join(METHODS)})")
    markers: _Markers = _ClientRequests() if chosen == CLIENT_REQUEST else _GetppidMarkers()
    was_enabled = gc.isenabled()
    labels: list[str] = []
    try:
        for _ in range(warmup):
            fn()
        if calls is None:
            assert dump_dir is not None
            calls = _calibrate_by_count(fn, markers, labels, dump_dir, target_instructions)
        else:
            _work_batch(fn, calls)
        _noop_batch(_noop, calls)
        for kind, repeat, n in batch_plan(calls, repeats):
            label = batch_label(kind, repeat, n)
            if disable_gc:
                gc.disable()
            if kind == "work":
                markers.begin(label)
                _work_batch(fn, n)
                markers.end()
            else:
                markers.begin(label)
                _noop_batch(_noop, n)
                markers.end()
            if was_enabled:
                gc.enable()
            labels.append(label)
    finally:
        markers.close()
        if was_enabled:
            gc.enable()
    return calls, labels


@dataclass(frozen=True, slots=True)
class CountRequest:
    """What the parent asks a re-run under valgrind to do (from ``PERFSLO_COUNT_REQUEST``).

    Attributes:
        key: The benchmark to count (``bench#3``, an SLO name...); every other
            benchmark of the re-run is skipped.
        calls: ``N``, or 0 to calibrate by instruction count.
        repeats: Pairs of batches.
        warmup: Plain calls first.
        method: The marker.
        target_instructions: What one batch of ``N`` calls should execute.
        dumps: Callgrind's output folder.
        report: File the re-run writes what it did to (JSON).
    """

    key: str
    calls: int
    repeats: int
    warmup: int
    method: str
    target_instructions: int
    dumps: str
    report: str

    def to_env(self) -> str:
        """The environment variable's value."""
        return json.dumps({name: getattr(self, name) for name in self.__slots__})


def count_request(environ: Mapping[str, str] | None = None) -> CountRequest | None:
    """The request when this process is perfslo's re-run under valgrind, else None.

    Raises:
        InstructionCountError: The variable is set but malformed.
    """
    raw = (environ if environ is not None else os.environ).get(REQUEST_ENV)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        request = CountRequest(
            key=str(data["key"]),
            calls=int(data["calls"]),
            repeats=int(data["repeats"]),
            warmup=int(data["warmup"]),
            method=str(data["method"]),
            target_instructions=int(data["target_instructions"]),
            dumps=str(data["dumps"]),
            report=str(data["report"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InstructionCountError(f"{REQUEST_ENV} is malformed ({exc}): {raw[:80]!r}") from None
    return request


def _write_report(path: str, data: dict[str, object]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)


def serve(request: CountRequest, fn: Callable[[], object], disable_gc: bool = False) -> NoReturn:
    """Run the requested benchmark between markers, report, and end the process.

    The process ends with ``os._exit`` so nothing after the benchmark runs
    under valgrind (no other benchmark, no run file written). Exit 0 when
    counted, 3 when the workload raised (the report names the exception).
    """
    report: dict[str, object] = {
        "key": request.key,
        "pid": os.getpid(),
        "main_thread": threading.current_thread() is threading.main_thread(),
    }
    code = 0
    try:
        report["calls"], report["labels"] = run_marked(
            fn,
            request.calls or None,
            repeats=request.repeats,
            warmup=request.warmup,
            method=request.method,
            disable_gc=disable_gc,
            dump_dir=Path(request.dumps),
            target_instructions=request.target_instructions,
        )
    except BaseException as exc:  # the parent reports it; this process must end here either way
        report["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:_TAIL_CHARS]
        code = 3
    try:
        _write_report(request.report, report)
    finally:
        os._exit(code)


# --------------------------------------------------------------------------- the parent side


def relaunch_argv() -> list[str]:
    """The command that re-runs this Python process from the start.

    Raises:
        InstructionCountError: It was not started from a script, ``-m`` or
            ``-c`` (an interactive session or a script read from stdin
            cannot be run again).
    """
    if sys.argv[0] in ("", "-") or len(getattr(sys, "orig_argv", [])) < 2:
        raise InstructionCountError(
            "cannot re-run this Python process under valgrind: it was not started from a script, "
            "-m or -c (an interactive session or stdin); run the benchmark from a file"
        )
    return [sys.executable, *sys.orig_argv[1:]]


def native_ns_per_call(fn: Callable[[], object], min_ns: int = 1_000_000) -> float:
    """Native nanoseconds per call of ``fn`` (after one warm-up call), timed over at least ``min_ns``.

    Only used to predict whether a count fits in its time limit; ``N`` itself
    is chosen under valgrind by instruction count.
    """
    clock = time.perf_counter_ns
    fn()
    loops = 1
    while True:
        start = clock()
        for _ in range(loops):
            fn()
        elapsed = max(clock() - start, 1)
        if elapsed >= min_ns or loops >= MAX_CALLS:
            return elapsed / loops
        loops *= 2


def _tail(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    tail = " | ".join(lines[-3:])
    return tail if len(tail) <= _TAIL_CHARS else "…" + tail[-_TAIL_CHARS:]


def _valgrind_problem(log_dir: Path) -> str:
    """The valgrind log's fatal message (unhandled instruction, crash...), if any."""
    lines: list[str] = []
    for log in sorted(log_dir.glob("valgrind.*.log")):
        for line in log.read_text(errors="replace").splitlines():
            text = re.sub(r"^==\d+==\s?", "", line).strip()
            low = text.lower()
            if (
                "unhandled instruction" in low
                or "fatal" in low
                or "valgrind:" in low
                or low.startswith("process terminating")
                or "sigill" in low
            ):
                lines.append(text)
    return " | ".join(dict.fromkeys(lines))[:_TAIL_CHARS]


def _run(argv: list[str], cwd: Path | None, env: dict[str, str], timeout_s: float, errors: Path) -> int:
    """Run to completion in its own session; kill the whole group at the timeout.

    Raises:
        subprocess.TimeoutExpired: The limit passed (the group is killed first).
        OSError: It cannot start.
    """
    with open(errors, "wb") as stderr:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            return process.wait(timeout=max(timeout_s, 0.001))
        except BaseException:
            # Valgrind and everything it traces run in the process group.
            signal_group(process.pid)
            process.wait()
            raise


@dataclass(frozen=True, slots=True)
class _Dump:
    pid: int
    part: int
    thread: int
    trigger: str
    total: int


def _read_dump(path: Path) -> _Dump | None:
    """A callgrind dump's header fields (read up to its ``summary:`` line)."""
    fields: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith(("pid:", "part:", "thread:", "desc: Trigger:", "summary:", "totals:")):
                name, _, value = line.partition(":")
                if name == "desc":
                    name, value = "trigger", value.partition(":")[2]
                fields[name] = value.strip()
                if name in ("summary", "totals"):
                    break
    try:
        return _Dump(
            pid=int(fields.get("pid", "0")),
            part=int(fields.get("part", "0")),
            thread=int(fields.get("thread", "1")),
            trigger=fields.get("trigger", ""),
            total=int(fields.get("summary") or fields.get("totals") or "0"),
        )
    except ValueError:
        return None


def _batch_totals(
    out_dir: Path, pid: int, method: str, labels: list[str], main_thread: bool
) -> dict[str, int]:
    """Instructions of each marked batch, by label, from the callgrind dumps."""
    dumps = [d for p in out_dir.glob("callgrind.out.*") if (d := _read_dump(p)) and d.pid == pid]

    def thread_ok(dump: _Dump) -> bool:
        # Valgrind numbers the initial thread 1; a benchmark run in another
        # thread is counted over all threads (background threads included).
        return dump.thread == 1 or not main_thread

    totals: dict[str, int] = {}
    if method == CLIENT_REQUEST:
        for dump in dumps:
            label = dump.trigger.removeprefix("Client Request:").strip()
            if label.startswith(_LABEL_PREFIX) and thread_ok(dump):
                totals[label] = totals.get(label, 0) + dump.total
        missing = [label for label in labels if label not in totals]
        if missing:
            raise InstructionCountError(
                f"callgrind wrote no dump for {len(missing)} of {len(labels)} batches "
                f"(first: {missing[0]!r}); the client requests did not reach valgrind"
            )
        return totals
    parts = sorted({d.part for d in dumps if "dump-before" in d.trigger})
    if len(parts) != 2 * len(labels):
        raise InstructionCountError(
            f"found {len(parts)} getppid() marker dumps where {2 * len(labels)} were expected: "
            f"the program calls getppid() itself; use method={CLIENT_REQUEST!r} (x86-64)"
        )
    # Part 2k+1 ends at the k-th batch's closing marker (the parts between hold the gaps).
    for index, label in enumerate(labels):
        part = parts[2 * index + 1]
        totals[label] = sum(d.total for d in dumps if d.part == part and thread_ok(d))
    return totals


def _samples(totals: dict[str, int], calls: int, repeats: int) -> tuple[list[int], int, list[int]]:
    """Per-call samples, the subtracted overhead per call, and the raw totals in order."""
    plan = batch_plan(calls, repeats)
    raw = [totals[batch_label(*batch)] for batch in plan]
    noop_n, noop_2n = raw[-2], raw[-1]
    overhead = (noop_2n - noop_n) / calls
    samples = [round((raw[2 * r + 1] - raw[2 * r]) / calls - overhead) for r in range(repeats)]
    return samples, round(overhead), raw


def _base_env(env: Mapping[str, str] | None) -> dict[str, str]:
    result = dict(env if env is not None else os.environ)
    # A fixed seed makes str/bytes hashing, hence dict and set layouts, the same in every run.
    result["PYTHONHASHSEED"] = "0"
    # A user's VALGRIND_OPTS could change what is counted (tracing children, tools).
    result.pop("VALGRIND_OPTS", None)
    result.pop(REQUEST_ENV, None)
    return result


def _limit_error(what: str, timeout_s: float) -> InstructionCountError:
    return InstructionCountError(
        f"counting instructions of {what} took longer than the limit of {timeout_s:g}s under valgrind "
        f"(programs run 15-60x slower there); raise the limit or make the workload smaller"
    )


def _predict(what: str, native_s: float, timeout_s: float, budget_s: float | None = None) -> None:
    """Refuse a count predicted to take longer than ``budget_s`` (default: the whole limit)."""
    predicted = native_s * SLOWDOWN
    if predicted > (timeout_s if budget_s is None else budget_s):
        raise InstructionCountError(
            f"counting instructions of {what} would take about {predicted:.0f}s under valgrind "
            f"({native_s:.2g}s natively x ~{SLOWDOWN}), over the limit of {timeout_s:g}s; "
            "raise the limit or make the workload smaller"
        )


def predicted_native_s(
    ns_per_call: float, calls: int | None, repeats: int, target_instructions: int
) -> float:
    """Native seconds of the work a count runs (calibration, warm-up and all batches), roughly."""
    batch_ns = (
        ns_per_call * calls if calls else max(ns_per_call, target_instructions / _NATIVE_INSTRUCTIONS_PER_NS)
    )
    # Calibration (up to ~2 batches), warm-up (1), 3 per repeat, and the cheap empty-call batches.
    return batch_ns * (3 * repeats + 3) / 1e9


def count_python_workload(
    key: str,
    calls: int | None = None,
    *,
    argv: Sequence[str] | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    repeats: int = DEFAULT_REPEATS,
    warmup: int = 1,
    method: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    target_instructions: int = DEFAULT_TARGET_INSTRUCTIONS,
    ns_per_call: float | None = None,
    valgrind: str = "valgrind",
) -> InstructionCount:
    """Count the instructions per call of the benchmark ``key`` of a Python program.

    Runs ``argv`` (default: this process again, :func:`relaunch_argv`) under
    callgrind with a :class:`CountRequest` for ``key``; the program's
    ``bench()`` for ``key`` must call :func:`serve` (through
    :func:`count_callable`).

    Args:
        key: The benchmark to count.
        calls: ``N`` (the smaller batch), or None: the smallest power of two
            whose batch executes ``target_instructions``, found under valgrind
            (deterministic, so two counts of the same code use the same ``N``).
        argv: The Python command to re-run.
        cwd: Its working folder (default: ours).
        env: Its environment (default: ours); ``PYTHONHASHSEED`` is set to 0.
        repeats: Pairs of batches, one sample each.
        warmup: Plain calls before the batches.
        method: The marker (default: :func:`default_method`).
        timeout_s: The limit for the whole count, valgrind start-up included.
        target_instructions: What one batch of ``N`` calls should execute.
        ns_per_call: Native time of one call, if known: a count predicted to
            exceed ``timeout_s`` is refused before it starts.
        valgrind: The valgrind executable.

    Returns:
        The count.

    Raises:
        InstructionCountError: No valgrind, over the limit, the program fails
            or never reaches ``key`` under valgrind.
        ValueError: Bad ``calls``/``repeats``/``method``/``timeout_s``.
    """
    chosen = method or default_method()
    if chosen not in METHODS:
        raise ValueError(f"unknown method {chosen!r} (known: {', '.join(METHODS)})")
    if (calls is not None and calls < 1) or repeats < 1 or warmup < 0 or not timeout_s > 0:
        raise ValueError(
            f"need calls >= 1, repeats >= 1, warmup >= 0, timeout_s > 0; "
            f"got {calls}, {repeats}, {warmup}, {timeout_s}"
        )
    path, problem = _find_valgrind(valgrind, env)
    if path is None:
        raise InstructionCountError(problem)
    command = list(argv) if argv is not None else relaunch_argv()
    what = f"benchmark {key!r}"
    if ns_per_call is not None:
        _predict(what, predicted_native_s(ns_per_call, calls, repeats, target_instructions), timeout_s)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="perfslo-count-") as tmp:
        out_dir = Path(tmp)
        report = out_dir / "report.json"
        request = CountRequest(
            key, calls or 0, repeats, warmup, chosen, target_instructions, str(out_dir), str(report)
        )
        child_env = _base_env(env)
        child_env[REQUEST_ENV] = request.to_env()
        tool = [
            path,
            "--tool=callgrind",
            f"--callgrind-out-file={out_dir}/callgrind.out.%p",
            f"--log-file={out_dir}/valgrind.%p.log",
            "--separate-threads=yes",
            "--cache-sim=no",
            "--dump-line=no",
            "--vgdb=no",
        ]
        if chosen == CLIENT_REQUEST:
            tool.append("--instr-atstart=no")
        else:
            tool.append("--dump-before=getppid")
        errors = out_dir / "stderr.txt"
        try:
            code = _run([*tool, *command], cwd, child_env, timeout_s, errors)
        except subprocess.TimeoutExpired:
            raise _limit_error(what, timeout_s) from None
        except OSError as exc:
            raise InstructionCountError(f"cannot start valgrind: {exc.strerror or exc}") from None
        result = json.loads(report.read_text()) if report.exists() else None
        stderr = _tail(errors.read_text(errors="replace"))
        shown = shlex.join(command)
        if result is not None and result.get("error"):
            raise InstructionCountError(f"{what} raised under valgrind: {result['error']}")
        if code != 0 or result is None:
            crash = _valgrind_problem(out_dir)
            if crash:
                raise InstructionCountError(f"{what} cannot run under valgrind: {crash}")
            if code != 0:
                how = f"killed by signal {-code}" if code < 0 else f"exited {code}"
                detail = f": {stderr}" if stderr else " (no stderr output)"
                raise InstructionCountError(f"{shown} {how} under valgrind{detail}")
            raise InstructionCountError(
                f"the re-run under valgrind ({shown}) never reached {what}: the program must reach "
                "the same bench() call again when re-run"
            )
        labels = [str(label) for label in result["labels"]]
        used = int(result["calls"])
        totals = _batch_totals(out_dir, int(result["pid"]), chosen, labels, bool(result["main_thread"]))
    samples, overhead, raw = _samples(totals, used, repeats)
    marker = "client requests" if chosen == CLIENT_REQUEST else "getppid() markers"
    return InstructionCount(
        samples=samples,
        method=f"callgrind, {marker}: (I(2N) - I(N)) / N in one process, minus an empty call",
        wall_s=time.perf_counter() - started,
        calls=used,
        overhead_per_call=overhead,
        processes=1,
        raw=raw,
    )


def count_callable(
    fn: Callable[[], object],
    key: str,
    *,
    argv: Sequence[str] | None = None,
    calls: int | None = None,
    target_instructions: int = DEFAULT_TARGET_INSTRUCTIONS,
    repeats: int = DEFAULT_REPEATS,
    warmup: int = 1,
    method: str | None = None,
    disable_gc: bool = False,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    valgrind: str = "valgrind",
) -> InstructionCount | None:
    """The hook for ``bench(fn, instructions=True)``: count ``fn``, or serve the count.

    In the normal process: times one call of ``fn`` natively (to refuse up
    front a count that would exceed ``timeout_s``) and counts ``fn`` through
    :func:`count_python_workload` (the other arguments are its own). In
    perfslo's re-run under valgrind: counts ``fn`` between markers and ends
    the process when ``key`` is the requested benchmark, and returns None for
    every other one (the caller then skips it).

    Returns:
        The count, or None in the re-run for a benchmark not requested.

    Raises:
        InstructionCountError: As :func:`count_python_workload`.
    """
    request = count_request()
    if request is not None:
        if request.key == key:
            serve(request, fn, disable_gc=disable_gc)
        return None
    return count_python_workload(
        key,
        calls,
        argv=argv,
        cwd=cwd,
        env=env,
        repeats=repeats,
        warmup=warmup,
        method=method,
        timeout_s=timeout_s,
        target_instructions=target_instructions,
        ns_per_call=native_ns_per_call(fn),
        valgrind=valgrind,
    )


# --------------------------------------------------------------------------- commands


def _command_argv(command: str | Sequence[str], n: int | None) -> list[str]:
    """The argv of the command, with ``{n}`` substituted; a shell only for shell syntax."""
    if not isinstance(command, str):
        return [part.replace(COMMAND_PLACEHOLDER, str(n)) if n is not None else part for part in command]
    text = command.replace(COMMAND_PLACEHOLDER, str(n)) if n is not None else command
    # The same rule as timed command benchmarks: a shell only for shell syntax.
    if needs_shell(text):
        return ["/bin/sh", "-c", text]
    words = shlex.split(text)
    return words if words else ["/bin/sh", "-c", text]


def _cachegrind_total(out_dir: Path) -> int:
    """Sum of ``summary:`` over every cachegrind file (one per traced process)."""
    total = 0
    files = sorted(out_dir.glob("cachegrind.out.*"))
    for path in files:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 4096))
            tail = handle.read().decode(errors="replace")
        found = re.findall(r"^summary:\s*(\d+)", tail, flags=re.MULTILINE)
        if not found:
            raise InstructionCountError(f"cachegrind file {path.name} has no summary line (truncated?)")
        total += int(found[-1])
    if not files:
        raise InstructionCountError("cachegrind wrote no output file")
    return total


def count_command(
    command: str | Sequence[str],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    calls: int = 10,
    repeats: int = 1,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    valgrind: str = "valgrind",
) -> InstructionCount:
    """Count the instructions of a command (any language), every process it starts included.

    With ``{n}`` in the command it is run with ``n = calls`` and ``n = 2 *
    calls`` and each sample is the difference over ``calls`` (per iteration,
    start-up cancelled); without, each sample is one whole run. The command
    is first run once natively: a command that fails there is reported as
    such, and its time predicts whether the count fits in ``timeout_s``.

    A string command is split like a shell would, and run through
    ``/bin/sh -c`` only when it uses shell syntax (the shell's instructions
    are then counted too; with ``{n}`` they cancel).

    Args:
        command: The command (string or argv).
        cwd: Working folder.
        env: Environment (default: ours); ``PYTHONHASHSEED`` is set to 0.
        calls: ``N`` for ``{n}``.
        repeats: Samples.
        timeout_s: The limit for the whole count.
        valgrind: The valgrind executable.

    Returns:
        The count.

    Raises:
        InstructionCountError: No valgrind, over the limit, the command fails
            natively or under valgrind.
        ValueError: Bad ``calls``/``repeats``/``timeout_s`` or an empty command.
    """
    if calls < 1 or repeats < 1 or not timeout_s > 0:
        raise ValueError(f"need calls >= 1, repeats >= 1, timeout_s > 0; got {calls}, {repeats}, {timeout_s}")
    shown = command if isinstance(command, str) else shlex.join(command)
    if not shown.strip():
        raise ValueError("empty command")
    path, problem = _find_valgrind(valgrind, env)
    if path is None:
        raise InstructionCountError(problem)
    differenced = COMMAND_PLACEHOLDER in shown
    sizes = [calls, 2 * calls] if differenced else [None]
    run_env = _base_env(env)
    started = time.perf_counter()
    deadline = started + timeout_s
    with tempfile.TemporaryDirectory(prefix="perfslo-count-") as tmp:
        root = Path(tmp)
        errors = root / "stderr.txt"
        # Natively first: a broken command is not valgrind's fault, and its time predicts ours.
        native_start = time.perf_counter()
        try:
            code = _run(_command_argv(command, sizes[0]), cwd, run_env, timeout_s, errors)
        except subprocess.TimeoutExpired:
            raise _limit_error(f"command {shown!r}", timeout_s) from None
        except OSError as exc:
            raise InstructionCountError(f"cannot start command {shown!r}: {exc.strerror or exc}") from None
        native_s = time.perf_counter() - native_start
        if code != 0:
            tail = _tail(errors.read_text(errors="replace"))
            raise InstructionCountError(
                f"command {shown!r} exited {code} without valgrind" + (f": {tail}" if tail else "")
            )
        per_sample = native_s * (3 if differenced else 1)
        _predict(f"command {shown!r}", per_sample * repeats, timeout_s, deadline - time.perf_counter())
        raw: list[int] = []
        for _ in range(repeats):
            for n in sizes:
                out_dir = root / f"run{len(raw)}"
                out_dir.mkdir()
                tool = [
                    path,
                    "--tool=cachegrind",
                    "--cache-sim=no",
                    "--trace-children=yes",
                    f"--cachegrind-out-file={out_dir}/cachegrind.out.%p",
                    f"--log-file={out_dir}/valgrind.%p.log",
                    "--vgdb=no",
                ]
                try:
                    code = _run(
                        [*tool, *_command_argv(command, n)],
                        cwd,
                        run_env,
                        deadline - time.perf_counter(),
                        errors,
                    )
                except subprocess.TimeoutExpired:
                    raise _limit_error(f"command {shown!r}", timeout_s) from None
                if code != 0:
                    crash = _valgrind_problem(out_dir)
                    if crash:
                        raise InstructionCountError(f"command {shown!r} cannot run under valgrind: {crash}")
                    tail = _tail(errors.read_text(errors="replace"))
                    raise InstructionCountError(
                        f"command {shown!r} exited {code} under valgrind" + (f": {tail}" if tail else "")
                    )
                raw.append(_cachegrind_total(out_dir))
    if differenced:
        samples = [round((raw[2 * r + 1] - raw[2 * r]) / calls) for r in range(repeats)]
        method = "cachegrind, whole processes at n=N and n=2N: (I(2N) - I(N)) / N"
    else:
        samples = list(raw)
        method = "cachegrind, whole process (start-up included)"
    return InstructionCount(
        samples=samples,
        method=method,
        wall_s=time.perf_counter() - started,
        calls=calls if differenced else 1,
        processes=len(raw),
        raw=raw,
    )

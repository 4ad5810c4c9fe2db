"""Valgrind for perfslo: finding it, and the re-run side of counting a Python benchmark.

perfslo counts a benchmark's instructions by re-running its process under
callgrind with a request in ``PERFSLO_COUNT_REQUEST``; in that re-run
:func:`serve` calls the requested workload in marked batches
(:func:`run_marked`) and ends the process. How the markers work and why:
:mod:`perfslo_tui.collect.instructions`. Standard library only: this runs
inside valgrind, where every import costs.
"""

from __future__ import annotations

import ctypes
import gc
import json
import math
import mmap
import os
import platform
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, Protocol

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

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

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from perfslo_tui.actions.process import signal_group
from perfslo_tui.collect.command_timing import needs_shell
from perfslo_tui.collect.valgrind import (
    _LABEL_PREFIX,
    _NATIVE_INSTRUCTIONS_PER_NS,
    _TAIL_CHARS,
    CLIENT_REQUEST,
    COMMAND_PLACEHOLDER,
    DEFAULT_REPEATS,
    DEFAULT_TARGET_INSTRUCTIONS,
    DEFAULT_TIMEOUT_S,
    INSTALL_HINT,
    MAX_CALLS,
    METHODS,
    REQUEST_ENV,
    SLOWDOWN,
    CountRequest,
    InstructionCountError,
    _Dump,
    _find_valgrind,
    _read_dump,
    batch_label,
    batch_plan,
    count_request,
    default_method,
    run_marked,
    serve,
    valgrind_available,
)


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


__all__ = [
    "CLIENT_REQUEST",
    "COMMAND_PLACEHOLDER",
    "CountRequest",
    "DEFAULT_REPEATS",
    "DEFAULT_TARGET_INSTRUCTIONS",
    "DEFAULT_TIMEOUT_S",
    "INSTALL_HINT",
    "InstructionCountError",
    "MAX_CALLS",
    "METHODS",
    "REQUEST_ENV",
    "SLOWDOWN",
    "_LABEL_PREFIX",
    "_NATIVE_INSTRUCTIONS_PER_NS",
    "_TAIL_CHARS",
    "_find_valgrind",
    "batch_label",
    "batch_plan",
    "count_request",
    "default_method",
    "run_marked",
    "serve",
    "valgrind_available",
    "InstructionCount",
    "count_callable",
    "count_command",
    "count_python_workload",
    "relaunch_argv",
    "native_ns_per_call",
]

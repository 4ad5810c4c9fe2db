"""Command benchmarks: time a whole command, hyperfine-style.

An SLO with ``command = "node bench/simple.js"`` in the config is measured by
running that command ``warmup`` times untimed, then ``runs`` times timed. Each
sample is the wall-clock time from just before the process is started to just
after it has exited (``time.perf_counter_ns`` around ``Popen`` + ``wait``), so
it includes process start-up, as hyperfine's does.

No shell is used unless the command needs one: it is split with
:func:`shlex.split` and run directly. A shell (``/bin/sh -c``) is used when
the string contains shell syntax: pipes, redirections, ``;``/``&&``/``||``,
``$`` expansions, backticks, globs, ``~``, parentheses, or a leading
``NAME=value`` assignment. A shell adds its own start-up (about 1 ms) to every
sample; hyperfine subtracts an estimate of it, perfslo does not, so a budget
for a shell command includes it.

Output goes to ``/dev/null``; stderr is kept (its tail names the problem
when the command fails). A non-zero exit, a timeout or a command that cannot
start stops the benchmark with :class:`CommandTimingError`.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from perfslo_tui.actions.bench import BenchCommandError
from perfslo_tui.actions.process import signal_group
from perfslo_tui.collect.memory import max_rss_mb

DEFAULT_TIMEOUT_S = 600.0
# How samples are taken, for the run's fingerprint: wall time of a whole
# process, start-up included, after untimed warm-up runs.
COMMAND_PROTOCOL = "perfslo-command/1"
# The reference workload timed after each run (as the harness does after each
# sample) lasts this fraction of the warm-up run, within these bounds: long
# enough to see the machine's speed, short enough to cost little beside a
# process (a 50 ms command: +20 ms; a 10 s one: +50 ms).
REFERENCE_FRACTION = 0.4
REFERENCE_MIN_NS = 2_000_000
REFERENCE_MAX_NS = 50_000_000
_SHELL_CHARS = frozenset("|&;<>()$`*?[]{}~!#\n")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
STDERR_TAIL_CHARS = 600


class CommandTimingError(BenchCommandError):
    """A command benchmark failed: the message names the command and why."""


@dataclass(frozen=True, slots=True)
class CommandTimes:
    """What :func:`time_command` measured.

    Attributes:
        command: The command as configured.
        samples_ms: Wall-clock milliseconds of each timed run.
        warmup: Untimed runs made first.
        shell: True when it ran through ``/bin/sh -c``.
        peak_mb: Each timed run's maximum resident set size in MB (from
            ``wait4``: the command and the children it waited for).
        reference_ms: Per-call milliseconds of the harness's reference
            workload, timed right after each timed run (empty when off): the
            machine's speed at that moment, so a busy machine is told from a
            slow command.
    """

    command: str
    samples_ms: list[float]
    warmup: int
    shell: bool
    peak_mb: list[float] = field(default_factory=list)
    reference_ms: list[float] = field(default_factory=list)


def needs_shell(command: str) -> bool:
    """True when ``command`` uses shell syntax and must run through ``sh -c``.

    Quoting alone does not need a shell (``shlex.split`` does it), so
    characters inside single quotes are ignored, and inside double quotes
    only ``$`` and backticks count.
    """
    quote: str | None = None
    index = 0
    while index < len(command):
        char = command[index]
        if quote == "'":
            if char == "'":
                quote = None
        elif quote == '"':
            if char == "\\":
                index += 1
            elif char == '"':
                quote = None
            elif char in "$`":
                return True
        elif char == "\\":
            index += 1
        elif char in "'\"":
            quote = char
        elif char in _SHELL_CHARS:
            return True
        index += 1
    if quote is not None:
        return True  # unbalanced quotes: let the shell report them
    words = shlex.split(command)
    return bool(words) and _ASSIGNMENT.match(words[0]) is not None


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    tail = " | ".join(lines[-3:])
    return tail if len(tail) <= STDERR_TAIL_CHARS else "…" + tail[-STDERR_TAIL_CHARS:]


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    if not signal_group(process.pid):
        process.kill()
    process.wait()


def _on_timeout(process: subprocess.Popen[bytes], fired: threading.Event) -> None:
    # Runs in the timer thread; the main thread's wait() then returns.
    fired.set()
    if not signal_group(process.pid):
        process.kill()


def time_command(
    command: str,
    runs: int = 10,
    warmup: int = 1,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    on_sample: Callable[[int, float], None] | None = None,
    reference: bool = False,
) -> CommandTimes:
    """Run ``command`` ``warmup`` times, then time ``runs`` runs of it.

    Args:
        command: The command line (see the module docs for when a shell is used).
        runs: Timed runs (at least 1).
        warmup: Untimed runs first (at least 0).
        cwd: Working folder (default: the current one).
        env: Environment (default: ours).
        timeout: Seconds one run may take before it is killed.
        on_sample: Called with ``(index, ms)`` after each timed run.
        reference: Time the reference workload after each timed run
            (:attr:`CommandTimes.reference_ms`).

    Returns:
        The samples.

    Raises:
        CommandTimingError: The command cannot start, exits non-zero or times
            out; the message names the command, the exit code and the tail of
            its stderr.
        ValueError: On a bad ``runs``/``warmup``/``command``.
    """
    if runs < 1 or warmup < 0:
        raise ValueError(f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    if not command.strip():
        raise ValueError("empty command")
    shell = needs_shell(command)
    argv: list[str] = ["/bin/sh", "-c", command] if shell else shlex.split(command)
    samples: list[float] = []
    peaks: list[float] = []
    references: list[float] = []
    ref_loops = 0
    clock = time.perf_counter_ns
    # The harness's reference workload; imported here because measure imports
    # this module (for command splitting).
    from perfslo_tui.collect.measure import calibrate, reference_work

    with tempfile.TemporaryFile() as errors:
        for index in range(warmup + runs):
            errors.seek(0)
            errors.truncate()
            start = clock()
            try:
                process = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    env=dict(env) if env is not None else None,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                    start_new_session=True,
                )
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise CommandTimingError(f"cannot start command {command!r}: {reason}") from None
            # A blocking wait, with the timeout enforced by a timer thread:
            # Popen.wait(timeout=...) polls with sleeps of up to 50 ms, which
            # would add up to that much to every sample.
            fired = threading.Event()
            timer = threading.Timer(timeout, _on_timeout, (process, fired))
            timer.daemon = True
            timer.start()
            try:
                # wait4 reaps it like wait() and also says how much memory it used.
                _pid, status, usage = os.wait4(process.pid, 0)
                code = os.waitstatus_to_exitcode(status)
                process.returncode = code
            except BaseException:
                _kill_group(process)
                raise
            finally:
                timer.cancel()
            elapsed = clock() - start
            if fired.is_set():
                raise CommandTimingError(f"command {command!r} timed out after {timeout:g}s")
            if code != 0:
                errors.seek(0)
                tail = _tail(errors.read().decode(errors="replace"))
                how = f"killed by signal {-code}" if code < 0 else f"exited {code}"
                raise CommandTimingError(
                    f"command {command!r} {how}" + (f": {tail}" if tail else " (no stderr output)")
                )
            if reference and ref_loops == 0:
                # Sized once, from the first run (a warm-up run when there is one).
                target = min(max(int(elapsed * REFERENCE_FRACTION), REFERENCE_MIN_NS), REFERENCE_MAX_NS)
                ref_loops = calibrate(reference_work, target)
            if index >= warmup:
                ms = elapsed / 1e6
                samples.append(ms)
                peaks.append(max_rss_mb(usage.ru_maxrss))
                if reference:
                    ref_start = clock()
                    for _ in range(ref_loops):
                        reference_work()
                    references.append(max(clock() - ref_start, 1) / ref_loops / 1e6)
                if on_sample is not None:
                    on_sample(index - warmup, ms)
    return CommandTimes(
        command=command,
        samples_ms=samples,
        warmup=warmup,
        shell=shell,
        peak_mb=peaks,
        reference_ms=references,
    )

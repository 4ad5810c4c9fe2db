"""The project's bench command: building it and running it to completion.

The only command perfslo ever runs is the one in the project's own config
(``bench_command``), **as written**: perfslo never re-tokenises or re-quotes
the user's shell text, so redirections, pipes, ``&&``, quotes and ``sh -c``
mean what they say. To run one SLO, perfslo sets ``PERFSLO_SLO=<name>`` in
the command's environment (``perfslo run``, the pytest ``perf`` fixture and
:class:`~perfslo_tui.collect.measure.PerfMeasurement` honour it) and, if the
command has a ``{slo}`` placeholder, puts the shell-quoted name there. For a
full run the placeholder's own word goes (with the option word right before
it, ``--slo {slo}``); every other character of the command stays as it is.
The SLO name is shell-quoted when substituted, so a name read from a run file
can never inject shell syntax.
"""

from __future__ import annotations

import collections
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from perfslo_tui.actions.process import signal_group
from perfslo_tui.config import Config

SLO_PLACEHOLDER = "{slo}"
SLO_ENV = "PERFSLO_SLO"
# Characters that end a shell word outside quotes (besides whitespace).
_OPERATORS = set(";&|<>()")
_QUOTES = "'\""


class BenchCommandError(Exception):
    """The bench command is missing, or failed."""


def supports_single_slo(config: Config) -> bool:
    """True when a bench command is configured: one SLO is always passed on.

    The SLO reaches the command as ``$PERFSLO_SLO`` (and in ``{slo}`` when the
    command has the placeholder); a command that reads neither runs everything.
    """
    return bool(config.bench_command)


def build_command(config: Config, slo: str | None = None) -> str:
    """The shell command to run: all SLOs, or only ``slo``.

    Without ``slo`` a ``{slo}`` placeholder's own word is removed along with
    the option word right before it when that word starts with ``-``
    (``--slo {slo}``); nothing else of the user's text changes. With ``slo``
    the placeholder becomes the shell-quoted name. Pass the name in the
    environment too: :func:`command_env`.

    Raises:
        BenchCommandError: When no bench command is configured.
    """
    command = config.bench_command
    if not command:
        where = config.path or "the config"
        raise BenchCommandError(f"{where}: no bench_command configured")
    if SLO_PLACEHOLDER not in command:
        return command
    if slo is not None:
        return substitute_slo(command, slo)
    return without_placeholder(command)


def _word_span(text: str, index: int) -> tuple[int, int]:
    """The span of the shell word around ``index``: no whitespace, no operator."""
    start = index
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in _OPERATORS:
        start -= 1
    end = index
    while end < len(text) and not text[end].isspace() and text[end] not in _OPERATORS:
        end += 1
    return start, end


def _unquoted(word: str) -> str:
    return "".join(ch for ch in word if ch not in _QUOTES)


def _strip_pairs(before: str, after: str) -> str:
    """Quote characters around a removed placeholder, with matched pairs dropped.

    ``'{slo}'`` leaves nothing; in ``sh -c 'bench {slo}'`` the closing quote
    belongs to the outer string and stays.
    """
    while before and after and before[-1] == after[0]:
        before, after = before[:-1], after[1:]
    return before + after


def without_placeholder(command: str) -> str:
    """``command`` with each ``{slo}`` word (and its option word) cut out of the text.

    Works on the text itself, never on a re-tokenised copy: ``node b.js --slo
    {slo} > out`` becomes ``node b.js > out``, ``sh -c 'b.py --slo {slo}'``
    becomes ``sh -c 'b.py'``.
    """
    text = command
    while SLO_PLACEHOLDER in text:
        index = text.index(SLO_PLACEHOLDER)
        start, end = _word_span(text, index)
        word = text[start:end]
        before = word[: index - start]
        after = word[index - start + len(SLO_PLACEHOLDER) :]
        keep = ""
        if _unquoted(word) == SLO_PLACEHOLDER:
            keep = _strip_pairs(before, after)
            # The option word right before it (``--slo {slo}``) goes too.
            gap = start
            while gap > 0 and text[gap - 1] in " \t":
                gap -= 1
            if gap < start and gap > 0 and text[gap - 1] not in _OPERATORS:
                prev_start, prev_end = _word_span(text, gap - 1)
                previous = text[prev_start:prev_end]
                core = previous.lstrip(_QUOTES)
                balanced = previous.count("'") % 2 == 0 and previous.count('"') % 2 == 0
                if core.startswith("-") and "=" not in core and balanced:
                    start = prev_start
        else:
            # ``--slo={slo}``, ``"--filter=^{slo}$"``: the whole word, but a quote
            # that opens or closes an outer string stays.
            keep = "".join(ch for ch in word if ch in _QUOTES)
            keep = "" if keep.count("'") % 2 == 0 and keep.count('"') % 2 == 0 else keep
        # The blank before the cut goes with it, so no double space is left.
        cut = start
        while cut > 0 and text[cut - 1] in " \t":
            cut -= 1
        if cut == 0:
            end_blank = end
            while end_blank < len(text) and text[end_blank] in " \t":
                end_blank += 1
            end = end_blank
        text = text[:cut] + keep + text[end:]
    return text


def substitute_slo(template: str, slo: str) -> str:
    """Put a shell-quoted SLO name where ``{slo}`` is, whatever quotes surround it.

    A config may write ``--slo {slo}``, ``--slo '{slo}'`` or
    ``"--filter=^{slo}$"``. Inside quotes the quoted name would be read with
    the template's quoting (``"$(...)"`` still runs), so there the template's
    quote is closed, the quoted name inserted, and the quote reopened.
    """
    quoted = shlex.quote(slo)
    out: list[str] = []
    state = ""  # "", "'" or '"': the quote open at this point of the template
    i = 0
    while i < len(template):
        if template.startswith(SLO_PLACEHOLDER, i):
            out.append(f"{state}{quoted}{state}")
            i += len(SLO_PLACEHOLDER)
            continue
        ch = template[i]
        if ch == "\\" and state != "'":
            out.append(template[i : i + 2])
            i += 2
            continue
        if ch in "'\"" and state in ("", ch):
            state = "" if state else ch
        out.append(ch)
        i += 1
    return "".join(out)


def command_env(config: Config, slo: str | None = None) -> dict[str, str]:
    """Environment for the bench command: ours, where to write runs, our interpreter first.

    The folder of the Python running perfslo goes first on ``PATH`` (as
    ``npm run`` does with ``node_modules/.bin``): a command such as
    ``python -m mybench`` or ``perfslo run`` then runs in the same virtual
    environment as perfslo, even when that environment is not activated.
    ``PERFSLO_SLO`` names the one SLO to run, and is absent for a full run
    (also when perfslo itself was started with it).
    """
    env = dict(os.environ)
    env.pop(SLO_ENV, None)
    if slo is not None:
        env[SLO_ENV] = slo
    interpreter_dir = os.path.dirname(sys.executable)
    if interpreter_dir:
        env["PATH"] = os.pathsep.join([interpreter_dir, env.get("PATH", "")]).rstrip(os.pathsep)
    env["PERFSLO_ARTIFACTS"] = str(config.artifacts_dir)
    if config.path is not None:
        env["PERFSLO_CONFIG"] = str(config.path)
    return env


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How a bench command ended."""

    command: str
    returncode: int
    output_tail: str


OUTPUT_TAIL_BYTES = 64 * 1024  # kept of the command's output; the rest is read and dropped


class BenchCancelled(BenchCommandError):
    """The bench command was stopped because its caller cancelled it."""


def run_to_completion(
    config: Config,
    slo: str | None = None,
    timeout: float | None = None,
    extra_env: Mapping[str, str] | None = None,
    cancel: threading.Event | None = None,
) -> CommandResult:
    """Run the bench command, wait for it, and keep the tail of its output.

    The command runs in its own process group (session), so a timeout or a
    Ctrl-C stops the whole benchmark, children included, and whatever it
    left running when it exited is stopped too: nothing keeps writing runs
    after perfslo moved on. Its output is read as it comes and only the last
    64 KiB are kept, so a command printing gigabytes costs no memory.

    Args:
        config: The project's config (command, folder, artifacts).
        slo: Run only this SLO, when the command has ``{slo}``.
        timeout: Seconds the command may take.
        extra_env: Added to (and winning over) :func:`command_env`.
        cancel: When set while the command runs, it is stopped (a worker
            that cannot raise in this thread uses it).

    Raises:
        BenchCommandError: When no command is configured, it cannot start,
            it times out, or it exits non-zero; :class:`BenchCancelled` when
            ``cancel`` was set.
    """
    command = build_command(config, slo)
    process = _start(config, command, {**command_env(config, slo), **(extra_env or {})}, capture=True)
    assert process.stdout is not None
    chunks: collections.deque[bytes] = collections.deque()
    reader = threading.Thread(target=_keep_tail, args=(process.stdout, chunks), daemon=True)
    reader.start()
    try:
        returncode = _wait(process, timeout, cancel)
    except subprocess.TimeoutExpired:
        _stop_group(process)
        raise BenchCommandError(f"bench command timed out after {timeout:.0f}s: {command}") from None
    except BaseException:  # Ctrl-C: the benchmark must not run on alone
        _stop_group(process)
        raise
    finally:
        _stop_group(process)  # leftovers of a command that exited (a backgrounded child)
        reader.join(timeout=5)
        process.stdout.close()
    tail = b"".join(chunks).decode(errors="replace")[-2000:]
    result = CommandResult(command, returncode, tail)
    if returncode != 0:
        last = tail.strip().splitlines()[-1:] or [""]
        raise BenchCommandError(f"bench command exited {returncode}: {command}: {last[0][:200]}")
    return result


def _start(config: Config, command: str, env: Mapping[str, str], *, capture: bool) -> subprocess.Popen[bytes]:
    """Start the bench command in its own process group (output and errors piped when ``capture``).

    Raises:
        BenchCommandError: When it cannot start.
    """
    try:
        return subprocess.Popen(
            command,
            shell=True,
            cwd=config.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.STDOUT if capture else None,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:  # ValueError: a NUL character in the command
        reason = getattr(exc, "strerror", None) or exc
        raise BenchCommandError(f"cannot start bench command {command!r}: {reason}") from None


def _wait(
    process: subprocess.Popen[bytes], timeout: float | None, cancel: threading.Event | None = None
) -> int:
    """``process.wait`` in short slices, so Ctrl-C (or ``cancel``) is seen promptly.

    A blocking wait is not interrupted when the signal lands on the reader
    thread, and Python runs signal handlers only in the main thread.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if cancel is not None and cancel.is_set():
            raise BenchCancelled("bench command cancelled")
        left = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
        if left <= 0:
            raise subprocess.TimeoutExpired(process.args, timeout or 0.0)
        try:
            return process.wait(timeout=left)
        except subprocess.TimeoutExpired:
            continue


def _keep_tail(stream: IO[bytes], chunks: collections.deque[bytes]) -> None:
    fd = stream.fileno()
    size = 0
    try:
        for chunk in iter(lambda: os.read(fd, 65536), b""):
            chunks.append(chunk)
            size += len(chunk)
            while size - len(chunks[0]) >= OUTPUT_TAIL_BYTES:
                size -= len(chunks.popleft())
    except OSError:  # closed under us: a process that left the group still holds the pipe
        return


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the command's process group, then reap the command."""
    signal_group(process.pid)
    process.wait()


def run_in_terminal(config: Config, slo: str | None = None) -> int:
    """Run the bench command with its output on this terminal (``perfslo bench``).

    It runs in its own process group, so Ctrl-C stops the whole benchmark.

    Returns:
        Its exit code.

    Raises:
        BenchCommandError: When no command is configured or it cannot start.
    """
    process = _start(config, build_command(config, slo), command_env(config, slo), capture=False)
    try:
        return _wait(process, None)
    except BaseException:
        _stop_group(process)
        raise


def reproduce_commands(config: Config) -> str:
    """The commands that reproduce a gate run locally: the benchmarks, then the check."""
    if not config.bench_command:
        return "perfslo check"
    return f"{build_command(config)}\nperfslo check"


def artifacts_from_env(default: Path) -> Path:
    """``PERFSLO_ARTIFACTS`` when set (perfslo sets it for its bench command)."""
    value = os.environ.get("PERFSLO_ARTIFACTS")
    return Path(value) if value else default

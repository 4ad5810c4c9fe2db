"""The project's bench command: building it and running it to completion.

The only command perfslo ever runs is the one in the project's own config
(``bench_command``), optionally narrowed to one SLO through a ``{slo}``
placeholder. The SLO name is shell-quoted when substituted, so a name read
from a run file can never inject shell syntax.
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


class BenchCommandError(Exception):
    """The bench command is missing, or failed."""


def supports_single_slo(config: Config) -> bool:
    """True when the bench command can run one SLO (has ``{slo}``)."""
    return bool(config.bench_command and SLO_PLACEHOLDER in config.bench_command)


def build_command(config: Config, slo: str | None = None) -> str:
    """The shell command to run: all SLOs, or only ``slo`` when supported.

    Without ``slo`` a ``{slo}`` placeholder is removed along with the option
    word right before it when that word starts with ``-`` (``--slo {slo}``).

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
    words = shlex.split(command)
    kept: list[str] = []
    for word in words:
        if word == SLO_PLACEHOLDER:
            if kept and kept[-1].startswith("-"):
                kept.pop()
            continue
        kept.append(word.replace(SLO_PLACEHOLDER, ""))
    return shlex.join(kept)


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


def command_env(config: Config) -> dict[str, str]:
    """Environment for the bench command: ours, where to write runs, our interpreter first.

    The folder of the Python running perfslo goes first on ``PATH`` (as
    ``npm run`` does with ``node_modules/.bin``): a command such as
    ``python -m mybench`` or ``perfslo run`` then runs in the same virtual
    environment as perfslo, even when that environment is not activated.
    """
    env = dict(os.environ)
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
    try:
        process = subprocess.Popen(
            command,
            shell=True,
            cwd=config.root,
            env={**command_env(config), **(extra_env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:  # ValueError: a NUL character in the command
        reason = getattr(exc, "strerror", None) or exc
        raise BenchCommandError(f"cannot start bench command {command!r}: {reason}") from None
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


def reproduce_commands(config: Config) -> str:
    """The commands that reproduce a gate run locally: the benchmarks, then the check."""
    if not config.bench_command:
        return "perfslo check"
    return f"{build_command(config)}\nperfslo check"


def artifacts_from_env(default: Path) -> Path:
    """``PERFSLO_ARTIFACTS`` when set (perfslo sets it for its bench command)."""
    value = os.environ.get("PERFSLO_ARTIFACTS")
    return Path(value) if value else default

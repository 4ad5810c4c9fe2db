"""Running the bench command from the TUI: streamed, cancellable, never blocking.

The command runs in its own process group (a new session), so cancelling
kills the whole tree: a shell, the Python it started and anything that one
forked. Output is read in chunks and handed over line by line; only the
tail is kept for the failure message.
"""

from __future__ import annotations

import asyncio
import signal
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from perfslo_tui.actions.process import signal_group
from perfslo_tui.text import printable

TAIL_LINES = 12
KILL_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a bench command ended.

    Attributes:
        command: The shell command.
        returncode: Its exit code (negative: killed by that signal).
        cancelled: True when the user cancelled it.
        tail: The last lines of its output.
    """

    command: str
    returncode: int
    cancelled: bool
    tail: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True for a command that finished by itself with exit code 0."""
        return self.returncode == 0 and not self.cancelled


class CommandRunner:
    """One bench command run, streamed line by line.

    Args:
        command: The shell command (built by :mod:`perfslo_tui.actions.bench`).
        cwd: Where to run it (the project root).
        env: Its environment (with ``PERFSLO_ARTIFACTS``).
    """

    def __init__(self, command: str, cwd: Path, env: Mapping[str, str]) -> None:
        self.command = command
        self.cwd = cwd
        self.env = dict(env)
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.cancelled = False
        self._process: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        """True while the process has not been reaped."""
        return self._process is not None and self._process.returncode is None

    async def run(self, on_lines: Callable[[list[str]], None]) -> RunOutcome:
        """Start the command and stream its output until it ends.

        Args:
            on_lines: Called with each batch of complete output lines
                (control characters already made visible).

        Returns:
            How it ended. A command that cannot start ends with exit code 127.
        """
        try:
            self._process = await asyncio.create_subprocess_shell(
                self.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.cwd,
                env=self.env,
                # A process group of its own: cancel must reach grandchildren.
                start_new_session=True,
            )
        except OSError as exc:
            line = f"cannot start bench command: {exc.strerror or exc}"
            self.tail.append(line)
            on_lines([line])
            return RunOutcome(self.command, 127, False, tuple(self.tail))
        process = self._process
        assert process.stdout is not None
        try:
            pending = b""
            while True:
                chunk = await process.stdout.read(65536)
                if not chunk:
                    break
                pending += chunk
                *complete, pending = pending.split(b"\n")
                if complete:
                    self._emit(complete, on_lines)
            if pending:
                self._emit([pending], on_lines)
            returncode = await process.wait()
        finally:
            # Close the pipes' transport now, not when it is garbage collected
            # (possibly after the event loop is gone, e.g. on quit).
            transport = getattr(process, "_transport", None)
            if transport is not None:
                transport.close()
        return RunOutcome(self.command, returncode, self.cancelled, tuple(self.tail))

    def _emit(self, raw: list[bytes], on_lines: Callable[[list[str]], None]) -> None:
        lines = [printable(r.decode(errors="replace").rstrip("\r"), 500) for r in raw]
        self.tail.extend(lines)
        on_lines(lines)

    def cancel(self) -> None:
        """Ask the whole process group to stop; kill it if it has not after a grace period."""
        if not self.running:
            return
        self.cancelled = True
        self._signal(signal.SIGTERM)
        loop = asyncio.get_running_loop()
        loop.call_later(KILL_GRACE_S, self.kill)

    def kill(self) -> None:
        """Kill the whole process group at once (used on quit)."""
        if self.running:
            self.cancelled = True
            self._signal(signal.SIGKILL)

    def _signal(self, sig: signal.Signals) -> None:
        assert self._process is not None
        signal_group(self._process.pid, sig)

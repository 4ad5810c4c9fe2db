"""Stopping a command perfslo started: always its whole process group.

Every command perfslo runs (the bench command, a command benchmark, the
TUI's re-run) starts in a session of its own (``start_new_session=True``),
so its process id is also its process group id, and a signal to the group
reaches a shell, the program it started and anything that one forked.
"""

from __future__ import annotations

import os
import signal


def signal_group(pid: int, sig: int = signal.SIGKILL) -> bool:
    """Send ``sig`` to the process group led by ``pid``.

    Args:
        pid: The id of a process started with ``start_new_session=True``.
        sig: The signal (default SIGKILL).

    Returns:
        False when the group is already gone (or not ours to signal).
    """
    killpg = getattr(os, "killpg", None)  # POSIX only; elsewhere only the process itself
    try:
        if killpg is None:
            os.kill(pid, sig)
        else:
            killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True

"""What the benchmarks share with each other and with the tests that build what they build.

``git`` runs git in a throwaway repository; ``cpu_hog`` keeps one core busy.
Scripts run as ``python benchmarks/x.py`` put the repository on ``sys.path``
before importing this (``benchmarks/`` alone is not enough for ``benchmarks.shared``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` and return its output, stripped; raise when it fails.

    A fixed author (no git identity needed), no hooks of the user's, and no
    optional locks: a test's own ``git status`` must not write the index it
    compares.
    """
    done = subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-c", "core.hooksPath=/dev/null", *args],
        cwd=repo,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@contextlib.contextmanager
def cpu_hog(enabled: bool = True) -> Iterator[None]:
    """One core spinning in a separate process for the duration; always killed."""
    if not enabled:
        yield
        return
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait()

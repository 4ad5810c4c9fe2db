"""The newcomer benchmark runs for real (init, the monitor in a pty, r, a card), so it cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_newcomer_reaches_the_first_card() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.newcomer"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads(proc.stdout.strip().splitlines()[-1])["python"]
    # init proposed the package's import; the monitor came up; r made a run and a card showed it.
    assert figures["slos"] >= 1
    assert 0 < figures["init"] <= figures["monitor"] <= figures["card"]

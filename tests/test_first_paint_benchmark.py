"""The first-paint benchmark runs for real (in a pty, --quick), so it cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_first_paint_runs_and_sees_the_three_moments_in_order() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.first_paint", "--quick"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["repeat"] == 2 and len(figures["starts"]) == 2
    for start in figures["starts"]:
        # The launcher's line comes before the monitor's header, which comes before the cards.
        assert 0 < start["first_line"] <= start["monitor"] <= start["cards"]
    assert "first line" in proc.stdout and "cards" in proc.stdout

"""The profile overhead benchmark runs for real (one pair), so it cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_the_profile_overhead_benchmark_runs_in_quick_mode() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.profile_overhead", "--quick"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    # A figure for both sides and their ratios (speed itself is never asserted).
    assert re.search(r"calls pair 1: run [\d.]+s, profile [\d.]+s \([\d.]+x\); profiled call", done.stdout)
    assert re.search(
        r"calls: run [\d.]+s, profile [\d.]+s \(medians of 1\): profile/run [\d.]+x", done.stdout
    )
    assert "cProfile slows the profiled calls" in done.stdout

"""The compare benchmark runs for real in its quick modes, so it cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "ab_compare.py"


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("workload", ["python", "node"])
def test_quick_mode_compares_both_kinds_on_a_real_repository(tmp_path: Path, workload: str) -> None:
    out = tmp_path / "trials.json"
    result = run(tmp_path, "--quick", "--json", str(out), *(["--node"] if workload == "node" else []))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{workload} workload, 1 trials of each kind, budget 12 pairs")
    assert "CPU hog on one core" in lines[0]
    trials = json.loads(out.read_text())["trials"]
    assert [t["expect"] for t in trials] == ["regressed", "same"]
    assert all(t["verdict"] in ("regressed", "improved", "same", "unknown") for t in trials)
    assert all(4 <= t["pairs"] <= 12 and t["wall"] > 0 for t in trials)
    summary = [line for line in lines if line.startswith("  +15 %: says regressed ")]
    assert len(summary) == 1 and "/1 (" in summary[0] and "95% CI" in summary[0]


@pytest.mark.slow
def test_quick_gate_mode_confirms_both_ways_from_the_same_state(tmp_path: Path) -> None:
    out = tmp_path / "gate.json"
    result = run(tmp_path, "--quick", "--gate", "--json", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = json.loads(out.read_text())["gate"]
    assert [r["expect"] for r in rows] == ["regressed", "same"]
    # On a busy machine either way may end NOT JUDGED (exit 3); neither may pass the
    # +15 % slowdown or fail the unchanged code.
    never = {"regressed": "PASSED", "same": "FAILED"}
    for row in rows:
        for way in ("compare", "rerun"):
            assert row[way]["verdict"] in ("PASSED", "WARNING", "FAILED", "UNJUDGED")
            assert row[way]["verdict"] != never[row["expect"]], (row["expect"], way, row[way])
            assert row[way]["suspected"] == row["compare"]["suspected"]  # the same candidate state
    assert "  +15 % compare : FAILED " in result.stdout and "  A/A   rerun   : PASSED " in result.stdout


def test_the_simulation_reports_every_condition(tmp_path: Path) -> None:
    result = run(tmp_path, "--simulate", "--sim-trials", "30")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "per-look confidence 0.99; budget 40 pairs; 30 trials each"
    assert len([line for line in lines if line.startswith("  pair SD ")]) == 12

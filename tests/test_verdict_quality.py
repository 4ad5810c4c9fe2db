"""The verdict-quality benchmark runs for real in smoke mode, so it cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "verdict_quality.py"


@pytest.mark.slow
def test_quick_mode_runs_every_rule_on_every_trial(tmp_path: Path) -> None:
    out = tmp_path / "outcome.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--aa", "4", "--per-step", "2", "--json", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| rule | A/A false alarms | detected +5% |")
    rules = [row.split(" | ")[0].removeprefix("| ") for row in table[1:]]
    assert rules == [
        "naive (seed): one median, fail > +10%",
        "pytest-benchmark median:10%",
        "within-run CI only (no run-to-run term)",
        "raw medians + run-to-run noise, confirm 1",
        "perfslo (reference-adjusted), confirm 1",
        "perfslo gate, confirm 3 (with re-runs)",
    ]
    outcome = json.loads(out.read_text())
    for rule in rules:
        assert len(outcome["alarms"][f"{rule}|A/A"]) == 4
        for step in ("+5%", "+10%", "+15%", "+25%"):
            assert len(outcome["alarms"][f"{rule}|{step}"]) == 2
    gate_runs = outcome["runs"]["perfslo gate, confirm 3 (with re-runs)|+25%"]
    assert all(1 <= runs <= 7 for runs in gate_runs)
    assert all(t > 0 for t in outcome["times"]["naive (seed): one median, fail > +10%"])
    assert "load average" in result.stdout
    # Nothing is left behind: the trials ran in a temporary folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outcome.json"]

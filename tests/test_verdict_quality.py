"""The verdict-quality benchmark runs for real in smoke mode, for every producer, so it cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "verdict_quality.py"
RULES = [
    "naive (seed): one median, fail > +10%",
    "perfslo, confirm 1",
    "perfslo gate, confirm 3 (re-runs)",
    "perfslo gate: FAILED or confirmed slowdown (warning)",
]


@pytest.mark.slow
def test_quick_mode_runs_every_rule_for_every_producer(tmp_path: Path) -> None:
    out = tmp_path / "outcome.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--aa", "2", "--per-step", "1", "--json", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(out.read_text())
    assert [p.split(":")[0] for p in outcome["producers"]] == ["python", "node", "command"]
    for producer in ("python", "node", "command"):
        section = result.stdout.split(f"### {producer}\n", 1)[1]
        table = [line for line in section.splitlines() if line.startswith("| ")]
        assert table[0].startswith("| rule | A/A false alarms | detected +10% | detected +15% |")
        assert [row.split(" | ")[0].removeprefix("| ") for row in table[1:5]] == RULES
        assert table[5].startswith("| gate ended NOT JUDGED (exit 3) |")
        for rule in RULES:
            assert len(outcome["alarms"][f"{producer}|{rule}|A/A"]) == 2
            for step in ("+10%", "+15%", "+25%"):
                assert len(outcome["alarms"][f"{producer}|{rule}|{step}"]) == 1
        # What the gate reported includes every FAILED gate.
        for kind in ("A/A", "+10%", "+15%", "+25%"):
            failed = outcome["alarms"][f"{producer}|{RULES[2]}|{kind}"]
            reported = outcome["alarms"][f"{producer}|{RULES[3]}|{kind}"]
            assert all(r or not f for f, r in zip(failed, reported, strict=True))
        gate_runs = outcome["runs"][f"{producer}|perfslo gate, confirm 3 (re-runs)|+25%"]
        assert all(1 <= runs <= 7 for runs in gate_runs)
        assert all(t > 0 for t in outcome["times"][f"{producer}|naive (seed): one median, fail > +10%|A/A"])
    # The 30-vs-200-samples study ran for the producers that take samples in-process.
    assert sorted(outcome["samples_study"]) == [
        "node|200 → 30",
        "node|30 → 200",
        "python|200 → 30",
        "python|30 → 200",
    ]
    assert "load average" in result.stdout
    # Nothing is left behind: the trials ran in a temporary folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outcome.json"]

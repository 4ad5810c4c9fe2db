"""``perfslo check --confirm N`` with a real bench command writing real runs."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from perfslo_tui.actions.baseline import establish_baseline
from perfslo_tui.config import load_config
from perfslo_tui.runs.files import is_run_file_name
from tests.conftest import BASE_MS, HOUR_MS, RunWriter, run_cli

# A bench command: writes one run whose median comes from plan.json, in order.
BENCH_SCRIPT = """\
import json, os, sys
from pathlib import Path
from perfslo_tui.runs.files import build_run_document, write_run
from perfslo_tui.runs.metadata import make_metadata

plan = json.loads(Path("plan.json").read_text())
state = Path("state.txt")
n = int(state.read_text()) if state.exists() else 0
state.write_text(str(n + 1))
value = plan[min(n, len(plan) - 1)]
samples = {"transpile-simple": [value * (1 + 0.004 * ((i % 7) - 3)) for i in range(21)]}
git = {"commit": "2" * 40, "branch": "main", "dirty": False}
meta = make_metadata(timestamp_ms=BASE_MS + (100 + n) * HOUR_MS, git=git)
write_run(Path(os.environ["PERFSLO_ARTIFACTS"]), build_run_document(samples, meta))
print("bench run", n + 1, value)
""".replace("BASE_MS", str(BASE_MS)).replace("HOUR_MS", str(HOUR_MS))


def jittered(value: float, i: int) -> list[float]:
    """21 samples around ``value`` with a run-specific offset of at most ±0.5 %."""
    offset = 1 + 0.005 * ((i * 37 % 11) - 5) / 5
    return [value * offset * (1 + 0.004 * ((k % 7) - 3)) for k in range(21)]


@pytest.fixture
def gate(project: Path, write: RunWriter) -> Path:
    """A project with one SLO, a bench command, a quiet history and a baseline."""
    command = f"{shlex.quote(sys.executable)} bench.py"
    (project / "perfslo.toml").write_text(
        f"confirm_runs = 3\nbench_command = {json.dumps(command)}\n\n"
        '[slos.transpile-simple]\nbudget = 5.0\ndescription = "Single var declaration"\n'
    )
    (project / "bench.py").write_text(BENCH_SCRIPT)
    last = None
    for i in range(6):
        last = write({"transpile-simple": jittered(0.80, i)}, ts_ms=BASE_MS + i * HOUR_MS, commit="1" * 40)
    establish_baseline(load_config(start=project), last)
    return project


def run_files(project: Path) -> list[str]:
    return sorted(p.name for p in (project / "artifacts").iterdir() if is_run_file_name(p.name))


def bench_calls(project: Path) -> int:
    state = project / "state.txt"
    return int(state.read_text()) if state.exists() else 0


def test_a_regression_seen_again_is_confirmed_and_fails(gate: Path, write: RunWriter) -> None:
    write({"transpile-simple": jittered(0.96, 7)}, ts_ms=BASE_MS + 50 * HOUR_MS, commit="2" * 40)
    (gate / "plan.json").write_text("[0.96, 0.96, 0.96]")
    before = len(run_files(gate))
    result = run_cli("check", "--confirm", "3", "--format", "json", cwd=gate)
    assert result.returncode == 1, result.stderr
    assert "re-running the benchmarks (1/3)" in result.stderr
    assert "re-running the benchmarks (2/3)" in result.stderr
    assert "(3/3)" not in result.stderr
    assert bench_calls(gate) == 2 and len(run_files(gate)) == before + 2
    report = json.loads(result.stdout)
    slo = next(s for s in report["slos"] if s["name"] == "transpile-simple")
    assert report["verdict"] == "FAILED" and slo["blocking"] and slo["confirmed"]
    assert slo["regression_streak"] == 3


def test_a_one_off_slow_run_clears_after_one_rerun(gate: Path, write: RunWriter) -> None:
    write({"transpile-simple": jittered(0.96, 7)}, ts_ms=BASE_MS + 50 * HOUR_MS, commit="2" * 40)
    (gate / "plan.json").write_text("[0.80]")
    result = run_cli("check", "--confirm", "3", cwd=gate)
    assert result.returncode == 0, result.stdout + result.stderr
    assert bench_calls(gate) == 1
    assert "FAILED" not in result.stdout


def test_without_confirm_an_unconfirmed_regression_warns_but_passes(gate: Path, write: RunWriter) -> None:
    write({"transpile-simple": jittered(0.96, 7)}, ts_ms=BASE_MS + 50 * HOUR_MS, commit="2" * 40)
    result = run_cli("check", "--format", "json", cwd=gate)
    assert result.returncode == 0
    report = json.loads(result.stdout)
    slo = next(s for s in report["slos"] if s["name"] == "transpile-simple")
    assert report["verdict"] == "WARNING" and not slo["blocking"] and not slo["confirmed"]
    assert slo["regression_streak"] == 1
    assert bench_calls(gate) == 0
    text = run_cli("check", cwd=gate).stdout
    assert "unconfirmed (1/3 runs)" in text


def test_a_quiet_run_needs_no_rerun(gate: Path, write: RunWriter) -> None:
    write({"transpile-simple": jittered(0.80, 9)}, ts_ms=BASE_MS + 50 * HOUR_MS, commit="2" * 40)
    (gate / "plan.json").write_text("[0.96]")
    result = run_cli("check", "--confirm", "3", cwd=gate)
    assert result.returncode == 0
    assert bench_calls(gate) == 0 and "re-running" not in result.stderr


def test_a_budget_violation_is_confirmed_by_reruns(gate: Path, write: RunWriter) -> None:
    toml = (gate / "perfslo.toml").read_text().replace("budget = 5.0", "budget = 0.85")
    (gate / "perfslo.toml").write_text(toml)
    write({"transpile-simple": jittered(0.95, 7)}, ts_ms=BASE_MS + 50 * HOUR_MS, commit="2" * 40)
    (gate / "plan.json").write_text("[0.95]")
    result = run_cli("check", "--confirm", "3", cwd=gate)
    assert result.returncode == 1
    assert bench_calls(gate) == 2
    assert "confirmed (3/3 runs)" in result.stdout


def test_a_failing_bench_command_is_a_one_line_error(gate: Path, write: RunWriter) -> None:
    toml = (gate / "perfslo.toml").read_text()
    toml = toml.replace(f"{shlex.quote(sys.executable)} bench.py", "exit 3")
    (gate / "perfslo.toml").write_text(toml)
    write({"transpile-simple": jittered(0.96, 7)}, ts_ms=BASE_MS + 50 * HOUR_MS, commit="2" * 40)
    result = run_cli("check", "--confirm", "3", cwd=gate)
    assert result.returncode == 2
    assert "bench command exited 3" in result.stderr
    assert "Traceback" not in result.stderr


def test_confirm_without_a_bench_command_is_a_one_line_error(gate: Path, write: RunWriter) -> None:
    lines = [ln for ln in (gate / "perfslo.toml").read_text().splitlines() if "bench_command" not in ln]
    (gate / "perfslo.toml").write_text("\n".join(lines) + "\n")
    write({"transpile-simple": jittered(0.96, 7)}, ts_ms=BASE_MS + 50 * HOUR_MS, commit="2" * 40)
    result = run_cli("check", "--confirm", "3", cwd=gate)
    assert result.returncode == 2
    assert "no bench_command configured" in result.stderr
    assert "Traceback" not in result.stderr

"""``perfslo check --confirm N`` with a real bench command writing real runs."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
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
    first = "re-run 1 of at most 6 (0 of 3 judged so far): confirming or clearing transpile-simple"
    assert first in result.stderr
    assert "re-run 1: still unconfirmed: transpile-simple" in result.stderr
    assert "re-run 2 of at most 6 (1 of 3 judged so far)" in result.stderr
    assert "re-run 2: confirmed (transpile-simple): FAILED" in result.stderr
    assert "re-run 3" not in result.stderr
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
    assert bench_calls(gate) == 0 and "re-run" not in result.stderr


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


# A bench command whose runs carry the reference series: plan entries are
# [work level, machine speed]; a speed of 1.6 is a run measured on a busy machine.
PAIRED_BENCH = """\
import json, os
from pathlib import Path
import numpy as np
from perfslo_tui.runs.files import build_run_document, write_run
from perfslo_tui.runs.metadata import make_metadata

plan = json.loads(Path("plan.json").read_text())
state = Path("state.txt")
n = int(state.read_text()) if state.exists() else 0
state.write_text(str(n + 1))
samples = {}
for name, (level, speed) in plan[min(n, len(plan) - 1)].items():
    rng = np.random.default_rng(1000 + n)
    samples[name] = (level * speed * rng.lognormal(0.0, 0.01, 60)).tolist()
    samples[name + "@ref"] = (0.02 * speed * rng.lognormal(0.0, 0.01, 60)).tolist()
git = {"commit": "2" * 40, "branch": "main", "dirty": False}
meta = make_metadata(timestamp_ms=BASE_MS + (100 + n) * HOUR_MS, git=git)
write_run(Path(os.environ["PERFSLO_ARTIFACTS"]), build_run_document(samples, meta))
""".replace("BASE_MS", str(BASE_MS)).replace("HOUR_MS", str(HOUR_MS))


def paired_run(level: float, speed: float, seed: int) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    return {
        "work": (level * speed * rng.lognormal(0.0, 0.01, 60)).tolist(),
        "work@ref": (0.02 * speed * rng.lognormal(0.0, 0.01, 60)).tolist(),
    }


@pytest.fixture
def paired_gate(project: Path, write: RunWriter) -> Path:
    """Two SLOs with reference series, a quiet history and a baseline; the bench command follows plan.json."""
    command = f"{shlex.quote(sys.executable)} bench.py"
    (project / "perfslo.toml").write_text(
        f"confirm_runs = 3\nbench_command = {json.dumps(command)}\n\n"
        "[slos.work-a]\nbudget = 50.0\n\n[slos.work-b]\nbudget = 50.0\n"
    )
    (project / "bench.py").write_text(PAIRED_BENCH)
    last = None
    for i in range(6):
        runs = {f"{k.replace('work', 'work-a')}": v for k, v in paired_run(1.0, 1.0, i).items()}
        runs |= {f"{k.replace('work', 'work-b')}": v for k, v in paired_run(2.0, 1.0, 50 + i).items()}
        last = write(runs, ts_ms=BASE_MS + i * HOUR_MS, commit="1" * 40)
    establish_baseline(load_config(start=project), last)
    return project


def test_a_confirmed_failure_is_never_undone_by_a_later_run(paired_gate: Path) -> None:
    # work-a regressed for real; work-b wavers and would keep the gate re-running;
    # the run after the confirmation was measured on a busy machine.
    plan = [
        {"work-a": [1.3, 1.0], "work-b": [2.3, 1.0]},
        {"work-a": [1.3, 1.0], "work-b": [2.0, 1.0]},
        {"work-a": [1.3, 1.0], "work-b": [2.3, 1.0]},
        {"work-a": [1.3, 1.6], "work-b": [2.3, 1.6]},
    ]
    (paired_gate / "plan.json").write_text(json.dumps(plan))
    # The run the gate judges first is the plan's first entry.
    subprocess.run([sys.executable, "bench.py"], cwd=paired_gate, check=True,
                   env={**os.environ, "PERFSLO_ARTIFACTS": str(paired_gate / "artifacts")})
    result = run_cli("check", "--confirm", "3", "--format", "json", cwd=paired_gate)
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "FAILED"
    blocking = [s["name"] for s in report["slos"] if s["blocking"]]
    assert blocking == ["work-a"]
    # Confirmed after two re-runs, the gate stopped: the busy fourth run never happened.
    assert bench_calls(paired_gate) == 3
    assert "re-run 2: confirmed (work-a): FAILED" in result.stderr


def test_a_busy_run_after_a_confirmation_keeps_the_failure(paired_gate: Path, write: RunWriter) -> None:
    # Without --confirm too: three clean slow runs confirm, a busy one after them changes nothing.
    for i, speed in enumerate((1.0, 1.0, 1.0, 1.6)):
        runs = {f"{k.replace('work', 'work-a')}": v for k, v in paired_run(1.3, speed, 70 + i).items()}
        write(runs, ts_ms=BASE_MS + (20 + i) * HOUR_MS, commit="2" * 40)
    result = run_cli("check", "--format", "json", cwd=paired_gate)
    report = json.loads(result.stdout)
    work_a = next(s for s in report["slos"] if s["name"] == "work-a")
    assert work_a["vs_baseline"]["unjudged"] == "machine busy"  # the latest run says nothing
    assert work_a["blocking"] and work_a["confirmed"] and report["verdict"] == "FAILED"
    assert result.returncode == 1


def test_busy_reruns_are_counted_and_said_and_an_unjudged_gate_never_passes(paired_gate: Path) -> None:
    plan = [{"work-a": [1.0, 1.6], "work-b": [2.0, 1.6]}]  # every run on a busy machine
    (paired_gate / "plan.json").write_text(json.dumps(plan))
    subprocess.run([sys.executable, "bench.py"], cwd=paired_gate, check=True,
                   env={**os.environ, "PERFSLO_ARTIFACTS": str(paired_gate / "artifacts")})
    result = run_cli("check", "--confirm", "2", cwd=paired_gate)
    assert result.returncode == 3, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    # Four re-runs at most (2N), each numbered out of four, none counted.
    assert [ln.split(":")[1].strip() for ln in lines if "of at most" in ln] == [
        f"re-run {i} of at most 4 (0 of 2 judged so far)" for i in range(1, 5)
    ]
    said = [ln for ln in lines if "could not be judged" in ln and "machine busy" in ln]
    assert len(said) == 4 and all(ln.endswith("not counted") for ln in said)
    assert bench_calls(paired_gate) == 5
    assert "PASSED" not in result.stdout
    assert "❔ NOT JUDGED: could not judge 2 SLO(s) against the baseline (not a pass)" in result.stdout


def test_reruns_must_land_where_the_gate_reads(paired_gate: Path, tmp_path: Path) -> None:
    # The gate reads another folder (--artifacts): a bench command written with
    # PerfMeasurement() follows PERFSLO_ARTIFACTS there.
    gate_dir = tmp_path / "gate-artifacts"
    shutil.copytree(paired_gate / "artifacts", gate_dir)
    script = (
        "import numpy as np\n"
        "from perfslo_tui.collect.measure import PerfMeasurement\n"
        "perf = PerfMeasurement()\n"
        "for name in ('work-a', 'work-b'):\n"
        "    for v in np.random.default_rng(5).lognormal(0.0, 0.01, 30):\n"
        "        perf.measure(name, 1.3 * float(v))\n"
        "perf.write(git={'commit': '2' * 40, 'branch': 'main', 'dirty': False})\n"
    )
    (paired_gate / "bench.py").write_text(script)
    subprocess.run([sys.executable, "bench.py"], cwd=paired_gate, check=True,
                   env={**os.environ, "PERFSLO_ARTIFACTS": str(gate_dir)})
    untouched = tmp_path / "untouched"
    shutil.copytree(gate_dir, untouched)
    before = sorted(p.name for p in gate_dir.glob("perf-*.json"))
    result = run_cli("check", "--artifacts", str(gate_dir), "--confirm", "2", cwd=paired_gate)
    after = sorted(p.name for p in gate_dir.glob("perf-*.json"))
    assert len(after) > len(before), result.stderr
    assert list((paired_gate / "artifacts").glob("perf-*2222222-*.json")) == []
    # A bench command that writes somewhere else: the gate refuses with one line.
    (paired_gate / "bench.py").write_text("print('wrote nothing where perfslo reads')\n")
    refused = run_cli("check", "--artifacts", str(untouched), "--confirm", "2", cwd=paired_gate)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    [line] = [ln for ln in refused.stderr.splitlines() if "wrote no new run" in ln]
    assert str(untouched) in line and "PERFSLO_ARTIFACTS" in line
    assert "Traceback" not in refused.stderr


def test_a_slowdown_under_the_regression_threshold_is_confirmed_as_a_warning(
    gate: Path, write: RunWriter
) -> None:
    # +7.5 %: past the ±5 % tolerance, under the +10 % regression threshold.
    write({"transpile-simple": jittered(0.86, 7)}, ts_ms=BASE_MS + 50 * HOUR_MS, commit="2" * 40)
    (gate / "plan.json").write_text("[0.86, 0.86, 0.86]")
    result = run_cli("check", "--confirm", "3", "--format", "json", cwd=gate)
    assert result.returncode == 0, result.stderr
    assert bench_calls(gate) == 2, result.stderr
    report = json.loads(result.stdout)
    slo = next(s for s in report["slos"] if s["name"] == "transpile-simple")
    assert report["verdict"] == "WARNING" and slo["warning"] and not slo["blocking"]
    slowdown = slo["confirmed_slowdown"]
    assert slowdown is not None and 0 < slowdown["ci_low"] < slowdown["change"] < 0.10
    assert "confirmed (3/3 runs)" in report["warnings"][0]["message"]
    assert "under the +10.0% regression threshold" in report["warnings"][0]["message"]
    text = run_cli("check", cwd=gate).stdout
    assert "a warning (investigate); it blocks past +10.0%" in text
    assert "unconfirmed" not in text


def test_a_slowdown_under_the_threshold_that_clears_is_not_reported(gate: Path, write: RunWriter) -> None:
    write({"transpile-simple": jittered(0.86, 7)}, ts_ms=BASE_MS + 50 * HOUR_MS, commit="2" * 40)
    (gate / "plan.json").write_text("[0.80]")
    result = run_cli("check", "--confirm", "3", "--format", "json", cwd=gate)
    assert result.returncode == 0, result.stderr
    assert bench_calls(gate) == 1
    report = json.loads(result.stdout)
    slo = next(s for s in report["slos"] if s["name"] == "transpile-simple")
    assert report["verdict"] == "PASSED" and slo["confirmed_slowdown"] is None

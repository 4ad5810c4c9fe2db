"""Metrics beside time: instruction counts and peak memory, from the config to every view.

Real files, the real CLI in a subprocess, real valgrind for the counts, the
real Textual app for the monitor.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from perfslo_tui.collect.instructions import valgrind_available
from perfslo_tui.collect.memory import peak_memory_mb
from perfslo_tui.config import ConfigError, load_config
from perfslo_tui.runs.files import read_run
from perfslo_tui.runs.store import load_history
from perfslo_tui.verdict.engine import evaluate
from perfslo_tui.verdict.model import Verdict
from tests.conftest import BASE_MS, HOUR_MS, make_run, run_cli
from tests.tui.tuihelpers import anyio_backend, loaded, make_app, wait_for

__all__ = ["anyio_backend"]

needs_valgrind = pytest.mark.skipif(
    valgrind_available() is not None, reason=f"valgrind is needed: {valgrind_available()}"
)

CONFIG = """\
confirm_runs = 3

[slos.parse]
budget = 2.0
metric = ["time", "instructions", "peak_memory"]
budget_instructions = 1000000
budget_mb = 1.0
description = "Parse a document"
"""


def project_with(root: Path, config: str = CONFIG) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "perfslo.toml").write_text(config)
    (root / "artifacts").mkdir(exist_ok=True)
    return root


def run_values(time_ms: float, instructions: float, mb: float) -> dict[str, list[float]]:
    return {
        "parse": [time_ms * (1 + 0.002 * (i - 10)) for i in range(21)],
        "parse@instructions": [instructions] * 3,
        "parse@peak_memory": [mb] * 5,
    }


# ------------------------------------------------------------------ config


def test_metric_keys_parse_and_bad_ones_are_one_line(tmp_path: Path) -> None:
    root = project_with(tmp_path / "p")
    slo = load_config(start=root).slos["parse"]
    assert slo.metrics == ("time", "instructions", "peak_memory")
    budgets = {b.metric: (b.budget, b.unit) for b in slo.metric_budgets()}
    assert budgets == {"time": (2.0, "ms"), "instructions": (1e6, "instructions"), "peak_memory": (1.0, "MB")}
    bad = {
        'metric = "cycles"': "unknown metric 'cycles'",
        'metric = "instructions"\nbudget_mb = 3': "budget_mb: set, but the SLO does not measure peak_memory",
        'metric = ["time", "time"]': "lists a metric twice",
        "budget_instructions = -3": "budget_instructions: must be > 0",
    }
    for body, problem in bad.items():
        (root / "perfslo.toml").write_text(f"[slos.x]\nbudget = 1\n{body}\n")
        with pytest.raises(ConfigError) as caught:
            load_config(start=root)
        assert problem in str(caught.value), (body, str(caught.value))
    # Instructions only: no time budget needed.
    (root / "perfslo.toml").write_text('[slos.x]\nmetric = "instructions"\nbudget_instructions = 5e6\n')
    assert load_config(start=root).slos["x"].metrics == ("instructions",)


# ------------------------------------------------------------------ files and verdicts


def test_run_files_carry_each_metric_in_its_unit_and_old_ones_still_load(tmp_path: Path) -> None:
    root = project_with(tmp_path / "p")
    path = make_run(root / "artifacts", run_values(1.0, 900_000.0, 0.5))
    document = json.loads(path.read_text())
    assert document["schema_version"] == 2
    units = {name: body["unit"] for name, body in document["slos"].items()}
    assert units == {"parse": "ms", "parse@instructions": "instructions", "parse@peak_memory": "MB"}
    assert read_run(path).samples["parse@instructions"] == [900_000.0] * 3
    # A time-only run is still version 1: every older perfslo reads it.
    plain = make_run(root / "artifacts", {"parse": 1.0}, ts_ms=BASE_MS + HOUR_MS)
    assert json.loads(plain.read_text())["schema_version"] == 1
    # A unit that does not fit the series' name is refused, naming both.
    document["slos"]["parse@instructions"]["unit"] = "ms"
    bad = root / "artifacts" / "perf-bad0000-1795000000001.json"
    bad.write_text(json.dumps(document))
    history = load_history(root / "artifacts")
    assert "'ms' does not fit the series (its unit is 'instructions')" in history.errors[bad]


def test_an_instruction_regression_needs_no_confirmation_and_every_view_shows_it(tmp_path: Path) -> None:
    root = project_with(tmp_path / "p")
    artifacts = root / "artifacts"
    first = None
    for i in range(4):
        values = run_values(1.0, 900_000.0, 0.5)
        path = make_run(artifacts, values, ts_ms=BASE_MS + i * HOUR_MS, commit="a" * 40)
        first = first or path
    assert first is not None
    assert run_cli("baseline", "--establish", "--run", str(first), cwd=root).returncode == 0
    # +3 % instructions (past 2 × the 0.5 % tolerance), time and memory unchanged, one run.
    make_run(artifacts, run_values(1.0, 927_000.0, 0.5), ts_ms=BASE_MS + 9 * HOUR_MS, commit="b" * 40)
    config = load_config(start=root)
    evaluation = evaluate(load_history(artifacts), config)
    parse = evaluation.result("parse")
    assert parse is not None and parse.metric == "time"
    instructions = parse.for_metric("instructions")
    assert instructions is not None and instructions.unit == "instructions"
    assert instructions.vs_baseline is not None
    assert instructions.vs_baseline.change == pytest.approx(0.03)
    assert instructions.confirmed_regression and instructions.blocking
    assert not parse.blocking  # time alone would pass
    assert evaluation.verdict is Verdict.FAILED
    assert parse.metric_disagreement is not None and "not" not in parse.metric_disagreement.split(":")[0]
    assert parse.metric_disagreement.startswith("instructions +3.0% but time")
    # The gate, in every format, says which metric and in its unit.
    text = run_cli("check", cwd=root)
    assert text.returncode == 1, text.stderr
    assert "parse · instructions" in text.stdout and "927 k instr" in text.stdout
    assert "parse · peak memory" in text.stdout and "0.5 MB" in text.stdout
    assert "+3.0% regression" in text.stdout
    report = json.loads(run_cli("check", "--format", "json", cwd=root).stdout)
    [slo] = report["slos"]
    counted = {m["metric"]: m for m in slo["metrics"]}
    assert counted["instructions"]["value"] == 927_000.0 and counted["instructions"]["blocking"]
    assert counted["instructions"]["value_ms"] is None and counted["instructions"]["unit"] == "instructions"
    message = "+3.0% regression vs baseline, confirmed (1/1 runs)"
    assert report["violations"] == [{"slo": "parse", "metric": "instructions", "message": message}]
    markdown = run_cli("check", "--format", "markdown", cwd=root).stdout
    assert "parse · instructions" in markdown
    trend = run_cli("trend", cwd=root)
    assert trend.returncode == 0, trend.stderr
    entry = json.loads((artifacts / "perf-trend.json").read_text())["slos"]["parse"]
    assert entry["metrics"]["instructions"]["unit"] == "instructions"
    assert entry["metrics"]["peak_memory"]["points"][-1]["median_ms"] == 0.5


def test_a_metric_measured_now_and_then_does_not_warn_when_missing(tmp_path: Path) -> None:
    root = project_with(tmp_path / "p")
    make_run(root / "artifacts", {"parse": [1.0] * 21})
    evaluation = evaluate(load_history(root / "artifacts"), load_config(start=root))
    parse = evaluation.result("parse")
    assert parse is not None and parse.for_metric("instructions") is not None
    assert parse.for_metric("instructions").stats is None  # type: ignore[union-attr]
    assert evaluation.verdict is Verdict.PASSED


# ------------------------------------------------------------------ measuring


def test_peak_memory_sees_ten_percent_more_allocation() -> None:
    def allocate(n: int) -> None:
        block = [bytes(1000) for _ in range(n)]
        del block

    base = peak_memory_mb(lambda: allocate(2000), samples=5)
    more = peak_memory_mb(lambda: allocate(2200), samples=5)
    spread = (max(base) - min(base)) / min(base)
    assert spread < 0.01
    assert 0.08 < min(more) / max(base) - 1 < 0.12


def test_perfslo_run_records_peak_rss_of_a_command(tmp_path: Path) -> None:
    command = 'command = "python3 -c \\"x = bytearray(40_000_000)\\""\nruns = 3\nwarmup = 0'
    config = CONFIG.replace('description = "Parse a document"', command)
    root = project_with(tmp_path / "p", config)
    result = run_cli("run", cwd=root, env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"})
    # Instructions are in the SLO's metrics too: counted when valgrind is there.
    assert result.returncode in (0, 2), result.stderr
    [path] = sorted((root / "artifacts").glob("perf-*.json"))
    samples = read_run(path).samples
    assert len(samples["parse@peak_memory"]) == 3
    assert all(38 < mb < 200 for mb in samples["parse@peak_memory"])  # 40 MB array plus the interpreter


@needs_valgrind
def test_bench_counts_instructions_in_a_real_script_and_the_gate_reads_them(tmp_path: Path) -> None:
    config = CONFIG.replace('"time", "instructions", "peak_memory"', '"time", "instructions"')
    root = project_with(tmp_path / "p", config.replace("budget_mb = 1.0\n", ""))
    script = root / "bench.py"
    script.write_text(
        textwrap.dedent(
            """
            import json
            from perfslo_tui.measure import PerfMeasurement

            def unit():
                d = {}
                for i in range(200):
                    d["k%d" % i] = i
                return json.dumps(d)

            perf = PerfMeasurement()
            result = perf.bench("parse", unit, iterations=5)
            print("counted", result.instructions)
            print("wrote", perf.write())
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    [path] = sorted((root / "artifacts").glob("perf-*.json"))
    samples = read_run(path).samples
    counts = samples["parse@instructions"]
    assert len(counts) == 3 and max(counts) - min(counts) <= 0.001 * min(counts)
    assert 10_000 < counts[0] < 10_000_000
    assert len(samples["parse"]) == 5
    check = run_cli("check", cwd=root)
    assert "parse · instructions" in check.stdout


@pytest.mark.anyio
async def test_the_monitor_switches_its_cards_to_instruction_counts(tmp_path: Path) -> None:
    root = project_with(tmp_path / "p")
    for i in range(3):
        values = run_values(1.0 + i / 100, 900_000.0 + i, 0.5)
        make_run(root / "artifacts", values, ts_ms=BASE_MS + i * HOUR_MS)
    app = make_app(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        card = app.cards["parse"]
        assert card.result is not None and card.result.metric == "time"
        await pilot.press("m")
        await wait_for(pilot, lambda: card.result is not None and card.result.metric == "instructions")
        assert card.result is not None and card.result.value_ms == 900_002.0
        await pilot.press("m")
        await wait_for(pilot, lambda: card.result is not None and card.result.metric == "peak_memory")
        await pilot.press("m")
        await wait_for(pilot, lambda: card.result is not None and card.result.metric == "time")


def test_the_memory_benchmark_runs_in_quick_mode() -> None:
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "benchmarks/memory.py", "--quick"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "MB" in line]
    assert len(rows) == 3 and all("/3 |" in row for row in rows)


def test_the_instruction_count_time_limit_is_a_config_key(tmp_path: Path) -> None:
    root = project_with(tmp_path / "p", "instructions_timeout = 45\n" + CONFIG)
    assert load_config(start=root).instructions_timeout == 45.0
    (root / "perfslo.toml").write_text("instructions_timeout = -1\n" + CONFIG)
    with pytest.raises(ConfigError, match="instructions_timeout: must be > 0"):
        load_config(start=root)


@needs_valgrind
def test_pytest_perf_instructions_counts_a_test_and_the_dashboard_shows_it(tmp_path: Path) -> None:
    from tests.test_plugin import pytest_in, runs_in

    config = CONFIG.replace('"time", "instructions", "peak_memory"', '"time", "instructions"')
    root = project_with(tmp_path / "p", config.replace("budget_mb = 1.0\n", ""))
    (root / "test_speed.py").write_text(
        textwrap.dedent(
            """
            def work():
                return sorted(str(i) for i in range(300))

            def test_parse(perf):
                perf.bench("parse", work, iterations=5)
            """
        )
    )
    result = pytest_in(root, "test_speed.py", "--perf-collect", "--perf-instructions")
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = runs_in(root)
    samples = read_run(path).samples
    assert len(samples["parse"]) == 5 and len(samples["parse@instructions"]) == 3
    assert "parse@instructions" in result.stdout and "instr" in result.stdout
    dashboard = run_cli("dashboard", cwd=root)
    assert dashboard.returncode == 0, dashboard.stderr
    page = (root / "artifacts" / "perf-dashboard.html").read_text()
    assert "parse · instructions" in page and " instr" in page

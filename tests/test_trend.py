"""`perfslo trend`: the trend file, from real run files through the real CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import BASE_MS, SEED_MOCK_TIMINGS, make_run, run_cli

from perfslo_tui.config import load_config
from perfslo_tui.report.trend_file import TREND_FILE, build_trend, indicator, read_history
from perfslo_tui.runs.store import load_table
from perfslo_tui.verdict.engine import evaluate
from perfslo_tui.verdict.trends import DAY_MS

STEP_AT = 14  # run index where transpile-objects gets 15 % slower


def commit_of(index: int) -> str:
    return f"{index + 1:07x}" + "c" * 33


def history(artifacts: Path, runs: int = 24, days_apart: float = 2.0) -> list[Path]:
    """Runs every ``days_apart`` days: a step in transpile-objects, a drift in transpile-function."""
    rng = random.Random(5)
    paths = []
    for i in range(runs):
        values: dict[str, float] = {}
        for name, value in SEED_MOCK_TIMINGS.items():
            v = value * 0.85 * (1 + rng.gauss(0, 0.004))
            if name == "transpile-objects" and i >= STEP_AT:
                v *= 1.15
            if name == "transpile-function":
                v *= 1 + 0.006 * i * days_apart
            values[name] = v
        ts = BASE_MS - int((runs - 1 - i) * days_apart * DAY_MS)
        paths.append(make_run(artifacts, values, ts_ms=ts, commit=commit_of(i), spread=0.01))
    return paths


def test_trend_file_has_window_points_drift_and_culprit(project: Path) -> None:
    paths = history(project / "artifacts")
    result = run_cli("trend", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "Trend written" in result.stdout
    doc = json.loads((project / "artifacts" / TREND_FILE).read_text())
    assert doc["format_version"] == 1 and doc["kind"] == "perfslo-trend"
    assert doc["window_days"] == 30
    assert list(doc["slos"]) == list(SEED_MOCK_TIMINGS)

    # 24 runs two days apart span 46 days: only runs inside the last 30 days count.
    latest = BASE_MS
    start = latest - 30 * DAY_MS
    assert doc["window_start_unix"] == start
    inside = [p for p in paths if int(p.stem.rsplit("-", 1)[1]) >= start]
    assert 0 < len(inside) < len(paths)
    for entry in doc["slos"].values():
        assert [p["run_id"] for p in entry["points"]] == [p.name for p in inside]
        assert all(p["timestamp_unix"] >= start for p in entry["points"])
        assert entry["points"][-1]["commit"] == commit_of(len(paths) - 1)
        assert entry["points"][0]["timestamp"].endswith("Z")

    objects = doc["slos"]["transpile-objects"]
    assert objects["culprit"] is not None
    assert objects["culprit"]["commit"] == commit_of(STEP_AT)
    assert objects["culprit"]["run_id"] == paths[STEP_AT].name
    assert objects["culprit"]["change"] == pytest.approx(0.15, abs=0.03)
    assert objects["culprit"]["message"].startswith("regressed +")

    function = doc["slos"]["transpile-function"]
    assert function["drift"] is not None
    assert function["drift"]["total"] > 0.05
    assert "drifting +" in function["indicator"]

    steady = doc["slos"]["ir-parse-simple"]
    assert steady["drift"] is None and steady["culprit"] is None
    assert steady["indicator"].endswith("steady")
    assert steady["budget_ms"] == 0.25 and steady["violation_ms"] == pytest.approx(0.275)
    assert doc["history"] == {}


def test_trend_reads_the_same_evaluation_as_the_gate(project: Path) -> None:
    history(project / "artifacts")
    config = load_config(start=project)
    store = load_table(config.artifacts_dir)
    evaluation = evaluate(store.history(), config)
    doc = build_trend(evaluation, generated_ms=BASE_MS)
    for result in evaluation.slos:
        entry = doc["slos"][result.name]
        assert [(p["run_id"], p["median_ms"]) for p in entry["points"]] == [
            (p.run_id, p.median) for p in result.trend
        ]
        assert entry["status"] == result.state_label
        assert entry["indicator"] == indicator(result)
        assert (entry["culprit"] or {}).get("commit") == (result.step.commit if result.step else None)


def test_trend_output_option_and_atomic_write(project: Path, tmp_path: Path) -> None:
    history(project / "artifacts", runs=6)
    target = tmp_path / "out" / "trend.json"
    result = run_cli("trend", "--output", str(target), cwd=project)
    assert result.returncode == 0, result.stderr
    assert json.loads(target.read_text())["kind"] == "perfslo-trend"
    assert not (project / "artifacts" / TREND_FILE).exists()
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]


def test_trend_keeps_existing_history(project: Path) -> None:
    history(project / "artifacts", runs=6)
    trend = project / "artifacts" / TREND_FILE
    old_point = {
        "run_id": "perf-0ld0000-1700000000000.json",
        "commit": "0ld0000",
        "timestamp": "2023-11-14T22:13:20.000Z",
        "timestamp_unix": 1_700_000_000_000,
        "median_ms": 0.7,
    }
    trend.write_text(
        json.dumps({"format_version": 1, "kind": "perfslo-trend", "history": {"retired-slo": [old_point]}})
    )
    result = run_cli("trend", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "1 pruned points kept" in result.stdout
    assert read_history(trend) == {"retired-slo": [old_point]}


def test_bad_trend_file_is_refused_and_left_alone(project: Path) -> None:
    history(project / "artifacts", runs=4)
    trend = project / "artifacts" / TREND_FILE
    trend.write_text('{"kind": "perfslo-trend", "format_version": 1, "history": {"x": [{"run_id": 1')
    before = trend.read_bytes()
    result = run_cli("trend", cwd=project)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert str(trend) in line and "invalid JSON" in line
    assert trend.read_bytes() == before


def test_trend_without_artifacts_folder_is_a_clear_error(project: Path) -> None:
    (project / "artifacts").rmdir()
    result = run_cli("trend", cwd=project)
    assert result.returncode == 2
    assert "the artifacts folder artifacts/ does not exist yet" in result.stderr
    assert "Traceback" not in result.stderr

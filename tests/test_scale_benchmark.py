"""The scale benchmark runs for real (small sizes), so it cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from benchmarks.history import SLOS, write_history
from perfslo_tui.runs.files import read_run

REPO = Path(__file__).resolve().parent.parent


def test_generated_runs_are_valid_run_files(tmp_path: Path) -> None:
    paths = write_history(tmp_path, 3)
    run = read_run(paths[-1])
    assert sorted(run.samples) == SLOS
    assert all(len(values) == 100 for values in run.samples.values())
    document = orjson.loads(paths[0].read_bytes())
    assert document["slos"][SLOS[0]]["stats"]["count"] == 100


@pytest.mark.slow
def test_quick_benchmark_runs_end_to_end_and_prints_the_table(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.scale",
            "--quick",
            "--sizes",
            "20,60",
            "--repeat",
            "1",
            "--live",
            "3",
            "--json",
            str(out),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| 20 runs | 60 runs |" in proc.stdout
    for label in ("load after the first time (cache)", "naive ÷ cached load", "`perfslo check`"):
        assert label in proc.stdout
    figures = json.loads(out.read_text())
    assert [f["runs"] for f in figures] == [20, 60]
    for figure in figures:
        assert all(v > 0 for v in figure["cached_load"] + figure["first_load"] + figure["check_cold"])
        assert len(figure["new_run"]) == 20
    if (REPO / "perfslo_tui" / "tui" / "app.py").is_file():
        assert all(len(f["live_latencies"]) == 3 and f["tui_paint"] for f in figures)

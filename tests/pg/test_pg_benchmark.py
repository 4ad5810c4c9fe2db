"""The shared history's scale benchmark runs for real (``--quick``), so it cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.pgserver import find_bin_dir
from tests.pg.pghelpers import REPO, env


@pytest.mark.slow
def test_the_quick_benchmark_stores_every_run_once_and_the_monitor_sees_them_all(tmp_path: Path) -> None:
    if find_bin_dir() is None:
        pytest.skip("no PostgreSQL server binaries (initdb) installed")
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.pg_scale", "--quick", "--json", str(out)],
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "all runs stored exactly once, the monitor saw them all" in proc.stdout
    for label in (
        "`perfslo check`, fresh process",
        "`perfslo-tui` start",
        "pushed by another process → on a card",
    ):
        assert label in proc.stdout
    figures = json.loads(out.read_text())
    assert figures["gate"]["run_count"] == 3_000 and figures["push_to_screen"]["n"] == 6
    restart = figures["restart"]
    states = restart["monitor"]["states"]
    assert restart["restart_at_s"] is not None
    assert any(s.startswith("lost: ") and "reconnecting" in s for s in states)
    assert states[-1].startswith("ok: reconnected to ")

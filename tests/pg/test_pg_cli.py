"""The team's workflow on one shared history via the real CLI: write, push, check, pull, baselines, prune."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from benchmarks.history import CONFIG, SLOS
from perfslo_tui.collect.measure import PerfMeasurement
from perfslo_tui.commands.cli import main
from perfslo_tui.config import load_config
from perfslo_tui.runs.files import read_run
from perfslo_tui.runs.machine import this_machine
from perfslo_tui.runs.pg.history import PgHistory
from tests.pg.pghelpers import folder_state, write_runs


def _project(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "perfslo.toml").write_text(CONFIG)
    return root


def _measure(folder: Path | None = None, slow: float = 1.0) -> tuple[Path, str | None]:
    """One run written as the pytest plugin writes it (and pushed by it, when a shared history is set)."""
    measurement = PerfMeasurement(load_config(), folder)
    for index, slo in enumerate(SLOS):
        for k in range(12):
            measurement.measure(slo, (index + 1) * slow * (1 + 0.002 * (k % 4)))
    path = measurement.write()
    return path, measurement.push_note


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object], str]:
    code = main(["check", "--format", "json", "--no-step-summary", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out else {}, err


def test_a_team_shares_one_history_and_machines_stay_apart(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path / "laptop")
    monkeypatch.chdir(project)
    monkeypatch.setenv("PERFSLO_DATABASE_URL", pg_url)
    mine = [_measure() for _ in range(3)]
    assert all(
        note == f"pushed 1 run to the shared history {PgHistory(pg_url).where}" for _path, note in mine
    )
    # CI, another kind of machine, measures a slower build into its own folder and pushes it.
    monkeypatch.setenv("PERFSLO_MACHINE", "ci-large")
    ci_runs = [_measure(tmp_path / "ci-artifacts", slow=3.0)[0] for _ in range(2)]
    monkeypatch.delenv("PERFSLO_MACHINE")
    assert read_run(ci_runs[0]).machine == "ci-large" and PgHistory(pg_url).run_count() == 5

    # The laptop's gate judges the laptop's newest run against the laptop's runs only.
    code, report, err = _check(capsys)
    assert code == 0, err
    run = report["run"]
    assert isinstance(run, dict) and run["run_id"] == mine[-1][0].name and report["run_count"] == 3
    assert f"note: machine {this_machine()}" in err and "1 other machine left out" in err
    # Mixing machines is a choice, and a run of one machine is not judged among another's.
    code, report, err = _check(capsys, "--machine", "all")
    assert report["run_count"] == 5 and "mixing 2 machines" in err
    assert main(["check", "--machine", "ci-lar"]) == 2
    assert "is not among the runs of machine ci-large" in capsys.readouterr().err

    # A reviewer with no local runs sees CI's newest run, among CI's runs.
    reviewer = _project(tmp_path / "reviewer")
    monkeypatch.chdir(reviewer)
    code, report, err = _check(capsys)
    run = report["run"]
    assert isinstance(run, dict) and run["run_id"] == ci_runs[-1].name and report["run_count"] == 2

    # The same verdict from a pulled folder and the file store.
    assert main(["pull"]) == 0
    assert capsys.readouterr().out.startswith(f"Pulled 5 run(s) from {PgHistory(pg_url).where}")
    monkeypatch.delenv("PERFSLO_DATABASE_URL")
    code, from_files, _err = _check(capsys)
    assert from_files["run"] == report["run"] and from_files["slos"] == report["slos"]


def test_the_gate_says_so_when_the_local_run_was_never_pushed(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path / "project")
    monkeypatch.chdir(project)
    path, note = _measure()  # no shared history yet: nothing pushed
    assert note is None
    monkeypatch.setenv("PERFSLO_DATABASE_URL", pg_url)
    PgHistory(pg_url).migrate()
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert f"{path} is not in the shared history" in err and "`perfslo push` sends it" in err
    assert main(["push"]) == 0
    assert capsys.readouterr().out.startswith("Pushed 1 run(s)")
    code, report, _err = _check(capsys)
    assert code == 0 and report["run_count"] == 1


def test_a_push_that_fails_keeps_the_run_and_the_next_push_sends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], pg_url: str
) -> None:
    project = _project(tmp_path / "project")
    monkeypatch.chdir(project)
    monkeypatch.setenv("PERFSLO_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    path, note = _measure()
    assert path.is_file() and note is not None
    assert note.startswith("warning: 1 run written but not pushed to the shared history (")
    assert "`perfslo push` sends it later" in note and "\n" not in note
    assert "perfslo: warning: 1 run written" in capsys.readouterr().err
    monkeypatch.setenv("PERFSLO_DATABASE_URL", pg_url)
    assert main(["push"]) == 0 and PgHistory(pg_url).run_count() == 1


def test_baselines_trend_dashboard_and_prune_on_the_shared_history(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path / "project")
    monkeypatch.chdir(project)
    write_runs(project / "artifacts", range(0, 6), commit="a" * 40)  # two months before the rest
    recent = write_runs(project / "artifacts", range(90_000, 90_030))
    monkeypatch.setenv("PERFSLO_DATABASE_URL", pg_url)
    assert main(["push"]) == 0
    capsys.readouterr()
    assert main(["baseline", "--show"]) == 0
    assert "No baseline for machine" in capsys.readouterr().out
    assert main(["baseline", "--establish", "--run", str(recent[1])]) == 0
    out = capsys.readouterr().out
    assert (
        out.startswith(f"Baseline established in {PgHistory(pg_url).where} for machine ")
        and recent[1].name in out
    )
    assert not (project / "artifacts" / ".perf-baseline.json").exists()  # the shared history holds it
    assert main(["baseline", "--show"]) == 0
    assert f"From run: {recent[1].name}" in capsys.readouterr().out
    code, report, _err = _check(capsys)
    baseline = report["baseline"]
    assert isinstance(baseline, dict) and baseline["source_run"] == recent[1].name
    assert main(["trend"]) == 0 and main(["dashboard"]) == 0
    capsys.readouterr()
    assert (project / "artifacts" / "perf-trend.json").is_file()
    assert (project / "artifacts" / "perf-dashboard.html").is_file()

    before = folder_state(project / "artifacts")
    assert main(["prune", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith(
        "Would drop the samples of 6 run(s)"
    )  # the older ones: the latest 20 and the baseline commit.s runs stay whole
    assert main(["prune"]) == 0
    capsys.readouterr()
    assert folder_state(project / "artifacts") == before  # the local folder is not touched
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(document), (SELECT count(samples) FROM perfslo.slo_stats)"
            " FROM perfslo.runs"
        ).fetchone()
    assert row == (36, 30, 30 * len(SLOS))  # every run kept, with its summaries
    code, pruned, _err = _check(capsys)
    assert pruned["run_count"] == 36 and pruned["slos"] == report["slos"]

